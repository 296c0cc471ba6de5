//! A small element tree over quick-xml's reader, namespaces resolved here:
//! elements are known by (namespace, local name), never by prefix, and
//! unknown elements are simply kept and ignored by whoever reads the tree.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::Event;

// Statics, not constants: one address each, which elements share, so that
// `Element::is` usually compares two pointers instead of two 57-byte URIs.
/// EWS's types namespace (the usual `t:` prefix).
pub(crate) static TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
/// EWS's messages namespace (the usual `m:` prefix).
pub(crate) static MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
/// SOAP 1.1's envelope namespace.
pub(crate) static SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// Elements nest at most this deep. EWS's answers nest about a dozen deep,
/// and readers walk the tree recursively: a hostile document must not
/// nest deeper than their stack allows.
const MAX_DEPTH: usize = 256;
/// Namespace declarations in scope at once (quick-xml's own default bound):
/// each element's prefix is looked up among them.
const MAX_DECLARATIONS: usize = 128;
/// Attributes on one element: the reader checks each new name against the
/// element's others, so their number must be bounded.
const MAX_ATTRIBUTES: usize = 256;

/// A parsed document: every element in one vector, in document order,
/// linked to its first child and next sibling. One allocation grows for
/// the whole document instead of one vector of children per element, and
/// elements are written once where they will stay, never moved into their
/// parents. Names, attribute values and text borrow from the document
/// wherever it holds them as they are read (no entity, no line ending to
/// normalise).
#[derive(Debug, Clone)]
pub(crate) struct Document<'a> {
    /// Node 0 is a synthetic root holding the top elements.
    nodes: Vec<Node<'a>>,
    attributes: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

#[derive(Debug, Clone, Default)]
struct Node<'a> {
    /// EWS's own namespaces are shared, not copied into every element.
    ns: Cow<'a, str>,
    name: Cow<'a, str>,
    text: Cow<'a, str>,
    /// This element's attributes: `attributes[first_attribute..end_attribute]`.
    first_attribute: u32,
    end_attribute: u32,
    /// 0 for none: the root is nobody's child.
    first_child: u32,
    next_sibling: u32,
}

impl<'a> Document<'a> {
    /// The synthetic root, whose children are the document's top elements.
    pub(crate) fn root(&self) -> Element<'_> {
        Element {
            doc: self,
            index: 0,
        }
    }

    /// The document with everything it borrows copied (tests keep a
    /// document they built in place).
    #[cfg(test)]
    pub(crate) fn into_owned(self) -> Document<'static> {
        let own = |c: Cow<'a, str>| Cow::Owned(c.into_owned());
        Document {
            nodes: self
                .nodes
                .into_iter()
                .map(|n| Node {
                    ns: own(n.ns),
                    name: own(n.name),
                    text: own(n.text),
                    first_attribute: n.first_attribute,
                    end_attribute: n.end_attribute,
                    first_child: n.first_child,
                    next_sibling: n.next_sibling,
                })
                .collect(),
            attributes: self
                .attributes
                .into_iter()
                .map(|(k, v)| (own(k), own(v)))
                .collect(),
        }
    }
}

/// One element of a [`Document`]: namespace, local name, attributes (local
/// names), text and children. A copyable handle.
#[derive(Clone, Copy)]
pub(crate) struct Element<'d> {
    doc: &'d Document<'d>,
    index: u32,
}

impl std::fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Element({{{}}}{})", self.ns(), self.name())
    }
}

impl<'d> Element<'d> {
    fn node(&self) -> &'d Node<'d> {
        &self.doc.nodes[self.index as usize]
    }

