//! Directory names: SMTP addresses and LDAP distinguished names, both compared
//! the way Exchange and Active Directory compare them (case-insensitively).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not an acceptable address or DN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid {what}: {reason}")]
pub struct NameError {
    what: &'static str,
    input: String,
    reason: &'static str,
}

impl NameError {
    fn new(what: &'static str, input: &str, reason: &'static str) -> Self {
        // Keep messages short even when someone pastes a whole file.
        let input: String = input.chars().take(120).collect();
        Self {
            what,
            input,
            reason,
        }
    }
}

/// An SMTP address such as `alice@example.com`, compared case-insensitively.
///
/// ```
/// use calrep_core::EmailAddress;
/// let a: EmailAddress = "Alice@Example.com".parse()?;
/// let b: EmailAddress = "alice@example.COM".parse()?;
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "Alice@Example.com");
/// assert!("alice@".parse::<EmailAddress>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress {
    text: Box<str>,
    key: Box<str>,
}

impl EmailAddress {
    /// An address calrep itself defines (a constant known to be valid),
    /// without the checks.
    #[cfg(feature = "sim")]
    pub(crate) fn known(text: &str) -> Self {
        Self {
            text: text.into(),
            key: text.to_lowercase().into(),
        }
    }

    /// The address as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The lower-case form used for comparison and de-duplication.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl FromStr for EmailAddress {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| NameError::new("e-mail address", s, reason);
        let text = s.trim();
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.len() > 254 {
            return Err(bad("it is longer than 254 characters"));
        }
        let Some((local, domain)) = text.rsplit_once('@') else {
            return Err(bad("it has no '@'"));
        };
        if local.is_empty() {
            return Err(bad("the part before '@' is empty"));
        }
        if local.len() > 64 {
            return Err(bad("the part before '@' is longer than 64 characters"));
        }
        if local.contains('@') {
            return Err(bad("it has more than one '@'"));
        }
        if text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        {
            return Err(bad(
                "it holds spaces, control characters or list punctuation",
            ));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(bad("the part before '@' has a misplaced '.'"));
        }
        if domain.is_empty() {
            return Err(bad("the domain is empty"));
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !labels_ok {
            return Err(bad("the domain is not a valid host name"));
        }
        Ok(Self {
            text: text.into(),
            key: text.to_lowercase().into(),
        })
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EmailAddress> for String {
    fn from(a: EmailAddress) -> Self {
        a.text.into()
    }
}

impl PartialEq for EmailAddress {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for EmailAddress {}
impl Hash for EmailAddress {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}
impl PartialOrd for EmailAddress {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for EmailAddress {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}
impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({:?})", self.text)
    }
}

/// An LDAP distinguished name (RFC 4514) such as
/// `CN=Sales,OU=Groups,DC=example,DC=com`, compared the way Active Directory
/// compares them: attribute types and values case-insensitively, with
/// insignificant spaces and escapes normalised.
///
/// ```
/// use calrep_core::DistinguishedName;
/// let a: DistinguishedName = "CN=Sales\\, EMEA,OU=Groups,DC=example,DC=com".parse()?;
/// let b: DistinguishedName = "cn=sales\\2C emea, ou=groups, dc=EXAMPLE, dc=com".parse()?;
/// assert_eq!(a, b);
/// assert!("Sales".parse::<DistinguishedName>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DistinguishedName {
    text: Box<str>,
    key: Box<str>,
}

impl DistinguishedName {
    /// The DN as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The normalised form used for comparison.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl FromStr for DistinguishedName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| NameError::new("distinguished name", s, reason);
        let text = s.trim();
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        let mut key = String::with_capacity(text.len());
        for rdn in split_unescaped(text, ',').map_err(bad)? {
            for ava in split_unescaped(rdn, '+').map_err(bad)? {
                let Some((attr, value)) = ava.split_once('=') else {
                    return Err(bad("a component has no '=' (expected e.g. CN=Sales)"));
                };
                let attr = attr.trim();
                let attr_ok = !attr.is_empty()
                    && (attr.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                        && attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        || attr.chars().all(|c| c.is_ascii_digit() || c == '.'));
                if !attr_ok {
                    return Err(bad("a component has an invalid attribute type"));
                }
                let value = unescape(value.trim()).map_err(bad)?;
                if value.is_empty() {
                    return Err(bad("a component has an empty value"));
                }
                if !key.is_empty() {
                    key.push(',');
                }
                key.push_str(&attr.to_ascii_lowercase());
                key.push('=');
                key.push_str(&value.to_lowercase());
            }
        }
        Ok(Self {
            text: text.into(),
            key: key.into(),
        })
    }
}

/// Splits on `sep` where it is not escaped with a backslash.
fn split_unescaped(s: &str, sep: char) -> Result<Vec<&str>, &'static str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    if escaped {
        return Err("it ends with a lone backslash");
    }
    parts.push(&s[start..]);
    Ok(parts)
}

/// Resolves RFC 4514 escapes: `\,` style and `\2C` hex pairs.
fn unescape(value: &str) -> Result<String, &'static str> {
    let mut out = Vec::with_capacity(value.len());
    let bytes = value.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let hex = bytes.get(i + 1..i + 3).and_then(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        });
        if let Some(byte) = hex {
            out.push(byte);
            i += 3;
        } else if let Some(&next) = bytes.get(i + 1) {
            out.push(next);
            i += 2;
        } else {
            return Err("it ends with a lone backslash");
        }
    }
    String::from_utf8(out).map_err(|_| "an escape sequence is not valid UTF-8")
}

impl TryFrom<String> for DistinguishedName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}
impl From<DistinguishedName> for String {
    fn from(d: DistinguishedName) -> Self {
        d.text.into()
    }
}
impl PartialEq for DistinguishedName {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for DistinguishedName {}
impl Hash for DistinguishedName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}
impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
impl fmt::Debug for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DistinguishedName({:?})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_that_exchange_would_refuse_are_refused() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a@b@c",
            "al ice@x.com",
            "a..b@x.com",
            "a@-x.com",
            "a@x..com",
            "<a@x.com>",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?} accepted");
        }
        for good in [
            "a@x",
            "first.last+tag@sub.example.co.uk",
            "Ünïcode@exämple.de",
        ] {
            assert!(good.parse::<EmailAddress>().is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn dn_errors_say_what_is_wrong() {
        let err = "CN=Sales,Groups".parse::<DistinguishedName>().unwrap_err();
        assert!(err.to_string().contains("has no '='"), "{err}");
        let err = "CN=,DC=x".parse::<DistinguishedName>().unwrap_err();
        assert!(err.to_string().contains("empty value"), "{err}");
        let err = "CN=x\\".parse::<DistinguishedName>().unwrap_err();
        assert!(err.to_string().contains("lone backslash"), "{err}");
    }

    #[test]
    fn dn_equality_ignores_case_spacing_and_escape_style() {
        let a: DistinguishedName = "CN=O\\2C Brien,DC=x".parse().unwrap();
        let b: DistinguishedName = "cn = o\\, brien , dc=X".parse().unwrap();
        assert_eq!(a, b);
        let c: DistinguishedName = "CN=O Brien,DC=x".parse().unwrap();
        assert_ne!(a, c);
    }
}
