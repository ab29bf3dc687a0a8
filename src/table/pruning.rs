//! A scan's SQL filters → which of the listed files it reads, by
//! [`crate::layout::pruning::KeyPredicate`].

use std::sync::Arc;

use chrono::Duration;
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::logical_expr::Expr;

use crate::layout::pruning::KeyPredicate;
use crate::source::LogObject;

/// The files that may hold rows matching `filters`, a file's events being up to `margin` older
/// than its delivery.
pub fn prune(
    objects: &[Arc<LogObject>],
    filters: &[Expr],
    margin: Duration,
    session: &dyn Session,
) -> Result<Vec<Arc<LogObject>>> {
    let Some(predicate) = KeyPredicate::new(filters, margin, session)? else {
        return Ok(objects.to_vec());
    };
    let keep = predicate.keep_keys(objects.iter().map(|o| o.key()));
    let kept: Vec<_> = objects
        .iter()
        .zip(keep)
        .filter(|(_, keep)| *keep)
        .map(|(object, _)| Arc::clone(object))
        .collect();
    tracing::debug!(
        listed = objects.len(),
        kept = kept.len(),
        "pruned files by SQL filters"
    );
    Ok(kept)
}