    fn at(&self, index: u32) -> Option<Element<'d>> {
        (index != 0).then_some(Element {
            doc: self.doc,
            index,
        })
    }

    /// The namespace URI ("" for none).
    pub(crate) fn ns(&self) -> &'d str {
        &self.node().ns
    }

    /// The local name.
    pub(crate) fn name(&self) -> &'d str {
        &self.node().name
    }

    /// The text, untrimmed.
    pub(crate) fn text(&self) -> &'d str {
        &self.node().text
    }

    /// The child elements, in order.
    pub(crate) fn children(&self) -> Children<'d> {
        Children {
            next: self.at(self.node().first_child),
        }
    }

    /// The first child element, whatever it is.
    pub(crate) fn first_child(&self) -> Option<Element<'d>> {
        self.at(self.node().first_child)
    }

    /// The first child in the types namespace with this local name.
    pub(crate) fn child(&self, name: &str) -> Option<Element<'d>> {
        self.children().find(|c| c.is(TYPES, name))
    }

    /// Every child in the types namespace with this local name.
    pub(crate) fn children_named<'s>(&self, name: &'s str) -> impl Iterator<Item = Element<'d>> + 's
    where
        'd: 's,
    {
        self.children().filter(move |c| c.is(TYPES, name))
    }

    /// The first child in the messages namespace with this local name.
    pub(crate) fn message_child(&self, name: &str) -> Option<Element<'d>> {
        self.children().find(|c| c.is(MESSAGES, name))
    }

    /// The `Body` of the SOAP `Envelope` among this element's children
    /// (called on a document's root).
    pub(crate) fn soap_body(&self) -> Option<Element<'d>> {
        self.children()
            .find(|e| e.is(SOAP, "Envelope"))?
            .children()
            .find(|e| e.is(SOAP, "Body"))
    }

    /// Whether this is `ns`:`name`.
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        let node = self.node();
        let node_ns: &str = &node.ns;
        node.name == name && (std::ptr::eq(node_ns, ns) || node_ns == ns)
    }

    /// A child's trimmed text, if the child is there.
    pub(crate) fn text_of(&self, name: &str) -> Option<&'d str> {
        self.child(name).map(|c| c.text().trim())
    }

    /// An attribute by local name.
    pub(crate) fn attribute(&self, name: &str) -> Option<&'d str> {
        let node = self.node();
        self.doc.attributes[node.first_attribute as usize..node.end_attribute as usize]
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// The children of an [`Element`], in order.
#[derive(Clone, Copy, Default)]
pub(crate) struct Children<'d> {
    next: Option<Element<'d>>,
}

impl<'d> Iterator for Children<'d> {
    type Item = Element<'d>;

    fn next(&mut self) -> Option<Element<'d>> {
        let current = self.next?;
        self.next = current.at(current.node().next_sibling);
        Some(current)
    }
}

