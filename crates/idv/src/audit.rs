//! `idv audit verify`, and the audit entries of the CLI's own changes (users and API keys),
//! written at once with actor kind `cli`.

use crate::Cli;
use anyhow::Result;
use idv_server::audit::verify::Verdict;
use idv_server::state::AppState;
use std::process::ExitCode;

/// Records a change the CLI made. Failing to record it is an error: the change is done, but
/// the operator must know the log lacks it.
pub async fn record(
    state: &AppState,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<()> {
    idv_server::audit::append_now(
        state.store.as_ref(),
        &state.config.services.audit,
        state.clock.now_ms(),
        action,
        Some(target.to_owned()),
        details,
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!("the change was made but its audit entry could not be written: {e}")
    })
}

/// Exit status 0 with `OK` when the chain is intact, 1 naming the first broken entry, 2 when
/// the database cannot be read.
pub async fn verify(cli: &Cli) -> ExitCode {
    let state = match crate::load_config(cli) {
        Ok(c) => crate::open(c).await,
        Err(e) => Err(e),
    };
    let state = match state {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    match idv_server::audit::verify::verify(state.store.as_ref()).await {
        Ok(Verdict::Intact {
            count,
            anchor_seq,
            head_seq,
        }) => {
            if count == 0 {
                println!("OK: 0 entries (the chain is empty, its head is at entry {head_seq})");
            } else if anchor_seq > 0 {
                println!(
                    "OK: {count} entries, {} to {head_seq}, verified from the retention anchor at entry {anchor_seq}",
                    anchor_seq + 1
                );
            } else {
                println!("OK: {count} entries, 1 to {head_seq}");
            }
            ExitCode::SUCCESS
        }
        Ok(Verdict::Broken { seq, reason }) => {
            println!("BROKEN at entry {seq}: {reason}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: cannot read the audit log: {e}");
            ExitCode::from(2)
        }
    }
}
