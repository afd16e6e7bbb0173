//! Statements of the adapters' `exchange` modules.

/// Run by `exchange::session_import`.
pub const SESSION_IMPORT: &str = "DELETE FROM sessions WHERE id = $1";

/// Run by `exchange::session_import`.
pub const SESSION_IMPORT_2: &str = "INSERT INTO jobs (id, session_id, step, action, run_at, attempts, locked_until, \
             last_error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