/// Parses a document, or a fragment that uses the conventional `t:` and
/// `m:` prefixes without declaring them (as Microsoft's documentation
/// shows responses). Its root is a synthetic element holding the top
/// elements.
///
/// Namespaces are resolved here rather than by quick-xml's `NsReader`,
/// which reads every start tag's attributes once to find declarations and
/// leaves the reader to read them again: here one pass over the attributes
/// does both, and a declared namespace is matched against EWS's once, where
/// it is declared, not once per element.
pub(crate) fn parse(text: &str) -> Result<Document<'_>, String> {
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = Reader::from_str(text);
    // About one element per 40 bytes in EWS answers: most documents need
    // no second allocation.
    let mut doc = Document {
        nodes: Vec::with_capacity(text.len() / 40 + 1),
        attributes: Vec::with_capacity(text.len() / 200 + 1),
    };
    doc.nodes.push(Node::default());
    // The prefixes declared by open elements, innermost last ("" is the
    // default namespace).
    let mut scope: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    // The open elements, innermost last. The reader checks that end tags
    // match.
    let mut open = vec![Open {
        index: 0,
        last_child: 0,
        scope: 0,
    }];
    let too_big = || "the document has more than 4,294,967,295 elements or attributes".to_owned();
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(format!("malformed XML: {e}")),
        };
        let is_empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                if open.len() > MAX_DEPTH {
                    return Err(format!("elements nest deeper than {MAX_DEPTH} levels"));
                }
                let scope_before = scope.len();
                let first_attribute = u32::try_from(doc.attributes.len()).map_err(|_| too_big())?;
                for (n, attribute) in start.attributes().enumerate() {
                    if n == MAX_ATTRIBUTES {
                        return Err(format!(
                            "an element with more than {MAX_ATTRIBUTES} attributes"
                        ));
                    }
                    let attribute = attribute.map_err(|e| format!("malformed attribute: {e}"))?;
                    let key: &str = attribute.key.as_ref();
                    let value = attribute
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| format!("malformed attribute {key}: {e}"))?;
                    let value = match value {
                        Cow::Borrowed(v) => borrowed(text, v),
                        Cow::Owned(v) => Cow::Owned(v),
                    };
                    match split_name(key) {
                        ("", "xmlns") => scope.push((Cow::Borrowed(""), known_namespace(value))),
                        ("xmlns", prefix) => {
                            scope.push((borrowed(text, prefix), known_namespace(value)));
                        }
                        (_, local) => doc.attributes.push((borrowed(text, local), value)),
                    }
                }
                if scope.len() > MAX_DECLARATIONS {
                    return Err(format!(
                        "more than {MAX_DECLARATIONS} namespace declarations in force at once"
                    ));
                }
                let (prefix, name) = split_name(start.name().into_inner());
                let index = u32::try_from(doc.nodes.len()).map_err(|_| too_big())?;
                doc.nodes.push(Node {
                    ns: resolve(&scope, prefix),
                    name: borrowed(text, name),
                    first_attribute,
                    end_attribute: u32::try_from(doc.attributes.len()).map_err(|_| too_big())?,
                    ..Node::default()
                });
                // Link it under the innermost open element.
                let Some(parent) = open.last_mut() else {
                    return Err("an element outside the document".into());
                };
                match parent.last_child {
                    0 => doc.nodes[parent.index as usize].first_child = index,
                    previous => doc.nodes[previous as usize].next_sibling = index,
                }
                parent.last_child = index;
                if is_empty {
                    // An empty element's declarations end with it.
                    scope.truncate(scope_before);
                } else {
                    open.push(Open {
                        index,
                        last_child: 0,
                        scope: scope_before,
                    });
                }
            }
            Event::End(_) => {
                // The root is never closed by a tag.
                if open.len() < 2 {
                    return Err("an end tag without a start".into());
                }
                if let Some(closed) = open.pop() {
                    scope.truncate(closed.scope);
                }
            }
            Event::Text(t) => {
                // Indentation between elements is not text anyone reads.
                let blank = t.as_ref().trim_ascii().is_empty();
                if let Some(current) = open.last() {
                    let current = &mut doc.nodes[current.index as usize].text;
                    if !(blank && current.is_empty()) {
                        append(current, t.xml_content(quick_xml::XmlVersion::Implicit1_0));
                    }
                }
            }
            Event::CData(t) => {
                if let Some(current) = open.last() {
                    append(&mut doc.nodes[current.index as usize].text, t.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(current) = open.last() {
                    let name: &str = r.as_ref();
                    let resolved = match name {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        n => char_ref(n).ok_or(format!("unknown entity &{n};"))?,
                    };
                    doc.nodes[current.index as usize]
                        .text
                        .to_mut()
                        .push(resolved);
                }
            }
            // An XML declaration is only allowed first: one inside the
            // document is a second document pasted into the first.
            Event::Decl(_) if doc.nodes.len() > 1 => {
                return Err("malformed XML: an XML declaration inside the document".into());
            }
            Event::Eof => {
                return if open.len() == 1 {
                    Ok(doc)
                } else {
                    Err("the document ends inside an element (truncated?)".into())
                };
            }
            _ => {}
        }
    }
}

/// An element open while its content is read.
struct Open {
    index: u32,
    /// 0 for none yet.
    last_child: u32,
    /// How many declarations were in scope before it.
    scope: usize,
}

/// `prefix:local` as (prefix, local); ("", name) without a prefix.
fn split_name(name: &str) -> (&str, &str) {
    // A byte search: `str::split_once(':')` compares each match as a
    // string, which costs more than these short names.
    match name.bytes().position(|b| b == b':') {
        Some(colon) => (&name[..colon], &name[colon + 1..]),
        None => ("", name),
    }
}

