//! idv store adapter for sqlite (being written).
