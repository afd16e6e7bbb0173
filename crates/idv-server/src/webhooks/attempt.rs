//! One delivery attempt's pure parts: the request headers (Standard Webhooks signatures, the
//! endpoint's own headers) and what the answer means for the delivery and its endpoint
//! ([`outcome`]). The worker ([`super::worker`]) does the sending and the recording.

use super::policy::{self, DISABLE_AFTER_FAILING_MS, Verdict};
use super::sign::{self, SigningKeyPair};
use idv_store::{AttemptOutcome, DeliveryRecord, DeliveryState, WebhookRecord};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

/// How much of an answer's body the attempt log keeps.
pub(crate) const RESPONSE_KEPT: usize = 1024;

/// Headers the worker sets itself; an endpoint's own `headers` never replace these.
const RESERVED: &[&str] = &[
    "content-type",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// What an endpoint answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// The `Retry-After` header, as sent.
    pub retry_after: Option<String>,
    /// The first [`RESPONSE_KEPT`] bytes of the body.
    pub body: Vec<u8>,
}

/// The delivery's next state after an attempt that ended with `result` at `now`.
/// `failing_since` is the endpoint's, as read before the attempt; `rand01` spreads the backoff.
pub fn outcome(
    result: &Result<Answer, String>,
    delivery: &DeliveryRecord,
    failing_since: Option<i64>,
    now: i64,
    retry_base_ms: i64,
    rand01: f64,
) -> AttemptOutcome {
    let verdict = match result {
        Ok(a) => policy::verdict(a.status),
        Err(_) => Verdict::Retry,
    };
    let failed = |next: Option<i64>, disable: String, before: Option<i64>| AttemptOutcome {
        state: if next.is_some() {
            DeliveryState::Pending
        } else {
            DeliveryState::Failed
        },
        next_at: next.unwrap_or(now),
        success: false,
        disable: Some(disable),
        disable_if_failing_since_before: before,
    };
    match verdict {
        Verdict::Delivered => AttemptOutcome {
            state: DeliveryState::Delivered,
            next_at: now,
            success: true,
            disable: None,
            disable_if_failing_since_before: None,
        },
        Verdict::Gone => failed(None, "the endpoint answered 410 Gone".into(), None),
        Verdict::Retry => {
            let retry_after = result
                .as_ref()
                .ok()
                .and_then(|a| a.retry_after.as_deref())
                .and_then(|v| policy::retry_after_ms(v, now));
            let attempt = u32::try_from(delivery.attempts.max(1)).unwrap_or(u32::MAX);
            let next = policy::next_attempt_at(
                now,
                retry_base_ms,
                attempt,
                retry_after,
                delivery.deadline,
                rand01,
            );
            // The store disables the endpoint only when it has been failing since before a day
            // ago; the reason names that time (this attempt's when it starts the failing run).
            let since = idv_core::time::iso(failing_since.unwrap_or(now));
            failed(
                next,
                format!("failing since {since} for over a day"),
                Some(now - DISABLE_AFTER_FAILING_MS),
            )
        }
    }
}

