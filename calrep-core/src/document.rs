//! Loading a TOML or JSON document into typed sections while collecting
//! *every* problem, each named by file and path, instead of stopping at the
//! first one as plain serde does.
//!
//! The document is first parsed into a generic tree. Each element of each
//! section is then deserialized on its own, so one broken element does not
//! hide the problems of the others, and keys that no field takes are reported
//! (through `serde_ignored`) rather than silently dropped.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One problem in a document: which file, where in it, and what is wrong.
///
/// ```
/// let p = calrep_core::Problem::new("calrep.toml", "tasks[2].schedule", "no schedule named \"nightly\"");
/// assert_eq!(p.to_string(), "calrep.toml: tasks[2].schedule: no schedule named \"nightly\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (or source name) the problem is in.
    pub file: String,
    /// The path inside the document, e.g. `tasks[2].schedule`; empty for the
    /// whole document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem at `path` in `file`.
    pub fn new(
        file: impl Into<String>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

/// Every problem found in one document, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// The problems, in document order.
    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// The syntax of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// TOML, the format for files people write.
    Toml,
    /// JSON, for hosts that build configuration in code.
    Json,
}

impl Format {
    /// JSON for a `.json` file name, TOML otherwise.
    pub fn from_file_name(name: &str) -> Self {
        if name.to_ascii_lowercase().ends_with(".json") {
            Self::Json
        } else {
            Self::Toml
        }
    }
}

/// Collects problems for one file while a document is checked.
#[derive(Debug)]
pub(crate) struct Report {
    file: String,
    sections: &'static [&'static str],
    problems: Vec<Problem>,
}

impl Report {
    /// A report for `file`, whose problems are listed in the order of
    /// `sections` (the document's top-level keys), then by element.
    pub(crate) fn new(file: &str, sections: &'static [&'static str]) -> Self {
        Self {
            file: file.to_owned(),
            sections,
            problems: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems
            .push(Problem::new(self.file.clone(), path, message));
    }

    pub(crate) fn finish(mut self) -> Result<(), Problems> {
        // Document order: by section, then element number, then as found.
        // Keys that are not sections at all come first.
        let sections = self.sections;
        self.problems.sort_by_cached_key(|p| {
            let (head, rest) = p.path.split_once('[').unwrap_or((&p.path, ""));
            let section = head.split('.').next().unwrap_or_default();
            let rank = sections
                .iter()
                .position(|s| *s == section)
                .map_or(0, |i| i + 1);
            let index: usize = rest
                .split(']')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (rank, index)
        });
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(self.problems))
        }
    }
}

/// Parses document text into a generic tree whose root must be a table.
pub(crate) fn parse_root(
    text: &str,
    format: Format,
    report: &mut Report,
) -> Option<Map<String, Value>> {
    let root = match format {
        Format::Json => serde_json::from_str::<Value>(text).map_err(|e| e.to_string()),
        Format::Toml => toml::from_str::<toml::Table>(text)
            .map(|t| toml_to_json(toml::Value::Table(t)))
            .map_err(|e| one_line(&e.to_string())),
    };
    match root {
        Ok(Value::Object(map)) => Some(map),
        Ok(_) => {
            report.add("", "the document must be a table (a JSON object)");
            None
        }
        Err(message) => {
            report.add("", format!("syntax error: {message}"));
            None
        }
    }
}

/// TOML error messages span several lines with a source excerpt; keep the
/// location and the reason on one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| matches!(c, '|' | '^' | ' ')))
        .filter(|l| !l.contains(" | "))
        .collect::<Vec<_>>()
        .join(" ")
}

