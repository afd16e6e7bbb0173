//! Loading, defaults, the example file, and that this tree stays a leaf.

use super::*;
use std::path::Path;

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("config.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn example_is_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, EXAMPLE);
    assert_eq!(load(Some(&p), vec![]).unwrap(), Config::default());
}

#[test]
fn env_overrides_case_insensitively_and_types_values() {
    let env = vec![
        (
            "IDV_CONFIG__SERVICES__API__PORT".to_string(),
            "9000".to_string(),
        ),
        (
            "idv_config__basicauth__ENABLED".to_string(),
            "false".to_string(),
        ),
        (
            "IDV_CONFIG__SERVICES__API__MAXBODYSIZE".to_string(),
            "1Mi".to_string(),
        ),
        ("UNRELATED".to_string(), "x".to_string()),
    ];
    let c = load(None, env).unwrap();
    assert_eq!(c.services.api.port, 9000);
    assert!(!c.basic_auth.enabled);
    assert_eq!(c.services.api.max_body_size.0, 1 << 20);
}

#[test]
fn upload_part_limit_is_set_and_checked() {
    assert_eq!(Config::default().services.api.max_upload_parts, 100);
    let env = |v: &str| {
        vec![(
            "IDV_CONFIG__SERVICES__API__MAXUPLOADPARTS".to_string(),
            v.to_string(),
        )]
    };
    assert_eq!(
        load(None, env("7")).unwrap().services.api.max_upload_parts,
        7
    );
    let e = load(None, env("0")).unwrap_err().0;
    assert!(e.contains("services.api.maxUploadParts"), "{e}");
}

#[test]
fn unknown_file_key_names_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "services:\n  api:\n    prot: 1\n");
    let e = load(Some(&p), vec![]).unwrap_err().0;
    assert!(e.contains("unknown key `services.api.prot`"), "{e}");
    assert!(e.contains("config.yaml"), "{e}");
}

#[test]
fn unknown_env_key_names_variable() {
    let env = vec![(
        "IDV_CONFIG__SERVICES__API__PROT".to_string(),
        "1".to_string(),
    )];
    let e = load(None, env).unwrap_err().0;
    assert!(e.contains("IDV_CONFIG__SERVICES__API__PROT"), "{e}");
    assert!(e.contains("unknown key `prot`"), "{e}");
}

#[test]
fn bad_value_names_key_and_source() {
    let env = vec![(
        "IDV_CONFIG__SERVICES__API__PORT".to_string(),
        "eighty".to_string(),
    )];
    let e = load(None, env).unwrap_err().0;
    assert!(e.contains("`services.api.port`"), "{e}");
    assert!(e.contains("IDV_CONFIG__SERVICES__API__PORT"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "services:\n  api:\n    maxBodySize: lots\n");
    let e = load(Some(&p), vec![]).unwrap_err().0;
    assert!(
        e.contains("services.api.maxBodySize") && e.contains("config file"),
        "{e}"
    );
    let p = write(&dir, "database:\n  url: mysql://x\n");
    assert!(
        load(Some(&p), vec![])
            .unwrap_err()
            .0
            .contains("database.url")
    );
}

#[test]
fn sizes_parse() {
    assert_eq!(ByteSize::parse("64Mi").unwrap().0, 64 << 20);
    assert_eq!(ByteSize::parse("10M").unwrap().0, 10_000_000);
    assert_eq!(ByteSize::parse("2048").unwrap().0, 2048);
    assert!(ByteSize::parse("1Qi").is_err());
}

#[test]
fn redacts_passwords() {
    assert_eq!(
        redact_url("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
    assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
}

/// The dotted paths of every key in a configuration (mappings are sections, anything
/// else a value).
fn key_paths(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = value {
        for (key, inner) in map {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            out.push(path.clone());
            key_paths(inner, &path, out);
        }
    }
}

#[test]
fn example_file_has_every_key_and_no_other() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/idv.example.yaml"),
    )
    .unwrap();
    assert_eq!(text, EXAMPLE, "EXAMPLE is the file");
    let mut in_example = Vec::new();
    key_paths(&yaml_to_json(EXAMPLE).unwrap(), "", &mut in_example);
    let mut in_config = Vec::new();
    key_paths(
        &serde_json::to_value(Config::default()).unwrap(),
        "",
        &mut in_config,
    );
    in_example.sort();
    in_config.sort();
    let missing: Vec<_> = in_config
        .iter()
        .filter(|k| !in_example.contains(k))
        .collect();
    let unknown: Vec<_> = in_example
        .iter()
        .filter(|k| !in_config.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "keys missing from the example: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "keys the configuration does not have: {unknown:?}"
    );
    // And the loader itself refuses a key the example does not document.
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, &format!("{EXAMPLE}colour: blue\n"));
    let e = load(Some(&p), vec![]).unwrap_err().0;
    assert!(e.contains("unknown key `colour`"), "{e}");
}

