//! `idv secrets`: the key that encrypts the secrets the database keeps (webhook secrets and
//! header values, the webhook signing key).

use anyhow::{Result, anyhow};
use clap::Subcommand;
use idv_server::secrets::fernet::FernetKey;
use idv_server::state::AppState;

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Print a new random key for fernetKey (url-safe base64 of 32 bytes).
    NewKey,
    /// Re-encrypt every stored secret under fernetKey now (clear values from earlier versions
    /// and values under secrets.previousKeys), as every `idv serve` does at start, and say
    /// whether the previous keys are still needed.
    Rotate,
}

pub async fn run(open: impl AsyncFnOnce() -> Result<AppState>, cmd: &SecretsCommand) -> Result<()> {
    match cmd {
        SecretsCommand::NewKey => {
            println!("{}", FernetKey::generate().to_text());
        }
        SecretsCommand::Rotate => {
            let state = open().await?;
            let done = idv_server::secrets::reseal::run(state.store.as_ref(), &state.secrets)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("{}", done.summary(&state.secrets));
        }
    }
    Ok(())
}
