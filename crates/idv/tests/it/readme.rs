//! The README's quickstart, run as a newcomer would paste it: against the real binary serving
//! on the embedded default, with the CLI on PATH and curl and jq.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_idv");
const README: &str = include_str!("../../../../README.md");

fn quickstart() -> String {
    block_after("<!-- quickstart")
}

#[test]
fn readme_quickstart_runs() {
    let tmp = tempfile::tempdir().unwrap();
    // The quickstart runs from the repository root, where it finds examples/.
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("examples")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart_kyc.yaml"),
        work.join("examples/quickstart_kyc.yaml"),
    )
    .unwrap();
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
        // No rate-limit settings: the quickstart makes a handful of requests, well within the
        // product's default limits, and runs against them as a newcomer's server would.
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

/// The first code block after a heading.
fn block_after(heading: &str) -> String {
    let start = README.find(heading).expect("heading in README");
    let rest = &README[start..];
    let open = rest.find("```bash\n").expect("a bash block") + "```bash\n".len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].trim().to_string()
}

#[test]
fn readme_run_command_starts_the_server() {
    // `ENV=value ... cargo run --release -p idv -- serve`: the same environment and arguments,
    // given to the binary this test suite built (a release build here would take minutes).
    let command = block_after("## Run it");
    let (prefix, args) = command
        .split_once(" cargo run --release -p idv -- ")
        .expect("a cargo run command");
    let mut env: Vec<(String, String)> = Vec::new();
    for word in prefix.split_whitespace() {
        let (k, v) = word
            .split_once('=')
            .expect("only VAR=value before cargo run");
        env.push((k.to_string(), v.trim_matches('\'').to_string()));
    }
    let password = env
        .iter()
        .find(|(k, _)| k == "IDV_ADMIN_PASSWORD")
        .map(|(_, v)| v.clone())
        .expect("the admin password");
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Command::new(BIN)
        .args(args.split_whitespace())
        .envs(env)
        .env("IDV_CONFIG__SERVICES__API__HOST", "127.0.0.1")
        .env("IDV_CONFIG__SERVICES__API__PORT", "0")
        .current_dir(tmp.path())
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
    let out = Command::new("curl")
        .args([
            "-s",
            "-u",
            &format!("admin:{password}"),
            &format!("{url}/api/security/users"),
        ])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("\"name\":\"admin\""), "{body}");
    // The embedded default: one SQLite file and the files folder under ./idv-data/.
    assert!(tmp.path().join("idv-data/idv.db").exists());
}