/// Every key of the example has a comment: one above it among its siblings (a comment
/// line at its indentation, with only sibling keys and their contents between), a comment
/// on its line, or its name in backticks in a comment of an enclosing block.
#[test]
fn example_file_documents_every_key() {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let is_comment = |l: &str| l.trim_start().starts_with('#');
    let mut undocumented = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() || is_comment(line) || line.contains(" #") {
            continue;
        }
        let key = line.trim().split(':').next().unwrap();
        let own = indent(line);
        let mut by_siblings = false;
        for above in lines[..i].iter().rev() {
            if above.trim().is_empty() || indent(above) < own {
                break;
            }
            if indent(above) == own && is_comment(above) {
                by_siblings = true;
                break;
            }
        }
        let named = format!("`{key}`");
        let by_block = lines[..i]
            .iter()
            .rev()
            .take_while(|l| !l.trim().is_empty())
            .any(|l| is_comment(l) && indent(l) < own && l.contains(&named));
        if !(by_siblings || by_block) {
            undocumented.push(format!("line {}: {}", i + 1, line.trim()));
        }
    }
    assert!(
        undocumented.is_empty(),
        "keys without a comment: {undocumented:#?}"
    );
}

/// This module tree is a leaf of the server: it names nothing of the server outside
/// `crate::config`, so it compiles, reads and tests on its own.
#[test]
fn config_imports_nothing_else_from_the_server() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config");
    let crate_path = ["crate", "::"].concat();
    let up_two = ["super", "::", "super"].concat();
    let by_name = ["idv", "_server"].concat();
    let mut found = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for (n, line) in text.lines().enumerate() {
            let outside = line
                .match_indices(&crate_path)
                .any(|(at, _)| !line[at + crate_path.len()..].starts_with("config"));
            // In mod.rs, `super` is the crate root.
            let up = line.contains(&up_two) || (name == "mod.rs" && line.contains("super::"));
            if outside || up || line.contains(&by_name) {
                found.push(format!("src/config/{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(files >= 10, "read {files} files in {}", dir.display());
    assert!(
        found.is_empty(),
        "the config tree reaches outside itself: {found:#?}"
    );
}

/// Regula's keys for parts idv replaces load, each block with one notice that says what idv
/// uses instead; the key idv implements next to them still takes effect.
#[test]
fn regulas_unused_keys_load_with_one_notice_each() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "mode: cluster\nidentifier: PQT\nmongo:\n  url: mongodb://mongo:27017/idv\n  tempFiles:\n    ttl: 86400\n\
         messageBroker:\n  url: amqp://admin:admin@rabbitmq:5672/\n\
         services:\n  api:\n    workers: 2\n    threads: auto\n    port: 8123\n  indexer:\n    enabled: true\n    timeout: 60\n\
         \x20 livekit:\n    enabled: false\n    url: http://localhost:7880\n  audit:\n    wsEnabled: true\n\
         smtp:\n  enabled: false\n  host: ''\n",
    );
    let c = load(Some(&p), vec![]).unwrap();
    assert_eq!(c.services.api.port, 8123, "the key idv implements applies");
    let keys: Vec<&str> = c.notices.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "mode",
            "identifier",
            "mongo",
            "messageBroker",
            "smtp",
            "services.api.workers",
            "services.api.threads",
            "services.audit.wsEnabled",
            "services.indexer",
            "services.livekit"
        ]
    );
    let mongo = &c.notices[2];
    assert_eq!(
        mongo.message,
        "mongo.url is not used: idv keeps its data in database.url, now sqlite://./idv-data/idv.db"
    );
    assert!(mongo.warn);
    // A block that is off is a note, not a warning.
    let off: Vec<&str> = c
        .notices
        .iter()
        .filter(|n| !n.warn)
        .map(|n| n.key.as_str())
        .collect();
    assert_eq!(off, ["smtp", "services.livekit"]);
    // A made-up key next to them is still refused, by name and source.
    let p = write(&dir, "mongo:\n  url: x\nmongoo:\n  url: y\n");
    let e = load(Some(&p), vec![]).unwrap_err().0;
    assert!(e.contains("unknown key `mongoo`"), "{e}");
    assert!(e.contains("config.yaml"), "{e}");
    let p = write(
        &dir,
        "services:\n  indexer:\n    x: 1\n  indexr:\n    x: 1\n",
    );
    let e = load(Some(&p), vec![]).unwrap_err().0;
    assert!(e.contains("unknown key `services.indexr`"), "{e}");
}

/// The notices read the loaded configuration: the database they name is the one in use, with
/// its password hidden.
#[test]
fn notices_name_what_idv_uses_instead() {
    let env = vec![
        (
            "IDV_CONFIG__DATABASE__URL".to_string(),
            "postgres://idv:hunter2@db:5432/idv".to_string(),
        ),
        (
            "IDV_CONFIG__MONGO__URL".to_string(),
            "mongodb://mongo:27017/idv".to_string(),
        ),
    ];
    let c = load(None, env).unwrap();
    assert_eq!(c.notices.len(), 1, "{:?}", c.notices);
    assert_eq!(
        c.notices[0].message,
        "mongo.url is not used: idv keeps its data in database.url, now postgres://idv:***@db:5432/idv"
    );
}

