//! The integration tests in one binary (modules below).

#[path = "../common/mod.rs"]
mod common;
mod notify_more;
