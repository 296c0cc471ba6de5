//! What every backend's HTTP client shares: one way to build a client
//! (rustls with ring, no redirects, no Referer, loopback never proxied),
//! bodies read under a cap, redirects reported instead of followed,
//! transport failures in words, and `Retry-After`.

use std::sync::Once;
use std::time::Duration;

use crate::mailbox::MailboxError;
use crate::site::Proxy;

/// Installs rustls's ring provider once per process: reqwest is built
/// without a default provider, to keep aws-lc's C build out of the workspace.
/// Fails only when a host installed a provider first; theirs is kept.
pub(crate) fn install_crypto_provider() {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// An HTTP client for `url` and the `other` URLs it is also asked to reach
/// (an OAuth token endpoint); see [`install_crypto_provider`].
///
/// Without a configured proxy the `HTTP(S)_PROXY` environment variables
/// apply, except to a loopback `url` (a simulator, a local relay), which a
/// proxy could not reach.
pub(crate) fn http_client(
    user_agent: &str,
    url: &str,
    other: &[&str],
    timeout: Duration,
    proxy: Option<&Proxy>,
) -> Result<reqwest::Client, String> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(user_agent)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(30)))
        .pool_idle_timeout(Duration::from_secs(60))
        // A redirect would re-send the credentials, the mailbox address
        // and the body to wherever the server points: never followed (a 3xx
        // is reported), and no Referer tells the other origin anything.
        .redirect(reqwest::redirect::Policy::none())
        .referer(false);
    if proxy.is_none() && is_loopback(url) {
        builder = builder.no_proxy();
    }
    if let Some(proxy) = proxy {
        let mut p =
            reqwest::Proxy::all(&proxy.url).map_err(|e| format!("proxy {:?}: {e}", proxy.url))?;
        if !proxy.no_proxy.is_empty() {
            p = p.no_proxy(reqwest::NoProxy::from_string(&proxy.no_proxy.join(",")));
        }
        builder = builder.proxy(p);
    }
    // The system's trusted roots cost a few milliseconds to load (a tenth of
    // a small run's CPU); a client that can only ever speak plain HTTP never
    // verifies a certificate, so it gets none, and would fail closed if it
    // ever opened TLS.
    if speaks_only_plain_http(url, other, proxy) {
        builder = builder.tls_certs_only(std::iter::empty());
    }
    builder.build().map_err(|e| format!("HTTP client: {e}"))
}

/// Whether every request of a client for `url` and `other` goes out as
/// plain HTTP: every URL is `http://`, and so is the proxy — the configured
/// one, or, where the environment's could apply (a `url` not on this
/// machine), none may be assumed.
fn speaks_only_plain_http(url: &str, other: &[&str], proxy: Option<&Proxy>) -> bool {
    let plain = |u: &str| {
        u.get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
    };
    let urls_plain = plain(url) && other.iter().all(|u| plain(u));
    let proxy_plain = match proxy {
        Some(p) => plain(&p.url),
        None => is_loopback(url),
    };
    urls_plain && proxy_plain
}

/// Whether `url`'s host is this machine.
pub(crate) fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What calrep says of a redirect (the clients follow none), or `None`
/// when `response` is not one.
pub(crate) fn refused_redirect(response: &reqwest::Response, url: &str) -> Option<String> {
    let status = response.status();
    if !status.is_redirection() {
        return None;
    }
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or("nowhere");
    Some(format!(
        "{url} answered HTTP {}, redirected to {location}; calrep does not follow redirects \
         (configure the final URL)",
        status.as_u16()
    ))
}

/// A response body, read as a stream and abandoned as soon as it passes
/// `cap` bytes (`None`); a `Content-Length` over the cap is refused before
/// anything is read.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: u64,
) -> Result<Option<Vec<u8>>, MailboxError> {
    if response.content_length().is_some_and(|n| n > cap) {
        return Ok(None);
    }
    let mut body = Vec::with_capacity(
        usize::try_from(response.content_length().unwrap_or(0).min(cap)).unwrap_or(0),
    );
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e))? {
        if (body.len() as u64).saturating_add(chunk.len() as u64) > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// A transport failure in words, without the request (which could carry
/// credentials in a proxy URL).
pub(crate) fn transport_error(e: &reqwest::Error) -> MailboxError {
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the response broke off"
    } else {
        "the connection failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        MailboxError::Transport(what.to_owned())
    } else {
        MailboxError::Transport(format!("{what}: {detail}"))
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from Exchange and
/// falls back to the default).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn only_a_client_that_never_opens_tls_goes_without_roots() {
        let proxy = |url: &str| Proxy {
            url: url.into(),
            no_proxy: vec![],
        };
        let local = "http://127.0.0.1:8765/EWS/Exchange.asmx";
        assert!(speaks_only_plain_http(local, &[], None));
        assert!(speaks_only_plain_http("HTTP://localhost/EWS", &[], None));
        // An OAuth token endpoint over TLS needs the roots.
        assert!(!speaks_only_plain_http(
            local,
            &["https://login.microsoftonline.com/t/oauth2/v2.0/token"],
            None
        ));
        assert!(!speaks_only_plain_http(
            "https://mail.example.com/EWS/Exchange.asmx",
            &[],
            None
        ));
        // Elsewhere, an HTTPS_PROXY from the environment could apply.
        assert!(!speaks_only_plain_http(
            "http://mail.example.com/EWS",
            &[],
            None
        ));
        assert!(speaks_only_plain_http(
            "http://mail.example.com/EWS",
            &[],
            Some(&proxy("http://proxy.example.com:8080"))
        ));
        assert!(!speaks_only_plain_http(
            "http://mail.example.com/EWS",
            &[],
            Some(&proxy("https://proxy.example.com:8443"))
        ));
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:8765/EWS/Exchange.asmx"));
        assert!(is_loopback("http://localhost/EWS"));
        assert!(is_loopback("http://[::1]:80/"));
        assert!(!is_loopback("https://mail.example.com/EWS/Exchange.asmx"));
        assert!(!is_loopback("https://127.0.0.1.example.com/"));
    }

    #[test]
    fn a_bad_proxy_url_is_an_error_not_a_panic() {
        let proxy = Proxy {
            url: "::not a url".into(),
            no_proxy: vec![],
        };
        assert!(
            http_client(
                "calrep-test",
                "https://x/",
                &[],
                Duration::from_secs(5),
                Some(&proxy)
            )
            .is_err()
        );
    }
}
