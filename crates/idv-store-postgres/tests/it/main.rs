//! Integration tests of idv-store-postgres: one binary, a module per area.

mod conformance;
mod counts;
mod search_plan;
mod session_writes;
