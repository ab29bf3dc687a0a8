//! Named points of the warehouse's commit path where a test stops the process dead.
//!
//! Built with the cargo feature `failpoints` (the test suite's `--all-features`), a run with
//! `TRAILMAP_FAILPOINT=NAME` aborts the moment it reaches point NAME (`NAME@N`: the N-th time
//! it reaches it), as a SIGKILL or a power loss would stop it there: no destructor runs,
//! nothing is flushed. `NAME:pause=MS` waits there instead, so that a test can make another
//! run commit meanwhile. Without the feature every point is an empty function.

/// Every point, in the order a run reaches them.
pub const POINTS: &[&str] = &[
    "table-created",
    "files-written",
    "files-durable",
    "commit-staged",
    "commit-linked",
    "committed",
];

/// Aborts the process (or pauses it) if `TRAILMAP_FAILPOINT` names `point` (and this is the
/// time it says).
#[cfg(feature = "failpoints")]
pub fn hit(point: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static REACHED: AtomicUsize = AtomicUsize::new(0);
    let Ok(chosen) = std::env::var("TRAILMAP_FAILPOINT") else {
        return;
    };
    let (chosen, pause) = match chosen.split_once(":pause=") {
        Some((chosen, ms)) => (chosen.to_owned(), ms.parse::<u64>().ok()),
        None => (chosen, None),
    };
    let (name, time) = match chosen.split_once('@') {
        Some((name, n)) => (name, n.parse().unwrap_or(1)),
        None => (chosen.as_str(), 1),
    };
    if name != point || REACHED.fetch_add(1, Ordering::SeqCst) + 1 != time {
        return;
    }
    match pause {
        Some(ms) => std::thread::sleep(std::time::Duration::from_millis(ms)),
        None => std::process::abort(),
    }
}

/// Does nothing (built without the `failpoints` feature).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_point: &str) {}
