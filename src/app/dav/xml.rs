//! A small, namespace-aware XML reader for WebDAV request bodies (`propfind`,
//! `propertyupdate`, `lockinfo`; RFC 4918 §14), and escaping for what is written back.
//!
//! It reads the subset of XML 1.0 those bodies use: elements, attributes, namespaces
//! (`xmlns`, `xmlns:p`), text with the five predefined entities and character references,
//! CDATA sections, comments, and an XML declaration at the very start. Everything that makes
//! XML dangerous to read is refused: a document type declaration (so no entity can be
//! declared: no XXE, no "billion laughs"), any other entity reference, and processing
//! instructions. Everything is bounded: the bytes of a body, the depth, the elements, the
//! attributes of one element and the length of a name.
//!
//! The reader is fed as bytes arrive ([`Reader::feed`]) and builds a small tree
//! ([`Element`]); markup is handled one whole token at a time, so the answer does not depend on
//! how the body was cut into pieces (`tests/property.rs` and the fuzz target check that).
//!
//! Out of scope: what the elements mean (the WebDAV handlers).

use std::fmt::Write as _;

/// Largest request body read as XML. A `propfind` or `lockinfo` is a few hundred bytes; a
/// `propertyupdate` carries dead property values, which this bounds.
pub const MAX_XML_BYTES: usize = 256 * 1024;
/// Deepest nesting of elements.
pub const MAX_XML_DEPTH: usize = 32;
/// Most elements in one body.
pub const MAX_XML_ELEMENTS: usize = 4096;
/// Most attributes on one element (namespace declarations included).
pub const MAX_XML_ATTRIBUTES: usize = 32;
/// Longest name (prefix included) and longest namespace URI.
pub const MAX_XML_NAME_BYTES: usize = 256;

/// The XML namespace of WebDAV.
pub const DAV: &str = "DAV:";

/// Why a body is not XML this reader takes (the answer is 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub &'static str);

impl From<XmlError> for crate::http::error::Error {
    /// A body that is not XML this reader takes is the client's error.
    fn from(e: XmlError) -> Self {
        crate::http::error::Error::BadRequest(e.0)
    }
}

/// A name in a namespace: `ns` is the URI ("" for none), `local` the name without prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name {
    pub ns: String,
    pub local: String,
}

/// One element: its name, its attributes (without namespace declarations), its child
/// elements and its text (the text directly inside it, joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: Name,
    pub attrs: Vec<(Name, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// Whether this element is `local` in namespace `ns`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.name.ns == ns && self.name.local == local
    }

    /// The first child element `local` in namespace `ns`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }
}

/// An element being read: its name, what it declared, and what it holds so far.
struct Open {
    element: Element,
    /// The raw name of its start tag, which its end tag must repeat.
    raw: String,
    /// How many namespace bindings it pushed.
    bindings: usize,
}

/// Reads one XML document fed in pieces.
#[derive(Default)]
pub struct Reader {
    /// Bytes not yet made into tokens.
    pending: Vec<u8>,
    scan: Scan,
    /// Bytes fed in all.
    total: usize,
    /// Open elements, innermost last.
    stack: Vec<Open>,
    /// Namespace bindings in scope, innermost last: (prefix, URI); prefix "" for the default.
    bindings: Vec<(String, String)>,
    root: Option<Element>,
    elements: usize,
    /// Nothing but the XML declaration may come before this turns true.
    started: bool,
}

impl Reader {
    pub fn new() -> Reader {
        Reader::default()
    }

