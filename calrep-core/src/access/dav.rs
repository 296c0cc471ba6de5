//! WebDAV's XML, both ways: a small namespace-aware tree of a request body
//! (PROPFIND, REPORT), and a `multistatus` writer.

use std::fmt::Write as _;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// `DAV:`
pub(crate) const DAV: &str = "DAV:";
/// CalDAV (RFC 4791).
pub(crate) const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Apple's CalendarServer extensions (`getctag`).
pub(crate) const CS: &str = "http://calendarserver.org/ns/";

/// Elements deeper than this are refused (a body is at most 64 KiB anyway).
const MAX_DEPTH: usize = 32;

/// An element of a request body.
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    pub(crate) ns: String,
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) children: Vec<Node>,
    pub(crate) text: String,
}

impl Node {
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The first child `ns:name`.
    pub(crate) fn child(&self, ns: &str, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// Every descendant `ns:name`, depth first.
    pub(crate) fn descendants<'a>(&'a self, ns: &str, name: &str, out: &mut Vec<&'a Node>) {
        for c in &self.children {
            if c.is(ns, name) {
                out.push(c);
            }
            c.descendants(ns, name, out);
        }
    }

    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a request body into its root element.
pub(crate) fn parse(body: &[u8]) -> Result<Node, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("malformed XML: {e}"))?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err("the XML is nested too deeply".into());
                }
                let ns = match resolved {
                    ResolveResult::Bound(ns) => ns.as_ref().to_owned(),
                    _ => String::new(),
                };
                let mut node = Node {
                    ns,
                    name: start.local_name().as_ref().to_owned(),
                    ..Node::default()
                };
                for a in start.attributes() {
                    let a = a.map_err(|e| format!("malformed attribute: {e}"))?;
                    if a.key.as_ref().starts_with("xmlns") {
                        continue;
                    }
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| format!("malformed attribute: {e}"))?;
                    node.attributes
                        .push((a.key.local_name().as_ref().to_owned(), value.into_owned()));
                }
                if empty {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => return Ok(node),
                    }
                } else {
                    stack.push(node);
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
                if let Some(current) = stack.last_mut() {
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
            Event::Eof => return Err("the XML ended early".into()),
            _ => {}
        }
    }
}

/// Text for XML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut plain = 0;
    // Runs between special bytes are copied whole (all five are ASCII, so
    // every cut is on a character boundary).
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\r' => "&#13;",
            _ => continue,
        };
        out.push_str(text.get(plain..i).unwrap_or_default());
        out.push_str(entity);
        plain = i + 1;
    }
    out.push_str(text.get(plain..).unwrap_or_default());
    out
}

/// A property name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PropName {
    pub(crate) ns: String,
    pub(crate) name: String,
}

impl PropName {
    pub(crate) fn new(ns: &str, name: &str) -> Self {
        Self {
            ns: ns.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The element with its namespace prefix (declared on `multistatus`).
    fn tag(&self) -> (String, bool) {
        match self.ns.as_str() {
            DAV => (format!("d:{}", self.name), false),
            CALDAV => (format!("c:{}", self.name), false),
            CS => (format!("cs:{}", self.name), false),
            _ => (self.name.clone(), true),
        }
    }

    /// `<tag>inner</tag>`; `inner` is already XML.
    pub(crate) fn element(&self, inner: &str) -> String {
        let (tag, foreign) = self.tag();
        let xmlns = if foreign {
            format!(" xmlns=\"{}\"", escape(&self.ns))
        } else {
            String::new()
        };
        if inner.is_empty() {
            format!("<{tag}{xmlns}/>")
        } else {
            format!("<{tag}{xmlns}>{inner}</{tag}>")
        }
    }
}

/// A `multistatus` answer, one `response` at a time.
#[derive(Debug, Default)]
pub(crate) struct MultiStatus {
    body: String,
}

impl MultiStatus {
    /// A response for `href` with properties found (name, inner XML) and
    /// names not found.
    pub(crate) fn response(
        &mut self,
        href: &str,
        found: &[(PropName, String)],
        missing: &[PropName],
    ) {
        let _ = write!(self.body, "<d:response><d:href>{}</d:href>", escape(href));
        if !found.is_empty() {
            self.body.push_str("<d:propstat><d:prop>");
            for (name, inner) in found {
                self.body.push_str(&name.element(inner));
            }
            self.body
                .push_str("</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>");
        }
        if !missing.is_empty() {
            self.body.push_str("<d:propstat><d:prop>");
            for name in missing {
                self.body.push_str(&name.element(""));
            }
            self.body
                .push_str("</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>");
        }
        self.body.push_str("</d:response>");
    }

    /// A response that is only a status (a removed member in a sync report).
    pub(crate) fn status(&mut self, href: &str, status: &str) {
        let _ = write!(
            self.body,
            "<d:response><d:href>{}</d:href><d:status>HTTP/1.1 {status}</d:status></d:response>",
            escape(href)
        );
    }

    /// The document; `extra` goes after the responses (a sync token).
    pub(crate) fn finish(self, extra: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"{CALDAV}\" xmlns:cs=\"{CS}\">{}{extra}</d:multistatus>",
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_replaces_the_five_specials_and_keeps_everything_else() {
        assert_eq!(
            escape("a<b&\"c\">\r\nd é✓"),
            "a&lt;b&amp;&quot;c&quot;&gt;&#13;\nd é✓"
        );
        assert_eq!(escape(""), "");
        assert_eq!(escape("&"), "&amp;");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn a_propfind_body_is_read_with_its_namespaces() {
        let body = br#"<?xml version="1.0"?>
            <D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
              <D:prop><D:displayname/><C:calendar-home-set/><x:odd xmlns:x="urn:x"/></D:prop>
            </D:propfind>"#;
        let root = parse(body).unwrap();
        assert!(root.is(DAV, "propfind"));
        let prop = root.child(DAV, "prop").unwrap();
        let names: Vec<(&str, &str)> = prop
            .children
            .iter()
            .map(|c| (c.ns.as_str(), c.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (DAV, "displayname"),
                (CALDAV, "calendar-home-set"),
                ("urn:x", "odd")
            ]
        );
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn a_multistatus_names_found_and_missing_properties() {
        let mut ms = MultiStatus::default();
        ms.response(
            "/dav/a&b/",
            &[(PropName::new(DAV, "displayname"), escape("Ann <3"))],
            &[PropName::new("urn:x", "odd")],
        );
        let doc = ms.finish("");
        assert!(doc.contains("<d:href>/dav/a&amp;b/</d:href>"), "{doc}");
        assert!(
            doc.contains("<d:displayname>Ann &lt;3</d:displayname>"),
            "{doc}"
        );
        assert!(doc.contains("<odd xmlns=\"urn:x\"/>"), "{doc}");
        assert!(doc.contains("404 Not Found"), "{doc}");
    }
}