/// The request headers: the Standard Webhooks ones, signed with the endpoint's secret (and its
/// previous secret while the rotation overlap lasts, and the server's Ed25519 key when the
/// endpoint asks for it), then the endpoint's own headers except the reserved ones.
pub(crate) fn request_headers(
    endpoint: &WebhookRecord,
    delivery: &DeliveryRecord,
    now: i64,
    timestamp: i64,
    key: Option<&SigningKeyPair>,
) -> Result<HeaderMap, String> {
    let signature = sign::signature_header(
        &crate::ops::webhooks::signing_secrets(endpoint, now),
        key,
        &delivery.event_id,
        timestamp,
        delivery.body.as_bytes(),
    )?;
    let value = |text: &str, what: &str| {
        HeaderValue::from_str(text).map_err(|_| format!("the {what} cannot be a header value"))
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static(concat!("idv-webhooks/", env!("CARGO_PKG_VERSION"))),
    );
    headers.insert("webhook-id", value(&delivery.event_id, "event id")?);
    headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
    headers.insert("webhook-signature", value(&signature, "signature")?);
    if let Value::Object(extra) = &endpoint.headers {
        for (name, v) in extra {
            let Value::String(text) = v else { continue };
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                format!("the endpoint's header name `{name}` is not a valid header name")
            })?;
            if RESERVED.contains(&name.as_str()) {
                continue;
            }
            let text = HeaderValue::from_str(text).map_err(|_| {
                format!("the endpoint's header `{name}` holds characters a header cannot carry")
            })?;
            headers.append(name, text);
        }
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use idv_core::time::Clock as _;
    use serde_json::json;
    use standardwebhooks::Webhook;

    const NOW: i64 = 1_700_000_000_000;

    fn delivery(attempts: i64, deadline: i64) -> DeliveryRecord {
        DeliveryRecord {
            id: "7".into(),
            webhook_id: "w1".into(),
            event_id: "evt_0123456789abcdef01234567".into(),
            event_kind: "session.created".into(),
            session_id: Some("s1".into()),
            sequence: 1,
            state: DeliveryState::Pending,
            attempts,
            next_at: NOW,
            locked_until: Some(NOW + 60_000),
            created_at: NOW,
            deadline,
            last_status: None,
            last_error: None,
            body: r#"{"id":"evt_0123456789abcdef01234567","type":"session.created"}"#.into(),
        }
    }

    fn endpoint(secret: &str) -> WebhookRecord {
        WebhookRecord {
            id: "w1".into(),
            url: "https://example.com/hook".into(),
            events: vec!["*".into()],
            enabled: true,
            description: None,
            headers: json!({}),
            workflow_ids: vec![],
            secret: secret.into(),
            previous_secret: None,
            previous_secret_until: None,
            ed25519: false,
            owner_id: None,
            created_at: 0,
            updated_at: 0,
            failing_since: None,
            disabled_reason: None,
            disabled_at: None,
        }
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Result<Answer, String> {
        Ok(Answer {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: vec![],
        })
    }

    #[test]
    fn success_delivers_and_clears_the_failing_run() {
        let o = outcome(
            &answer(204, None),
            &delivery(1, NOW + 1000),
            None,
            NOW,
            100,
            0.5,
        );
        assert_eq!(o.state, DeliveryState::Delivered);
        assert!(o.success);
        assert_eq!(o.disable, None);
    }

    #[test]
    fn gone_fails_and_disables_at_once() {
        let far = NOW + 86_400_000;
        let o = outcome(&answer(410, None), &delivery(1, far), None, NOW, 100, 0.5);
        assert_eq!(o.state, DeliveryState::Failed);
        assert!(!o.success);
        assert_eq!(o.disable.as_deref(), Some("the endpoint answered 410 Gone"));
        assert_eq!(o.disable_if_failing_since_before, None);
    }

    #[test]
    fn failures_back_off_from_the_configured_base() {
        let far = NOW + 86_400_000;
        // The third attempt failed: 100 ms doubled twice.
        let o = outcome(&answer(500, None), &delivery(3, far), None, NOW, 100, 0.5);
        assert_eq!((o.state, o.next_at), (DeliveryState::Pending, NOW + 400));
        assert!(!o.success);
        // Every failure asks for the endpoint to be disabled once it has failed for a day.
        assert_eq!(
            o.disable_if_failing_since_before,
            Some(NOW - DISABLE_AFTER_FAILING_MS)
        );
        let since = NOW - 2 * 86_400_000;
        let o = outcome(
            &Err("connection refused".into()),
            &delivery(1, far),
            Some(since),
            NOW,
            100,
            0.5,
        );
        assert_eq!(o.state, DeliveryState::Pending);
        assert_eq!(
            o.disable,
            Some(format!(
                "failing since {} for over a day",
                idv_core::time::iso(since)
            ))
        );
    }

    #[test]
    fn retry_after_is_honoured_when_longer() {
        let far = NOW + 86_400_000;
        let o = outcome(
            &answer(503, Some("2")),
            &delivery(1, far),
            None,
            NOW,
            100,
            0.5,
        );
        assert_eq!(o.next_at, NOW + 2000);
        let o = outcome(
            &answer(429, Some("junk")),
            &delivery(1, far),
            None,
            NOW,
            100,
            0.5,
        );
        assert_eq!(o.next_at, NOW + 100);
    }

    #[test]
    fn past_the_deadline_fails_for_good() {
        let o = outcome(
            &answer(500, None),
            &delivery(5, NOW + 10),
            None,
            NOW,
            100,
            0.5,
        );
        assert_eq!(o.state, DeliveryState::Failed);
        assert!(o.disable.is_some(), "still counts toward disabling");
    }

    fn verify(secret: &str, d: &DeliveryRecord, headers: &HeaderMap) -> bool {
        Webhook::new(secret)
            .unwrap()
            .verify(d.body.as_bytes(), headers)
            .is_ok()
    }

    #[test]
    fn headers_verify_with_the_standard_library_and_keep_their_own_values() {
        let secret = sign::new_secret();
        let mut e = endpoint(&secret);
        e.headers = json!({
            "X-Tenant": "acme",
            "Webhook-Id": "forged",
            "Content-Type": "text/plain",
            "Host": "elsewhere",
        });
        let d = delivery(1, NOW);
        let ts = idv_core::time::SystemClock.now_ms() / 1000;
        let h = request_headers(&e, &d, NOW, ts, None).unwrap();
        assert!(verify(&secret, &d, &h));
        assert_eq!(h["webhook-id"], d.event_id.as_str());
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["x-tenant"], "acme");
        assert!(h.get("host").is_none());
        assert!(
            h["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("idv-webhooks/")
        );
        assert_eq!(h.get_all("webhook-id").iter().count(), 1);
    }

    #[test]
    fn the_previous_secret_signs_only_during_the_overlap() {
        let (old, new) = (sign::new_secret(), sign::new_secret());
        let mut e = endpoint(&new);
        e.previous_secret = Some(old.clone());
        e.previous_secret_until = Some(NOW + 1);
        let d = delivery(1, NOW);
        let ts = idv_core::time::SystemClock.now_ms() / 1000;
        let during = request_headers(&e, &d, NOW, ts, None).unwrap();
        assert!(verify(&old, &d, &during) && verify(&new, &d, &during));
        let after = request_headers(&e, &d, NOW + 1, ts, None).unwrap();
        assert!(verify(&new, &d, &after));
        assert!(!verify(&old, &d, &after));
    }

    #[test]
    fn ed25519_adds_a_v1a_signature() {
        let secret = sign::new_secret();
        let pair = SigningKeyPair::generate();
        let d = delivery(1, NOW);
        let ts = idv_core::time::SystemClock.now_ms() / 1000;
        let h = request_headers(&endpoint(&secret), &d, NOW, ts, Some(&pair)).unwrap();
        let sig = h["webhook-signature"].to_str().unwrap();
        assert!(sign::verify_v1a(
            &pair.public_text(),
            &d.event_id,
            ts,
            d.body.as_bytes(),
            sig
        ));
        assert!(verify(&secret, &d, &h));
    }

    #[test]
    fn a_bad_endpoint_header_is_an_attempt_error() {
        let mut e = endpoint(&sign::new_secret());
        e.headers = json!({"X-Bad": "line\nbreak"});
        let err = request_headers(&e, &delivery(1, NOW), NOW, 0, None).unwrap_err();
        assert!(err.contains("X-Bad") || err.contains("x-bad"), "{err}");
    }
}