/// TOML date-times become strings; the typed model parses them itself, so
/// TOML and JSON documents go through the same code.
fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(k, v)| (k, toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Reports top-level keys that are not among `known`.
pub(crate) fn check_keys(root: &Map<String, Value>, known: &[&str], report: &mut Report) {
    for key in root.keys() {
        if !known.contains(&key.as_str()) {
            report.add(
                key.clone(),
                format!("unknown key; expected one of: {}", known.join(", ")),
            );
        }
    }
}

/// Deserializes one value at `path`, reporting a type error or every unknown
/// key. Returns `None` when the value could not be used.
pub(crate) fn element<T: DeserializeOwned>(
    value: Value,
    path: &str,
    report: &mut Report,
) -> Option<T> {
    let mut unknown: Vec<Vec<Segment>> = Vec::new();
    let original = value.clone();
    let result = {
        let mut note = |ignored: serde_ignored::Path<'_>| unknown.push(segments(&ignored));
        let de = serde_ignored::Deserializer::new(value, &mut note);
        serde_path_to_error::deserialize::<_, T>(de)
    };
    for key in unknown {
        report.add(join(path, &resolve(&original, &key)), "unknown key");
    }
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let at = if inner == "." {
                path.to_owned()
            } else {
                join(path, &inner)
            };
            let message = e.into_inner().to_string();
            // An externally tagged choice (a group, a directory) given more
            // than one key: name the keys instead of serde's "map".
            let here = if inner == "." {
                Some(&original)
            } else {
                lookup(&original, &inner)
            };
            match here {
                Some(Value::Object(map))
                    if map.len() > 1 && message.contains("expected map with a single key") =>
                {
                    let keys: Vec<String> = map.keys().map(|k| format!("{k:?}")).collect();
                    report.add(
                        at,
                        format!(
                            "takes exactly one key, naming its kind; found {}",
                            keys.join(", ")
                        ),
                    );
                }
                _ => report.add(at, message),
            }
            None
        }
    }
}

/// One step of a path serde_ignored reports.
#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
    /// An `Option` or newtype layer, or an enum variant whose name
    /// serde_ignored does not record.
    Hidden,
}

fn segments(path: &serde_ignored::Path<'_>) -> Vec<Segment> {
    use serde_ignored::Path;
    let (parent, own) = match path {
        Path::Root => return Vec::new(),
        Path::Seq { parent, index } => (*parent, Segment::Index(*index)),
        Path::Map { parent, key } => (*parent, Segment::Key(key.clone())),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => (*parent, Segment::Hidden),
    };
    let mut out = segments(parent);
    out.push(own);
    out
}

/// The path of an unknown key as the file spells it: hidden layers are
/// dropped, and an enum variant's name (the single key of its table) is
/// read back from the document, so `when.daily.once.jitter` is not shown
/// as `when.?.jitter`.
fn resolve(document: &Value, path: &[Segment]) -> String {
    let mut out = String::new();
    let mut node = Some(document);
    let push_key = |out: &mut String, key: &str| {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    };
    for (i, segment) in path.iter().enumerate() {
        match segment {
            Segment::Key(key) => {
                push_key(&mut out, key);
                node = node.and_then(|n| n.get(key));
            }
            Segment::Index(index) => {
                out.push_str(&format!("[{index}]"));
                node = node.and_then(|n| n.get(index));
            }
            Segment::Hidden => {
                // A variant's table: one key, which is not the next step.
                let next = match path.get(i + 1) {
                    Some(Segment::Key(k)) => Some(k.as_str()),
                    _ => None,
                };
                // Nested variants (`daily` then `once`) come as one layer.
                while let Some(Value::Object(map)) = node
                    && map.len() == 1
                    && next.is_none_or(|k| !map.contains_key(k))
                    && let Some((tag, inner)) = map.iter().next()
                {
                    push_key(&mut out, tag);
                    node = Some(inner);
                }
            }
        }
    }
    out
}

/// The value at a serde_path_to_error path (`a.b[2].c`).
fn lookup<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = document;
    for part in path.split('.') {
        let (key, indexes) = part
            .split_once('[')
            .map_or((part, ""), |(k, rest)| (k, rest));
        if !key.is_empty() {
            node = node.get(key)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            node = node.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(node)
}

/// Deserializes each element of the array at `key` on its own. Returns the
/// elements that parsed with their index, and the `id` strings of those that
/// did not (so that references to them are not reported a second time).
pub(crate) fn section<T: DeserializeOwned>(
    root: &mut Map<String, Value>,
    key: &str,
    report: &mut Report,
) -> (Vec<(usize, T)>, Vec<String>) {
    let mut parsed = Vec::new();
    let mut broken_ids = Vec::new();
    match root.remove(key) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                let id = item.get("id").and_then(Value::as_str).map(str::to_owned);
                match element::<T>(item, &format!("{key}[{i}]"), report) {
                    Some(v) => parsed.push((i, v)),
                    None => broken_ids.extend(id),
                }
            }
        }
        Some(_) => report.add(
            key,
            "must be an array of tables (e.g. [[{key}]] in TOML)".replace("{key}", key),
        ),
    }
    (parsed, broken_ids)
}

fn join(path: &str, inner: &str) -> String {
    match (path.is_empty(), inner.starts_with('[')) {
        (true, _) => inner.to_owned(),
        (false, true) => format!("{path}{inner}"),
        (false, false) => format!("{path}.{inner}"),
    }
}
