//! The README's quickstart, run as a newcomer would paste it: against the real binary serving
//! on the embedded default, with the CLI on PATH and curl and jq.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_idv");
const README: &str = include_str!("../../../README.md");

fn quickstart() -> String {
    let start = README
        .find("<!-- quickstart")
        .expect("README has a quickstart marker");
    let rest = &README[start..];
    let open = rest
        .find("```bash\n")
        .expect("a bash block after the marker")
        + "```bash\n".len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].to_string()
}

#[test]
fn readme_quickstart_runs() {
    let tmp = tempfile::tempdir().unwrap();
    // ../shared/regula/ is where the quickstart finds the workflow, as beside a checkout.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .canonicalize()
        .unwrap();
    std::os::unix::fs::symlink(&shared, tmp.path().join("shared")).unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let env = [
        (
            "IDV_CONFIG__DATABASE__URL",
            format!("sqlite://{}", tmp.path().join("idv.db").display()),
        ),
        (
            "IDV_CONFIG__STORAGE__FS__PATH",
            tmp.path().join("data").display().to_string(),
        ),
        ("IDV_CONFIG__SERVICES__API__HOST", "127.0.0.1".to_string()),
        ("IDV_CONFIG__SERVICES__API__PORT", "0".to_string()),
        ("IDV_ADMIN_PASSWORD", "change-me-now".to_string()),
    ];
    let mut server = Command::new(BIN)
        .arg("serve")
        .envs(env.clone())
        .current_dir(&work)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(server.stdout.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "serve exited");
        if let Some(u) = line.trim().strip_prefix("idv listening on ") {
            break u.to_string();
        }
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = format!("set -euo pipefail\n{}", quickstart());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .envs(env)
        .env("PATH", path)
        .env("IDV_URL", &url)
        .current_dir(&work)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "quickstart failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\"id\": \"PREPARE_DOCUMENT\""), "{stdout}");
    assert!(stdout.contains("\"title\": \"Scan your ID\""), "{stdout}");
    assert!(
        stdout.contains("\"currentStep\": \"PREPARE_DOCUMENT\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"externalUserId\": \"user-42\""),
        "{stdout}"
    );
    assert!(stdout.contains("\"CONTINUE\": true"), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("{\"continue\": true}"),
        "the exact bytes sent: {stdout}"
    );
}
