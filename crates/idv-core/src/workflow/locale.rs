//! Translations files (`[{key, code, value}]`) and the locale fallback chain.
//!
//! Codes are compared lower-cased (`en-US` = `en-us`), and `_` is read as `-` (`pt_BR`).
//! Regula's own file repeats a few `(key, code)` pairs; that is allowed and the last one wins.

use std::collections::HashMap;

use serde_json::Value;

use super::load::LineIndex;
use super::{Problem, TranslationEntry};

/// The usual region for a bare language code, tried after the bare code itself. Only widely
/// agreed defaults; a language missing here still finds a region through `available`.
const USUAL_REGION: &[(&str, &str)] = &[
    ("de", "de-de"),
    ("en", "en-us"),
    ("es", "es-es"),
    ("fr", "fr-fr"),
    ("it", "it-it"),
    ("ja", "ja-jp"),
    ("ko", "ko-kr"),
    ("nl", "nl-nl"),
    ("pl", "pl-pl"),
    ("pt", "pt-br"),
    ("ru", "ru-ru"),
    ("tr", "tr-tr"),
    ("uk", "uk-ua"),
    ("zh", "zh-cn"),
];

fn normalize(code: &str) -> String {
    code.trim().replace('_', "-").to_ascii_lowercase()
}

/// The codes to try for a requested locale, most specific first, lower-cased, no duplicates:
/// the requested code; its bare language (`pt-br` → `pt`); that language's usual region from
/// a small table (`en` → `en-us`, `ru` → `ru-ru`, `es` → `es-es`, `pt` → `pt-br` …); the first
/// `<lang>-*` code among `available` (so `es` finds a workflow's `es-cl`); then `default`.
pub fn locale_chain(
    requested: Option<&str>,
    default: Option<&str>,
    available: &[String],
) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    let mut push = |code: String| {
        if !code.is_empty() && !chain.contains(&code) {
            chain.push(code);
        }
    };
    if let Some(requested) = requested.map(normalize).filter(|r| !r.is_empty()) {
        let lang = requested.split('-').next().unwrap_or_default().to_owned();
        push(requested);
        push(lang.clone());
        if let Some((_, usual)) = USUAL_REGION.iter().find(|(l, _)| *l == lang) {
            push((*usual).to_owned());
        }
        let prefix = format!("{lang}-");
        if let Some(code) = available
            .iter()
            .map(|a| normalize(a))
            .find(|a| a.starts_with(&prefix))
        {
            push(code);
        }
    }
    if let Some(default) = default {
        push(normalize(default));
    }
    chain
}

/// The key → text map for a chain: for each key, the first code in `chain` that has it.
pub fn translations_for(entries: &[TranslationEntry], chain: &[String]) -> HashMap<String, String> {
    let mut out: HashMap<String, (usize, &str)> = HashMap::new();
    for e in entries {
        let Some(rank) = chain.iter().position(|c| *c == e.code) else {
            continue;
        };
        match out.get(&e.key) {
            // Strictly better rank wins; an equal rank is a repeat, and the later one wins.
            Some((best, _)) if *best < rank => {}
            _ => {
                out.insert(e.key.clone(), (rank, &e.value));
            }
        }
    }
    out.into_iter()
        .map(|(k, (_, v))| (k, v.to_owned()))
        .collect()
}

/// Reads a translations document; every malformed entry is a problem.
pub(crate) fn parse_translations(
    doc: &Value,
    lines: Option<&LineIndex>,
) -> Result<Vec<TranslationEntry>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    let items = doc.as_array().map(Vec::as_slice).unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        let path = format!("[{i}]");
        let mut report = |path: String, message: String| {
            let line = lines.and_then(|l| l.line(&path));
            problems.push(Problem {
                path,
                line,
                message,
            });
        };
        let Some(map) = item.as_object() else {
            report(
                path,
                "expected a mapping with `key`, `code` and `value`".into(),
            );
            continue;
        };
        let mut field = |name: &str| -> Option<String> {
            let p = format!("{path}.{name}");
            match map.get(name) {
                None | Some(Value::Null) => report(p, format!("missing `{name}`")),
                Some(Value::String(s)) if name != "value" && s.trim().is_empty() => {
                    report(p, format!("`{name}` must not be empty"));
                }
                Some(Value::String(s)) => return Some(s.clone()),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => return Some(v.to_string()),
                Some(_) => report(p, format!("`{name}` must be text")),
            }
            None
        };
        if let (Some(key), Some(code), Some(value)) = (field("key"), field("code"), field("value"))
        {
            entries.push(TranslationEntry {
                key,
                code: normalize(&code),
                value,
            });
        }
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chains_fall_back_from_specific_to_default() {
        let avail = codes(&["en-us", "ru-ru", "es-cl", "pt-br", "ar-bh"]);
        assert_eq!(
            locale_chain(Some("en"), Some("en-us"), &avail),
            codes(&["en", "en-us"])
        );
        assert_eq!(
            locale_chain(Some("pt-BR"), Some("en-us"), &avail),
            codes(&["pt-br", "pt", "en-us"])
        );
        assert_eq!(locale_chain(None, Some("EN-US"), &avail), codes(&["en-us"]));
        assert_eq!(
            locale_chain(Some("ar"), Some("en-us"), &avail),
            codes(&["ar", "ar-bh", "en-us"])
        );
        assert_eq!(
            locale_chain(Some("es"), Some("en-us"), &avail),
            codes(&["es", "es-es", "es-cl", "en-us"])
        );
        assert_eq!(
            locale_chain(Some("de_AT"), None, &[]),
            codes(&["de-at", "de", "de-de"])
        );
        assert_eq!(locale_chain(Some("  "), None, &avail), Vec::<String>::new());
    }

    #[test]
    fn translations_follow_the_chain() {
        let e = |key: &str, code: &str, value: &str| TranslationEntry {
            key: key.into(),
            code: code.into(),
            value: value.into(),
        };
        let entries = vec![
            e("A", "en-us", "A-en"),
            e("A", "pt-br", "A-pt"),
            e("B", "en-us", "B-en"),
            e("C", "pt-br", "C-old"),
            e("C", "pt-br", "C-new"),
        ];
        let map = translations_for(&entries, &codes(&["pt-br", "pt", "en-us"]));
        assert_eq!(map["A"], "A-pt");
        assert_eq!(map["B"], "B-en");
        assert_eq!(map["C"], "C-new");
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn malformed_entries_are_all_reported() {
        let doc = serde_json::json!([
            {"key": "A", "code": "EN-US", "value": "x"},
            {"key": "B", "value": "y"},
            "oops",
            {"key": "", "code": "en-us", "value": {"no": 1}}
        ]);
        let problems = parse_translations(&doc, None).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["[1].code", "[2]", "[3].key", "[3].value"]);
        let ok = parse_translations(
            &serde_json::json!([{"key": "A", "code": "EN-US", "value": 5}]),
            None,
        );
        assert_eq!(
            ok.unwrap()[0],
            TranslationEntry {
                key: "A".into(),
                code: "en-us".into(),
                value: "5".into()
            }
        );
    }
}