/// The namespace `prefix` stands for where `scope` is in force. An
/// undeclared (or undeclared again, `xmlns:t=""`) `t:` or `m:` is EWS's,
/// as its documentation writes fragments; any other is no namespace.
fn resolve<'a>(scope: &[(Cow<'a, str>, Cow<'a, str>)], prefix: &str) -> Cow<'a, str> {
    match scope.iter().rev().find(|(p, _)| p == prefix) {
        Some((_, ns)) if !ns.is_empty() || prefix.is_empty() => ns.clone(),
        _ => Cow::Borrowed(match prefix {
            "t" => TYPES,
            "m" => MESSAGES,
            _ => "",
        }),
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

/// A declared namespace URI, EWS's own shared (so `Element::is` finds them
/// by address).
fn known_namespace(uri: Cow<'_, str>) -> Cow<'_, str> {
    match [TYPES, MESSAGES, SOAP]
        .into_iter()
        .find(|known| *known == uri)
    {
        Some(known) => Cow::Borrowed(known),
        None => uri,
    }
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
        let parsed = parse(doc).unwrap();
        let a = parsed.root().first_child().unwrap();
        assert!(
            a.is(TYPES, "A"),
            "an undeclared t: is EWS's types namespace"
        );
        assert!(matches!(a.node().name, Cow::Borrowed(_)));
        assert_eq!(a.attribute("Id"), Some("x&y"));
        assert_eq!(a.attribute("Plain"), Some("p"));
        assert!(matches!(&parsed.attributes[1].1, Cow::Borrowed(_)));
        assert!(
            a.attribute("q").is_none(),
            "namespace declarations are not attributes"
        );
        let b = a.child("B").unwrap();
        assert_eq!(b.text(), "plain");
        assert!(matches!(b.node().text, Cow::Borrowed(_)));
        assert_eq!(a.text_of("C"), Some("a < b \u{263A} c"));
        assert_eq!(a.text_of("D"), Some("<raw> tail"));
        let e = a.message_child("E").unwrap();
        assert_eq!(
            e.text(),
            "line\nbreak",
            "line endings normalised as XML says"
        );
        let f = a.children().find(|c| c.name() == "F").unwrap();
        assert_eq!(f.ns(), "urn:other");
        assert!(a.child("Empty").unwrap().text().is_empty());
        let names: Vec<&str> = a.children().map(|c| c.name()).collect();
        assert_eq!(
            names,
            ["B", "C", "D", "E", "F", "Empty"],
            "children in order"
        );
        assert_eq!(parsed.root().children().count(), 1);
        assert!(b.children().next().is_none() && b.attribute("Id").is_none());
    }

    /// Every element's (local name, namespace), in document order, the
    /// synthetic root left out.
    fn in_document_order<'d>(doc: &'d Document<'_>) -> Vec<(&'d str, &'d str)> {
        let mut found = Vec::new();
        let mut todo: Vec<Element<'d>> = doc.root().children().collect();
        todo.reverse();
        while let Some(e) = todo.pop() {
            found.push((e.name(), e.ns()));
            todo.extend(e.children().collect::<Vec<_>>().into_iter().rev());
        }
        found
    }

    #[test]
    fn a_prefix_rebound_inside_an_element_is_read_with_its_binding_there() {
        let doc = "<r><t:A xmlns:t=\"urn:one\"><t:B xmlns:t=\"urn:two\"><t:C/></t:B><t:D/>\
                   <t:E xmlns:t=\"urn:three\"/><t:F/></t:A><t:G/><m:H xmlns=\"urn:d\"><I/></m:H><J/></r>";
        let parsed = parse(doc).unwrap();
        assert_eq!(
            in_document_order(&parsed),
            [
                ("r", ""),
                ("A", "urn:one"),
                ("B", "urn:two"),
                ("C", "urn:two"),
                ("D", "urn:one"),
                ("E", "urn:three"),
                ("F", "urn:one"),
                ("G", TYPES),
                ("H", MESSAGES),
                ("I", "urn:d"),
                ("J", ""),
            ]
        );
    }

    #[test]
    fn nested_elements_link_to_their_own_parents() {
        let parsed = parse(
            "<t:A><t:B><t:C>1</t:C><t:C>2</t:C></t:B><t:B/><t:D x=\"y\"><t:C>3</t:C></t:D></t:A>",
        )
        .unwrap();
        let a = parsed.root().first_child().unwrap();
        let shape: Vec<(&str, Vec<&str>)> = a
            .children()
            .map(|c| (c.name(), c.children().map(|g| g.text()).collect()))
            .collect();
        assert_eq!(
            shape,
            [("B", vec!["1", "2"]), ("B", vec![]), ("D", vec!["3"])]
        );
        assert_eq!(a.children_named("B").count(), 2);
        assert_eq!(a.child("D").unwrap().attribute("x"), Some("y"));
        assert_eq!(
            a.text_of("D"),
            Some(""),
            "a parent's text is its own, not its children's"
        );
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
    fn a_document_nested_deeper_than_any_answer_is_refused_not_walked() {
        // Readers walk the tree recursively; a hostile server's 50,000
        // nested elements must be an error, not a stack overflow.
        let depth = 50_000;
        let doc = format!("{}{}", "<t:A>".repeat(depth), "</t:A>".repeat(depth));
        let error = parse(&doc).unwrap_err();
        assert!(error.contains("nest"), "{error}");
        let error = crate::ews::read_calendar_items(&doc).unwrap_err();
        assert!(error.message.contains("nest"), "{error}");
        let shallow = format!(
            "{}{}",
            "<t:A>".repeat(MAX_DEPTH),
            "</t:A>".repeat(MAX_DEPTH)
        );
        assert!(parse(&shallow).is_ok(), "{MAX_DEPTH} levels are allowed");
        let deeper = format!("<r>{shallow}</r>");
        assert!(parse(&deeper).is_err());
    }

    #[test]
    fn hostile_numbers_of_declarations_or_attributes_are_refused() {
        let declarations: String = (0..=MAX_DECLARATIONS)
            .map(|i| format!(" xmlns:p{i}=\"urn:{i}\""))
            .collect();
        let error = parse(&format!("<r{declarations}><a/></r>")).unwrap_err();
        assert!(error.contains("declarations"), "{error}");
        let allowed: String = (0..MAX_DECLARATIONS)
            .map(|i| format!(" xmlns:p{i}=\"urn:{i}\""))
            .collect();
        assert!(parse(&format!("<r{allowed}><a/></r>")).is_ok());
        let attributes: String = (0..=MAX_ATTRIBUTES)
            .map(|i| format!(" a{i}=\"v\""))
            .collect();
        let error = parse(&format!("<r{attributes}/>")).unwrap_err();
        assert!(error.contains("attributes"), "{error}");
        let fewer: String = (0..MAX_ATTRIBUTES)
            .map(|i| format!(" a{i}=\"v\""))
            .collect();
        assert!(parse(&format!("<r{fewer}/>")).is_ok());
    }

    /// A document of random prefixes, declared, redeclared and undeclared
    /// on random elements (empty ones too).
    fn random_document() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let prefix = prop::sample::select(vec!["", "a", "b", "t", "m"]);
        let uri = prop::sample::select(vec!["urn:one", "urn:two", TYPES, MESSAGES, ""]);
        let declarations = prop::collection::vec((prefix.clone(), uri), 0..3);
        let element = (prefix, declarations, 0..3usize, any::<bool>());
        prop::collection::vec(element, 1..40).prop_map(|elements| {
            // Each element opens; `closes` of the open ones close after it.
            let mut doc = String::from("<root>");
            let mut open = Vec::new();
            for (i, (prefix, declarations, closes, empty)) in elements.into_iter().enumerate() {
                let name = match prefix {
                    "" => format!("e{i}"),
                    p => format!("{p}:e{i}"),
                };
                doc.push_str(&format!("<{name}"));
                let mut declared = Vec::new();
                for (p, uri) in declarations {
                    if declared.contains(&p) || (!p.is_empty() && uri.is_empty()) {
                        continue; // a repeated attribute; xmlns:p="" is XML 1.1
                    }
                    declared.push(p);
                    match p {
                        "" => doc.push_str(&format!(" xmlns=\"{uri}\"")),
                        p => doc.push_str(&format!(" xmlns:{p}=\"{uri}\"")),
                    }
                }
                if empty {
                    doc.push_str("/>");
                } else {
                    doc.push('>');
                    open.push(name);
                }
                for _ in 0..closes {
                    if let Some(name) = open.pop() {
                        doc.push_str(&format!("</{name}>"));
                    }
                }
            }
            while let Some(name) = open.pop() {
                doc.push_str(&format!("</{name}>"));
            }
            doc + "</root>"
        })
    }

    proptest::proptest! {
        /// Every element's namespace is the one quick-xml's own
        /// namespace-aware reader resolves (with EWS's `t:` and `m:` for
        /// prefixes it cannot resolve), in document order.
        #[test]
        fn namespaces_resolve_as_quick_xml_resolves_them(doc in random_document()) {
            use quick_xml::name::ResolveResult;
            let mut expected = Vec::new();
            let mut reader = quick_xml::NsReader::from_str(&doc);
            loop {
                match reader.read_resolved_event().unwrap() {
                    (resolved, Event::Start(e) | Event::Empty(e)) => {
                        let ns = match resolved {
                            ResolveResult::Bound(ns) => ns.as_ref().to_owned(),
                            ResolveResult::Unknown(p) if p == "t" => TYPES.to_owned(),
                            ResolveResult::Unknown(p) if p == "m" => MESSAGES.to_owned(),
                            _ => String::new(),
                        };
                        expected.push((e.local_name().as_ref().to_owned(), ns));
                    }
                    (_, Event::Eof) => break,
                    _ => {}
                }
            }
            let parsed = parse(&doc).unwrap();
            let found: Vec<(String, String)> = in_document_order(&parsed)
                .into_iter()
                .map(|(name, ns)| (name.to_owned(), ns.to_owned()))
                .collect();
            proptest::prop_assert_eq!(found, expected);
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
