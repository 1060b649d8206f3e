//! Escaping names from the disk for the places they are shown: HTML text and attributes, URL
//! path components, and JSON strings. A file name is whatever bytes the file system holds, so
//! each escaper takes bytes; names that are not UTF-8 are shown with U+FFFD in text but keep
//! their exact bytes in URLs, so their links still work.
//!
//! Out of scope: decoding (`http/uri.rs`), and where escaped text goes (`render.rs`).

use std::fmt::Write;

/// Appends `text` escaped for HTML text and for quoted attribute values alike (the five
/// characters that can end a value or start markup).
pub fn push_html(out: &mut String, text: &str) {
    // The characters escaped are ASCII, so every byte position found is a char boundary:
    // the text between them is copied in one piece.
    let mut rest = text;
    while let Some(i) = rest
        .bytes()
        .position(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        out.push_str(rest.get(..i).unwrap_or_default());
        out.push_str(match rest.as_bytes().get(i) {
            Some(b'&') => "&amp;",
            Some(b'<') => "&lt;",
            Some(b'>') => "&gt;",
            Some(b'"') => "&quot;",
            _ => "&#39;",
        });
        rest = rest.get(i + 1..).unwrap_or_default();
    }
    out.push_str(rest);
}

/// Appends a name from the disk, shown as text (lossy for bytes that are not UTF-8) and
/// escaped for HTML.
pub fn push_html_name(out: &mut String, name: &[u8]) {
    push_html(out, &String::from_utf8_lossy(name));
}

/// Appends one path component percent-encoded: everything but RFC 3986's unreserved
/// characters (§2.3) is escaped, so `/`, `?`, `#`, `%` and spaces in a name can never change
/// what the link points to.
pub fn push_url_component(out: &mut String, name: &[u8]) {
    for &b in name {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Appends a JSON string literal (RFC 8259 §7), quotes included. `<`, `>` and `&` are escaped
/// too, so the JSON stays inert if a page ever embeds it.
pub fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_special_characters() {
        let cases = [
            ("plain.txt", "plain.txt"),
            (
                "<img src=x onerror=alert(1)>.txt",
                "&lt;img src=x onerror=alert(1)&gt;.txt",
            ),
            ("\"quote'd\"", "&quot;quote&#39;d&quot;"),
            ("a&b", "a&amp;b"),
            ("日本語.txt", "日本語.txt"),
        ];
        for (name, want) in cases {
            let mut out = String::new();
            push_html(&mut out, name);
            assert_eq!(out, want, "{name}");
        }
        let mut out = String::new();
        push_html_name(&mut out, b"bad\xff<");
        assert_eq!(out, "bad\u{fffd}&lt;");
    }

    #[test]
    fn percent_encodes_all_but_unreserved() {
        let cases: &[(&[u8], &str)] = &[
            (b"a-b_c.d~e", "a-b_c.d~e"),
            (b"a b%20c", "a%20b%2520c"),
            (b"#hash?.txt", "%23hash%3F.txt"),
            (b"x/y", "x%2Fy"),
            ("日".as_bytes(), "%E6%97%A5"),
            (b"\xff", "%FF"),
            (b"\"quote'd\"", "%22quote%27d%22"),
        ];
        for (name, want) in cases {
            let mut out = String::new();
            push_url_component(&mut out, name);
            assert_eq!(out, *want);
        }
    }

    #[test]
    fn writes_json_strings() {
        let cases = [
            ("a", "\"a\""),
            ("q\"b\\", "\"q\\\"b\\\\\""),
            ("line\nnext\u{1}", "\"line\\nnext\\u0001\""),
            ("</script>", "\"\\u003c/script\\u003e\""),
            ("日本語", "\"日本語\""),
        ];
        for (text, want) in cases {
            let mut out = String::new();
            push_json_string(&mut out, text);
            assert_eq!(out, want, "{text:?}");
        }
    }
}
