//! Request and response bodies: server-side starts (ephemeral devices, deeplinks, QR codes and
//! their exchange). Every answer carries a credential and is sent with `Cache-Control: no-store`.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `POST /api/device/ephemeral` | [`EphemeralInput`] (or empty) | 200 [`EphemeralDevice`] |
//! | `POST /api/v1/deeplink` ([`DeeplinkQuery`]) | [`DeeplinkInput`] (or empty) | 200 [`DeeplinkView`] |
//! | `GET /api/deeplink/qrcode` ([`QrCodeQuery`]) | — | 200 [`QrCodeView`], or `image/png` when asked for |
//! | `POST /api/deeplink/exchange` | — | 200 [`ExchangeView`] |

use idv_store::DeviceToken;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// The lifetime of an ephemeral device token.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EphemeralInput {
    /// Seconds, 60 to 604800; 3600 when left out.
    #[serde(default)]
    pub ttl: Option<i64>,
}

/// An ephemeral device token: it starts sessions, submits their steps and reads its own
/// sessions, nothing else, until it expires.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralDevice {
    /// `Token idvdt_...`: send as-is as the `Authorization` header.
    pub authorization: String,
    /// The token's id, the owner of the sessions it starts.
    pub id: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// Seconds from creation to expiry.
    pub ttl: i64,
}

impl EphemeralDevice {
    /// The answer for `token`, used as `authorization`.
    pub fn new(token: &DeviceToken, authorization: String) -> Self {
        EphemeralDevice {
            authorization,
            id: token.principal_id.clone(),
            created_at: idv_core::time::iso(token.created_at),
            expires_at: idv_core::time::iso(token.expires_at),
            ttl: (token.expires_at - token.created_at) / 1_000,
        }
    }
}

/// What a deeplink (or QR code) starts its session with.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeeplinkInput {
    /// Stored with the session, as `metadata` of a session start.
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub locale: Option<String>,
    /// Seconds, 60 to 604800; 3600 when left out. Bounds the token and the session.
    #[serde(default)]
    pub ttl: Option<i64>,
}

/// A deeplink: a URL for the person's device, its token bound to the session just started.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeeplinkView {
    /// `<baseUrl>/mobile?authorization=Token%20<token>&sessionId=<id>`.
    pub url: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub workflow_ids: Vec<String>,
    pub session_id: String,
}

/// A QR code: a deeplink whose token is a one-time `tr-` token, to exchange at
/// `POST /api/deeplink/exchange`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QrCodeView {
    /// The one-time `tr-` token.
    pub token: String,
    /// The URL the QR code holds.
    pub url: String,
    pub session_id: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub workflow_ids: Vec<String>,
    /// `data:image/png;base64,...`: the QR code as an image.
    pub qrcode: String,
}

/// The token a one-time `tr-` token is exchanged for, bound to the QR code's session until the
/// same expiry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeView {
    /// `Token idvdt_...`: send as-is as the `Authorization` header.
    pub authorization: String,
    #[schema(required = true)]
    pub session_id: Option<String>,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub workflow_ids: Vec<String>,
}

/// The query of `POST /api/v1/deeplink`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct DeeplinkQuery {
    /// The workflow to start (the first one given); repeat it, or separate ids with commas, to
    /// name up to 20.
    pub workflow_id: Vec<String>,
}

/// The query of `GET /api/deeplink/qrcode`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct QrCodeQuery {
    /// As for `POST /api/v1/deeplink`.
    pub workflow_id: Vec<String>,
    /// Seconds, 60 to 604800; 3600 when left out.
    pub ttl: Option<i64>,
    pub locale: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use idv_store::DeviceTokenKind;
    use serde_json::json;

    #[test]
    fn ephemeral_answers_keep_their_json_shape() {
        let t = DeviceToken {
            id: "d".into(),
            kind: DeviceTokenKind::Ephemeral,
            secret_hash: "h".into(),
            principal_id: "d".into(),
            session_id: None,
            workflow_ids: vec![],
            created_by: None,
            created_at: 0,
            expires_at: 3_600_000,
            used_at: None,
        };
        assert_eq!(
            serde_json::to_string(&EphemeralDevice::new(&t, "Token idvdt_x".into())).unwrap(),
            json!({
                "authorization": "Token idvdt_x",
                "id": "d",
                "createdAt": "1970-01-01T00:00:00.000Z",
                "expiresAt": "1970-01-01T01:00:00.000Z",
                "ttl": 3600,
            })
            .to_string()
        );
    }

    #[test]
    fn deeplink_bodies_refuse_unknown_fields() {
        let e = serde_json::from_value::<DeeplinkInput>(json!({"ttl": 60, "colour": "red"}));
        assert!(e.unwrap_err().to_string().contains("colour"));
        let i: DeeplinkInput = serde_json::from_value(json!({"metadata": {"a": 1}})).unwrap();
        assert_eq!(i.metadata, Some(json!({"a": 1})));
    }
}
