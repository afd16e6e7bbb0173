//! SQL text that both store adapters run unchanged: each statement is written once here and
//! used by `idv-store-sqlite` and `idv-store-postgres` alike. A module per adapter module, a
//! constant per statement, named after the adapter function that runs it.
//!
//! Placeholders are `$1`, `$2`, …: PostgreSQL numbers its parameters so, and sqlx-sqlite binds a
//! parameter named `$N` to the N-th bound argument (a `$N` used twice takes that one argument
//! twice), so one text serves both. A statement whose text differs between the dialects stays
//! in its adapter.
//!
//! Whole functions that read the same in both adapters are here too, as one `macro_rules!` per
//! module (`users_fns!`, `outbox_fns!`, …) that each adapter expands at the end of its module of
//! that name. The names they use resolve in the adapter: `Db` (SQLite: a reader pool and a
//! writer; PostgreSQL: the pool), `db.read()` / `db.write()`, `DbRow`, and the `convert`
//! helpers (`col`, `list_col`, `list_text`, `backend`, …). A function that differs in one
//! word stays in each adapter. The store's methods themselves are implemented in the adapters,
//! which call these functions.

pub mod api_keys;
pub mod assets;
pub mod audit;
pub mod deletion;
pub mod devices;
pub mod engine;
pub mod exchange;
pub mod files;
pub mod idempotency;
pub mod outbox;
pub mod search;
pub mod sessions;
pub mod settings;
pub mod start_links;
pub mod tokens;
pub mod translations;
pub mod users;
pub mod views;
pub mod workflows;