    /// Reads the next piece of the body.
    ///
    /// # Errors
    /// The body is not XML this reader takes, or is over a limit.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), XmlError> {
        self.total = self.total.saturating_add(data.len());
        if self.total > MAX_XML_BYTES {
            return Err(XmlError("the XML body is too large"));
        }
        self.pending.extend_from_slice(data);
        let mut at = 0;
        while let Some(len) = token_len(self.pending.get(at..).unwrap_or_default(), &mut self.scan)
        {
            self.scan = Scan::default();
            let token = self.pending.get(at..at + len).unwrap_or_default().to_vec();
            at += len;
            self.token(&token)?;
        }
        self.pending.drain(..at);
        Ok(())
    }

    /// The body has ended: the document's root element.
    ///
    /// # Errors
    /// The document is not complete, or has no root element.
    pub fn finish(mut self) -> Result<Element, XmlError> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            if rest.first() == Some(&b'<') {
                return Err(XmlError("the XML body ends inside markup"));
            }
            self.token(&rest)?;
        }
        if !self.stack.is_empty() {
            return Err(XmlError("an XML element is not closed"));
        }
        self.root.ok_or(XmlError("the XML body has no element"))
    }

    fn token(&mut self, token: &[u8]) -> Result<(), XmlError> {
        let text = std::str::from_utf8(token).map_err(|_| XmlError("XML must be UTF-8"))?;
        if let Some(rest) = text.strip_prefix("<?") {
            return self.declaration(rest);
        }
        self.started = true;
        if text.starts_with("<!--") {
            if text.len() < 7
                || text
                    .get(4..text.len() - 3)
                    .is_some_and(|c| c.contains("--"))
            {
                return Err(XmlError("a malformed XML comment"));
            }
            return Ok(());
        }
        if let Some(data) = text.strip_prefix("<![CDATA[") {
            let data = data.strip_suffix("]]>").unwrap_or(data);
            return self.text(data, false);
        }
        if text.starts_with("<!") {
            return Err(XmlError(
                "XML with a document type or entity declaration is refused",
            ));
        }
        if let Some(rest) = text.strip_prefix("</") {
            return self.end_tag(rest);
        }
        if let Some(rest) = text.strip_prefix('<') {
            return self.start_tag(rest);
        }
        self.text(text, true)
    }

    /// `<?xml ...?>` at the very start; any other processing instruction is refused.
    fn declaration(&mut self, rest: &str) -> Result<(), XmlError> {
        let is_xml = rest
            .strip_prefix("xml")
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_whitespace()) || r == "?>");
        if !is_xml || self.started {
            return Err(XmlError("XML processing instructions are refused"));
        }
        self.started = true;
        Ok(())
    }

    fn text(&mut self, raw: &str, decode: bool) -> Result<(), XmlError> {
        let Some(open) = self.stack.last_mut() else {
            if raw.chars().all(|c| c.is_ascii_whitespace()) && decode {
                return Ok(());
            }
            return Err(XmlError("text outside the XML root element"));
        };
        if decode {
            decode_into(raw, &mut open.element.text)
        } else {
            open.element.text.push_str(raw);
            Ok(())
        }
    }

    fn start_tag(&mut self, rest: &str) -> Result<(), XmlError> {
        let body = rest
            .strip_suffix('>')
            .ok_or(XmlError("a malformed XML tag"))?;
        let (body, empty) = match body.strip_suffix('/') {
            Some(b) => (b, true),
            None => (body, false),
        };
        if self.root.is_some() {
            return Err(XmlError("more than one XML root element"));
        }
        if self.stack.len() >= MAX_XML_DEPTH {
            return Err(XmlError("the XML is nested too deep"));
        }
        self.elements += 1;
        if self.elements > MAX_XML_ELEMENTS {
            return Err(XmlError("the XML has too many elements"));
        }
        let (raw, attrs) = split_tag(body)?;
        let mut bindings = 0;
        let mut plain = Vec::new();
        for (name, value) in attrs {
            let value = decode(&value)?;
            if name == "xmlns" || name.starts_with("xmlns:") {
                let prefix = name.strip_prefix("xmlns:").unwrap_or("");
                if value.len() > MAX_XML_NAME_BYTES {
                    return Err(XmlError("an XML namespace name is too long"));
                }
                if !prefix.is_empty() && value.is_empty() {
                    return Err(XmlError("an XML prefix bound to no namespace"));
                }
                self.bindings.push((prefix.to_string(), value));
                bindings += 1;
            } else {
                plain.push((name, value));
            }
        }
        let name = self.resolve(&raw, true)?;
        let mut resolved: Vec<(Name, String)> = Vec::with_capacity(plain.len());
        for (n, v) in plain {
            let n = self.resolve(&n, false)?;
            if resolved.iter().any(|(m, _)| *m == n) {
                return Err(XmlError("an XML attribute is given twice"));
            }
            resolved.push((n, v));
        }
        let open = Open {
            element: Element {
                name,
                attrs: resolved,
                children: Vec::new(),
                text: String::new(),
            },
            raw,
            bindings,
        };
        self.stack.push(open);
        if empty {
            self.close();
        }
        Ok(())
    }

    fn end_tag(&mut self, rest: &str) -> Result<(), XmlError> {
        let name = rest
            .strip_suffix('>')
            .ok_or(XmlError("a malformed XML end tag"))?
            .trim_end_matches(|c: char| c.is_ascii_whitespace());
        match self.stack.last() {
            Some(open) if open.raw == name => {
                self.close();
                Ok(())
            }
            _ => Err(XmlError("an XML end tag does not match its start tag")),
        }
    }

    /// Closes the innermost element: it goes into its parent, or becomes the root.
    fn close(&mut self) {
        let Some(open) = self.stack.pop() else {
            return;
        };
        let keep = self.bindings.len().saturating_sub(open.bindings);
        self.bindings.truncate(keep);
        match self.stack.last_mut() {
            Some(parent) => parent.element.children.push(open.element),
            None => self.root = Some(open.element),
        }
    }

    /// The namespace and local name of a raw name. Attributes without a prefix are in no
    /// namespace; elements take the default one.
    fn resolve(&self, raw: &str, element: bool) -> Result<Name, XmlError> {
        let (prefix, local) = match raw.split_once(':') {
            Some((p, l)) => (p, l),
            None => ("", raw),
        };
        if !is_name(local) || (!prefix.is_empty() && !is_name(prefix)) {
            return Err(XmlError("a malformed XML name"));
        }
        if prefix.is_empty() && !element {
            return Ok(Name {
                ns: String::new(),
                local: local.to_string(),
            });
        }
        if prefix == "xml" {
            return Ok(Name {
                ns: "http://www.w3.org/XML/1998/namespace".into(),
                local: local.to_string(),
            });
        }
        let ns = self
            .bindings
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.clone());
        match (ns, prefix.is_empty()) {
            (Some(ns), _) => Ok(Name {
                ns,
                local: local.to_string(),
            }),
            (None, true) => Ok(Name {
                ns: String::new(),
                local: local.to_string(),
            }),
            (None, false) => Err(XmlError("an XML prefix is not declared")),
        }
    }
}

