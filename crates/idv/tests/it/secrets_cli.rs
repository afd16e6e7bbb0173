//! `idv secrets` and the webhook commands against an encrypted store: a new key is printed,
//! `idv webhook create` stores its secret and header value encrypted and prints header names
//! only, `idv secrets rotate` re-encrypts under a new `fernetKey`, and a key that is not
//! configured is an error naming what to set.

use idv_server::secrets::fernet::FernetKey;
use idv_server::secrets::key_id;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_idv");

/// `idv` on a SQLite database and files in `dir`, with `fernetKey` and `secrets.previousKeys`.
fn idv(dir: &Path, key: &FernetKey, previous: &[&FernetKey]) -> Command {
    let mut c = Command::new(BIN);
    let previous: Vec<String> = previous.iter().map(|k| k.to_text()).collect();
    c.current_dir(dir)
        .env_remove("IDV_ADMIN_PASSWORD")
        .env(
            "IDV_CONFIG__DATABASE__URL",
            format!("sqlite://{}", dir.join("idv.db").display()),
        )
        .env(
            "IDV_CONFIG__STORAGE__FS__PATH",
            dir.join("data").display().to_string(),
        )
        .env("IDV_CONFIG__OUTBOUND__ALLOWPRIVATEADDRESSES", "true")
        .env("IDV_CONFIG__FERNETKEY", key.to_text())
        .env("IDV_CONFIG__SECRETS__PREVIOUSKEYS", previous.join(","));
    c
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut out = vec![];
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(dir.join(format!("idv.db{suffix}"))) {
            out.extend(b);
        }
    }
    out
}

fn holds(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn new_key_prints_a_fernet_key() {
    let (ok, out, err) = run(Command::new(BIN).args(["secrets", "new-key"]));
    assert!(ok, "{err}");
    let key = out.trim();
    assert_eq!(key.len(), 44, "{out}");
    assert_eq!(FernetKey::parse(key).unwrap().to_text(), key);
    let (_, again, _) = run(Command::new(BIN).args(["secrets", "new-key"]));
    assert_ne!(again.trim(), key, "a new key each time");
}

#[test]
fn webhook_secrets_are_encrypted_and_rotate_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        FernetKey::generate(),
        FernetKey::generate(),
        FernetKey::generate(),
    );
    let token = "Bearer cli-receiver-token-5f1c2e";
    let (ok, out, err) = run(idv(dir.path(), &a, &[]).args([
        "webhook",
        "create",
        "--url",
        "http://127.0.0.1:9/hook",
        "--header",
        &format!("Authorization: {token}"),
    ]));
    assert!(ok, "{err}");
    let made: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(made["headerNames"], serde_json::json!(["Authorization"]));
    assert!(!out.contains(token), "{out}");
    let secret = made["secret"].as_str().unwrap().to_owned();
    let id = made["id"].as_str().unwrap().to_owned();

    let (ok, list, err) = run(idv(dir.path(), &a, &[]).args(["webhook", "list"]));
    assert!(ok, "{err}");
    assert!(list.contains(&id) && !list.contains(token), "{list}");

    let bytes = database_bytes(dir.path());
    assert!(
        holds(&bytes, "http://127.0.0.1:9/hook"),
        "the search finds clear text"
    );
    assert!(!holds(&bytes, token));
    assert!(!holds(&bytes, secret.trim_start_matches("whsec_")));
    assert!(holds(&bytes, &format!("fernet1:{}:", key_id(&a))));

    // B encrypts, A only reads: rotate re-encrypts the secret and the headers.
    let (ok, out, err) = run(idv(dir.path(), &b, &[&a]).args(["secrets", "rotate"]));
    assert!(ok, "{err}");
    assert!(out.contains(&format!("under key {}", key_id(&b))), "{out}");
    assert!(out.contains("2 re-encrypted from previous keys"), "{out}");
    assert!(!holds(
        &database_bytes(dir.path()),
        &format!("fernet1:{}:", key_id(&a))
    ));

    // Without A: still readable. Under C alone: an error naming the keys and what to set.
    let (ok, list, err) = run(idv(dir.path(), &b, &[]).args(["webhook", "list"]));
    assert!(ok && list.contains(&id), "{err}");
    let (ok, _, err) = run(idv(dir.path(), &c, &[]).args(["secrets", "rotate"]));
    assert!(!ok);
    assert!(
        err.contains(&key_id(&b)) && err.contains("fernetKey") && err.contains("previousKeys"),
        "{err}"
    );
    let (ok, _, err) = run(idv(dir.path(), &c, &[]).args(["webhook", "list"]));
    assert!(!ok);
    assert!(err.contains(&key_id(&b)), "{err}");
}
