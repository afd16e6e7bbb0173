//! Every HTTP call the server makes goes through [`Outbound`]: workflow HTTP actions, webhook
//! deliveries and the Regula service gateways.
//!
//! Outbound calls refuse private, loopback, link-local and other non-public addresses (so a
//! workflow or a webhook URL cannot reach the cloud metadata service or an internal admin port),
//! unless `outbound.allowPrivateAddresses` is true. The configured service URLs
//! (`services.docreader.url`, `services.faceapi.url`) are always allowed: the operator named them.
//!
//! The check runs on the addresses actually connected to: a resolver that drops non-public
//! addresses sits inside the HTTP client, so a name that resolves to a public address when
//! checked and to `127.0.0.1` when connecting (DNS rebinding) still cannot get through. Hosts
//! written as IP addresses never reach a resolver, so they are checked directly, before the call
//! and on every redirect. System proxy variables are ignored: behind a proxy the proxy would
//! resolve names and the check could not be made.

use bytes::{Bytes, BytesMut};
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Redirects followed by [`Outbound::send`] before it gives up.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// Connecting to a server may take at most this long (the overall `timeout` of a call may be
/// shorter).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One outbound request. The whole call (connecting, redirects, reading the body) is bounded by
/// `timeout`.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
    pub timeout: Duration,
}

/// A complete response, its body read into memory (bounded by `services.api.maxBodySize`).
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// Why an outbound call failed. URLs in messages carry neither credentials nor the query
/// string, which may hold secrets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutboundError {
    /// The address is not one outbound calls may reach.
    #[error("refused to call {url}: {reason}")]
    Refused { url: String, reason: String },
    /// The call did not finish within its time limit (the caller knows the URL and the limit).
    #[error(
        "the call did not finish in time: the server is slow or unreachable; check the URL or allow more time"
    )]
    Timeout,
    /// The URL cannot be called at all.
    #[error("cannot call `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// A method or header of the request is not valid HTTP.
    #[error("invalid outbound request: {0}")]
    InvalidRequest(String),
    /// More redirects than [`MAX_REDIRECTS`].
    #[error("the call to {url} was redirected more than {max} times; call the final URL directly")]
    TooManyRedirects { url: String, max: usize },
    /// The response body is larger than the limit.
    #[error(
        "the response from {url} is larger than {limit} bytes (services.api.maxBodySize); answer less or raise the limit"
    )]
    TooLarge { url: String, limit: u64 },
    /// Connecting, TLS or the exchange itself failed.
    #[error("{0}")]
    Transport(String),
}

/// The HTTP client for every outbound call. Cloning is cheap (shared internals).
#[derive(Clone)]
pub struct Outbound {
    inner: Arc<Inner>,
}

struct Inner {
    policy: Arc<AddressPolicy>,
    /// Follows redirects (workflow actions, webhooks).
    client: reqwest::Client,
    /// Passes redirects back to the caller (the gateways, which relay them to the SDK).
    passthrough: reqwest::Client,
    max_response: u64,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("allow_private", &self.inner.policy.allow_private)
            .field("services", &self.inner.policy.services)
            .finish()
    }
}

impl Outbound {
    /// The client `config` describes: `outbound.allowPrivateAddresses`, the service URLs that
    /// are always allowed, and `services.api.maxBodySize` as the largest response read.
    pub fn new(config: &crate::config::Config) -> Result<Outbound, String> {
        let services = [&config.services.docreader.url, &config.services.faceapi.url]
            .into_iter()
            .filter(|u| !u.trim().is_empty())
            .map(String::as_str);
        Outbound::with(
            config.outbound.allow_private_addresses,
            services,
            config.services.api.max_body_size.0,
        )
    }

