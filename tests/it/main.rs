//! Integration tests (one binary; the modules share `tests/common`).

#[path = "../common/mod.rs"]
mod common;
mod demo;
mod frictions;
