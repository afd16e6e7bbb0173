//! Whether a URL is one webhooks may be delivered to, checked when an endpoint is saved.
//!
//! The URL must be an absolute http(s) URL with a host and without credentials, and its host
//! must resolve. Unless private addresses are allowed (`outbound.allowPrivateAddresses`), every
//! address it resolves to must be public, so an endpoint cannot point deliveries at the cloud
//! metadata service or an internal port. This check gives an early, clear answer; delivery
//! itself goes through [`crate::outbound`], which checks again at connection time (a name may
//! resolve differently later).

use crate::outbound::ALLOW_HINT;
use crate::outbound::{non_public_reason, public_url, public_url_text};
use idv_core::{Error, ErrorCode};
use std::net::IpAddr;
use std::time::Duration;
use url::{Host, Url};

/// The longest URL accepted, in characters.
pub(crate) const MAX_URL_CHARS: usize = 2048;

/// How long resolving the host may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The parsed URL when webhooks may be delivered to `text`, else `invalid_webhook_url` or
/// `webhook_url_not_allowed`. With `allow_private` the host must still resolve, but to any
/// address. Messages show the URL without credentials, query or fragment, which may hold
/// secrets.
pub(crate) async fn check_url(text: &str, allow_private: bool) -> Result<Url, Error> {
    let text = text.trim();
    let invalid = |what: String| Error::new(ErrorCode::InvalidWebhookUrl, what);
    let chars = text.chars().count();
    if chars > MAX_URL_CHARS {
        return Err(invalid(format!(
            "the webhook URL is {chars} characters long; it may have at most {MAX_URL_CHARS}"
        )));
    }
    let url = Url::parse(text).map_err(|e| {
        invalid(format!(
            "the webhook URL `{}` is not an absolute URL ({e}); give one like https://example.com/webhooks",
            public_url_text(text)
        ))
    })?;
    let shown = public_url(&url);
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid(format!(
            "the webhook URL `{shown}` has the scheme `{}`; use http or https",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(format!(
            "the webhook URL `{shown}` carries a user name or password; remove them (receivers check the webhook signature instead)"
        )));
    }
    let ips = match url.host() {
        None => {
            return Err(invalid(format!(
                "the webhook URL `{shown}` has no host; give one like https://example.com/webhooks"
            )));
        }
        Some(Host::Domain("")) => {
            return Err(invalid(format!("the webhook URL `{shown}` has no host")));
        }
        Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(Host::Domain(name)) => {
            // http and https always have a known default port.
            let port = url.port_or_known_default().unwrap_or(443);
            resolve(name, port).await.map_err(|why| {
                invalid(format!(
                    "the host {name} of the webhook URL `{shown}` does not resolve ({why}); check the name"
                ))
            })?
        }
    };
    if !allow_private {
        for ip in &ips {
            if let Some(kind) = non_public_reason(*ip) {
                let what = match url.host() {
                    Some(Host::Domain(name)) => format!("{name} resolves to {ip}"),
                    _ => format!("the host is {ip}"),
                };
                return Err(Error::new(
                    ErrorCode::WebhookUrlNotAllowed,
                    format!(
                        "webhooks may not be sent to `{shown}`: {what}, a {kind} address; {ALLOW_HINT}"
                    ),
                ));
            }
        }
    }
    Ok(url)
}

