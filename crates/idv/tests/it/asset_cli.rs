//! `idv asset` as an operator uses it: put, list and delete offline against the configured
//! database and files, then `idv serve` answering the asset's content publicly, and the assets
//! folder loading at start.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_idv");

/// `idv` with its database and files in `dir`, through environment overrides.
fn idv(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("IDV_ADMIN_PASSWORD")
        .env(
            "IDV_CONFIG__DATABASE__URL",
            format!("sqlite://{}", dir.join("idv.db").display()),
        )
        .env(
            "IDV_CONFIG__STORAGE__FS__PATH",
            dir.join("data").display().to_string(),
        );
    c
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Server {
    let mut child = idv(dir)
        .env("IDV_CONFIG__SERVICES__API__HOST", "127.0.0.1")
        .env("IDV_CONFIG__SERVICES__API__PORT", "0")
        .env("IDV_ADMIN_PASSWORD", "asset-cli-password")
        // The tests may send more requests a minute than the default rate limits allow.
        .env("IDV_CONFIG__RATELIMIT__ENABLED", "false")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "serve exited");
        if let Some(u) = line.trim().strip_prefix("idv listening on ") {
            break u.to_string();
        }
    };
    std::thread::spawn(move || for _ in reader.lines() {});
    Server { child, url }
}

/// A GET through curl: status, `Content-Type` and body bytes.
fn curl(url: &str) -> (u16, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("h");
    for _ in 0..200 {
        let out = Command::new("curl")
            .args(["-s", "-D"])
            .arg(&headers)
            .args(["-o", "-", url])
            .output()
            .unwrap();
        let head = std::fs::read_to_string(&headers).unwrap_or_default();
        let Some(status) = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
        else {
            std::thread::sleep(std::time::Duration::from_millis(25));
            continue;
        };
        let content_type = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default();
        return (status, content_type, out.stdout);
    }
    panic!("{url} did not answer");
}

#[test]
fn asset_put_list_delete_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("scan.PNG");
    let bytes: Vec<u8> = b"\x89PNG\r\n\x1a\n"
        .iter()
        .copied()
        .chain((0..4000u32).map(|i| (i % 251) as u8))
        .collect();
    std::fs::write(&image, &bytes).unwrap();
    let doc = dir.path().join("strings.json");
    std::fs::write(&doc, "{}").unwrap();

    let (ok, out, err) = run(idv(dir.path())
        .args(["asset", "put", "onboardingScanDoc"])
        .arg(&image));
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!(
            "Asset onboardingScanDoc: image/png, {} bytes, sha256 ",
            bytes.len()
        )),
        "{out}"
    );
    assert!(out.contains("(stored)"), "{out}");
    assert!(
        out.contains("/api/v1/assets/onboardingScanDoc/content"),
        "{out}"
    );
    let (ok, out, err) = run(idv(dir.path())
        .args(["asset", "put", "onboardingScanDoc"])
        .arg(&image));
    assert!(ok && out.contains("(replaced)"), "{out}{err}");
    let (ok, _, err) = run(idv(dir.path()).args(["asset", "put", "strings"]).arg(&doc));
    assert!(ok, "{err}");

    let (ok, out, _) = run(idv(dir.path()).args(["asset", "list"]));
    assert!(ok);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0][..3],
        ["onboardingScanDoc", "image/png", "4008 bytes"]
    );
    assert_eq!(lines[1][..3], ["strings", "application/json", "2 bytes"]);

    // Mistakes say what is wrong and change nothing.
    let (ok, _, err) = run(idv(dir.path())
        .args(["asset", "put", "bad name"])
        .arg(&image));
    assert!(!ok && err.contains("is not an asset id"), "{err}");
    let (ok, _, err) = run(idv(dir.path()).args(["asset", "put", "x", "/no/such/file.png"]));
    assert!(
        !ok && err.contains("cannot read /no/such/file.png"),
        "{err}"
    );

    // The server serves it without credentials; a file in the assets folder loads at start.
    std::fs::create_dir_all(dir.path().join("data/assets")).unwrap();
    std::fs::write(dir.path().join("data/assets/prepareRFID.gif"), b"GIF89a").unwrap();
    let srv = serve(dir.path());
    let (status, content_type, body) = curl(&format!(
        "{}/api/v1/assets/onboardingScanDoc/content",
        srv.url
    ));
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
    assert_eq!(body, bytes);
    let (status, content_type, body) =
        curl(&format!("{}/api/v1/assets/prepareRFID/content", srv.url));
    assert_eq!((status, content_type.as_str()), (200, "image/gif"));
    assert_eq!(body, b"GIF89a");
    drop(srv);

    let (ok, out, err) = run(idv(dir.path()).args(["asset", "delete", "strings"]));
    assert!(ok && out.contains("Asset strings deleted"), "{err}");
    let (_, out, _) = run(idv(dir.path()).args(["asset", "list"]));
    assert!(!out.contains("strings"), "{out}");
    let (ok, _, err) = run(idv(dir.path()).args(["asset", "delete", "strings"]));
    assert!(!ok && err.contains("no asset with id strings"), "{err}");
}