/// How far the search for the end of the token at the start of the pending bytes has got, so
/// that a token fed a byte at a time is scanned once, not once per byte.
#[derive(Default, Clone, Copy)]
struct Scan {
    /// Bytes of the token already looked at.
    pos: usize,
    /// Inside a tag: the quote of the attribute value being scanned.
    quote: Option<u8>,
}

/// The length of the whole token at the start of `buf`, or `None` until it has all come (then
/// `scan` remembers how far it looked). Text runs to the next `<`; markup to its own end (a
/// tag's `>` outside quoted values).
fn token_len(buf: &[u8], scan: &mut Scan) -> Option<usize> {
    let first = *buf.first()?;
    let from = scan.pos;
    scan.pos = buf.len();
    if first != b'<' {
        return find(buf, b"<", from, 0).map(|i| i - 1);
    }
    // Markup: which kind is known once its opening has come.
    let opening_of = |marker: &[u8]| {
        let n = marker.len().min(buf.len());
        buf.get(..n) == marker.get(..n)
    };
    for (open, close) in [
        (&b"<!--"[..], &b"-->"[..]),
        (b"<![CDATA[", b"]]>"),
        (b"<?", b"?>"),
    ] {
        if opening_of(open) {
            if buf.len() < open.len() {
                scan.pos = from;
                return None;
            }
            // The closing marker may not overlap the opening one ("<!-->" is no comment).
            return find(buf, close, from, open.len());
        }
    }
    // A tag: its end is the first '>' outside a quoted value.
    for (i, &b) in buf.iter().enumerate().skip(from) {
        match (scan.quote, b) {
            (None, b'"' | b'\'') => scan.quote = Some(b),
            (Some(q), _) if b == q => scan.quote = None,
            (None, b'>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The end (exclusive) of the first `marker` in `buf` that starts at `min_start` or later and
/// ends after `from` (so a marker cut by the previous look is found).
fn find(buf: &[u8], marker: &[u8], from: usize, min_start: usize) -> Option<usize> {
    let start = from.saturating_sub(marker.len() - 1).max(min_start);
    buf.get(start..)?
        .windows(marker.len())
        .position(|w| w == marker)
        .map(|i| start + i + marker.len())
}

/// A tag's raw name and raw attributes (values still encoded).
fn split_tag(body: &str) -> Result<(String, Vec<(String, String)>), XmlError> {
    let name_end = body
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(body.len());
    let name = body.get(..name_end).unwrap_or_default();
    check_name_len(name)?;
    let mut rest = body.get(name_end..).unwrap_or_default();
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if rest.is_empty() {
            break;
        }
        if attrs.len() >= MAX_XML_ATTRIBUTES {
            return Err(XmlError("an XML element has too many attributes"));
        }
        let (attr, after) = rest
            .split_once('=')
            .ok_or(XmlError("a malformed XML attribute"))?;
        let attr = attr.trim_end_matches(|c: char| c.is_ascii_whitespace());
        check_name_len(attr)?;
        let after = after.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let quote = after
            .chars()
            .next()
            .filter(|&c| c == '"' || c == '\'')
            .ok_or(XmlError("an XML attribute value must be quoted"))?;
        let inner = after.get(1..).unwrap_or_default();
        let close = inner
            .find(quote)
            .ok_or(XmlError("a malformed XML attribute"))?;
        let value = inner.get(..close).unwrap_or_default();
        if value.contains('<') {
            return Err(XmlError("'<' in an XML attribute value"));
        }
        attrs.push((attr.to_string(), value.to_string()));
        rest = inner.get(close + 1..).unwrap_or_default();
        if !rest.is_empty() && !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
            return Err(XmlError("XML attributes must be separated by spaces"));
        }
    }
    Ok((name.to_string(), attrs))
}

fn check_name_len(name: &str) -> Result<(), XmlError> {
    if name.is_empty() {
        return Err(XmlError("a malformed XML name"));
    }
    if name.len() > MAX_XML_NAME_BYTES {
        return Err(XmlError("an XML name is too long"));
    }
    Ok(())
}

/// Whether `s` is an XML name without a colon (ASCII letters, digits, `_ - .`, and any
/// non-ASCII character; not starting with a digit, `-` or `.`).
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii();
    start(first) && chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

fn decode(raw: &str) -> Result<String, XmlError> {
    let mut out = String::with_capacity(raw.len());
    decode_into(raw, &mut out)?;
    Ok(out)
}

/// Appends `raw` with its entity and character references replaced.
fn decode_into(raw: &str, out: &mut String) -> Result<(), XmlError> {
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        let semi = after
            .find(';')
            .filter(|&n| n <= 10)
            .ok_or(XmlError("a malformed XML reference"))?;
        let name = after.get(..semi).unwrap_or_default();
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    return Err(XmlError(
                        "XML entities other than the five predefined are refused",
                    ));
                };
                code.and_then(char::from_u32)
                    .filter(|&c| c != '\0')
                    .ok_or(XmlError("a malformed XML character reference"))?
            }
        };
        out.push(c);
        rest = after.get(semi + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(())
}

