//! The `idv` binary as an operator uses it: user and key administration offline against the
//! configured database, workflow loading, configuration errors, and `serve` with its first
//! administrator.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use crate::support::{KYC_ID, KYC_LOCALE, KYC_WORKFLOW, regula};

use regula::{general_kyc, general_kyc_locale};

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

#[test]
fn user_commands_print_like_regula() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(idv(dir.path()).args([
        "user",
        "create",
        "--name",
        "admin",
        "--password",
        "pw-123456",
        "--email",
        "admin@example.com",
        "--roles",
        "admin",
    ]));
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "User: admin");
    assert!(
        lines[1].starts_with("        User ID: ")
            && lines[1].len() == "        User ID: ".len() + 24,
        "{out}"
    );
    assert_eq!(lines[2], "        Email: admin@example.com");
    assert_eq!(lines[3], "        Roles: ['admin']");
    assert_eq!(lines[4], "        Active: True");
    let (ok, _, err) = run(idv(dir.path()).args([
        "user",
        "create",
        "-n",
        "admin",
        "-p",
        "pw-123456",
        "-e",
        "a@b.c",
        "-r",
        "admin",
    ]));
    assert!(!ok);
    assert!(err.contains("User admin already exists"), "{err}");
    let (ok, _, err) = run(idv(dir.path()).args([
        "user",
        "create",
        "-n",
        "bob",
        "-p",
        "pw-123456",
        "-r",
        "wizard",
    ]));
    assert!(!ok);
    assert!(err.contains("wizard"), "{err}");
    let (_, out, _) = run(idv(dir.path()).args(["user", "list"]));
    assert!(out.contains("admin") && !out.contains("bob"), "{out}");
    let (ok, out, _) = run(idv(dir.path()).args(["user", "delete", "--name", "admin"]));
    assert!(ok && out.contains("deleted"), "{out}");
    let (ok, _, err) = run(idv(dir.path()).args(["user", "delete", "--name", "admin"]));
    assert!(!ok && err.contains("does not exist"), "{err}");
}

#[test]
fn apikey_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(idv(dir.path()).args([
        "apikey",
        "create",
        "--name",
        "My API key",
        "--expires",
        "6000",
        "--permissions",
        "ephemeral_device:write,session:read_all",
    ]));
    assert!(ok, "{err}");
    assert!(
        out.contains("Permissions: ['session_all:read', 'ephemeral_device:write']"),
        "{out}"
    );
    let key = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Key: "))
        .unwrap()
        .to_string();
    assert!(key.starts_with("idv_") && key.len() == 68, "{key}");
    let id = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("ID: "))
        .unwrap()
        .to_string();
    let (_, list, _) = run(idv(dir.path()).args(["apikey", "list"]));
    assert!(
        list.contains(&id) && list.contains("active") && !list.contains(&key[4..]),
        "{list}"
    );
    let (ok, _, _) = run(idv(dir.path()).args(["apikey", "revoke", &id]));
    assert!(ok);
    let (_, list, _) = run(idv(dir.path()).args(["apikey", "list"]));
    assert!(list.contains("revoked"), "{list}");
    let (ok, _, err) = run(idv(dir.path()).args([
        "apikey",
        "create",
        "--name",
        "x",
        "--permissions",
        "session:fly",
    ]));
    assert!(!ok && err.contains("session:fly"), "{err}");
}

#[test]
fn workflow_apply_loads_both_kinds_and_lists_problems() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(idv(dir.path()).args(["workflow", "apply", KYC_WORKFLOW, KYC_LOCALE]));
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "workflow {KYC_ID} (Example KYC) stored as revision 1"
        )),
        "{out}"
    );
    assert!(out.contains("38 translations for en-us, es-es"), "{out}");
    let (_, out, _) = run(idv(dir.path()).args(["workflow", "apply", KYC_WORKFLOW]));
    assert!(out.contains("unchanged at revision 1"), "{out}");
    // A broken copy: every problem with its line.
    let broken = std::fs::read_to_string(KYC_WORKFLOW)
        .unwrap()
        .replacen("step: PERSONAL_DETAILS", "step: NOWHERE", 1)
        .replacen("type: int", "type: integer", 1);
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, broken).unwrap();
    let (ok, _, err) = run(idv(dir.path()).args(["workflow", "apply", path.to_str().unwrap()]));
    assert!(!ok);
    assert!(err.contains("NOWHERE") && err.contains("integer"), "{err}");
    assert!(err.matches("line ").count() >= 2, "{err}");
}

