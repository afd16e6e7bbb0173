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
