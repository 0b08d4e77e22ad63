//! Bytes → text: the charset comes from a byte-order mark, then the `Content-Type` header,
//! then a `<meta>` in the first bytes of the page, else UTF-8 (invalid bytes replaced).

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8};

/// How far into the page a `<meta charset>` is looked for (the HTML spec says 1024 bytes;
/// real pages put long `<head>` preambles first, so look further).
const META_SCAN: usize = 8192;

/// Decode a page body to text.
pub(crate) fn decode<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    if let Some((enc, bom_len)) = Encoding::for_bom(body) {
        let (text, _) = enc.decode_without_bom_handling(&body[bom_len..]);
        return text;
    }
    let enc = content_type
        .and_then(charset_param)
        .or_else(|| meta_charset(&body[..body.len().min(META_SCAN)]))
        .unwrap_or(UTF_8);
    // A page that says UTF-16 in a header or meta without a BOM is almost always lying
    // (the bytes parsed as ASCII to find that meta): treat it as UTF-8, as browsers do.
    let enc = if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
        UTF_8
    } else {
        enc
    };
    let (text, _) = enc.decode_without_bom_handling(body);
    text
}

/// `text/html; charset="windows-1252"` → windows-1252.
fn charset_param(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        Encoding::for_label(value.trim().trim_matches(['"', '\'']).as_bytes())
    })
}

/// `<meta charset="x">` or `<meta http-equiv="Content-Type" content="…; charset=x">`.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(pos) = find(&lower[from..], b"<meta") {
        let start = from + pos;
        let end = lower[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        if let Some(c) = find(tag, b"charset") {
            let rest = &tag[c + b"charset".len()..];
            let rest = trim_start(rest);
            if let Some(rest) = rest.strip_prefix(b"=") {
                let rest = trim_start(rest);
                let rest = rest
                    .strip_prefix(b"\"")
                    .or(rest.strip_prefix(b"'"))
                    .unwrap_or(rest);
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b'"' | b'\'' | b';' | b' ' | b'/' | b'>'))
                    .unwrap_or(rest.len());
                if let Some(enc) = Encoding::for_label(&rest[..len]) {
                    return Some(enc);
                }
            }
        }
        from = end;
    }
    None
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_charset_wins_over_default() {
        let body = b"<p>caf\xe9 \x93quoted\x94</p>";
        let t = decode(body, Some("text/html; charset=ISO-8859-1"));
        assert_eq!(t, "<p>café “quoted”</p>");
    }

    #[test]
    fn meta_charset_only() {
        let body = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"></head><body>na\xefve</body>";
        assert!(decode(body, Some("text/html")).contains("naïve"));
        let body = b"<meta charset='shift_jis'><p>\x93\xfa\x96\x7b</p>";
        assert!(decode(body, None).contains("日本"));
    }

    #[test]
    fn bom_wins_and_invalid_utf8_is_replaced() {
        assert_eq!(
            decode(b"\xef\xbb\xbfabc", Some("text/html; charset=latin1")),
            "abc"
        );
        assert_eq!(decode(b"a\xffb", None), "a\u{fffd}b");
    }
}
