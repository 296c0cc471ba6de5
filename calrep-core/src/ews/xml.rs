//! A small element tree over quick-xml's namespace-aware reader: elements
//! are known by (namespace, local name), never by prefix, and unknown
//! elements are simply kept and ignored by whoever reads the tree.

use std::borrow::Cow;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// EWS's types namespace (the usual `t:` prefix).
pub(crate) const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
/// EWS's messages namespace (the usual `m:` prefix).
pub(crate) const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";

/// One element: namespace, local name, attributes (local names), text and
/// children.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    /// EWS's own namespaces are shared, not copied into every element.
    pub(crate) ns: Cow<'static, str>,
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) children: Vec<Element>,
}

impl Element {
    /// The first child in the types namespace with this local name.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(TYPES, name))
    }

    /// Every child in the types namespace with this local name.
    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.is(TYPES, name))
    }

    /// The first child in the messages namespace with this local name.
    pub(crate) fn message_child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(MESSAGES, name))
    }

    /// Whether this is `ns`:`name`.
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// A child's trimmed text, if the child is there.
    pub(crate) fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// An attribute by local name.
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a document, or a fragment that uses the conventional `t:` and
/// `m:` prefixes without declaring them (as Microsoft's documentation
/// shows responses). Returns a synthetic root holding the top elements.
pub(crate) fn parse(text: &str) -> Result<Element, String> {
    let body = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .strip_prefix("<?xml")
        .map_or(text, |rest| {
            rest.split_once("?>").map_or(rest, |(_, after)| after)
        });
    let wrapped =
        format!("<calrep-root xmlns:t=\"{TYPES}\" xmlns:m=\"{MESSAGES}\">{body}</calrep-root>");
    let mut reader = NsReader::from_str(&wrapped);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let (resolved, event) = match reader.read_resolved_event() {
            Ok(next) => next,
            Err(e) => return Err(format!("malformed XML: {e}")),
        };
        let is_empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                let ns = match resolved {
                    ResolveResult::Bound(ns) => known_namespace(ns.as_ref()),
                    _ => Cow::Borrowed(""),
                };
                let mut element = Element {
                    ns,
                    name: start.local_name().as_ref().to_owned(),
                    ..Element::default()
                };
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| format!("malformed attribute: {e}"))?;
                    let key = attribute.key.local_name().as_ref().to_owned();
                    if attribute.key.as_ref().starts_with("xmlns") {
                        continue;
                    }
                    let value = attribute
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| format!("malformed attribute {key}: {e}"))?
                        .into_owned();
                    element.attributes.push((key, value));
                }
                if is_empty {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(element),
                        None => return Err("an element outside the document".into()),
                    }
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or("an end tag without a start")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(t) => {
                // Indentation between elements is not text anyone reads;
                // skipping it saves an allocation per container element.
                let blank = t.as_ref().trim_ascii().is_empty();
                if let Some(current) = stack.last_mut().filter(|c| !(blank && c.text.is_empty())) {
                    current
                        .text
                        .push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0));
                }
            }
            Event::CData(t) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(t.as_ref());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(current) = stack.last_mut() {
                    let name: &str = r.as_ref();
                    let resolved = match name {
                        "amp" => "&".to_owned(),
                        "lt" => "<".to_owned(),
                        "gt" => ">".to_owned(),
                        "quot" => "\"".to_owned(),
                        "apos" => "'".to_owned(),
                        n => char_ref(n)
                            .ok_or(format!("unknown entity &{n};"))?
                            .to_string(),
                    };
                    current.text.push_str(&resolved);
                }
            }
            Event::Eof => return Err("the document ends inside an element (truncated?)".into()),
            _ => {}
        }
    }
}

const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// A namespace URI, shared when it is one of EWS's.
fn known_namespace(uri: &str) -> Cow<'static, str> {
    [TYPES, MESSAGES, SOAP]
        .into_iter()
        .find(|known| *known == uri)
        .map_or_else(|| Cow::Owned(uri.to_owned()), Cow::Borrowed)
}

/// `#123` or `#x7B` as a character.
fn char_ref(name: &str) -> Option<char> {
    let digits = name.strip_prefix('#')?;
    let code = match digits
        .strip_prefix('x')
        .or_else(|| digits.strip_prefix('X'))
    {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    char::from_u32(code)
}
