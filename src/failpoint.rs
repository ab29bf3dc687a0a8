//! Named points of the warehouse's commit path where a test stops the process dead.
//!
//! Built with the cargo feature `failpoints` (the test suite's `--all-features`), a run with
//! `TRAILMAP_FAILPOINT=NAME` aborts the moment it reaches point NAME, as a SIGKILL or a power
//! loss would stop it there: no destructor runs, nothing is flushed. Without the feature every
//! point is an empty function.

/// Every point, in the order a run reaches them.
pub const POINTS: &[&str] = &[
    "table-created",
    "files-written",
    "files-durable",
    "commit-staged",
    "commit-linked",
    "committed",
];

/// Aborts the process if `TRAILMAP_FAILPOINT` names `point`.
#[cfg(feature = "failpoints")]
pub fn hit(point: &str) {
    if std::env::var("TRAILMAP_FAILPOINT").is_ok_and(|chosen| chosen == point) {
        std::process::abort();
    }
}

/// Does nothing (built without the `failpoints` feature).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_point: &str) {}
