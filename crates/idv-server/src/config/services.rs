//! `services.*`: the HTTP API (`services.api`), the Regula service gateways (`docreader`,
//! `faceapi`), the background action runner (`workflow`), and the blocks of the scheduler, the
//! audit log and webhook delivery (each in its own file).

use super::audit::AuditConfig;
use super::scheduler::SchedulerConfig;
use super::webhooks::WebhooksConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Services {
    pub api: Api,
    pub docreader: Gateway,
    pub faceapi: Gateway,
    pub workflow: WorkflowService,
    pub scheduler: SchedulerConfig,
    /// `services.audit`: the audit log and its retention.
    pub audit: AuditConfig,
    /// `services.webhooks`: webhook delivery and event retention.
    pub webhooks: WebhooksConfig,
}

/// `services.workflow`: the background runner of `async: true` workflow actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WorkflowService {
    /// False: this instance runs no background actions (another instance must).
    pub enabled: bool,
    /// Background actions run at once by this instance.
    pub threads: usize,
    /// Seconds a claimed action is reserved for its instance; after a crash another instance
    /// takes it over when this runs out.
    pub(crate) job_lease: u64,
}

impl Default for WorkflowService {
    fn default() -> Self {
        Self {
            enabled: true,
            threads: 32,
            job_lease: 120,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Api {
    pub host: String,
    pub port: u16,
    /// Largest request body, e.g. `64Mi`, `10M`, `1048576`.
    pub max_body_size: ByteSize,
    /// Most parts one multipart upload may hold (each part is a file).
    pub max_upload_parts: u32,
    /// Seconds the gateways wait for a service's response to begin.
    pub timeout: u64,
    /// Seconds an idle keep-alive connection stays open between requests; 0 turns keep-alive
    /// off (one request per connection).
    pub keepalive: u64,
    /// Seconds a client may take to send a request's headers (counted from the first byte, or
    /// from the connection's start for its first request); the connection is closed after.
    pub(crate) header_read_timeout: u64,
    /// Longest pause, in seconds, between the bytes of a request body; the request then
    /// answers 408 `request_timeout`.
    pub(crate) body_read_timeout: u64,
    /// Open connections kept at most; past it the oldest connection without a request in
    /// flight is closed for the newcomer. 0: automatic, below the process's open-file limit.
    pub max_connections: u64,
    /// Seconds a stopping server (SIGTERM, SIGINT) gives requests in flight and background
    /// actions to finish once it has stopped accepting connections; what is still running
    /// then is cut off (background actions are put back to run again).
    pub shutdown_timeout: u64,
    /// Seconds a stopping server keeps accepting and serving, with `GET /api/ready` answering
    /// 503 and every answer closing its connection, so a load balancer takes it out of
    /// rotation before the listener closes (0: close at once).
    pub shutdown_delay: u64,
    /// `cors`: cross-origin requests from browsers.
    pub cors: super::cors::Cors,
    /// The reverse proxies and load balancers in front of this server: addresses (`10.0.0.5`)
    /// or networks (`10.0.0.0/8`, `fd00::/8`). A request whose connection comes from one of
    /// them is taken to be from the address its `X-Forwarded-For` names (the right-most one
    /// that is not itself a listed proxy), for rate limits, the audit log and the logs. Empty
    /// (the default): the connection's own address, and `X-Forwarded-For` is ignored.
    pub trusted_proxies: Vec<String>,
}

impl Api {
    /// [`Api::trusted_proxies`], parsed; the message names the bad entry.
    pub fn proxies(&self) -> Result<Vec<IpNet>, String> {
        self.trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, text)| {
                IpNet::parse(text).map_err(|why| {
                    format!("bad value for `services.api.trustedProxies[{i}]`: `{text}`: {why}")
                })
            })
            .collect()
    }
}

/// An address or a network: `10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let addr: std::net::IpAddr = addr
            .parse()
            .map_err(|_| "not an IP address (write 10.0.0.5 or 10.0.0.0/8)".to_string())?;
        let addr = addr.to_canonical();
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix =
            match prefix {
                None => bits,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(|| {
                    format!("the prefix length must be a number from 0 to {bits}")
                })?,
            };
        Ok(IpNet { addr, prefix })
    }

    /// True when `ip` is this address or inside this network (IPv4-mapped IPv6 addresses are
    /// read as IPv4).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        match (self.addr, ip.to_canonical()) {
            (V4(net), V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (V6(net), V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A Regula service block (`services.docreader`, `services.faceapi`): workflows read `prefix`
/// and `url` in their templates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Gateway {
    pub enabled: bool,
    pub prefix: String,
    pub url: String,
}

impl Default for Services {
    fn default() -> Self {
        Self {
            api: Api::default(),
            docreader: Gateway {
                enabled: false,
                prefix: "drapi".into(),
                url: String::new(),
            },
            faceapi: Gateway {
                enabled: false,
                prefix: "faceapi".into(),
                url: String::new(),
            },
            workflow: WorkflowService::default(),
            scheduler: Default::default(),
            audit: Default::default(),
            webhooks: Default::default(),
        }
    }
}

impl Default for Api {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8000,
            max_body_size: ByteSize(64 * 1024 * 1024),
            max_upload_parts: 100,
            timeout: 120,
            keepalive: 120,
            header_read_timeout: 30,
            body_read_timeout: 60,
            shutdown_timeout: 30,
            shutdown_delay: 0,
            max_connections: 0,
            cors: Default::default(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// A size in bytes, written as `64Mi`, `10M`, `512Ki`, `1G` or a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{text}` is not a size like 64Mi"))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "K" | "k" | "KB" => 1000,
            "Ki" | "KiB" => 1 << 10,
            "M" | "MB" => 1_000_000,
            "Mi" | "MiB" => 1 << 20,
            "G" | "GB" => 1_000_000_000,
            "Gi" | "GiB" => 1 << 30,
            other => {
                return Err(format!(
                    "unknown size unit `{other}` in `{text}` (use Ki, Mi, Gi, K, M or G)"
                ));
            }
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0;
        if n > 0 && n.is_multiple_of(1 << 20) {
            s.serialize_str(&format!("{}Mi", n >> 20))
        } else {
            s.serialize_u64(n)
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match v {
            Value::Number(n) => n
                .as_u64()
                .map(ByteSize)
                .ok_or_else(|| serde::de::Error::custom("a size must be a whole number of bytes")),
            Value::String(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(
                "a size must be a number or a string like 64Mi",
            )),
        }
    }
}
