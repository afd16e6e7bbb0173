//! The README's quickstart, run as a newcomer would paste it: against the real binary serving
//! on the embedded default, with the CLI on PATH and curl and jq.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_idv");
const README: &str = include_str!("../../../../README.md");

fn quickstart() -> String {
    block_after(README, "<!-- quickstart")
}

#[test]
fn readme_quickstart_runs() {
    let tmp = tempfile::tempdir().unwrap();
    // The quickstart runs from the repository root, where it finds examples/.
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("examples/kyc")).unwrap();
    for file in ["workflow.yaml", "locale.yaml"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/kyc")
                .join(file),
            work.join("examples/kyc").join(file),
        )
        .unwrap();
    }
    let env = vec![
        (
            "IDV_CONFIG__DATABASE__URL".to_string(),
            format!("sqlite://{}", tmp.path().join("idv.db").display()),
        ),
        (
            "IDV_CONFIG__STORAGE__FS__PATH".to_string(),
            tmp.path().join("data").display().to_string(),
        ),
        (
            "IDV_ADMIN_PASSWORD".to_string(),
            "change-me-now".to_string(),
        ),
        // No rate-limit settings: the quickstart makes a handful of requests, well within the
        // product's default limits, and runs against them as a newcomer's server would.
    ];
    let stdout = run_quickstart(&quickstart(), &work, &env);
    check_quickstart_output(&stdout);
}

/// Starts `idv serve` (the binary this suite built) in `dir` with `env`, on 127.0.0.1 and a free
/// port; answers the child and its URL.
pub(crate) fn serve_in(dir: &Path, env: &[(String, String)], args: &[&str]) -> (Child, String) {
    let mut server = Command::new(BIN)
        .args(args)
        .envs(env.iter().cloned())
        .env("IDV_CONFIG__SERVICES__API__HOST", "127.0.0.1")
        .env("IDV_CONFIG__SERVICES__API__PORT", "0")
        .current_dir(dir)
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
    // Whatever it prints later is read and dropped, so it never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    (server, url)
}

/// Runs the quickstart `script` with bash in `work` against `idv serve` started there with
/// `env`, the built `idv` first on PATH; answers its standard output once it succeeded.
pub(crate) fn run_quickstart(script: &str, work: &Path, env: &[(String, String)]) -> String {
    let (mut server, url) = serve_in(work, env, &["serve"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = run_script(script, work, env, &url);
    let _ = server.kill();
    let _ = server.wait();
    out
}

/// Runs `script` with bash in `work`, with `env`, `IDV_URL` and the built `idv` first on PATH;
/// answers its standard output once it succeeded.
pub(crate) fn run_script(script: &str, work: &Path, env: &[(String, String)], url: &str) -> String {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .envs(env.iter().cloned())
        .env("PATH", path)
        .env("IDV_URL", url)
        .current_dir(work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "quickstart failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// What the quickstart prints: the form step after ONBOARDING, the session there with the
/// person's answer and metadata, and the bytes the person sent.
pub(crate) fn check_quickstart_output(stdout: &str) {
    assert!(stdout.contains("\"id\": \"PERSONAL_DETAILS\""), "{stdout}");
    assert!(
        stdout.contains("\"title\": \"Tell us about yourself\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"currentStep\": \"PERSONAL_DETAILS\""),
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
pub(crate) fn block_after(readme: &str, heading: &str) -> String {
    let start = readme.find(heading).expect("heading in README");
    let rest = &readme[start..];
    let open = rest.find("```bash\n").expect("a bash block") + "```bash\n".len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].trim().to_string()
}

/// The command under "Run it" (`ENV=value ... cargo run --release -p idv -- serve`), split
/// into its environment and the arguments given to `idv`.
pub(crate) fn run_command(readme: &str) -> (Vec<(String, String)>, Vec<String>) {
    let command = block_after(readme, "## Run it");
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
    (env, args.split_whitespace().map(str::to_string).collect())
}

/// Starts the server as the README's run command does, in `dir`, and checks the first
/// administrator logs in with the password it set; answers the server and its URL.
pub(crate) fn start_as_the_readme_says(readme: &str, dir: &Path) -> (Child, String) {
    // The same environment and arguments, given to the binary this test suite built (a release
    // build here would take minutes).
    let (env, args) = run_command(readme);
    let password = env
        .iter()
        .find(|(k, _)| k == "IDV_ADMIN_PASSWORD")
        .map(|(_, v)| v.clone())
        .expect("the admin password");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (server, url) = serve_in(dir, &env, &args);
    let out = Command::new("curl")
        .args([
            "-s",
            "-u",
            &format!("admin:{password}"),
            &format!("{url}/api/security/users"),
        ])
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("\"name\":\"admin\""), "{body}");
    // The embedded default: one SQLite file and the files folder under ./idv-data/.
    assert!(dir.join("idv-data/idv.db").exists());
    (server, url)
}

#[test]
fn readme_run_command_starts_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut server, _) = start_as_the_readme_says(README, tmp.path());
    let _ = server.kill();
    let _ = server.wait();
}