/// Parses a whole body at once (as [`Reader`] fed in one piece).
///
/// # Errors
/// As for [`Reader::feed`] and [`Reader::finish`].
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let mut r = Reader::new();
    r.feed(body)?;
    r.finish()
}

/// Appends `s` escaped for XML text or a double-quoted attribute value.
pub fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and line ends are not allowed in XML 1.0,
            // even as references: written as U+FFFD.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// `s` escaped for XML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(s, &mut out);
    out
}

/// Writes an element and what it holds back as XML (namespaces declared on each element that
/// needs one; for dead properties, which are stored and given back as they came).
pub fn write_element(e: &Element, out: &mut String) {
    // Each element declares its own default namespace ("" for none), so it reads the same
    // wherever it is placed.
    let _ = write!(
        out,
        "<{} xmlns=\"{}\"",
        escape(&e.name.local),
        escape(&e.name.ns)
    );
    for (i, (name, value)) in e.attrs.iter().enumerate() {
        if name.ns.is_empty() {
            let _ = write!(out, " {}=\"{}\"", escape(&name.local), escape(value));
        } else {
            let _ = write!(
                out,
                " xmlns:a{i}=\"{}\" a{i}:{}=\"{}\"",
                escape(&name.ns),
                escape(&name.local),
                escape(value)
            );
        }
    }
    if e.children.is_empty() && e.text.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    escape_into(&e.text, out);
    for c in &e.children {
        write_element(c, out);
    }
    let _ = write!(out, "</{}>", escape(&e.name.local));
}

#[cfg(test)]
mod tests;
