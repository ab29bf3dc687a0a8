//! A local warehouse's object store: object_store's local file system, except that a "create
//! if absent" PUT (how a Delta commit is made) writes the whole file and `fsync`s it before
//! linking it into place, then `fsync`s its folder. A commit is then either absent or
//! complete and durable, never visible with content a power loss could take back.

use std::fmt;
use std::io::Write;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

/// The store's name in errors.
const STORE: &str = "LocalFileSystem";

/// The local file system, with durable "create if absent" PUTs.
#[derive(Debug, Default)]
pub struct DurableLocal {
    inner: LocalFileSystem,
}

impl DurableLocal {
    /// The whole local file system.
    pub fn new() -> Self {
        DurableLocal::default()
    }
}

impl fmt::Display for DurableLocal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DurableLocal({})", self.inner)
    }
}

/// `fsync`s each file of `paths`, then each folder from the one holding it up to `root`
/// (folders a run created, such as a new `log_date=` folder, are entries of their parents).
pub fn sync_files(root: &std::path::Path, paths: &[std::path::PathBuf]) -> std::io::Result<()> {
    let mut folders = std::collections::BTreeSet::new();
    for path in paths {
        std::fs::File::open(path)?.sync_all()?;
        let mut folder = path.parent();
        while let Some(inside) = folder.filter(|f| f.starts_with(root)) {
            folders.insert(inside.to_owned());
            folder = inside.parent();
        }
    }
    for folder in folders {
        std::fs::File::open(folder)?.sync_all()?;
    }
    Ok(())
}

/// Creates `target` with `bytes` unless it exists: written and `fsync`ed under a staging name
/// in the same folder, hard-linked to `target` (which fails if it exists), then the folder is
/// `fsync`ed. The staging file is removed in every case.
fn create_durably(target: &std::path::Path, bytes: &[u8]) -> std::io::Result<bool> {
    let folder = target
        .parent()
        .ok_or_else(|| std::io::Error::other("a file without a folder"))?;
    let new_folder = !folder.is_dir();
    std::fs::create_dir_all(folder)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = folder.join(format!(".{name}.{}.staging", uuid::Uuid::new_v4()));
    let linked = (|| {
        let mut file = std::fs::File::create_new(&staging)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        crate::failpoint::hit("commit-staged");
        match std::fs::hard_link(&staging, target) {
            Ok(()) => {
                crate::failpoint::hit("commit-linked");
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    })();
    let removed = std::fs::remove_file(&staging);
    let linked = linked?;
    removed?;
    std::fs::File::open(folder)?.sync_all()?;
    if let (true, Some(parent)) = (new_folder, folder.parent()) {
        // The folder itself (`_delta_log/` of a new table) is an entry of its parent.
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(linked)
}

#[async_trait]
impl ObjectStore for DurableLocal {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        options: PutOptions,
    ) -> object_store::Result<PutResult> {
        if !matches!(options.mode, PutMode::Create) {
            return self.inner.put_opts(location, payload, options).await;
        }
        let target = self.inner.path_to_filesystem(location)?;
        let bytes = bytes::Bytes::from(payload);
        let path = location.to_string();
        let created = tokio::task::spawn_blocking(move || create_durably(&target, &bytes))
            .await
            .map_err(|e| object_store::Error::Generic {
                store: STORE,
                source: Box::new(e),
            })?;
        match created {
            Ok(true) => Ok(PutResult {
                e_tag: None,
                version: None,
            }),
            Ok(false) => Err(object_store::Error::AlreadyExists {
                path,
                source: "the file exists".into(),
            }),
            Err(e) => Err(object_store::Error::Generic {
                store: STORE,
                source: Box::new(e),
            }),
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        options: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, options).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;

    #[tokio::test]
    async fn a_second_create_fails_and_leaves_the_first_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = DurableLocal::new();
        let path = Path::from_filesystem_path(dir.path())
            .unwrap()
            .join("_delta_log")
            .join("0.json");
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        store
            .put_opts(&path, PutPayload::from("first"), create.clone())
            .await
            .unwrap();
        let again = store
            .put_opts(&path, PutPayload::from("second"), create)
            .await;
        assert!(matches!(
            again,
            Err(object_store::Error::AlreadyExists { .. })
        ));
        let got = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"first");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("_delta_log"))
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1, "no staging file is left");
    }
}
