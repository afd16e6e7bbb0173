//! A strict reader of the Prometheus text format 0.0.4, for the tests: every line must be a
//! comment (`# HELP`, `# TYPE` or another) or a sample; a metric's `# TYPE` comes once, before its samples, whose
//! lines stay together; names and labels follow the format's grammar (escapes included);
//! histograms have cumulative buckets ending at `+Inf`, equal to their `_count`.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed scrape.
#[derive(Debug, Default)]
pub struct Scrape {
    pub types: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// The value of the sample `name` whose labels include `labels` (exactly one must match);
    /// 0 when none does.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(
            found.len() <= 1,
            "{name}{labels:?} matches {} samples: {found:?}",
            found.len()
        );
        found.first().map_or(0.0, |s| s.value)
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label(n: &str) -> bool {
    valid_name(n) && !n.contains(':')
}

/// The family a sample belongs to, given the declared types.
fn family<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types
                .get(base)
                .is_some_and(|t| t == "histogram" || t == "summary")
        {
            return base;
        }
    }
    name
}

/// Parses `text`, panicking with the line at the first departure from the format.
pub fn parse(text: &str) -> Scrape {
    assert!(text.ends_with('\n'), "the text ends with a newline");
    let mut out = Scrape::default();
    let mut helped = BTreeMap::new();
    let mut done: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let at = || format!("line {}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, tail) = (parts.next(), parts.next(), parts.next());
            if !matches!(kind, Some("HELP" | "TYPE")) {
                // Any other comment is allowed, and means nothing.
                continue;
            }
            let name = name.unwrap_or_else(|| panic!("{}: no metric name", at()));
            assert!(valid_name(name), "{}: bad name", at());
            match kind {
                Some("HELP") => {
                    assert!(
                        helped.insert(name.to_string(), ()).is_none(),
                        "{}: second HELP",
                        at()
                    );
                }
                Some("TYPE") => {
                    let t = tail.unwrap_or_else(|| panic!("{}: no type", at()));
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                        "{}: unknown type",
                        at()
                    );
                    assert!(
                        !out.samples
                            .iter()
                            .any(|s| family(&s.name, &out.types) == name)
                            && out.types.insert(name.to_string(), t.to_string()).is_none(),
                        "{}: TYPE after samples or twice",
                        at()
                    );
                }
                _ => unreachable!(),
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let sample = parse_sample(line).unwrap_or_else(|e| panic!("{}: {e}", at()));
        let fam = family(&sample.name, &out.types).to_string();
        if current.as_deref() != Some(fam.as_str()) {
            assert!(
                !done.contains(&fam),
                "{}: the samples of {fam} are not together",
                at()
            );
            if let Some(c) = current.take() {
                done.push(c);
            }
            current = Some(fam);
        }
        out.samples.push(sample);
    }
    check_histograms(&out);
    out
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value after the name")?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        loop {
            match chars.peek() {
                Some((i, '}')) => {
                    end = Some(*i);
                    break;
                }
                None => break,
                _ => {}
            }
            let start = chars.peek().map(|(i, _)| *i).unwrap_or(0);
            let mut key_end = start;
            for (i, c) in chars.by_ref() {
                if c == '=' {
                    key_end = i;
                    break;
                }
            }
            let key = &body[start..key_end];
            if !valid_label(key) {
                return Err(format!("bad label name {key:?}"));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {key} has no quoted value"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some((_, '"')) => break,
                    Some((_, '\n')) | None => return Err("unterminated label value".into()),
                    Some((_, c)) => value.push(c),
                }
            }
            if labels.insert(key.to_string(), value).is_some() {
                return Err(format!("label {key} twice"));
            }
            match chars.peek() {
                Some((_, ',')) => {
                    chars.next();
                }
                Some((_, '}')) => {}
                other => return Err(format!("expected , or }} after a label, got {other:?}")),
            }
        }
        let end = end.ok_or("no closing }")?;
        rest = &body[end + 1..];
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut fields = rest.split(' ');
    let value = fields.next().ok_or("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v
            .parse::<f64>()
            .map_err(|e| format!("bad value {v:?}: {e}"))?,
    };
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("bad timestamp {ts:?}"))?;
    }
    if fields.next().is_some() {
        return Err("text after the timestamp".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// A label set without `le`, in name order.
type Labels = Vec<(String, String)>;

/// Buckets cumulative, a `+Inf` bucket equal to `_count`, for every label set of every
/// histogram.
fn check_histograms(s: &Scrape) {
    for (name, t) in &s.types {
        if t != "histogram" {
            continue;
        }
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for b in s
            .samples
            .iter()
            .filter(|x| x.name == format!("{name}_bucket"))
        {
            let le = b.labels.get("le").expect("a bucket has le");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("le is a number")
            };
            let key: Vec<_> = b
                .labels
                .iter()
                .filter(|(k, _)| *k != "le")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            series.entry(key).or_default().push((le, b.value));
        }
        for (key, buckets) in series {
            for w in buckets.windows(2) {
                assert!(
                    w[0].0 < w[1].0 && w[0].1 <= w[1].1,
                    "{name}{key:?}: {buckets:?}"
                );
            }
            let last = buckets.last().unwrap();
            assert!(last.0.is_infinite(), "{name}{key:?} ends at +Inf");
            let count = s
                .samples
                .iter()
                .find(|x| {
                    x.name == format!("{name}_count")
                        && x.labels
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect::<Vec<_>>()
                            == key
                })
                .unwrap_or_else(|| panic!("{name}{key:?} has a _count"));
            assert_eq!(
                count.value, last.1,
                "{name}{key:?}: +Inf bucket is the count"
            );
        }
    }
}

#[test]
fn the_reader_refuses_what_the_format_does_not_allow() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\\n\"} 3\n";
    let s = parse(ok);
    assert_eq!(s.value("a_total", &[("x", "1\"\n")]), 3.0);
    for bad in [
        "a_total 1",               // no final newline
        "a-b 1\n",                 // bad name
        "a{x=1} 1\n",              // unquoted value
        "a{x=\"1\",x=\"2\"} 1\n",  // a label twice
        "a 1\nb 1\na 2\n",         // not together
        "a 1\n# TYPE a counter\n", // TYPE after samples
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", // not cumulative
    ] {
        assert!(
            std::panic::catch_unwind(|| parse(bad)).is_err(),
            "accepted {bad:?}"
        );
    }
}
