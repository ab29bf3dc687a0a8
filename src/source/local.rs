//! Local sources: a directory walked recursively, or a single file.

use std::path::Path;

use crate::error::{Error, LoadError, LoadStage, Result};
use crate::filter::ScanFilter;
use crate::source::{Listing, Location, LogObject};

/// Lists `path` into `listing`. A missing path is an error; an unreadable subdirectory is a load
/// error and the rest is still listed.
pub async fn list(path: &Path, filter: &ScanFilter, listing: &mut Listing) -> Result<()> {
    let path = path.to_owned();
    let filter = filter.clone();
    let mut part = std::mem::take(listing);
    let part = tokio::task::spawn_blocking(move || -> Result<Listing> {
        walk(&path, &filter, &mut part)?;
        Ok(part)
    })
    .await
    .map_err(|e| Error::Usage(format!("listing thread failed: {e}")))??;
    *listing = part;
    Ok(())
}

fn walk(path: &Path, filter: &ScanFilter, listing: &mut Listing) -> Result<()> {
    let metadata = std::fs::metadata(path).map_err(|source| Error::ListLocal {
        path: path.display().to_string(),
        source,
    })?;
    if metadata.is_file() {
        let object = LogObject::new(
            Location::Local(path.to_owned()),
            path.display().to_string(),
            metadata.len(),
        );
        listing.offer(object, filter, true);
        return Ok(());
    }
    for entry in walkdir::WalkDir::new(path)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let log_file = e.path().unwrap_or(path).display().to_string();
                listing.errors.push(LoadError {
                    log_file,
                    stage: LoadStage::Fetch,
                    message: e.to_string(),
                });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let display = entry.path().display().to_string();
        listing.offer(
            LogObject::new(Location::Local(entry.into_path()), display, size),
            filter,
            false,
        );
    }
    Ok(())
}
