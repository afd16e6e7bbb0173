//! Request and response bodies: workflows.
