//! The repository stands on its own: a `git clone` of the committed HEAD into an empty folder,
//! with nothing beside it, runs the README's run command and quickstart (against the binary this
//! suite built), and none of its files reaches outside the clone for Regula's files except the
//! compatibility tests, which read them at run time from `IDV_REGULA_DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::readme::{block_after, check_quickstart_output, run_script, start_as_the_readme_says};

/// The root of the checkout this test was built from.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A clone of the committed HEAD in an empty temporary folder: `<tmp>/idv`.
fn clone_head() -> (tempfile::TempDir, PathBuf) {
    let root = repo_root();
    let head = git(&root, &["rev-parse", "HEAD"]);
    let head = head.trim();
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("idv");
    let out = Command::new("git")
        .args(["clone", "--quiet", "--no-checkout"])
        .arg(&root)
        .arg(&dest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(&dest, &["checkout", "--quiet", head]);
    // Nothing beside the clone: the folder holds the clone alone.
    let beside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["idv"]);
    (tmp, dest)
}

#[test]
fn a_fresh_clone_runs_the_readme_quickstart() {
    let (_tmp, clone) = clone_head();
    let readme = std::fs::read_to_string(clone.join("README.md")).unwrap();
    // The run command, as the README gives it, in the clone's root …
    let (mut server, url) = start_as_the_readme_says(&readme, &clone);
    // … and the quickstart, in a second terminal, from the same root.
    let (env, _) = crate::readme::run_command(&readme);
    let script = block_after(&readme, "<!-- quickstart");
    let run = std::panic::catch_unwind(|| run_script(&script, &clone, &env, &url));
    let _ = server.kill();
    let _ = server.wait();
    let stdout = run.unwrap_or_else(|e| std::panic::resume_unwind(e));
    check_quickstart_output(&stdout);
}

#[test]
fn no_file_of_a_clone_reads_regula_files_from_beside_it() {
    let (_tmp, clone) = clone_head();
    // Spelled in pieces so that this file does not match itself.
    let beside = ["..", "/shared"].concat();
    let regula_dir = ["shared", "/regula"].concat();
    let include = ["include", "_"].concat();
    // The places that name the folder: the test command, which sets IDV_REGULA_DIR from it,
    // the README, which says so, and the benchmarks, which default to it.
    let allowed = [
        "scripts/test.sh",
        "README.md",
        // The architecture notes state the rule.
        "docs/ARCHITECTURE.md",
        // The benchmarks measure Regula's General KYC, as their earlier figures did.
        "bench/README.md",
        "bench/search.sh",
        "bench/session_flow.sh",
        "bench/webhooks.sh",
        "bench/instances.sh",
    ];
    let files = git(&clone, &["ls-files"]);
    let mut checked = 0;
    for name in files.lines() {
        let Ok(text) = std::fs::read_to_string(clone.join(name)) else {
            continue; // not text
        };
        checked += 1;
        if text.contains(&beside) || text.contains(&regula_dir) {
            assert!(
                allowed.contains(&name),
                "{name} refers to Regula's files beside the checkout"
            );
            assert!(
                text.contains("IDV_REGULA_DIR"),
                "{name} names the folder without IDV_REGULA_DIR"
            );
        }
        if name.ends_with(".rs") {
            // No file is compiled into a test from outside the repository.
            for (at, _) in text.match_indices(&include) {
                let call = &text[at..];
                let end = call.find(')').unwrap_or(call.len());
                assert!(!call[..end].contains("shared"), "{name}: {}", &call[..end]);
            }
        }
    }
    assert!(checked > 100, "only {checked} text files in the clone");
    // Regula's own files are not copied in either.
    for name in files.lines() {
        let base = name.rsplit('/').next().unwrap();
        assert!(
            !["general_kyc.yaml", "general_kyc_locale.yaml"].contains(&base),
            "{name}"
        );
    }
}
