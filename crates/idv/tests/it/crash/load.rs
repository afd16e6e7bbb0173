//! The write load: clients that start sessions and send them uploads, step data, reviews and
//! deletions, noting what each 2xx answer promised and which write a kill cut off.

use super::WF_ID;
use super::harness::{Outcome, Shared};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The body that moves a session from PHOTO to FORM (stored as `PHOTO.json`).
pub(crate) const ADVANCE: &[u8] = br#"{"continue":true}"#;
/// Concurrent clients, and the sessions each works on at once.
pub(crate) const CLIENTS: usize = 8;
pub(crate) const POOL: usize = 3;
/// Writes to one session before its client leaves it and starts another.
pub(crate) const OPS_PER_SESSION: usize = 8;

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A write whose answer never came: it may or may not have happened.
#[derive(Debug, Clone)]
pub(crate) enum Pending {
    Upload(Vec<String>),
    Advance,
    Form { sha256: String, note: String },
    Review { status: i64, comment: String },
    Delete,
}

#[derive(Debug, Clone)]
pub(crate) struct Uploaded {
    pub(crate) id: String,
    pub(crate) sha256: String,
    pub(crate) size: usize,
}

/// What the server promised about one session, by its 2xx answers.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    pub(crate) id: String,
    pub(crate) initial_status: i64,
    pub(crate) uploads: Vec<Uploaded>,
    pub(crate) advanced: bool,
    /// SHA-256 of each acknowledged FORM body, and its note.
    pub(crate) forms: Vec<(String, String)>,
    /// Acknowledged reviews: status and comment.
    pub(crate) reviews: Vec<(i64, String)>,
    pub(crate) deleted: bool,
    pub(crate) pending: Option<Pending>,
    pub(crate) ops: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) sessions: usize,
    pub(crate) steps: usize,
    pub(crate) uploads: usize,
    pub(crate) files: usize,
    pub(crate) file_bytes: usize,
    pub(crate) reviews: usize,
    pub(crate) deletions: usize,
    /// Writes cut off by a kill (no answer).
    pub(crate) in_doubt: usize,
    /// Answers that break a promise, or non-2xx answers to valid writes.
    pub(crate) problems: Vec<String>,
}

impl Counts {
    pub(crate) fn add(&mut self, o: Counts) {
        self.sessions += o.sessions;
        self.steps += o.steps;
        self.uploads += o.uploads;
        self.files += o.files;
        self.file_bytes += o.file_bytes;
        self.reviews += o.reviews;
        self.deletions += o.deletions;
        self.in_doubt += o.in_doubt;
        self.problems.extend(o.problems);
    }

    pub(crate) fn acknowledged(&self) -> usize {
        self.sessions + self.steps + self.uploads + self.reviews + self.deletions
    }
}

