//! `services.scheduler` (Regula's keys and defaults): which jobs run when, and [`Period`], the
//! length of time written `90d` that retention keys everywhere use.
//!
//! The configuration accepts every job name Regula's does ([`JOB_NAMES`]) so a Regula
//! `config.yaml` loads unchanged; the server runs only the jobs it has registered.

use super::cron::Cron;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Regula's scheduler jobs, with their default cron and `keepFor`. The names are the keys
/// `services.scheduler.jobs` accepts.
pub const JOB_NAMES: &[(&str, &str, Option<&str>)] = &[
    ("reloadWorkflows", "*/15 * * * * *", None),
    ("expireSessions", "*/10 * * * * *", None),
    // Absent `keepFor`: sessions are kept for ever.
    ("cleanSessions", "0 0 3 * * *", None),
    ("expireDeviceLogs", "*/5 * * * *", Some("30d")),
    ("reloadLocales", "*/15 * * * * *", None),
    ("cronWorkflow", "*/30 * * * * *", None),
    ("tempFilesCleanup", "* */1 * * *", Some("1d")),
];

/// `services.scheduler`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// False: this instance runs no scheduled jobs.
    pub enabled: bool,
    /// Job name → schedule. Every name of [`JOB_NAMES`] is present by default.
    pub jobs: BTreeMap<String, JobConfig>,
}

/// `services.scheduler.jobs.<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobConfig {
    /// When the job runs; empty: never.
    #[serde(default)]
    pub cron: String,
    /// How long the records a cleaning job removes are kept (`90d`, `12h`, `30m`, `45s`).
    #[serde(default)]
    pub keep_for: Option<Period>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            jobs: JOB_NAMES
                .iter()
                .map(|(name, cron, keep_for)| {
                    let job = JobConfig {
                        cron: (*cron).into(),
                        keep_for: keep_for.map(|k| Period::parse(k).expect("valid default")),
                    };
                    ((*name).to_string(), job)
                })
                .collect(),
        }
    }
}

impl SchedulerConfig {
    /// Checks job names and cron expressions; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (name, job) in &self.jobs {
            if !JOB_NAMES.iter().any(|(n, ..)| n == name) {
                let known: Vec<&str> = JOB_NAMES.iter().map(|(n, ..)| *n).collect();
                return Err(format!(
                    "unknown key `services.scheduler.jobs.{name}`; known jobs: {}",
                    known.join(", ")
                ));
            }
            if !job.cron.trim().is_empty() {
                Cron::parse(&job.cron).map_err(|e| {
                    format!("bad value for `services.scheduler.jobs.{name}.cron`: {e}")
                })?;
            }
        }
        Ok(())
    }

    /// The parsed schedule of `name`, when the scheduler is enabled and the job has a cron.
    pub fn schedule(&self, name: &str) -> Option<Cron> {
        let job = self.jobs.get(name).filter(|_| self.enabled)?;
        if job.cron.trim().is_empty() {
            return None;
        }
        Cron::parse(&job.cron).ok()
    }
}

/// A length of time written `1y`, `2w`, `90d`, `12h`, `30m`, `45s` or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(pub u64);