#[test]
fn config_example_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, example, _) = run(idv(dir.path()).args(["config", "example"]));
    assert!(ok && example.contains("maxBodySize: 64Mi"));
    std::fs::write(
        dir.path().join("config.yaml"),
        "services:\n  api:\n    prot: 9\n",
    )
    .unwrap();
    let (ok, _, err) = run(idv(dir.path()).args(["user", "list"]));
    assert!(!ok);
    assert!(
        err.contains("services.api.prot") && err.contains("config.yaml"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("config.yaml")).unwrap();
    let (ok, _, err) = run(idv(dir.path())
        .env("IDV_CONFIG__SERVICES__API__PORT", "eighty")
        .args(["serve"]));
    assert!(!ok);
    assert!(
        err.contains("IDV_CONFIG__SERVICES__API__PORT") && err.contains("services.api.port"),
        "{err}"
    );
}

struct Server {
    child: Child,
    url: String,
    first_lines: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, admin_password: Option<&str>) -> Server {
    let mut cmd = idv(dir);
    cmd.env("IDV_CONFIG__SERVICES__API__HOST", "127.0.0.1")
        .env("IDV_CONFIG__SERVICES__API__PORT", "0")
        // The tests may send more requests a minute than the default rate limits allow.
        .env("IDV_CONFIG__RATELIMIT__ENABLED", "false");
    if let Some(p) = admin_password {
        cmd.env("IDV_ADMIN_PASSWORD", p);
    }
    let mut child = cmd
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first_lines = Vec::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "serve exited: {first_lines:?}"
        );
        if let Some(u) = line.trim().strip_prefix("idv listening on ") {
            break u.to_string();
        }
        first_lines.push(line.trim().to_string());
    };
    // Wait until it answers.
    for _ in 0..2400 {
        if ureq_like_get(&format!("{url}/api/health"), None).0 == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    Server {
        child,
        url,
        first_lines,
    }
}

/// A blocking GET through curl, so this test needs no HTTP client of its own.
fn ureq_like_get(url: &str, basic: Option<&str>) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args(["-s", "-o", "-", "-w", "\n%{http_code}", url]);
    if let Some(b) = basic {
        c.args(["-u", b]);
    }
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn serve_creates_the_first_admin_once() {
    let dir = tempfile::tempdir().unwrap();
    let srv = serve(dir.path(), None);
    let line = srv
        .first_lines
        .iter()
        .find(|l| l.contains("Created the first user: admin"))
        .expect("password printed");
    let password = line.rsplit(' ').next().unwrap().to_string();
    assert!(password.len() >= 16);
    let (code, body) = ureq_like_get(
        &format!("{}/api/security/users", srv.url),
        Some(&format!("admin:{password}")),
    );
    assert_eq!(code, 200, "{body}");
    let users: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(users[0]["roles"][0], "admin");
    assert!(!body.contains(&password));
    drop(srv);
    // Never stored in clear.
    let db = std::fs::read(dir.path().join("idv.db")).unwrap();
    assert!(!db.windows(password.len()).any(|w| w == password.as_bytes()));
    // A second start prints nothing about it.
    let srv = serve(dir.path(), None);
    assert!(
        srv.first_lines.iter().all(|l| !l.contains("password")),
        "{:?}",
        srv.first_lines
    );
    drop(srv);
    // IDV_ADMIN_PASSWORD on a fresh database sets the password and prints none.
    let dir2 = tempfile::tempdir().unwrap();
    let srv = serve(dir2.path(), Some("chosen-password"));
    assert!(
        srv.first_lines
            .iter()
            .all(|l| !l.contains("chosen-password"))
    );
    assert_eq!(
        ureq_like_get(
            &format!("{}/api/security/users", srv.url),
            Some("admin:chosen-password")
        )
        .0,
        200
    );
}

