//! Integration tests of idv-store-sqlite: one binary, a module per area.

mod conformance;
mod relative_url;
mod search_plan;
