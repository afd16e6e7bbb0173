//! Integration tests of idv-core: one binary, a module per area.

mod fuzz;
mod search_fuzz;
