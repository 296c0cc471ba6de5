//! Certificate credentials: the app proves itself to Entra with a signed
//! JSON Web Token (RFC 7523 client assertion, RS256) instead of a secret —
//! what tenants that forbid client secrets require. The certificate's
//! SHA-1 thumbprint (`x5t`) tells Entra which registered key to check.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::rand::SystemRandom;
use ring::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};

use crate::base64;

/// How long an assertion is valid: Entra accepts up to ten minutes.
const ASSERTION_LIFETIME_SECONDS: i64 = 600;

/// An app's certificate and its RSA private key, loaded from PEM.
///
/// ```no_run
/// use calrep_core::graph::CertificateCredential;
/// let credential = CertificateCredential::load("calrep-app.crt".as_ref(), "calrep-app.key".as_ref())?;
/// println!("upload the certificate whose thumbprint is {}", credential.thumbprint_hex());
/// # Ok::<(), String>(())
/// ```
pub struct CertificateCredential {
    key: RsaKeyPair,
    /// The certificate's SHA-1 digest.
    sha1: Vec<u8>,
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The thumbprint is public (Entra shows it); the key never appears.
        f.debug_struct("CertificateCredential")
            .field("thumbprint", &self.thumbprint_hex())
            .finish_non_exhaustive()
    }
}

impl CertificateCredential {
    /// Reads a PEM certificate and its PEM private key (PKCS#8 `PRIVATE
    /// KEY` or PKCS#1 `RSA PRIVATE KEY`). Errors name the file, never its
    /// content.
    pub fn load(certificate: &Path, private_key: &Path) -> Result<Self, String> {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        Self::from_pem(&read(certificate)?, &read(private_key)?).map_err(|e| {
            format!(
                "certificate {} with key {}: {e}",
                certificate.display(),
                private_key.display()
            )
        })
    }

    /// The credential from PEM text.
    pub fn from_pem(certificate: &str, private_key: &str) -> Result<Self, String> {
        let cert = pem_block(certificate, "CERTIFICATE")
            .ok_or("no \"BEGIN CERTIFICATE\" block in the certificate file")?;
        let key = if let Some(der) = pem_block(private_key, "PRIVATE KEY") {
            RsaKeyPair::from_pkcs8(&der)
        } else if let Some(der) = pem_block(private_key, "RSA PRIVATE KEY") {
            RsaKeyPair::from_der(&der)
        } else {
            return Err(
                "no \"BEGIN PRIVATE KEY\" or \"BEGIN RSA PRIVATE KEY\" block in the key file"
                    .into(),
            );
        }
        .map_err(|e| format!("the private key is not a usable RSA key ({e})"))?;
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert)
            .as_ref()
            .to_vec();
        Ok(Self { key, sha1 })
    }

    /// The thumbprint as Entra's portal shows it (upper-case hex).
    pub fn thumbprint_hex(&self) -> String {
        self.sha1.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// The `x5t` header value: the thumbprint in URL-safe base64.
    pub fn x5t(&self) -> String {
        base64::encode_url(&self.sha1)
    }

    /// The public key (DER `RSAPublicKey`), for a server that checks
    /// assertions (the simulator).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    /// A client assertion for `client_id` at the token endpoint
    /// `audience`, issued at `now` (seconds since 1970).
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: i64,
    ) -> Result<String, String> {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t()});
        // A token id unique per process and instant: Entra refuses replays.
        let jti = format!(
            "{:x}-{:x}-{:x}",
            std::process::id(),
            now,
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id, "jti": jti,
            "nbf": now, "iat": now, "exp": now + ASSERTION_LIFETIME_SECONDS,
        });
        let signed = format!(
            "{}.{}",
            base64::encode_url(header.to_string().as_bytes()),
            base64::encode_url(claims.to_string().as_bytes())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the client assertion failed".to_owned())?;
        Ok(format!("{signed}.{}", base64::encode_url(&signature)))
    }
}

/// The DER content of the first PEM block labelled `label`.
fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    pem_blocks(pem, label).into_iter().next()
}

/// The DER content of every PEM block labelled `label`, in order (a
/// certificate chain); a block that is not base64 ends the list.
pub(crate) fn pem_blocks(pem: &str, label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(at) = rest.find(&begin) {
        let body = &rest[at + begin.len()..];
        let Some(stop) = body.find(&end) else { break };
        let Some(der) = base64::decode(&body[..stop]) else {
            break;
        };
        out.push(der);
        rest = &body[stop + end.len()..];
    }
    out
}

