//! idv store adapter for postgres (being written).
