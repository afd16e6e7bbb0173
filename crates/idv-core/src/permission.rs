//! Permissions are `scope:operation` (Regula's model). `X` covers the caller's own records and
//! `X_all` everyone's; a holder of `X_all:op` therefore also holds `X:op`. `session:read_all` is
//! accepted as an alias of `session_all:read`. Roles are named bundles of permissions; four are
//! built in.

use crate::error::{Error, ErrorCode};
use std::fmt;

/// Every scope idv knows, in Regula's documented order, then idv's own additions.
pub const SCOPES: &[&str] = &[
    "session_all",
    "session",
    "session_all_patch",
    "session_patch",
    "session_analytics",
    "registry",
    "secret",
    "view",
    "view_all",
    "workflow",
    "workflow_all",
    "workflow_reload",
    "user",
    "audit",
    "monitoring",
    "device",
    "device_all",
    "device_log",
    "group",
    "docreader",
    "faceapi",
    "person",
    "pool",
    "pool_all",
    "pool_access",
    "translations",
    "assets",
    "apikey",
    "apikey_all",
    "ephemeral_device",
    "deeplink",
    "webhook",
];

/// The four operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Read,
    Write,
    Delete,
    Subscribe,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::Read, Op::Write, Op::Delete, Op::Subscribe];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Delete => "delete",
            Op::Subscribe => "subscribe",
        }
    }

    fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// One permission: a known scope and an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permission {
    scope: u8,
    op: Op,
}

impl Permission {
    /// A permission from a scope known at compile time. Panics on an unknown scope, so use it
    /// only with literals (route tables, role definitions).
    pub fn of(scope: &str, op: Op) -> Permission {
        let idx = SCOPES
            .iter()
            .position(|s| *s == scope)
            .unwrap_or_else(|| panic!("unknown scope {scope}"));
        Permission {
            scope: idx as u8,
            op,
        }
    }

    pub fn scope(&self) -> &'static str {
        SCOPES[self.scope as usize]
    }

    pub fn op(&self) -> Op {
        self.op
    }

    /// Parses `scope:operation`, accepting `scope:operation_all` as `scope_all:operation`.
    pub fn parse(text: &str) -> Result<Permission, Error> {
        let bad = |why: &str| {
            Error::new(
                ErrorCode::InvalidPermission,
                format!(
                    "invalid permission `{text}`: {why}; write it as scope:operation, e.g. session_all:read"
                ),
            )
        };
        let (scope, op) = text.trim().split_once(':').ok_or_else(|| bad("no `:`"))?;
        let (scope, op) = match op.strip_suffix("_all") {
            Some(base) => (format!("{scope}_all"), base),
            None => (scope.to_string(), op),
        };
        let op = Op::parse(op)
            .ok_or_else(|| bad("the operation must be read, write, delete or subscribe"))?;
        let idx = SCOPES
            .iter()
            .position(|s| *s == scope)
            .ok_or_else(|| bad(&format!("unknown scope `{scope}`")))?;
        Ok(Permission {
            scope: idx as u8,
            op,
        })
    }

    fn bit(&self) -> usize {
        self.scope as usize * 4 + self.op as usize
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scope(), self.op.as_str())
    }
}

/// Scope pairs where holding the first implies holding the second.
const IMPLIES: &[(&str, &str)] = &[
    ("session_all", "session"),
    ("session_all_patch", "session_patch"),
    ("workflow_all", "workflow"),
    ("device_all", "device"),
    ("pool_all", "pool"),
    ("apikey_all", "apikey"),
    ("view_all", "view"),
];

/// A set of permissions as a bit set, so that checking one costs a shift and a mask.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet {
    /// What was granted, as written (canonical names).
    granted: [u64; 3],
    /// What that grants, with `X_all:op` implying `X:op`.
    bits: [u64; 3],
    everything: bool,
}

impl PermissionSet {
    /// Every permission (the `admin` role, the `*` wildcard).
    pub fn everything() -> Self {
        Self {
            granted: [0; 3],
            bits: [0; 3],
            everything: true,
        }
    }

