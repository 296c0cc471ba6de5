//! The small text encodings calrep writes by hand, each in one place:
//! percent-encoding (form values, URL path segments) and lower-case hex.

/// `application/x-www-form-urlencoded` encoding of one value (a space is
/// `+`).
///
/// The unreserved characters of RFC 3986 stay; every other byte is `%XX`.
pub(crate) fn form_encode(value: &str) -> String {
    percent_encode(value, true)
}

/// One URL path segment, percent-encoded (Graph ids hold `/`, `+` and `=`;
/// addresses hold `@`).
pub(crate) fn path_segment(value: &str) -> String {
    percent_encode(value, false)
}

fn percent_encode(value: &str, space_as_plus: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' if space_as_plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-decoding of a form value or query value (`plus_is_space`) or a
/// path segment; `None` for a broken `%XX` or bytes that are not UTF-8.
#[cfg(any(feature = "sim", feature = "access"))]
pub(crate) fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.as_bytes().get(i) {
        match b {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(text.get(i + 1..i + 3)?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex text, or `None` if it is not hex.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_and_path_segments_are_percent_encoded() {
        assert_eq!(
            form_encode("https://outlook.office365.com/.default"),
            "https%3A%2F%2Foutlook.office365.com%2F.default"
        );
        assert_eq!(form_encode("a b+c&d=é"), "a+b%2Bc%26d%3D%C3%A9");
        assert_eq!(path_segment("a b@c.com"), "a%20b%40c.com");
        assert_eq!(path_segment("AAMk/+="), "AAMk%2F%2B%3D");
    }

    #[cfg(feature = "sim")]
    #[test]
    fn decoding_undoes_encoding_and_refuses_broken_escapes() {
        for text in ["a b+c&d=é", "AAMk/+=", "plain"] {
            assert_eq!(
                percent_decode(&form_encode(text), true).as_deref(),
                Some(text)
            );
            assert_eq!(
                percent_decode(&path_segment(text), false).as_deref(),
                Some(text)
            );
        }
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%4", true), None);
        assert_eq!(percent_decode("%zz", true), None);
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(b"a1"), "6131");
        assert_eq!(unhex("6131").as_deref(), Some(&b"a1"[..]));
        assert_eq!(unhex("613"), None);
        assert_eq!(unhex("zz"), None);
    }
}