/// The variables Regula's Helm chart documents for its secrets load too, list indexes
/// included; a made-up variable is still refused by name.
#[test]
fn regulas_environment_variables_load() {
    let vars = [
        "IDV_CONFIG__MONGO__URL",
        "IDV_CONFIG__SERVICES__LIVEKIT__APIKEY",
        "IDV_CONFIG__SERVICES__LIVEKIT__APISECRET",
        "IDV_CONFIG__OAUTH2__PROVIDERS__0__SECRET",
        "IDV_CONFIG__SAML__PROVIDERS__0__SECURITY__SPPRIVATEKEY",
        "IDV_CONFIG__TOPICS__EVENT__URL",
        "IDV_CONFIG__SMTP__PASSWORD",
    ];
    let env: Vec<(String, String)> = vars
        .iter()
        .map(|v| (v.to_string(), "value".to_string()))
        .collect();
    let c = load(None, env).unwrap();
    let mut keys: Vec<&str> = c.notices.iter().map(|n| n.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "mongo",
            "oauth2.providers",
            "saml",
            "services.livekit",
            "smtp",
            "topics"
        ]
    );
    let e = load(
        None,
        vec![("IDV_CONFIG__MONGOO__URL".to_string(), "x".to_string())],
    )
    .unwrap_err()
    .0;
    assert!(e.contains("IDV_CONFIG__MONGOO__URL"), "{e}");
}

/// Every key path of a YAML mapping, dotted; list items are walked with no index.
fn yaml_paths(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(path.clone());
                yaml_paths(v, &path, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                yaml_paths(item, prefix, out);
            }
        }
        _ => {}
    }
}

const HELM_DEFAULTS: &str = include_str!("testdata/helm-defaults.yaml");

/// The Helm chart's whole config.yaml, every key filled from the chart's defaults, loads: each
/// key either takes effect or gives a notice. (The server's tests start a server on it.)
#[test]
fn the_helm_charts_config_loads() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, HELM_DEFAULTS);
    let c = load(Some(&p), vec![]).unwrap();
    assert_eq!(c.base_url, "http://idv.example.com");
    assert_eq!(c.services.api.timeout, 120);
    assert_eq!(c.services.api.max_body_size.0, 64 << 20);
    assert_eq!(c.rate_limit.profiles.s.limit, 10);
    assert!(c.fernet_key.is_some());
    let mut keys: Vec<&str> = c.notices.iter().map(|n| n.key.as_str()).collect();
    keys.sort();
    for key in [
        "mode",
        "mongo",
        "messageBroker",
        "topics",
        "faceSearch",
        "textSearch",
        "saml",
        "oauth2.providers",
        "services.indexer",
        "services.livekit",
        "services.faceapi.mode",
        "sentry",
    ] {
        assert!(keys.contains(&key), "no notice for {key}: {keys:?}");
    }
}

/// The filled-in chart config above holds every key of the chart's template (read from
/// `IDV_REGULA_DIR` when Regula's files are at hand): keys are taken from the template's lines
/// `key:` (template directives and comments skipped), with the path their indentation gives.
#[test]
fn the_helm_fixture_has_every_key_of_the_template() {
    let Ok(dir) = std::env::var("IDV_REGULA_DIR") else {
        eprintln!("skipped: IDV_REGULA_DIR is not set");
        return;
    };
    let template = std::fs::read_to_string(Path::new(&dir).join("config/helm-config.tpl")).unwrap();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut template_paths = Vec::new();
    for line in template.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        // `{{ $profileName }}:`: a key the values choose, matched by any key.
        if trimmed.starts_with("{{") && trimmed.trim_end().ends_with("}}:") {
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            stack.push((indent, "*".to_string()));
            continue;
        }
        if trimmed.is_empty()
            || trimmed.starts_with("{{")
            || trimmed.starts_with('#')
            || trimmed.starts_with("- ")
        {
            continue;
        }
        let Some((key, _)) = trimmed.split_once(':') else {
            continue;
        };
        if key.contains(' ') || key.contains('{') {
            continue;
        }
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let path = stack
            .iter()
            .map(|(_, k)| k.as_str())
            .chain([key])
            .collect::<Vec<_>>()
            .join(".");
        stack.push((indent, key.to_string()));
        template_paths.push(path);
    }
    assert!(template_paths.len() > 100, "{}", template_paths.len());
    let mut ours = Vec::new();
    yaml_paths(&yaml_to_json(HELM_DEFAULTS).unwrap(), "", &mut ours);
    let matches = |pattern: &str, path: &str| {
        let (a, b): (Vec<&str>, Vec<&str>) =
            (pattern.split('.').collect(), path.split('.').collect());
        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| *x == "*" || x == y)
    };
    let missing: Vec<&String> = template_paths
        .iter()
        .filter(|p| !ours.iter().any(|o| matches(p, o)))
        .collect();
    assert!(missing.is_empty(), "missing from the fixture: {missing:#?}");
}