impl Period {
    pub fn parse(text: &str) -> Result<Period, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{text}` is not a period like 90d"))?;
        let mult = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            // Regula's examples write retention as `1y`: 365 days.
            "y" => 365 * 86_400,
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{text}` (use s, m, h, d, w or y)"
                ));
            }
        };
        n.checked_mul(mult)
            .map(Period)
            .ok_or_else(|| format!("`{text}` is too long"))
    }

    /// Seconds.
    pub fn seconds(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for Period {
    /// The largest whole unit: `30d`, `12h`, `90s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            0 => write!(f, "0s"),
            n if n.is_multiple_of(86_400) => write!(f, "{}d", n / 86_400),
            n if n.is_multiple_of(3600) => write!(f, "{}h", n / 3600),
            n if n.is_multiple_of(60) => write!(f, "{}m", n / 60),
            n => write!(f, "{n}s"),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(Period)
                .ok_or_else(|| serde::de::Error::custom("a period must be a whole number")),
            serde_json::Value::String(s) => Period::parse(&s).map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(
                "a period must be a number of seconds or a string like 90d",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_and_environment_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        let load = |text: &str, env: Vec<(String, String)>| {
            std::fs::write(&file, text).unwrap();
            crate::config::load(Some(&file), env)
        };
        // Regula's own block loads as is.
        let c = load(
            "services:\n  scheduler:\n    jobs:\n      cleanSessions: {cron: \"0 0 3 * * *\", keepFor: 90d}\n      \
             expireDeviceLogs: {cron: \"*/5 * * * *\", keepFor: 30d}\n",
            vec![(
                "IDV_CONFIG__SERVICES__SCHEDULER__JOBS__RELOADWORKFLOWS__CRON".into(),
                "* * * * * *".into(),
            )],
        )
        .unwrap();
        let jobs = &c.services.scheduler.jobs;
        assert_eq!(jobs["cleanSessions"].keep_for, Some(Period(90 * 86_400)));
        assert_eq!(jobs["reloadWorkflows"].cron, "* * * * * *");
        assert_eq!(jobs["expireSessions"].cron, "*/10 * * * * *");
        let e = load(
            "services:\n  scheduler:\n    jobs:\n      mineBitcoin: {cron: \"* * * * *\"}\n",
            vec![],
        )
        .unwrap_err()
        .0;
        assert!(
            e.contains("unknown key `services.scheduler.jobs.mineBitcoin`"),
            "{e}"
        );
        let e = load(
            "services:\n  scheduler:\n    jobs:\n      reloadWorkflows: {every: 5}\n",
            vec![],
        )
        .unwrap_err()
        .0;
        assert!(
            e.contains("services.scheduler.jobs.reloadWorkflows.every"),
            "{e}"
        );
        let e = load(
            "services:\n  scheduler:\n    jobs:\n      reloadWorkflows: {cron: \"@daily\"}\n",
            vec![],
        )
        .unwrap_err()
        .0;
        assert!(
            e.contains("services.scheduler.jobs.reloadWorkflows.cron"),
            "{e}"
        );
        let e = load(
            "services:\n  scheduler:\n    jobs:\n      cleanSessions: {keepFor: 90 days}\n",
            vec![],
        )
        .unwrap_err()
        .0;
        assert!(
            e.contains("services.scheduler.jobs.cleanSessions.keepFor"),
            "{e}"
        );
    }

    #[test]
    fn config_defaults_and_checks() {
        let c = SchedulerConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.jobs["reloadWorkflows"].cron, "*/15 * * * * *");
        assert_eq!(c.jobs["tempFilesCleanup"].keep_for, Some(Period(86_400)));
        assert!(c.schedule("reloadWorkflows").is_some());
        let mut off = c.clone();
        off.enabled = false;
        assert!(off.schedule("reloadWorkflows").is_none());
        let mut bad = c.clone();
        bad.jobs.get_mut("expireSessions").unwrap().cron = "* * *".into();
        let e = bad.validate().unwrap_err();
        assert!(
            e.contains("services.scheduler.jobs.expireSessions.cron"),
            "{e}"
        );
        let mut unknown = c;
        unknown
            .jobs
            .insert("mineBitcoin".into(), unknown.jobs["cleanSessions"].clone());
        let e = unknown.validate().unwrap_err();
        assert!(e.contains("services.scheduler.jobs.mineBitcoin"), "{e}");
        assert_eq!(Period::parse("90d").unwrap(), Period(90 * 86_400));
        assert_eq!(Period::parse("12h").unwrap(), Period(12 * 3600));
        assert_eq!(Period::parse("1y").unwrap(), Period(365 * 86_400));
        assert_eq!(Period(365 * 86_400).to_string(), "365d");
        assert!(Period::parse("3 fortnights").is_err());
        assert_eq!(
            serde_json::to_value(Period(30 * 86_400)).unwrap(),
            serde_json::json!("30d")
        );
    }
}
