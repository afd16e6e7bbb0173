//! The check after the last start: each session against what the server's answers promised.

use super::load::{ADVANCE, Pending, Tracked, sha256_hex};
use crate::support::PASSWORD;
use serde_json::Value;

/// Reads one file's bytes; None (with a problem noted) when it cannot be read.
async fn download(
    http: &reqwest::Client,
    url: &str,
    session: &str,
    file: &str,
    problems: &mut Vec<String>,
) -> Option<Vec<u8>> {
    let r = http
        .get(format!("{url}/api/sessions/{session}/files/{file}"))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.bytes().await.unwrap();
    if status != 200 {
        problems.push(format!(
            "session {session} file {file}: {status} {}",
            String::from_utf8_lossy(&body)
        ));
        return None;
    }
    Some(body.to_vec())
}

/// Checks one session against what the server promised; returns the problems found.
pub(crate) async fn check(http: &reqwest::Client, url: &str, t: &Tracked) -> Vec<String> {
    let mut problems = vec![];
    let id = &t.id;
    let r = http
        .get(format!("{url}/api/sessions/{id}"))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let s: Value = r.json().await.unwrap_or(Value::Null);
    let maybe_deleted = matches!(t.pending, Some(Pending::Delete));
    if status == 410 {
        if s["error"]["code"] != "session_deleted" {
            problems.push(format!("session {id}: 410 without session_deleted: {s}"));
        }
        if !t.deleted && !maybe_deleted {
            problems.push(format!("session {id} is gone but was never deleted: {s}"));
        }
        // Its files went with it.
        for f in &t.uploads {
            let r = http
                .get(format!("{url}/api/sessions/{id}/files/{}", f.id))
                .basic_auth("admin", Some(PASSWORD))
                .send()
                .await
                .unwrap();
            if r.status() != 410 {
                problems.push(format!(
                    "deleted session {id}: file {} answers {}",
                    f.id,
                    r.status()
                ));
            }
        }
        return problems;
    }
    if status != 200 {
        problems.push(format!("session {id}: {status} {s}"));
        return problems;
    }
    if t.deleted {
        problems.push(format!("session {id}: deletion acknowledged, still there"));
    }
    let files = s["files"].as_array().cloned().unwrap_or_default();
    let mut actual: Vec<(Value, String)> = vec![];
    for f in &files {
        let fid = f["id"].as_str().unwrap_or_default();
        let Some(bytes) = download(http, url, id, fid, &mut problems).await else {
            continue;
        };
        let sha = sha256_hex(&bytes);
        if f["sha256"] != sha.as_str() || f["size"] != bytes.len() {
            problems.push(format!(
                "session {id}: file {f} holds {} bytes, SHA-256 {sha}",
                bytes.len()
            ));
        }
        actual.push((f.clone(), sha));
    }
    let named = |name: &str| -> Vec<String> {
        actual
            .iter()
            .filter(|(f, _)| f["name"] == name)
            .map(|(_, sha)| sha.clone())
            .collect()
    };

    // Uploads: every acknowledged file, and of the one cut off all its parts or none.
    let uploads: Vec<&(Value, String)> = actual
        .iter()
        .filter(|(f, _)| f["name"] != "PHOTO.json" && f["name"] != "FORM.json")
        .collect();
    for u in &t.uploads {
        match uploads.iter().find(|(f, _)| f["id"] == u.id.as_str()) {
            Some((f, sha)) if *sha == u.sha256 && f["size"] == u.size => {}
            Some((f, sha)) => problems.push(format!(
                "session {id}: file {} sent with SHA-256 {} ({} bytes), now {f} with bytes {sha}",
                u.id, u.sha256, u.size
            )),
            None => problems.push(format!("session {id}: acknowledged file {} lost", u.id)),
        }
    }
    let cut_off: &[String] = match &t.pending {
        Some(Pending::Upload(parts)) => parts,
        _ => &[],
    };
    let mut unacknowledged: Vec<String> = vec![];
    for (f, sha) in &uploads {
        if t.uploads.iter().any(|u| f["id"] == u.id.as_str()) {
            continue;
        }
        unacknowledged.push(sha.clone());
        if !cut_off.contains(sha) {
            problems.push(format!("session {id}: file {f} was never acknowledged"));
        }
    }
    // The upload cut off by the kill: uploads are all or nothing, so either every one of its
    // parts is there, once, or none is.
    if !unacknowledged.is_empty() {
        let (mut got, mut sent) = (unacknowledged.clone(), cut_off.to_vec());
        got.sort();
        sent.sort();
        if got != sent {
            problems.push(format!(
                "session {id}: {} of the {} parts of the upload cut off are there (all or none)",
                unacknowledged.len(),
                cut_off.len()
            ));
        }
    }

    // The move to FORM, with its data file, all or nothing.
    let step = s["currentStep"].as_str().unwrap_or_default();
    let photo = named("PHOTO.json");
    let moved = step == "FORM";
    if moved != (photo.len() == 1) || photo.len() > 1 {
        problems.push(format!(
            "session {id}: in {step} with {} PHOTO.json",
            photo.len()
        ));
    }
    if photo.iter().any(|sha| *sha != sha256_hex(ADVANCE)) {
        problems.push(format!("session {id}: PHOTO.json is not the data sent"));
    }
    let may_move = matches!(t.pending, Some(Pending::Advance));
    if (t.advanced && !moved)
        || (!t.advanced && moved && !may_move)
        || !["PHOTO", "FORM"].contains(&step)
    {
        problems.push(format!(
            "session {id}: in step {step}, move acknowledged: {}",
            t.advanced
        ));
    }

    // FORM data: every acknowledged body, the one cut off at most once, and NOTE from the last.
    let mut forms = named("FORM.json");
    let mut expected: Vec<String> = t.forms.iter().map(|(sha, _)| sha.clone()).collect();
    let mut note = t.forms.last().map(|(_, n)| n.clone());
    if let Some(Pending::Form { sha256, note: n }) = &t.pending
        && forms.contains(sha256)
        && forms.len() == expected.len() + 1
    {
        expected.push(sha256.clone());
        note = Some(n.clone());
    }
    forms.sort();
    expected.sort();
    if forms != expected {
        problems.push(format!(
            "session {id}: FORM data files {forms:?}, acknowledged {expected:?}"
        ));
    }
    let shown = s["properties"]["NOTE"].as_str().map(str::to_owned);
    if shown != note {
        problems.push(format!(
            "session {id}: NOTE is {shown:?}, expected {note:?}"
        ));
    }

    // Reviews: the history holds exactly the acknowledged ones in order (and perhaps the one cut
    // off, last); the status is the last one's.
    let history: Vec<(i64, String)> = s["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|h| h.get("to").is_some())
        .map(|h| {
            (
                h["to"].as_i64().unwrap_or(-1),
                h["comment"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut with_pending = t.reviews.clone();
    if let Some(Pending::Review { status, comment }) = &t.pending {
        with_pending.push((*status, comment.clone()));
    }
    if history != t.reviews && history != with_pending {
        problems.push(format!(
            "session {id}: history {history:?}, acknowledged {:?}",
            t.reviews
        ));
    }
    let status = history.last().map_or(t.initial_status, |(to, _)| *to);
    if s["status"] != status {
        problems.push(format!(
            "session {id}: status {}, expected {status}",
            s["status"]
        ));
    }
    problems
}