    /// Parses a list of permission strings; `*` grants everything.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, Error> {
        let mut set = Self::default();
        for item in items {
            let item = item.as_ref().trim();
            if item == "*" || item == "*:*" {
                set.everything = true;
            } else {
                set.insert(Permission::parse(item)?);
            }
        }
        Ok(set)
    }

    pub fn insert(&mut self, p: Permission) {
        let b = p.bit();
        self.granted[b / 64] |= 1 << (b % 64);
        self.bits[b / 64] |= 1 << (b % 64);
        // Holding `X_all:op` implies `X:op`.
        for (all, own) in IMPLIES {
            if p.scope() == *all {
                let own = Permission::of(own, p.op);
                let b = own.bit();
                self.bits[b / 64] |= 1 << (b % 64);
            }
        }
    }

    pub fn extend(&mut self, other: &PermissionSet) {
        self.everything |= other.everything;
        for i in 0..3 {
            self.granted[i] |= other.granted[i];
            self.bits[i] |= other.bits[i];
        }
    }

    pub fn allows(&self, p: Permission) -> bool {
        let b = p.bit();
        self.everything || self.bits[b / 64] & (1 << (b % 64)) != 0
    }

    /// True when every permission in `other` is held here (no escalation by delegation).
    pub fn covers(&self, other: &PermissionSet) -> bool {
        if self.everything {
            return true;
        }
        if other.everything {
            return false;
        }
        (0..3).all(|i| other.granted[i] & !self.bits[i] == 0)
    }

    /// The permissions in `other` that are not held here.
    pub fn missing_from(&self, other: &PermissionSet) -> Vec<String> {
        if other.everything && !self.everything {
            return vec!["*".into()];
        }
        other
            .iter()
            .filter(|p| !self.allows(*p))
            .map(|p| p.to_string())
            .collect()
    }

    /// The granted permissions (not those they imply), canonical names, in scope order.
    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        (0..SCOPES.len()).flat_map(move |s| {
            Op::ALL.into_iter().filter_map(move |op| {
                let p = Permission { scope: s as u8, op };
                let b = p.bit();
                (self.granted[b / 64] & (1 << (b % 64)) != 0).then_some(p)
            })
        })
    }

    pub fn to_strings(&self) -> Vec<String> {
        if self.everything {
            return vec!["*".into()];
        }
        self.iter().map(|p| p.to_string()).collect()
    }
}

/// The built-in roles and what they grant.
pub const BUILTIN_ROLES: &[(&str, &[&str])] = &[
    ("admin", &["*"]),
    (
        "verifier",
        &[
            "session_all:read",
            "session_all:subscribe",
            "session_all_patch:write",
            "view:read",
            "view:write",
            "workflow_all:read",
            "translations:read",
            "assets:read",
            "person:read",
            "pool_all:read",
        ],
    ),
    (
        "device",
        &[
            "session:read",
            "session:write",
            "workflow_all:read",
            "translations:read",
            "assets:read",
            "docreader:read",
            "docreader:write",
            "faceapi:read",
            "faceapi:write",
        ],
    ),
    (
        "demo",
        &[
            "session:read",
            "session:write",
            "workflow_all:read",
            "translations:read",
            "assets:read",
            // The demo apps run the SDK's document and face modules through the gateways.
            "docreader:read",
            "docreader:write",
            "faceapi:read",
            "faceapi:write",
        ],
    ),
];

/// The permissions of a built-in role, if `name` is one.
pub fn builtin_role(name: &str) -> Option<PermissionSet> {
    BUILTIN_ROLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, perms)| PermissionSet::parse(perms).expect("built-in roles are valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonical_names() {
        let p = Permission::parse("session_all:read").unwrap();
        assert_eq!(p.to_string(), "session_all:read");
        let alias = Permission::parse("session:read_all").unwrap();
        assert_eq!(alias, p);
        assert!(Permission::parse("session:fly").is_err());
        assert!(Permission::parse("nope:read").is_err());
        assert!(Permission::parse("session").is_err());
    }

    #[test]
    fn all_scope_implies_own_scope_not_the_reverse() {
        let set = PermissionSet::parse(&["session_all:read"]).unwrap();
        assert!(set.allows(Permission::of("session", Op::Read)));
        assert!(set.allows(Permission::of("session_all", Op::Read)));
        assert!(!set.allows(Permission::of("session_all", Op::Write)));
        let own = PermissionSet::parse(&["session:read"]).unwrap();
        assert!(!own.allows(Permission::of("session_all", Op::Read)));
    }

    #[test]
    fn covers_detects_escalation() {
        let caller = PermissionSet::parse(&["session_all:read", "apikey:write"]).unwrap();
        let ok = PermissionSet::parse(&["session:read"]).unwrap();
        let bad = PermissionSet::parse(&["session:read", "user:write"]).unwrap();
        assert!(caller.covers(&ok));
        assert!(!caller.covers(&bad));
        assert_eq!(caller.missing_from(&bad), vec!["user:write".to_string()]);
        assert!(PermissionSet::everything().covers(&bad));
        assert!(!caller.covers(&PermissionSet::everything()));
    }

    #[test]
    fn builtin_roles_parse() {
        assert!(builtin_role("admin").unwrap().everything);
        let v = builtin_role("verifier").unwrap();
        assert!(v.allows(Permission::of("session_all", Op::Read)));
        assert!(!v.allows(Permission::of("user", Op::Write)));
        assert!(builtin_role("root").is_none());
        // The SDK roles reach the Document Reader and Face API gateways; the verifier does not.
        for role in ["device", "demo"] {
            let r = builtin_role(role).unwrap();
            for scope in ["docreader", "faceapi"] {
                assert!(r.allows(Permission::of(scope, Op::Write)), "{role} {scope}");
                assert!(r.allows(Permission::of(scope, Op::Read)), "{role} {scope}");
            }
        }
        assert!(!v.allows(Permission::of("docreader", Op::Write)));
    }

    #[test]
    fn implied_permissions_are_not_listed_as_granted() {
        let set = PermissionSet::parse(&["session_all:read", "ephemeral_device:write"]).unwrap();
        assert_eq!(
            set.to_strings(),
            vec!["session_all:read", "ephemeral_device:write"]
        );
        let own = PermissionSet::parse(&["session:read"]).unwrap();
        assert!(set.covers(&own));
    }
}
