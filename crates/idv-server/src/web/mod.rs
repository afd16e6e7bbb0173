//! Pages for the person being verified: server-rendered HTML, no script.

pub(crate) mod notice;
