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
/// children. Names, attribute values and text borrow from the document
/// wherever it holds them as they are read (no entity, no line ending to
/// normalise): a response is read with an allocation per element that has
/// children, not one per name and text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element<'a> {
    /// EWS's own namespaces are shared, not copied into every element.
    pub(crate) ns: Cow<'a, str>,
    pub(crate) name: Cow<'a, str>,
    pub(crate) attributes: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub(crate) text: Cow<'a, str>,
    pub(crate) children: Vec<Element<'a>>,
}

impl<'a> Element<'a> {
    /// The first child in the types namespace with this local name.
    pub(crate) fn child(&self, name: &str) -> Option<&Element<'a>> {
        self.children.iter().find(|c| c.is(TYPES, name))
    }

    /// Every child in the types namespace with this local name.
    pub(crate) fn children_named<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'s Element<'a>> {
        self.children.iter().filter(move |c| c.is(TYPES, name))
    }

    /// The first child in the messages namespace with this local name.
    pub(crate) fn message_child(&self, name: &str) -> Option<&Element<'a>> {
        self.children.iter().find(|c| c.is(MESSAGES, name))
    }

    /// Whether this is `ns`:`name`.
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns == ns
    }

    /// A child's trimmed text, if the child is there.
    pub(crate) fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// The element with everything it borrows copied (tests keep a part
    /// of a document they built in place).
    #[cfg(test)]
    pub(crate) fn into_owned(self) -> Element<'static> {
        let own = |c: Cow<'a, str>| Cow::Owned(c.into_owned());
        Element {
            ns: own(self.ns),
            name: own(self.name),
            attributes: self
                .attributes
                .into_iter()
                .map(|(k, v)| (own(k), own(v)))
                .collect(),
            text: own(self.text),
            children: self.children.into_iter().map(Element::into_owned).collect(),
        }
    }

    /// An attribute by local name.
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// Parses a document, or a fragment that uses the conventional `t:` and
/// `m:` prefixes without declaring them (as Microsoft's documentation
/// shows responses). Returns a synthetic root holding the top elements.
pub(crate) fn parse(text: &str) -> Result<Element<'_>, String> {
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = NsReader::from_str(text);
    // The synthetic root; the reader checks that end tags match.
    let mut stack: Vec<Element<'_>> = vec![Element::default()];
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
                    // Undeclared `t:` and `m:`: EWS's, as its documentation
                    // writes fragments.
                    ResolveResult::Unknown(prefix) if prefix == "t" => Cow::Borrowed(TYPES),
                    ResolveResult::Unknown(prefix) if prefix == "m" => Cow::Borrowed(MESSAGES),
                    _ => Cow::Borrowed(""),
                };
                let mut element = Element {
                    ns,
                    name: borrowed(text, start.local_name().as_ref()),
                    ..Element::default()
                };
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| format!("malformed attribute: {e}"))?;
                    if attribute.key.as_ref().starts_with("xmlns") {
                        continue;
                    }
                    let key = attribute.key.local_name();
                    let key: &str = key.as_ref();
                    let value = attribute
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| format!("malformed attribute {key}: {e}"))?;
                    let value = match value {
                        Cow::Borrowed(v) => borrowed(text, v),
                        Cow::Owned(v) => Cow::Owned(v),
                    };
                    element.attributes.push((borrowed(text, key), value));
                }
                if is_empty {
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(element);
                    }
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or("an end tag without a start")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Err("an end tag without a start".into()),
                }
            }
            Event::Text(t) => {
                // Indentation between elements is not text anyone reads.
                let blank = t.as_ref().trim_ascii().is_empty();
                if let Some(current) = stack.last_mut().filter(|c| !(blank && c.text.is_empty())) {
                    append(
                        &mut current.text,
                        t.xml_content(quick_xml::XmlVersion::Implicit1_0),
                    );
                }
            }
            Event::CData(t) => {
                if let Some(current) = stack.last_mut() {
                    append(&mut current.text, t.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(current) = stack.last_mut() {
                    let name: &str = r.as_ref();
                    let resolved = match name {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        n => char_ref(n).ok_or(format!("unknown entity &{n};"))?,
                    };
                    current.text.to_mut().push(resolved);
                }
            }
            // An XML declaration is only allowed first: one inside the
            // document is a second document pasted into the first.
            Event::Decl(_)
                if stack.len() > 1 || stack.first().is_some_and(|r| !r.children.is_empty()) =>
            {
                return Err("malformed XML: an XML declaration inside the document".into());
            }
            Event::Eof => {
                return match (stack.pop(), stack.is_empty()) {
                    (Some(root), true) => Ok(root),
                    _ => Err("the document ends inside an element (truncated?)".into()),
                };
            }
            _ => {}
        }
    }
}