#[test]
fn workflows_folder_loads_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("data/workflows");
    let loc = dir.path().join("data/localization");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::create_dir_all(&loc).unwrap();
    std::fs::copy(KYC_WORKFLOW, wf.join("kyc.yaml")).unwrap();
    std::fs::copy(KYC_LOCALE, loc.join("kyc_locale.yaml")).unwrap();
    std::fs::write(wf.join("broken.yaml"), "id: x\nsteps: [\n").unwrap();
    let srv = serve(dir.path(), Some("folder-password"));
    let (code, body) = ureq_like_get(
        &format!("{}/api/workflows", srv.url),
        Some("admin:folder-password"),
    );
    assert_eq!(code, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], KYC_ID);
    assert_eq!(list[0]["defaultLocale"], "en-us");
    let (_, body) = ureq_like_get(
        &format!("{}/api/translations?locale=en-us", srv.url),
        Some("admin:folder-password"),
    );
    assert!(body.contains("Tell us about yourself"), "{body}");
}

/// `idv workflow lint` with its exit status and standard output.
fn lint(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = idv(dir)
        .args(["workflow", "lint"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn the_example_workflows_lint_clean() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let files: Vec<String> = ["kyc", "age_gate"]
        .iter()
        .flat_map(|e| ["workflow.yaml", "locale.yaml"].map(|f| examples.join(e).join(f)))
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["--deny-warnings"];
    args.extend(files.iter().map(String::as_str));
    let (code, out) = lint(dir.path(), &args);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches(": ok (").count(), 4, "{out}");
    assert!(!out.contains("warning"), "{out}");
}

#[test]
fn workflow_lint_reports_every_problem_with_its_line() {
    regula_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = lint(dir.path(), &[general_kyc(), general_kyc_locale()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "general_kyc.yaml: ok (workflow edda0192-b890-11ef-a348-17da751a6a22 General KYC, \
             16 steps, 1 warning)"
        ),
        "{out}"
    );
    // Regula's file declares a rule it never uses.
    let rule_line = line_of(
        &std::fs::read_to_string(general_kyc()).unwrap(),
        "id: valid_mrz_status",
    );
    assert!(
        out.contains(&format!(
            "general_kyc.yaml:{rule_line}: rules[13]: warning: rule `valid_mrz_status` is never used"
        )),
        "{out}"
    );
    assert!(
        out.contains("general_kyc_locale.yaml: ok (translations, 105 entries for ar-bh, en-us"),
        "{out}"
    );
    // No database or configuration was needed.
    assert!(!dir.path().join("idv.db").exists());

    // A broken copy: each problem on its own line, with the line it is on.
    let broken = std::fs::read_to_string(general_kyc())
        .unwrap()
        .replacen("step: PREPARE_DOCUMENT", "step: NOWHERE", 1)
        .replacen("type: int", "type: integer", 1);
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, &broken).unwrap();
    let shown = path.display().to_string();
    let (code, out) = lint(dir.path(), &[&shown, general_kyc()]);
    assert_eq!(code, Some(1), "{out}");
    let nowhere = line_of(&broken, "step: NOWHERE");
    let integer = line_of(&broken, "type: integer");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with(&shown)).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!("{shown}:{nowhere}: steps[0].conditions["))
            && lines[0].ends_with(".transit.step: unknown step `NOWHERE`"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("{shown}:{integer}: properties["))
            && lines[1].contains("unknown property type `integer`"),
        "{out}"
    );
    assert!(
        out.contains("general_kyc.yaml: ok"),
        "the other file is still checked"
    );

    // Syntax errors and broken translations, recognised by shape.
    std::fs::write(
        dir.path().join("syntax.yaml"),
        "id: x\nname: y\n  bad: indent\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tr.yaml"),
        "- {key: A, code: en-us, value: a}\n- {key: B, code: en-us}\n",
    )
    .unwrap();
    let (code, out) = lint(dir.path(), &["syntax.yaml", "tr.yaml"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("syntax.yaml:3: YAML syntax error"), "{out}");
    assert!(
        out.contains("tr.yaml:2: [1].value: missing `value`"),
        "{out}"
    );

    // An unreadable file: 2, after checking the rest.
    let (code, out) = lint(dir.path(), &["missing.yaml", general_kyc()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("missing.yaml: cannot read"), "{out}");
    assert!(out.contains("general_kyc.yaml: ok"), "{out}");

    // Warnings fail the check only when asked to.
    let (code, out) = lint(dir.path(), &["--deny-warnings", general_kyc()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains(": ok"), "{out}");
}
