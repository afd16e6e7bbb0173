//! idv server (being written).
