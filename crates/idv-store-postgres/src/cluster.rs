//! [`ClusterStore`] on PostgreSQL: signals are `NOTIFY` on the channel [`CHANNEL`], heard by a
//! `LISTEN` on a connection of the listener's own, whose `application_name` names the listener
//! (so `pg_stat_activity` lists the listeners connected); a leadership is a session-level advisory lock
//! held on a connection of the contender's own, so the server releases it as soon as that
//! connection ends (a killed process's socket closes at once). Those connections are outside the
//! pool: a pooled connection would go back to the pool still holding the lock.

use crate::PgStore;
use async_trait::async_trait;
use idv_store::{
    ClusterStore, Heard, LeaderContender, SignalListener, StoreError, StoreResult,
    cluster::{LISTENER_NAME_MAX_LEN, SIGNAL_MAX_LEN},
};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use std::time::Duration;

/// The one channel every idv process listens on.
pub const CHANNEL: &str = "idv_signals";
/// The `application_name` of a listener's connection: this, then the listener's name.
const LISTENER_PREFIX: &str = "idv-signals ";
/// The first key of every idv advisory lock (`'idv\0'`); the second is a hash of the name.
/// sqlx's migration lock uses the one-key form, a separate key space.
const LOCK_CLASS: i32 = 0x6964_7600;
/// A contender's idle connection is ended by the server after this long without a call, so a
/// leader cut off by the network (whose connection the server might otherwise keep for hours)
/// loses the lock; contenders call every second or two.
const IDLE_SESSION_TIMEOUT: &str = "SET idle_session_timeout = '15s'";
/// How long a listener waits before connecting again after a failed attempt.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

#[async_trait]
impl ClusterStore for PgStore {
    async fn signal_send(&self, signal: &str) -> StoreResult<()> {
        if signal.len() > SIGNAL_MAX_LEN {
            return Err(StoreError::backend(format!(
                "a signal is at most {SIGNAL_MAX_LEN} bytes"
            )));
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(signal)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(crate::convert::backend)
    }

    async fn signal_listen(&self, name: &str) -> StoreResult<Option<Box<dyn SignalListener>>> {
        if name.len() > LISTENER_NAME_MAX_LEN || name.contains(' ') {
            return Err(StoreError::backend(format!(
                "a listener name is at most {LISTENER_NAME_MAX_LEN} bytes, without spaces"
            )));
        }
        // A pool of one connection of its own, named so `signal_listeners` finds it; the pool
        // connects again when that connection is lost.
        let options = (*self.pool.connect_options())
            .clone()
            .application_name(&format!("{LISTENER_PREFIX}{name}"));
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options);
        let listener = listen(&pool).await?;
        Ok(Some(Box::new(PgSignals {
            pool,
            listener: Some(listener),
        })))
    }

    async fn signal_listeners(&self) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT substr(application_name, $1) FROM pg_stat_activity \
             WHERE datname = current_database() AND starts_with(application_name, $2)",
        )
        .bind(i32::try_from(LISTENER_PREFIX.len() + 1).unwrap_or(i32::MAX))
        .bind(LISTENER_PREFIX)
        .fetch_all(&self.pool)
        .await
        .map_err(crate::convert::backend)
    }

    async fn leader_contender(&self, name: &str) -> StoreResult<Box<dyn LeaderContender>> {
        Ok(Box::new(PgContender {
            options: (*self.pool.connect_options()).clone(),
            name: name.to_owned(),
            conn: None,
            held: false,
        }))
    }
}

/// A listener on [`CHANNEL`], on a connection of `pool` (the listener's own).
async fn listen(pool: &PgPool) -> StoreResult<PgListener> {
    let mut listener = PgListener::connect_with(pool)
        .await
        .map_err(crate::convert::backend)?;
    listener
        .listen(CHANNEL)
        .await
        .map_err(crate::convert::backend)?;
    Ok(listener)
}

struct PgSignals {
    pool: PgPool,
    /// `None` after the connection failed, until a new one listens.
    listener: Option<PgListener>,
}

#[async_trait]
impl SignalListener for PgSignals {
    async fn next(&mut self) -> StoreResult<Heard> {
        if let Some(listener) = &mut self.listener {
            match listener.try_recv().await {
                Ok(Some(n)) => return Ok(Heard::Signal(n.payload().to_owned())),
                // Lost, and already listening again on a new connection.
                Ok(None) => return Ok(Heard::Gap),
                Err(e) => {
                    // The next call connects again and answers `Gap`.
                    self.listener = None;
                    return Err(crate::convert::backend(e));
                }
            }
        }
        loop {
            match listen(&self.pool).await {
                Ok(listener) => {
                    self.listener = Some(listener);
                    return Ok(Heard::Gap);
                }
                Err(e) => {
                    if self.pool.is_closed() {
                        return Err(e);
                    }
                    tokio::time::sleep(RECONNECT_EVERY).await;
                }
            }
        }
    }
}

struct PgContender {
    options: PgConnectOptions,
    name: String,
    conn: Option<PgConnection>,
    /// Whether the lock was taken on `conn`.
    held: bool,
}

impl PgContender {
    async fn lead_on(conn: &mut PgConnection, held: bool, name: &str) -> sqlx::Result<bool> {
        if held {
            // A session lock lasts as long as its connection: a round trip proves both.
            sqlx::query("SELECT 1").execute(&mut *conn).await?;
            return Ok(true);
        }
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(LOCK_CLASS)
            .bind(name)
            .fetch_one(&mut *conn)
            .await
    }
}

#[async_trait]
impl LeaderContender for PgContender {
    async fn lead(&mut self) -> StoreResult<bool> {
        if self.conn.is_none() {
            self.held = false;
            let mut conn = PgConnection::connect_with(&self.options)
                .await
                .map_err(crate::convert::backend)?;
            sqlx::query(IDLE_SESSION_TIMEOUT)
                .execute(&mut conn)
                .await
                .map_err(crate::convert::backend)?;
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().expect("connected above");
        match Self::lead_on(conn, self.held, &self.name).await {
            Ok(leads) => {
                self.held = leads;
                Ok(leads)
            }
            Err(e) => {
                // Whatever the connection held is gone with it.
                self.conn = None;
                self.held = false;
                Err(crate::convert::backend(e))
            }
        }
    }
}