/// `part` as a slice of `text` when it is one (the reader hands out slices
/// of the document it reads), else a copy.
fn borrowed<'a>(text: &'a str, part: &str) -> Cow<'a, str> {
    let offset = (part.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    match text.get(offset..offset.wrapping_add(part.len())) {
        Some(slice) if slice.as_ptr() == part.as_ptr() => Cow::Borrowed(slice),
        _ => Cow::Owned(part.to_owned()),
    }
}

/// Adds a piece of text: the first piece is kept as it is (borrowed when
/// it can be), a second one makes the text owned.
fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_and_plain_text_borrow_from_the_document_and_the_rest_is_exact() {
        let doc = "<?xml version=\"1.0\"?>\r\n<t:A xmlns:q=\"urn:other\" Id=\"x&amp;y\" Plain=\"p\">\
                   <t:B>plain</t:B><t:C>a &lt; b &#x263A; c</t:C><t:D><![CDATA[<raw>]]> tail</t:D>\
                   <m:E>line\r\nbreak</m:E><q:F/><t:Empty/></t:A>";
        let root = parse(doc).unwrap();
        let a = &root.children[0];
        assert!(
            a.is(TYPES, "A"),
            "an undeclared t: is EWS's types namespace"
        );
        assert!(matches!(a.name, Cow::Borrowed(_)));
        assert_eq!(a.attribute("Id"), Some("x&y"));
        assert_eq!(a.attribute("Plain"), Some("p"));
        assert!(matches!(&a.attributes[1].1, Cow::Borrowed(_)));
        assert!(
            a.attribute("q").is_none(),
            "namespace declarations are not attributes"
        );
        let b = a.child("B").unwrap();
        assert_eq!(b.text, "plain");
        assert!(matches!(b.text, Cow::Borrowed(_)));
        assert_eq!(a.text_of("C"), Some("a < b \u{263A} c"));
        assert_eq!(a.text_of("D"), Some("<raw> tail"));
        let e = a.message_child("E").unwrap();
        assert_eq!(e.text, "line\nbreak", "line endings normalised as XML says");
        let f = a.children.iter().find(|c| c.name == "F").unwrap();
        assert_eq!(f.ns, "urn:other");
        assert!(a.child("Empty").unwrap().text.is_empty());
    }

    #[test]
    fn broken_documents_are_errors_not_trees() {
        for (doc, needle) in [
            ("<t:A><t:B></t:A>", "malformed"),
            ("<t:A><t:B>", "truncated"),
            ("<t:A>&nosuch;</t:A>", "unknown entity"),
            ("</t:A>", "malformed"),
            (
                "<t:A><?xml version=\"1.0\"?><t:B/></t:A>",
                "declaration inside",
            ),
            ("<t:A/><?xml version=\"1.0\"?>", "declaration inside"),
        ] {
            let error = parse(doc).unwrap_err();
            assert!(error.contains(needle), "{doc}: {error}");
        }
    }

    #[test]
    fn a_slice_is_borrowed_only_when_it_lies_in_the_document() {
        let doc = String::from("<a>text</a>");
        let inside = &doc[3..7];
        assert!(matches!(borrowed(&doc, inside), Cow::Borrowed("text")));
        let elsewhere = String::from("text");
        assert!(matches!(borrowed(&doc, &elsewhere), Cow::Owned(ref s) if s == "text"));
    }
}
