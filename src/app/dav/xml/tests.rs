use super::*;

/// Parses `doc` whole, then cut in two at every byte, and in pieces of one byte: every way
/// gives the same answer.
fn read(doc: &str) -> Result<Element, XmlError> {
    let whole = parse(doc.as_bytes());
    let bytes = doc.as_bytes();
    for cut in 0..=bytes.len() {
        let mut r = Reader::new();
        let got = r
            .feed(&bytes[..cut])
            .and_then(|()| r.feed(&bytes[cut..]))
            .and_then(|()| r.finish());
        assert_eq!(got, whole, "cut at {cut} of {doc:?}");
    }
    let mut r = Reader::new();
    let got = bytes
        .iter()
        .try_for_each(|b| r.feed(std::slice::from_ref(b)))
        .and_then(|()| r.finish());
    assert_eq!(got, whole, "byte by byte: {doc:?}");
    whole
}

fn name(ns: &str, local: &str) -> Name {
    Name {
        ns: ns.into(),
        local: local.into(),
    }
}

#[test]
fn reads_a_propfind_with_namespaces() {
    let doc = r#"<?xml version="1.0" encoding="utf-8" ?>
<D:propfind xmlns:D="DAV:" xmlns:z="http://ns.example.com/z/">
  <!-- a comment -->
  <D:prop><D:getetag/><z:Author a="1" z:b='x&amp;y'/><displayname xmlns="DAV:"/></D:prop>
</D:propfind>"#;
    let root = read(doc).unwrap();
    assert!(root.is(DAV, "propfind"));
    let prop = root.child(DAV, "prop").unwrap();
    let names: Vec<&Name> = prop.children.iter().map(|c| &c.name).collect();
    assert_eq!(
        names,
        [
            &name(DAV, "getetag"),
            &name("http://ns.example.com/z/", "Author"),
            &name(DAV, "displayname")
        ]
    );
    let author = &prop.children[1];
    assert_eq!(
        author.attrs,
        [
            (name("", "a"), "1".to_string()),
            (name("http://ns.example.com/z/", "b"), "x&y".to_string())
        ]
    );
}

#[test]
fn decodes_text_references_and_cdata() {
    let root = read("<a>x &lt;&gt;&amp;&quot;&apos; &#65;&#x42;<![CDATA[<&>]]>z</a>").unwrap();
    assert_eq!(root.text, "x <>&\"' AB<&>z");
    assert!(root.is("", "a"), "no default namespace: none");
    let root = read("<a xmlns='u'><b xmlns=''/></a>").unwrap();
    assert_eq!(root.children[0].name, name("", "b"));
}

#[test]
fn refuses_what_makes_xml_dangerous_or_malformed() {
    let cases = [
        ("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", "document type"),
        ("<a>&x;</a>", "entities other than"),
        ("<a>&#0;</a>", "character reference"),
        ("<a>&amp</a>", "malformed XML reference"),
        ("<?php x ?><a/>", "processing instructions"),
        ("<a/><?xml version='1.0'?>", "processing instructions"),
        ("<a><?pi x?></a>", "processing instructions"),
        ("<a></b>", "does not match"),
        ("<a>", "not closed"),
        ("<a/><b/>", "more than one"),
        ("x<a/>", "text outside"),
        ("<a/>x", "text outside"),
        ("", "no element"),
        ("<p:a/>", "prefix is not declared"),
        ("<a b='1' b='2'/>", "given twice"),
        ("<a b=1/>", "must be quoted"),
        ("<a b='<'/>", "'<' in an XML attribute"),
        ("<a b='1'c='2'/>", "separated by spaces"),
        ("<1a/>", "malformed XML name"),
        ("<a xmlns:p=''/>", "bound to no namespace"),
        ("<a><!-- x -- y --></a>", "malformed XML comment"),
        ("<a", "ends inside markup"),
    ];
    for (doc, why) in cases {
        let e = read(doc).unwrap_err();
        assert!(e.0.contains(why), "{doc:?}: {e:?}, wanted {why:?}");
    }
    assert_eq!(
        parse(&[b'<', b'a', b'>', 0xff, b'<', b'/', b'a', b'>']),
        Err(XmlError("XML must be UTF-8"))
    );
}

#[test]
fn every_limit_holds() {
    let deep = "<a>".repeat(MAX_XML_DEPTH) + &"</a>".repeat(MAX_XML_DEPTH);
    assert!(parse(deep.as_bytes()).is_ok());
    let deeper = "<a>".repeat(MAX_XML_DEPTH + 1) + &"</a>".repeat(MAX_XML_DEPTH + 1);
    assert_eq!(
        parse(deeper.as_bytes()),
        Err(XmlError("the XML is nested too deep"))
    );
    let many = format!("<a>{}</a>", "<b/>".repeat(MAX_XML_ELEMENTS));
    assert_eq!(
        parse(many.as_bytes()),
        Err(XmlError("the XML has too many elements"))
    );
    let attrs: String = (0..=MAX_XML_ATTRIBUTES)
        .map(|i| format!(" a{i}='1'"))
        .collect();
    assert_eq!(
        parse(format!("<a{attrs}/>").as_bytes()),
        Err(XmlError("an XML element has too many attributes"))
    );
    let long = "n".repeat(MAX_XML_NAME_BYTES + 1);
    assert_eq!(
        parse(format!("<{long}/>").as_bytes()),
        Err(XmlError("an XML name is too long"))
    );
    let mut r = Reader::new();
    let text = vec![b' '; MAX_XML_BYTES];
    r.feed(&text).unwrap();
    assert_eq!(r.feed(b" "), Err(XmlError("the XML body is too large")));
}

#[test]
fn escapes_everything_written_back() {
    assert_eq!(
        escape("a<b>&\"'\u{1}c"),
        "a&lt;b&gt;&amp;&quot;&apos;\u{FFFD}c"
    );
    let root = read(r#"<z:x xmlns:z="urn:z" q="1&amp;2">t&lt;<z:y/></z:x>"#).unwrap();
    let mut out = String::new();
    write_element(&root, &mut out);
    assert_eq!(
        out,
        r#"<x xmlns="urn:z" q="1&amp;2">t&lt;<y xmlns="urn:z"/></x>"#
    );
    assert_eq!(
        parse(out.as_bytes()).unwrap(),
        root,
        "it reads back the same"
    );
}

#[test]
fn a_long_token_fed_a_byte_at_a_time_is_scanned_once() {
    // Were each byte to rescan what is pending, these would take minutes, not milliseconds.
    let n = MAX_XML_BYTES / 4;
    let docs = [
        format!("<a b='{}'/>", ">".repeat(n)),
        format!("<a><!--{}--></a>", "-> ".repeat(n / 3)),
        format!("<a>{}</a>", "x".repeat(n)),
        format!("<a><![CDATA[{}]]></a>", "]>".repeat(n / 2)),
    ];
    for doc in docs {
        let mut r = Reader::new();
        for b in doc.as_bytes() {
            r.feed(std::slice::from_ref(b)).unwrap();
        }
        assert!(r.finish().is_ok(), "{}", &doc[..20]);
    }
}
