//! Running trailmap on an Apache DataFusion Ballista cluster (`--features cluster`).
//!
//! `trailmap scheduler` and `trailmap executor` ([`process`]) are Ballista's processes with
//! trailmap's codecs ([`codec`]), functions and object stores ([`stores`]). A client given
//! `--cluster df://HOST:PORT` ([`connect`]) registers the same tables as a local session on a
//! Ballista context: statements are planned by the scheduler and run by the executors, which
//! fetch and decode the log files (or read the warehouse's Parquet files) themselves. The
//! client lists a raw archive once; the listing travels with the plan ([`spec`]).

pub mod codec;
pub mod jobs;
pub mod process;
pub mod scan;
pub mod spec;
pub mod stores;

use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};
use codec::Archives;

/// How long a client waits for the scheduler to accept a connection.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The scheduler's address in `url` (`df://HOST:PORT`), checked.
pub fn scheduler_url(url: &str) -> Result<String> {
    let invalid = |reason: &str| Error::Cluster(format!("--cluster {url:?}: {reason}"));
    let rest = url
        .strip_prefix("df://")
        .ok_or_else(|| invalid("expected df://HOST:PORT, e.g. df://scheduler:50050"))?;
    let (host, port) = rest
        .trim_end_matches('/')
        .rsplit_once(':')
        .ok_or_else(|| invalid("expected df://HOST:PORT, e.g. df://scheduler:50050"))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(invalid(
            "expected df://HOST:PORT, e.g. df://scheduler:50050",
        ));
    }
    Ok(format!("df://{host}:{port}"))
}

/// A DataFusion context whose statements run on the cluster at `url` (`df://HOST:PORT`).
pub async fn connect(url: &str) -> Result<SessionContext> {
    let url = scheduler_url(url)?;
    // Ballista connects on the first statement; a scheduler that is not there is said now.
    let address = url.trim_start_matches("df://");
    let reached = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address));
    match reached.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(Error::Cluster(format!(
                "cannot reach the scheduler at {url}: {e}"
            )));
        }
        Err(_) => {
            return Err(Error::Cluster(format!(
                "cannot reach the scheduler at {url}: no answer in {} s",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
    }
    let archives = Arc::new(Archives::new(None));
    let state = SessionStateBuilder::new()
        .with_config(process::cluster_config(&archives))
        .with_default_features()
        .build();
    SessionContext::remote_with_state(&url, state)
        .await
        .map_err(|e| Error::Cluster(format!("cannot reach the scheduler at {url}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::scheduler_url;

    #[test]
    fn cluster_urls() {
        assert_eq!(scheduler_url("df://s:50050").unwrap(), "df://s:50050");
        assert_eq!(
            scheduler_url("df://10.0.0.1:7/").unwrap(),
            "df://10.0.0.1:7"
        );
        for bad in ["s:50050", "df://s", "df://:1", "df://s:x", "http://s:1"] {
            assert!(scheduler_url(bad).is_err(), "{bad}");
        }
    }
}
