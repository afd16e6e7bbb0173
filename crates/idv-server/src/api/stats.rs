//! Request and response bodies: session statistics for dashboards.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `GET /api/stats/sessions` | — | 200 [`SessionStats`] |
//! | `GET /api/stats/sessions/totals` | — | 200 [`SessionTotals`] |
//! | `GET /api/stats/funnel` | — | 200 [`Funnel`] |

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Sessions created per UTC day, by current status (`GET /api/stats/sessions`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionStats {
    /// The first day counted (`2026-01-31`, UTC).
    #[schema(format = Date)]
    pub from: String,
    /// The last day counted, inclusive.
    #[schema(format = Date)]
    pub to: String,
    /// The workflow counted; `null`: all workflows.
    #[schema(required = true)]
    pub workflow_id: Option<String>,
    /// Every day from `from` to `to`, oldest first, days without sessions included.
    pub days: Vec<DayStats>,
    /// All the sessions counted, by status (statuses without sessions left out).
    pub totals: Vec<StatusCount>,
}

/// All the sessions created in a range of days, by current status
/// (`GET /api/stats/sessions/totals`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionTotals {
    /// The first day counted; `null`: from the first session on.
    #[schema(required = true, format = Date)]
    pub from: Option<String>,
    /// The last day counted, inclusive; `null`: up to the last session.
    #[schema(required = true, format = Date)]
    pub to: Option<String>,
    /// The workflow counted; `null`: all workflows.
    #[schema(required = true)]
    pub workflow_id: Option<String>,
    /// All of them.
    pub total: i64,
    /// By status, in the order of Regula's status integers (statuses without sessions left
    /// out).
    pub totals: Vec<StatusCount>,
}

/// The sessions created on one day.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DayStats {
    #[schema(format = Date)]
    pub date: String,
    /// All of that day's sessions.
    pub total: i64,
    /// By current status, in the order of Regula's status integers; statuses without
    /// sessions left out.
    pub statuses: Vec<StatusCount>,
}

/// How many sessions have one status.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusCount {
    /// Regula's status integer (0 not completed, 1 not verified, 2 verified, 3 approved,
    /// 4 pending, 1000 rejected).
    pub status: i64,
    pub count: i64,
}

/// Where the sessions of a workflow went (`GET /api/stats/funnel`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Funnel {
    /// The workflow shown; `null` when no workflow has sessions or is loaded.
    #[schema(required = true)]
    pub workflow_id: Option<String>,
    /// Its name (the id when the workflow is no longer loaded).
    #[schema(required = true)]
    pub workflow_name: Option<String>,
    /// How many of its sessions are stored.
    pub sessions: i64,
    /// Its steps in the order of the workflow's definition, then any other step a session
    /// reached (of an older revision), by id.
    pub steps: Vec<FunnelStep>,
    /// The workflows a funnel can be asked for: those loaded and those with sessions, by name.
    pub workflows: Vec<FunnelWorkflow>,
}

/// One step of a funnel.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FunnelStep {
    pub id: String,
    /// The step's `name` in the definition, else its id.
    pub name: String,
    /// Sessions that reached the step (completed it or are in it).
    pub reached: i64,
    /// Sessions whose current step it is: waiting in it, or ended in it (a final step).
    pub stopped: i64,
    /// True for a final step of the current definition.
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// A workflow of [`Funnel::workflows`].
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FunnelWorkflow {
    pub id: String,
    pub name: String,
}