/// Every address `name` resolves to, or why there are none.
async fn resolve(name: &str, port: u16) -> Result<Vec<IpAddr>, String> {
    match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port))).await {
        Err(_) => Err(format!("no answer within {} s", RESOLVE_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(addrs)) => {
            let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            if ips.is_empty() {
                Err("no addresses".into())
            } else {
                Ok(ips)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn code_of(text: &str, allow_private: bool) -> (ErrorCode, String) {
        let e = check_url(text, allow_private)
            .await
            .expect_err(&format!("{text} should be refused"));
        (e.code, e.message)
    }

    #[tokio::test]
    async fn non_public_literals_are_refused_unless_allowed() {
        for (url, shown) in [
            ("http://10.1.2.3/x", "10.1.2.3"),
            ("http://127.0.0.1:9/", "127.0.0.1"),
            ("http://[::1]/", "::1"),
            ("http://169.254.169.254/", "169.254.169.254"),
            // Other spellings of an address are still that address.
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"),
        ] {
            let (code, message) = code_of(url, false).await;
            assert_eq!(code, ErrorCode::WebhookUrlNotAllowed, "{url}: {message}");
            assert_eq!(code.http_status(), 400);
            assert!(message.contains(shown), "{message}");
            assert!(
                message.contains("outbound.allowPrivateAddresses"),
                "{message}"
            );
            let accepted = check_url(url, true).await.unwrap();
            assert!(accepted.host().is_some(), "{url}");
        }
        let (_, message) = code_of("http://10.1.2.3/x", false).await;
        assert!(message.contains("private (10.0.0.0/8)"), "{message}");
        let (_, message) = code_of("http://169.254.169.254/", false).await;
        assert!(message.contains("link-local"), "{message}");
    }

    #[tokio::test]
    async fn public_literals_need_no_permission() {
        let url = check_url(" https://93.184.215.14:8443/hooks?x=1 ", false)
            .await
            .unwrap();
        assert_eq!(url.as_str(), "https://93.184.215.14:8443/hooks?x=1");
        check_url("http://[2606:4700::1111]/", false).await.unwrap();
    }

    #[tokio::test]
    async fn malformed_urls_are_invalid_even_when_private_is_allowed() {
        for allow in [false, true] {
            for (url, says) in [
                ("ftp://x", "scheme `ftp`"),
                ("not a url", "not an absolute URL"),
                ("/relative/path", "not an absolute URL"),
                ("http://user:pw@127.0.0.1/", "user name or password"),
                ("https://user@93.184.215.14/", "user name or password"),
                ("file:///etc/passwd", "scheme `file`"),
                ("http://", "not an absolute URL"),
            ] {
                let (code, message) = code_of(url, allow).await;
                assert_eq!(code, ErrorCode::InvalidWebhookUrl, "{url}: {message}");
                assert_eq!(code.http_status(), 400);
                assert!(message.contains(says), "{url}: {message}");
            }
        }
    }

    #[tokio::test]
    async fn messages_do_not_repeat_credentials() {
        let (_, message) = code_of("http://user:s3cret@127.0.0.1/?token=t0k", false).await;
        assert!(
            !message.contains("s3cret") && !message.contains("t0k"),
            "{message}"
        );
        assert!(message.contains("127.0.0.1"), "{message}");
    }

    #[tokio::test]
    async fn length_is_limited() {
        let path = "a".repeat(MAX_URL_CHARS - "https://93.184.215.14/".len());
        let longest = format!("https://93.184.215.14/{path}");
        assert_eq!(longest.len(), MAX_URL_CHARS);
        check_url(&longest, false).await.unwrap();
        let (code, message) = code_of(&format!("{longest}a"), false).await;
        assert_eq!(code, ErrorCode::InvalidWebhookUrl);
        assert!(
            message.contains("2049") && message.contains("2048"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn names_are_resolved_and_checked() {
        // localhost resolves through the hosts file, no DNS server needed.
        let (code, message) = code_of("http://localhost:1/", false).await;
        assert_eq!(code, ErrorCode::WebhookUrlNotAllowed, "{message}");
        assert!(
            message.contains("localhost resolves to") && message.contains("loopback"),
            "{message}"
        );
        let url = check_url("http://localhost:1/", true).await.unwrap();
        assert_eq!(url.host_str(), Some("localhost"));
    }

    #[tokio::test]
    async fn names_that_do_not_resolve_are_invalid() {
        // `.invalid` never resolves (RFC 2606), with or without a DNS server.
        for allow in [false, true] {
            let (code, message) = code_of("https://no-such-host.invalid/hook", allow).await;
            assert_eq!(code, ErrorCode::InvalidWebhookUrl, "{message}");
            assert!(
                message.contains("no-such-host.invalid") && message.contains("does not resolve"),
                "{message}"
            );
        }
    }
}
