//! Standard base64 (RFC 4648 §4, with padding): iCalendar's inline
//! attachments and EWS's attachment content (and the URL-safe form of JSON
//! Web Tokens). Small enough not to need a crate.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `bytes`, padded (a Basic `Authorization` header, say).
///
/// ```
/// assert_eq!(calrep_core::base64::encode(b"ann:secret"), "YW5uOnNlY3JldA==");
/// ```
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Encodes `bytes` in the URL-safe alphabet without padding (RFC 4648 §5),
/// as JSON Web Tokens do, and as the CalDAV front end names resources.
///
/// ```
/// assert_eq!(calrep_core::base64::encode_url(b"Calendar"), "Q2FsZW5kYXI");
/// ```
pub fn encode_url(bytes: &[u8]) -> String {
    encode(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// Decodes URL-safe base64 with or without padding.
#[cfg(feature = "sim")]
pub(crate) fn decode_url(text: &str) -> Option<Vec<u8>> {
    let mut standard = text.replace('-', "+").replace('_', "/");
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    decode(&standard)
}

/// Decodes `text`, ignoring whitespace (servers fold long values); `None`
/// when it is not base64.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits, mut padding) = (0u32, 0u32, 0usize);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let value = match c {
            b'=' => {
                padding += 1;
                continue;
            }
            _ if padding > 0 => return None,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xFF) as u8);
        }
    }
    // Leftover bits must be the zero fill of a padded final group.
    (padding <= 2 && bits < 6 && acc & ((1 << bits) - 1) == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC4648: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn encoding_matches_rfc4648_vectors() {
        for (input, expected) in RFC4648 {
            assert_eq!(encode(input.as_bytes()), expected);
        }
    }

    #[test]
    fn decoding_matches_rfc4648_vectors_and_refuses_junk() {
        for (expected, input) in RFC4648 {
            assert_eq!(decode(input).as_deref(), Some(expected.as_bytes()));
        }
        assert_eq!(decode("Zm9v\r\nYmFy").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(decode("Zm9v!"), None);
        assert_eq!(decode("Zg==Zg"), None);
    }

    proptest::proptest! {
        #[test]
        fn decode_inverts_encode(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            proptest::prop_assert_eq!(decode(&encode(&bytes)), Some(bytes));
        }
    }
}
