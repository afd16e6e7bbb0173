//! Request and response bodies: common.