    /// A client from its parts: whether private addresses are allowed, the URLs whose origin is
    /// always allowed, and the largest response body [`Outbound::send`] reads.
    pub fn with<'a>(
        allow_private: bool,
        service_urls: impl IntoIterator<Item = &'a str>,
        max_response: u64,
    ) -> Result<Outbound, String> {
        let mut services = Vec::new();
        for text in service_urls {
            let url = Url::parse(text.trim())
                .map_err(|e| format!("the service URL `{text}` is not a URL: {e}"))?;
            services.push(
                Origin::of(&url)
                    .ok_or_else(|| format!("the service URL `{text}` needs http(s) and a host"))?,
            );
        }
        let policy = Arc::new(AddressPolicy {
            allow_private,
            services,
        });
        let resolver = Arc::new(CheckedResolver {
            policy: policy.clone(),
        });
        let redirect_policy = policy.clone();
        let build = |redirect: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .dns_resolver(resolver.clone())
                .redirect(redirect)
                .no_proxy()
                .connect_timeout(CONNECT_TIMEOUT)
                .user_agent(concat!("idv/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot set up the outbound HTTP client: {e}"))
        };
        let client = build(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                let url = public_url(attempt.url());
                return attempt.error(RedirectError::TooMany(url));
            }
            match redirect_policy.check(attempt.url()) {
                Check::Allowed => attempt.follow(),
                Check::Refused(reason) => {
                    let url = public_url(attempt.url());
                    attempt.error(RedirectError::Refused(url, reason))
                }
                Check::ServiceHostOtherOrigin => {
                    let url = public_url(attempt.url());
                    let reason = redirect_policy.service_host_reason(attempt.url());
                    attempt.error(RedirectError::Refused(url, reason))
                }
            }
        }))?;
        let passthrough = build(reqwest::redirect::Policy::none())?;
        Ok(Outbound {
            inner: Arc::new(Inner {
                policy,
                client,
                passthrough,
                max_response,
            }),
        })
    }

    /// True when private addresses are allowed everywhere.
    pub(crate) fn allows_private_addresses(&self) -> bool {
        self.inner.policy.allow_private
    }

    /// Makes one call, follows up to [`MAX_REDIRECTS`] redirects (to http or https URLs that
    /// pass the address check) and reads the whole body, all within `req.timeout`.
    pub async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let url = self.checked_url(&req.url).await?;
        let shown = public_url(&url);
        let method = reqwest::Method::from_bytes(req.method.trim().as_bytes()).map_err(|_| {
            OutboundError::InvalidRequest(format!("`{}` is not an HTTP method", req.method))
        })?;
        let headers = header_map(&req.headers)?;
        let mut builder = self
            .inner
            .client
            .request(method, url)
            .headers(headers)
            .timeout(req.timeout);
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let limit = self.inner.max_response;
        let call = async {
            let mut resp = builder.send().await.map_err(|e| map_error(e, &shown))?;
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let final_url = public_url(resp.url());
            if resp.content_length().is_some_and(|n| n > limit) {
                return Err(OutboundError::TooLarge {
                    url: final_url,
                    limit,
                });
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| map_error(e, &final_url))? {
                if (body.len() + chunk.len()) as u64 > limit {
                    return Err(OutboundError::TooLarge {
                        url: final_url,
                        limit,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(OutboundResponse {
                status,
                content_type,
                body: body.freeze(),
            })
        };
        // reqwest bounds the exchange too; this outer bound also covers reading the body.
        match tokio::time::timeout(req.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(OutboundError::Timeout),
        }
    }

    /// Starts a call whose bodies stream both ways, for relaying (the gateways): redirects are
    /// not followed but returned, and only the wait for the response headers is bounded, by
    /// `wait`; the caller reads the body as it arrives.
    pub async fn stream(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: HeaderMap,
        body: reqwest::Body,
        wait: Duration,
    ) -> Result<reqwest::Response, OutboundError> {
        let url = self.checked_url(url).await?;
        let shown = public_url(&url);
        let call = self
            .inner
            .passthrough
            .request(method, url)
            .headers(headers)
            .body(body)
            .send();
        match tokio::time::timeout(wait, call).await {
            Ok(result) => result.map_err(|e| map_error(e, &shown)),
            Err(_) => Err(OutboundError::Timeout),
        }
    }

    /// Parses `text` and applies the checks that need no connection: scheme, IP-literal hosts,
    /// other ports of a configured service host.
    async fn checked_url(&self, text: &str) -> Result<Url, OutboundError> {
        let invalid = |reason: String| OutboundError::InvalidUrl {
            url: redact_text(text),
            reason,
        };
        let url = Url::parse(text.trim()).map_err(|e| invalid(format!("{e}")))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(invalid(format!(
                "the scheme `{}` is not allowed; use http or https",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the URL has no host".into()));
        }
        let policy = &self.inner.policy;
        match policy.check(&url) {
            Check::Allowed => Ok(url),
            Check::Refused(reason) => Err(OutboundError::Refused {
                url: public_url(&url),
                reason,
            }),
            Check::ServiceHostOtherOrigin => {
                // The resolver trusts a configured service's host name, so another port of it
                // is allowed only when the name resolves to public addresses alone.
                let host = url.host_str().unwrap_or_default().to_string();
                let port = url.port_or_known_default().unwrap_or(80);
                let addrs = tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .map_err(|e| {
                        OutboundError::Transport(format!(
                            "cannot resolve {host} for {}: {e}",
                            public_url(&url)
                        ))
                    })?;
                for addr in addrs {
                    if let Some(kind) = non_public_reason(addr.ip()) {
                        return Err(OutboundError::Refused {
                            url: public_url(&url),
                            reason: format!(
                                "{host} resolves to {}, a {kind} address, and only {} of it is a configured service; {ALLOW_HINT}",
                                addr.ip(),
                                policy.service_list()
                            ),
                        });
                    }
                }
                Ok(url)
            }
        }
    }
}

pub(crate) const ALLOW_HINT: &str = "set outbound.allowPrivateAddresses: true to allow it";

/// Scheme, host and port: a configured service is allowed at exactly its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn of(url: &Url) -> Option<Origin> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        Some(Origin {
            scheme: scheme.to_string(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

#[derive(Debug)]
struct AddressPolicy {
    allow_private: bool,
    services: Vec<Origin>,
}

enum Check {
    Allowed,
    Refused(String),
    /// The host of a configured service at another scheme or port.
    ServiceHostOtherOrigin,
}

impl AddressPolicy {
    /// The checks that need no DNS: scheme, configured origins, IP-literal hosts. Host names
    /// are checked by the resolver when connecting.
    fn check(&self, url: &Url) -> Check {
        if url.scheme() != "http" && url.scheme() != "https" {
            return Check::Refused(format!(
                "the scheme `{}` is not allowed; only http and https are",
                url.scheme()
            ));
        }
        let Some(origin) = Origin::of(url) else {
            return Check::Refused("the URL has no host".into());
        };
        if self.services.contains(&origin) || self.allow_private {
            return Check::Allowed;
        }
        match literal_ip(&origin.host) {
            Some(ip) => match non_public_reason(ip) {
                Some(kind) => Check::Refused(format!("{ip} is a {kind} address; {ALLOW_HINT}")),
                None => Check::Allowed,
            },
            None if self.is_service_host(&origin.host) => Check::ServiceHostOtherOrigin,
            None => Check::Allowed,
        }
    }

    fn is_service_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.services
            .iter()
            .any(|s| s.host.trim_end_matches('.').eq_ignore_ascii_case(host))
    }

    fn service_list(&self) -> String {
        self.services
            .iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn service_host_reason(&self, url: &Url) -> String {
        format!(
            "{} is the host of a configured service, which is allowed only at {}; {ALLOW_HINT}",
            url.host_str().unwrap_or_default(),
            self.service_list()
        )
    }
}

/// The address family a host written as an IP literal (`127.0.0.1`, `[::1]`) names.
fn literal_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Resolves names for the HTTP client and drops the addresses outbound calls may not reach,
/// so the check holds for the address actually connected to.
struct CheckedResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let trusted = self.policy.allow_private || self.policy.is_service_host(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if trusted {
                return Ok(Box::new(addrs.into_iter()) as Addrs);
            }
            let mut refused = None;
            let mut public = Vec::with_capacity(addrs.len());
            for addr in addrs {
                match non_public_reason(addr.ip()) {
                    None => public.push(addr),
                    Some(kind) => {
                        refused.get_or_insert((addr.ip(), kind));
                    }
                }
            }
            if public.is_empty()
                && let Some((ip, kind)) = refused
            {
                return Err(Box::new(RefusedAddress {
                    host: host.clone(),
                    reason: format!("{host} resolves to {ip}, a {kind} address; {ALLOW_HINT}"),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The resolver's refusal, found again in the client's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
struct RefusedAddress {
    host: String,
    reason: String,
}

/// The redirect policy's refusals, found again in the client's error chain.
#[derive(Debug, thiserror::Error)]
enum RedirectError {
    #[error("redirect to {0} refused: {1}")]
    Refused(String, String),
    #[error("too many redirects (last to {0})")]
    TooMany(String),
}

fn map_error(e: reqwest::Error, url: &str) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(r) = err.downcast_ref::<RefusedAddress>() {
            // Another host than the one called is reached only through a redirect.
            let called = Url::parse(url).ok();
            let reason = match called.as_ref().and_then(|u| u.host_str()) {
                Some(h) if !h.eq_ignore_ascii_case(&r.host) => {
                    format!("it redirected to host {}: {}", r.host, r.reason)
                }
                _ => r.reason.clone(),
            };
            return OutboundError::Refused {
                url: url.to_string(),
                reason,
            };
        }
        if let Some(r) = err.downcast_ref::<RedirectError>() {
            return match r {
                RedirectError::Refused(target, reason) => OutboundError::Refused {
                    url: url.to_string(),
                    reason: format!("it redirected to {target}: {reason}"),
                },
                RedirectError::TooMany(_) => OutboundError::TooManyRedirects {
                    url: url.to_string(),
                    max: MAX_REDIRECTS,
                },
            };
        }
        source = err.source();
    }
    if e.is_timeout() {
        // Only the connect timeout can fire here; the overall one is mapped by the caller.
        return OutboundError::Timeout;
    }
    // reqwest's own message is terse ("error sending request"); the causes say what happened.
    let mut message = format!("calling {url} failed");
    let mut source = std::error::Error::source(&e);
    while let Some(err) = source {
        message.push_str(": ");
        message.push_str(&err.to_string());
        source = err.source();
    }
    if message.ends_with("failed") {
        message.push_str(&format!(": {e}"));
    }
    OutboundError::Transport(message)
}

fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, OutboundError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            OutboundError::InvalidRequest(format!("`{name}` is not a valid header name"))
        })?;
        let v = HeaderValue::from_str(value).map_err(|_| {
            OutboundError::InvalidRequest(format!(
                "the value of header `{name}` holds characters a header cannot carry"
            ))
        })?;
        map.append(n, v);
    }
    Ok(map)
}

/// A URL as it may appear in messages and logs: no credentials, no query, no fragment.
pub(crate) fn public_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// [`public_url`] for URL text, parsed or not.
pub(crate) fn public_url_text(text: &str) -> String {
    match Url::parse(text.trim()) {
        Ok(url) => public_url(&url),
        Err(_) => redact_text(text),
    }
}

/// [`public_url`] for text that did not parse as a URL.
fn redact_text(text: &str) -> String {
    let cut = text.find(['?', '#']).unwrap_or(text.len());
    let text = &text[..cut];
    match (text.find("://"), text.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}{}", &text[..s + 3], &text[at + 1..]),
        _ => text.to_string(),
    }
}

/// Why an address may not be called, or `None` for a public (globally routable) address.
/// IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by the
/// IPv4 address they carry.
pub(crate) fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b, c) {
        (0, _, _) => "unspecified (0.0.0.0/8)",
        (10, _, _) => "private (10.0.0.0/8)",
        (100, 64..=127, _) => "carrier-grade NAT (100.64.0.0/10)",
        (127, _, _) => "loopback",
        (169, 254, _) => "link-local (169.254.0.0/16, cloud metadata)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 0, 0) => "reserved (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 88, 99) => "reserved (6to4 relay, 192.88.99.0/24)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, _, _) => "multicast",
        _ if ip.is_broadcast() => "broadcast",
        (240..=255, _, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    };
    Some(reason)
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated) carry an IPv4 address.
    if let Some(v4) = ip.to_ipv4() {
        return v4_reason(v4).or(if s[5] == 0xffff {
            None
        } else {
            Some("reserved (IPv4-compatible ::/96)")
        });
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let reason = match s[0] {
        // NAT64 well-known prefix: the gateway connects to the IPv4 address it carries.
        0x0064 if s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] => {
            return v4_reason(embedded(s[6], s[7]));
        }
        0x0064 if s[1] == 0xff9b && s[2] == 1 => "NAT64 local-use (64:ff9b:1::/48)",
        0x0100 if s[1..4] == [0, 0, 0] => "discard-only (100::/64)",
        // 2001::/23 is IETF protocol assignments (Teredo, benchmarking, ORCHID) except a few
        // globally reachable anycast blocks.
        0x2001 if s[1] < 0x200 => {
            let global = (s[1] == 1 && s[2..7] == [0, 0, 0, 0, 0] && (s[7] == 1 || s[7] == 2))
                || s[1] == 3
                || (s[1] == 4 && s[2] == 0x112)
                || (0x20..=0x2f).contains(&s[1]);
            if global {
                return None;
            }
            "reserved (IETF 2001::/23, Teredo, benchmarking)"
        }
        0x2001 if s[1] == 0x0db8 => "documentation (2001:db8::/32)",
        // 6to4: the relay connects to the IPv4 address it carries.
        0x2002 => return v4_reason(embedded(s[1], s[2])),
        0x3fff if s[1] < 0x1000 => "documentation (3fff::/20)",
        0x5f00 => "segment routing (5f00::/16)",
        x if x & 0xfe00 == 0xfc00 => "unique-local (fc00::/7)",
        x if x & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        x if x & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        x if x & 0xff00 == 0xff00 => "multicast",
        // Only 2000::/3 is allocated for global unicast.
        x if x & 0xe000 != 0x2000 => "reserved (outside 2000::/3)",
        _ => return None,
    };
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<&'static str> {
        non_public_reason(text.parse().unwrap())
    }

    #[test]
    fn ipv4_private_and_special_ranges_are_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(reason(ip).is_some(), "{ip} should be refused");
        }
        assert_eq!(reason("255.255.255.255"), Some("broadcast"));
        assert_eq!(reason("127.0.0.1"), Some("loopback"));
        assert_eq!(
            reason("100.64.0.1"),
            Some("carrier-grade NAT (100.64.0.0/10)")
        );
    }

    #[test]
    fn ipv4_public_addresses_pass_including_range_edges() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "3.33.212.24",
        ] {
            assert_eq!(reason(ip), None, "{ip} should be allowed");
        }
    }

    #[test]
    fn ipv6_special_ranges_are_refused() {
        for ip in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "2001:db8::1",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
            "100::1",
            "64:ff9b:1::1",
            "3fff::1",
            "5f00::1",
            "4000::1",
            "::2",
        ] {
            assert!(reason(ip).is_some(), "{ip} should be refused");
        }
    }

    #[test]
    fn ipv6_forms_carrying_ipv4_are_judged_by_it() {
        // IPv4-mapped.
        assert_eq!(reason("::ffff:127.0.0.1"), Some("loopback"));
        assert!(reason("::ffff:10.1.2.3").is_some());
        assert!(reason("::ffff:169.254.169.254").is_some());
        assert_eq!(reason("::ffff:8.8.8.8"), None);
        // IPv4-compatible (deprecated): refused even when the IPv4 address is public.
        assert_eq!(reason("::127.0.0.1"), Some("loopback"));
        assert!(reason("::8.8.8.8").is_some());
        // NAT64.
        assert_eq!(reason("64:ff9b::7f00:1"), Some("loopback"));
        assert!(reason("64:ff9b::a00:1").is_some());
        assert_eq!(reason("64:ff9b::808:808"), None);
        // 6to4.
        assert!(reason("2002:7f00:1::1").is_some());
        assert!(reason("2002:c0a8:101::1").is_some());
        assert_eq!(reason("2002:808:808::1"), None);
    }

    #[test]
    fn ipv6_public_addresses_pass() {
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:82a::200e",
            "2001:4860:4860::8888",
            "2001:1::1",
            "2001:3::1",
            "2001:20::1",
            "2400:cb00::1",
        ] {
            assert_eq!(reason(ip), None, "{ip} should be allowed");
        }
    }

    fn policy(allow_private: bool, services: &[&str]) -> AddressPolicy {
        AddressPolicy {
            allow_private,
            services: services
                .iter()
                .map(|s| Origin::of(&Url::parse(s).unwrap()).unwrap())
                .collect(),
        }
    }

    fn verdict(p: &AddressPolicy, url: &str) -> &'static str {
        match p.check(&Url::parse(url).unwrap()) {
            Check::Allowed => "allowed",
            Check::Refused(_) => "refused",
            Check::ServiceHostOtherOrigin => "service host",
        }
    }

    #[test]
    fn literal_hosts_and_service_origins() {
        let p = policy(
            false,
            &["http://127.0.0.1:8080", "http://docreader:9000/base"],
        );
        assert_eq!(verdict(&p, "http://127.0.0.1:8080/api/process"), "allowed");
        assert_eq!(verdict(&p, "http://127.0.0.1:8081/"), "refused");
        assert_eq!(verdict(&p, "https://127.0.0.1:8080/"), "refused");
        assert_eq!(verdict(&p, "http://[::1]/"), "refused");
        assert_eq!(verdict(&p, "http://[::ffff:127.0.0.1]/"), "refused");
        // The URL parser normalises other spellings of an IPv4 address.
        assert_eq!(verdict(&p, "http://2130706433/"), "refused");
        assert_eq!(verdict(&p, "http://0x7f.1/"), "refused");
        assert_eq!(verdict(&p, "http://8.8.8.8/"), "allowed");
        assert_eq!(verdict(&p, "http://DocReader:9000/x"), "allowed");
        assert_eq!(verdict(&p, "http://docreader:22/"), "service host");
        assert_eq!(verdict(&p, "http://example.com/"), "allowed");
        assert_eq!(verdict(&p, "ftp://example.com/"), "refused");
        let open = policy(true, &[]);
        assert_eq!(verdict(&open, "http://127.0.0.1:1/"), "allowed");
        assert_eq!(verdict(&open, "file:///etc/passwd"), "refused");
    }

    #[test]
    fn urls_in_messages_lose_credentials_and_query() {
        let u = Url::parse("https://user:pw@example.com:8443/hook?token=s3cret#x").unwrap();
        assert_eq!(public_url(&u), "https://example.com:8443/hook");
        assert_eq!(
            redact_text("htp//user:pw@host/x?key=1"),
            "htp//user:pw@host/x"
        );
        assert_eq!(redact_text("a://user:pw@host/x?key=1"), "a://host/x");
    }

    #[tokio::test]
    async fn resolver_drops_loopback_names_unless_trusted() {
        let strict = CheckedResolver {
            policy: Arc::new(policy(false, &[])),
        };
        let name: Name = "localhost".parse().unwrap();
        let err = match strict.resolve(name).await {
            Ok(_) => panic!("localhost resolved"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("loopback"), "{err}");
        assert!(err.contains("outbound.allowPrivateAddresses"), "{err}");
        let trusted = CheckedResolver {
            policy: Arc::new(policy(false, &["http://localhost:9000"])),
        };
        let addrs: Vec<_> = trusted
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
