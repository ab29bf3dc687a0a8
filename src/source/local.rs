//! Local sources: a directory walked recursively, or a single file.
//!
//! A file is listed once however it is reached: `-s data -s ./data`, a symlinked copy of a
//! directory, or a hard link all name the same file, recognised by its identity on disk
//! (device and inode on Unix, the canonical path elsewhere).

use std::fs::Metadata;
use std::path::Path;

use crate::error::{Error, LoadError, LoadStage, Result};
use crate::source::{Listing, Location, LogObject};

/// What makes two paths the same file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileIdentity {
    /// Device and inode.
    #[cfg(unix)]
    Inode(u64, u64),
    /// The canonical path (where inodes are not available, or the path cannot be resolved).
    Path(std::path::PathBuf),
}

impl FileIdentity {
    fn of(path: &Path, metadata: &Metadata) -> FileIdentity {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let _ = path;
            FileIdentity::Inode(metadata.dev(), metadata.ino())
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            FileIdentity::Path(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()))
        }
    }
}

/// Lists `path` into `listing`. A missing path is an error; an unreadable subdirectory is a load
/// error and the rest is still listed.
pub async fn list(path: &Path, listing: &mut Listing) -> Result<()> {
    let path = path.to_owned();
    let mut part = std::mem::take(listing);
    let part = tokio::task::spawn_blocking(move || -> Result<Listing> {
        walk(&path, &mut part)?;
        Ok(part)
    })
    .await
    .map_err(|e| Error::Internal(format!("the listing thread failed: {e}")))??;
    *listing = part;
    Ok(())
}

fn walk(path: &Path, listing: &mut Listing) -> Result<()> {
    let metadata = std::fs::metadata(path).map_err(|source| Error::ListLocal {
        path: path.display().to_string(),
        source,
    })?;
    if metadata.is_file() {
        offer(listing, path, &metadata, true);
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
                listing
                    .errors
                    .push(LoadError::new(log_file, LoadStage::Fetch, e.to_string()));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        match entry.metadata() {
            Ok(metadata) => offer(listing, entry.path(), &metadata, false),
            Err(e) => listing.errors.push(LoadError::new(
                entry.path().display().to_string(),
                LoadStage::Fetch,
                e.to_string(),
            )),
        }
    }
    Ok(())
}

/// Offers one file to the listing, unless the same file was listed already under another path.
fn offer(listing: &mut Listing, path: &Path, metadata: &Metadata, explicit: bool) {
    if !listing.local_files.insert(FileIdentity::of(path, metadata)) {
        tracing::debug!(file = %path.display(), "listed already under another path");
        return;
    }
    let object = LogObject::new(
        Location::Local(path.to_owned()),
        path.display().to_string(),
        metadata.len(),
    )
    .with_revision(modified_nanos(metadata));
    listing.offer(object, explicit);
}

/// A file's modification time in nanoseconds since the epoch, as text.
fn modified_nanos(metadata: &Metadata) -> Option<String> {
    let modified = metadata.modified().ok()?;
    let since_epoch = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(since_epoch.as_nanos().to_string())
}