/// One client: keeps up to [`POOL`] sessions and sends random writes to them, one at a time per
/// session, until told to stop. Returns every session it started and its counts.
pub(crate) async fn client(shared: Arc<Shared>, n: usize, seed: u64) -> (Vec<Tracked>, Counts) {
    let mut rng =
        StdRng::seed_from_u64(seed.wrapping_add((n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let mut url_rx = shared.url.clone();
    let mut pool: Vec<Tracked> = Vec::new();
    let mut done: Vec<Tracked> = Vec::new();
    let mut c = Counts::default();
    let mut serial = 0usize;
    while !shared.stop.load(Ordering::SeqCst) {
        let url = match url_rx.wait_for(Option::is_some).await {
            Ok(u) => u.clone().unwrap(),
            Err(_) => break,
        };
        serial += 1;
        if pool.len() < POOL {
            let rb = shared
                .http
                .post(format!("{url}/api/sessions?workflowId={WF_ID}"))
                .json(&json!({"metadata": {"externalUserId": format!("crash-{n}-{serial}")}}));
            match shared.send(rb, "start a session").await {
                Outcome::Ack(body) => {
                    let s: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let (Some(id), Some(status)) = (s["id"].as_str(), s["status"].as_i64()) else {
                        c.problems
                            .push(format!("start a session: answer without id: {s}"));
                        continue;
                    };
                    c.sessions += 1;
                    pool.push(Tracked {
                        id: id.to_owned(),
                        initial_status: status,
                        uploads: vec![],
                        advanced: false,
                        forms: vec![],
                        reviews: vec![],
                        deleted: false,
                        pending: None,
                        ops: 0,
                    });
                }
                Outcome::Refused(m) => c.problems.push(m),
                // Its id never arrived, so there is nothing to check.
                Outcome::Doubt => c.in_doubt += 1,
                Outcome::NotSent => {
                    let _ = url_rx.changed().await;
                }
            }
            continue;
        }
        let at = rng.random_range(0..pool.len());
        let t = &mut pool[at];
        t.ops += 1;
        let session = format!("{url}/api/sessions/{}", t.id);
        let roll: f64 = rng.random();
        // Chosen by the session's step: uploads and the move on in PHOTO, data in FORM;
        // reviews and deletions in either.
        let (rb, pending, what) = if !t.advanced && roll < 0.55 && t.uploads.len() < 6 {
            let mut form = reqwest::multipart::Form::new();
            let mut parts = vec![];
            for p in 0..rng.random_range(1..=2) {
                let top = 1usize << rng.random_range(4..=18);
                let mut bytes = vec![0u8; rng.random_range(top / 2..=top)];
                rng.fill_bytes(&mut bytes);
                parts.push(sha256_hex(&bytes));
                form = form.part(
                    "file",
                    reqwest::multipart::Part::bytes(bytes)
                        .file_name(format!("scan-{serial}-{p}.bin"))
                        .mime_str("application/octet-stream")
                        .unwrap(),
                );
            }
            let rb = shared
                .http
                .post(format!("{session}/step/PHOTO?type=file"))
                .multipart(form);
            (rb, Pending::Upload(parts), "upload")
        } else if !t.advanced && roll < 0.80 {
            let rb = shared
                .http
                .post(format!("{session}/step/PHOTO?type=data"))
                .header("content-type", "application/json")
                .body(ADVANCE);
            (rb, Pending::Advance, "move on from PHOTO")
        } else if t.advanced && roll < 0.45 {
            let note = format!("note-{n}-{serial}-{:08x}", rng.next_u32());
            let body = serde_json::to_vec(&json!({"note": note, "n": serial})).unwrap();
            let sha256 = sha256_hex(&body);
            let rb = shared
                .http
                .post(format!("{session}/step/FORM?type=data"))
                .header("content-type", "application/json")
                .body(body);
            (rb, Pending::Form { sha256, note }, "submit FORM")
        } else if roll < 0.85 || t.ops < 3 {
            let status = [1, 2, 3, 4, 1000][rng.random_range(0..5)];
            let comment = format!("review-{n}-{serial}");
            let rb = shared
                .http
                .patch(session.as_str())
                .json(&json!({"status": status, "comment": comment}));
            (rb, Pending::Review { status, comment }, "review")
        } else {
            let rb = shared.http.delete(format!("{session}?reason=crash-test"));
            (rb, Pending::Delete, "delete")
        };
        let what = format!("{what} {}", t.id);
        match shared.send(rb, &what).await {
            Outcome::Ack(body) => match pending {
                Pending::Upload(parts) => {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let files = v["files"].as_array().cloned().unwrap_or_default();
                    if files.len() != parts.len() {
                        c.problems
                            .push(format!("{what}: {} parts sent, answer {v}", parts.len()));
                    }
                    for (f, sha) in files.iter().zip(parts) {
                        if f["sha256"] != sha.as_str() {
                            c.problems.push(format!("{what}: answer {f}, sent {sha}"));
                        }
                        let size = f["size"].as_u64().unwrap_or(0) as usize;
                        c.files += 1;
                        c.file_bytes += size;
                        t.uploads.push(Uploaded {
                            id: f["id"].as_str().unwrap_or_default().to_owned(),
                            sha256: sha,
                            size,
                        });
                    }
                    c.uploads += 1;
                }
                Pending::Advance => {
                    t.advanced = true;
                    c.steps += 1;
                }
                Pending::Form { sha256, note } => {
                    t.forms.push((sha256, note));
                    c.steps += 1;
                }
                Pending::Review { status, comment } => {
                    t.reviews.push((status, comment));
                    c.reviews += 1;
                }
                Pending::Delete => {
                    t.deleted = true;
                    c.deletions += 1;
                }
            },
            Outcome::Refused(m) => {
                c.problems.push(m);
                t.ops = OPS_PER_SESSION;
            }
            Outcome::Doubt => {
                t.pending = Some(pending);
                c.in_doubt += 1;
            }
            // Tried again on the next start, if chosen again.
            Outcome::NotSent => {
                let _ = url_rx.changed().await;
            }
        }
        if t.deleted || t.pending.is_some() || t.ops >= OPS_PER_SESSION {
            done.push(pool.swap_remove(at));
        }
    }
    done.extend(pool);
    (done, c)
}
