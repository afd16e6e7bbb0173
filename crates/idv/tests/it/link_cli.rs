//! `idv link create`, `list` and `revoke` with the real binary on SQLite and PostgreSQL: the
//! url is printed once, a running `idv serve` opens it (a session with the link's metadata,
//! then the "used up" page past `--max-uses`), a revoked link is refused, bad arguments are
//! errors that say what to change.

use crate::support::{KYC_ID, KYC_WORKFLOW, PgDatabase, idv, serve};
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn link(dir: &Path, db: &str, args: &[&str]) -> (bool, String, String) {
    run(idv(dir, db).arg("link").args(args))
}

/// The code of a link url printed by `idv link create` (its base is the configured baseUrl).
fn code_of(url: &str) -> &str {
    let (_, code) = url.trim().rsplit_once("/l/").expect("a /l/ url");
    code
}

async fn links_from_the_cli(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(idv(dir.path(), db).args(["workflow", "apply", KYC_WORKFLOW]));
    assert!(ok, "{err}");

    let (ok, url, err) = link(
        dir.path(),
        db,
        &[
            "create",
            "--workflow",
            KYC_ID,
            "--max-uses",
            "1",
            "--expires",
            "7d",
            "--metadata",
            r#"{"campaign": "cli"}"#,
            "--locale",
            "de",
        ],
    );
    assert!(ok, "{err}");
    assert!(url.starts_with("http://localhost:8000/l/"), "{url}");
    assert_eq!(
        url.lines().count(),
        1,
        "only the url on standard output: {url}"
    );
    assert!(err.contains("not shown again"), "{err}");
    let code = code_of(&url).to_string();

    let (ok, list, err) = link(dir.path(), db, &["list"]);
    assert!(ok, "{err}");
    let row: Vec<&str> = list.lines().next().unwrap().split('\t').collect();
    let id = row[0].to_string();
    assert_eq!(row[1], KYC_ID);
    assert_eq!(row[2], "0/1");
    assert!(row[3].ends_with('Z'), "an expiry: {list}");
    assert_eq!(row[4], "active");
    assert!(!list.contains(&code), "no code in the list");
    let (ok, other, _) = link(dir.path(), db, &["list", "--workflow", "other"]);
    assert!(ok);
    assert!(other.is_empty(), "{other}");

    // A running server opens it once: a session with the link's metadata, then "used up".
    let srv = serve(dir.path(), db, "serve.log", &[]);
    srv.ready().await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let open = |code: String| {
        browser
            .get(format!("{}/l/{code}", srv.url))
            .header("accept", "text/html")
            .send()
    };
    let r = open(code.clone()).await.unwrap();
    assert_eq!(r.status(), 303);
    let location = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let pairs: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    let s: serde_json::Value = srv
        .http
        .get(format!("{}/api/sessions/{}", srv.url, pairs["sessionId"]))
        .header("authorization", &pairs["authorization"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["metadata"]["campaign"], "cli", "{s}");
    assert_eq!(s["metadata"]["startLinkId"], id.as_str());
    assert_eq!(s["locale"], "de");
    let r = open(code.clone()).await.unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("Link used up"));
    let (_, list, _) = link(dir.path(), db, &["list"]);
    assert!(list.contains("\t1/1\t"), "{list}");
    assert!(list.contains("used up"), "{list}");

    // Revoked: refused at once by the running server.
    let (ok, url2, err) = link(dir.path(), db, &["create", "--workflow", KYC_ID]);
    assert!(ok, "{err}");
    let (_, list, _) = link(dir.path(), db, &["list"]);
    let id2 = list
        .lines()
        .next()
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    assert!(
        list.lines()
            .next()
            .unwrap()
            .contains("\t0/-\tnever\tactive"),
        "{list}"
    );
    let (ok, out, err) = link(dir.path(), db, &["revoke", &id2]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("Start link {id2} revoked"));
    let r = open(code_of(&url2).to_string()).await.unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("Link withdrawn"));
    let (_, list, _) = link(dir.path(), db, &["list"]);
    assert!(
        list.lines().next().unwrap().ends_with("\trevoked"),
        "{list}"
    );
    drop(srv);

    // Mistakes say what to change.
    for (args, says) in [
        (vec!["create", "--workflow", "nope"], "nope"),
        (
            vec!["create", "--workflow", KYC_ID, "--expires", "soon"],
            "--expires",
        ),
        (
            vec!["create", "--workflow", KYC_ID, "--max-uses", "0"],
            "maxUses",
        ),
        (
            vec!["create", "--workflow", KYC_ID, "--metadata", "{"],
            "--metadata is not JSON",
        ),
        (vec!["revoke", "0123456789abcdef01234567"], "no start link"),
    ] {
        let (ok, _, err) = link(dir.path(), db, &args);
        assert!(!ok, "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn links_from_the_cli_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("idv.db").display());
    links_from_the_cli(&db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn links_from_the_cli_on_postgres() {
    let pg = PgDatabase::create("idv_link_cli").await;
    links_from_the_cli(&pg.url).await;
    pg.drop_now().await;
}
