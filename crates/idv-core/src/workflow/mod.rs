//! The workflow model and engine (being written).
