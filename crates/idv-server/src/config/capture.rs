//! `capture`: the hosted capture page (`/mobile`, `/capture`).

use serde::{Deserialize, Serialize};

/// The person's page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Capture {
    /// Origins that may show the page in a frame (the CSP `frame-ancestors`), e.g.
    /// `https://shop.example`. Empty: no site may frame it.
    pub frame_ancestors: Vec<String>,
}

impl Capture {
    /// Every origin must be `https://host[:port]` or `http://localhost[:port]`-like: no path,
    /// no spaces, no semicolons (they would break the policy header).
    pub fn validate(&self) -> Result<(), String> {
        for (i, o) in self.frame_ancestors.iter().enumerate() {
            let ok = (o.starts_with("https://") || o.starts_with("http://"))
                && !o.contains([' ', ';', ',', '\'', '"'])
                && o.splitn(4, '/').nth(3).is_none_or(str::is_empty);
            if !ok {
                return Err(format!(
                    "capture.frameAncestors[{i}] is `{o}`; give an origin such as https://shop.example (scheme, host and optional port, nothing else)"
                ));
            }
        }
        Ok(())
    }
}