/// Checks an RS256 assertion against `public_key` (DER `RSAPublicKey`) and
/// returns its claims: what the simulator's token endpoint does.
#[cfg(feature = "sim")]
pub(crate) fn verify_assertion(assertion: &str, public_key: &[u8]) -> Option<serde_json::Value> {
    let (signed, signature) = assertion.rsplit_once('.')?;
    let (header, claims) = signed.split_once('.')?;
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        public_key,
    );
    key.verify(signed.as_bytes(), &base64::decode_url(signature)?)
        .ok()?;
    let header: serde_json::Value = serde_json::from_slice(&base64::decode_url(header)?).ok()?;
    (header.get("alg")?.as_str()? == "RS256").then_some(())?;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&base64::decode_url(claims)?).ok()?;
    let x5t = header.get("x5t")?.clone();
    claims.as_object_mut()?.insert("x5t".into(), x5t);
    Some(claims)
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use super::*;

    const CERT: &str = include_str!("../../tests/data/graph-app.crt");
    const KEY: &str = include_str!("../../tests/data/graph-app.key");

    #[test]
    fn the_thumbprint_is_the_one_openssl_prints() {
        // `openssl x509 -in graph-app.crt -noout -fingerprint -sha1`
        let c = CertificateCredential::from_pem(CERT, KEY).unwrap();
        assert_eq!(
            c.thumbprint_hex(),
            "9EC6DF31779541B919ABB78D14FF4388FA593F3A"
        );
        assert!(!format!("{c:?}").contains("PRIVATE"));
    }

    #[test]
    fn an_assertion_verifies_with_the_public_key_and_carries_the_claims() {
        let c = CertificateCredential::from_pem(CERT, KEY).unwrap();
        let jwt = c
            .assertion(
                "client",
                "https://login.example/t/oauth2/v2.0/token",
                1_800_000_000,
            )
            .unwrap();
        let claims = verify_assertion(&jwt, &c.public_key_der()).unwrap();
        assert_eq!(claims["iss"], "client");
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(claims["exp"], 1_800_000_600);
        assert_eq!(claims["x5t"], c.x5t());
        // A changed claim breaks the signature.
        let mut parts: Vec<&str> = jwt.split('.').collect();
        let forged = base64::encode_url(br#"{"iss":"other"}"#);
        parts[1] = &forged;
        assert!(verify_assertion(&parts.join("."), &c.public_key_der()).is_none());
    }

    #[test]
    fn a_pkcs1_key_is_the_same_key() {
        // `openssl rsa -in graph-app.key -traditional`
        let pkcs1 = r"-----BEGIN RSA PRIVATE KEY-----
MIIEogIBAAKCAQEAtNj68XsI7nHKPyjFFlGCsptV8SM5jvLSIPF7M9KJQ6zjEePF
E96EBpZM7w8EU3Rng9XGe/3Yz3+lkS0qewTfV2eo/Lrxe+QfGYwRA+QtFpAkhJtt
vMEeMEXeWi8bkASunlNHsicuQhFlbAvqCklepzGGVuNrn9TL5625BNI7z4nwWWmS
64H3hxSbub8igndNNtsqbSEVj68IvD1QQPD6iqcghitsrLq45F7aBSX/JHehC04P
Oxs26pR01KdGpPaHZvSdJvDqOeym39XL6q3X2UIIdJd6zbOACq80+RZoYChbsgkn
xkKnUP2df1jyWuoJZ8ae84MlOSG1kMyrcjaHRwIDAQABAoIBABoKiJAPNGkJb6MK
nt6o3BYV8hkoBljENGfT/fanYWaiVYw07SMATqiYKfnegrP1thYwyUT/d6Hhcpjm
FRDj0blHTvkdfjplzeii16xkxe1S0j9aFkIw2MUAupTn5aMmWXKo8VEA/VM8KAuX
55qVmBChPAP0+YFpZfc1d8fu8fffWgkji3RRbHnRwKn1k3k6w2/VT4pNGyOar17Q
QzlkXv8nPlthZrstI4yjhSu4gobdCDd1gP0tZP2JZr6A2uoCPIZhH+BZnxhscIy6
JB8GJzguWzrn7xmUfSuTxLuKIcWjvmH96z4sWUxfFTlT5r5Apoy+jgeOvGd/Dnia
ogv5mJkCgYEA2aBmFK0WvOzeUXn598E1E5NaXZEb8Tzne8lsKpGE7JxqjWJTvqaU
zXyvkUDPhpJGe9EiBSbIDG762GIOCIZMdfO5kjjcb0m0iOpk566pBHw3rO1btuNk
WhsDUWPIQGL3E0dZ1ZIsSgtH1oaLg/+RsQCQfGKsP7CzUwvELqfiILMCgYEA1Lxj
iOGlnMT1XIN5K/sdXkV8o767c8l3Tw7EnQcG6dZNyWec60nxU8UHGbHRimkiHV/H
KwVCQthPdvXZ5xllxjyUJhlAy0nAdZo4aqw1s84sM4In/UaGoVYbDFHswsiNN3E2
3qOJiK77C0tY6uTXr6I80IC0gBIW7Wujo0R3YR0CgYA2lcrE6N1JKchhe0y9XdKo
RE9oJJtzmKkfHVhqHPHQPzNinwUOTs4H9Hw83Jqw0EOpjr0Pubh3leaJG58VeEn5
U9Z53JU9vKjxpokEq4RtQZLdZvOYHdTv3NKqOXLi42/BgCYCMZW2RLoSDtEznIi4
csHK0R0PJIz2CX99jFJljQKBgDnPC7k5oDhuqUI/k+Dotz1T4p/Yh7XaLGq2V6VY
MH/AtZiiaFjj2glqhBhuYsOa+CNFUKkXH79saoOoIVOUajypX5TOzfWwD/WlN+l8
7Ib04rwIhXdk/9a9wFHjvVPdDcrgIAn2JLyY2C1kh0AleZsHmkEKiII46DQSSQBn
7YzdAoGAbNutOeUcvjdMdWzyYmqMFEvbnQ6B68TUNs3Psey7R+gFIQ6IAV6CyLu5
V9cosya8qlxSBruJQA6vmrKrTklWjNP5shClbYtJrODGhx51+b4t/iphuAz4oqCP
02nEuhS8aBOQlRvdvvLB7rZOXrniHat50LP6mzpqzu3lH0rl2dE=
-----END RSA PRIVATE KEY-----
";
        let a = CertificateCredential::from_pem(CERT, KEY).unwrap();
        let b = CertificateCredential::from_pem(CERT, pkcs1).unwrap();
        assert_eq!(a.public_key_der(), b.public_key_der());
    }

    #[test]
    fn bad_pem_is_named_without_its_content() {
        let err = CertificateCredential::from_pem(
            CERT,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(err.contains("not a usable RSA key"), "{err}");
        let err = CertificateCredential::from_pem(KEY, KEY).unwrap_err();
        assert!(err.contains("BEGIN CERTIFICATE"), "{err}");
    }
}
