//! trailmap's integration tests, linked into one test binary (one link of DataFusion and the AWS
//! SDKs instead of one per file; run one group with e.g. `cargo test --test suite s3::`).

mod common;

mod attribution;
mod audit;
mod bad_input;
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod correctness;
mod coverage;
mod docs;
mod evidence;
mod fail_closed;
mod independent_chain;
mod published;
mod report;
mod s3;
mod shell;
mod surfaces;
mod terminal;
mod trail;
mod verify;
mod warehouse;
