//! Object stores of a cluster process: DataFusion's (local files), plus one S3 store per bucket
//! a warehouse scan names, made on first use with the process's own AWS configuration.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use url::Url;

use crate::source::aws::s3_client;
use crate::warehouse::s3::S3Store;

/// DataFusion's object stores, plus S3 buckets reached through trailmap's S3 client.
#[derive(Debug)]
pub struct ClusterStores {
    known: DefaultObjectStoreRegistry,
    aws: aws_config::SdkConfig,
}

impl ClusterStores {
    /// Stores whose S3 buckets are read with `aws` (credentials and Region of the process).
    pub fn new(aws: aws_config::SdkConfig) -> Self {
        ClusterStores {
            known: DefaultObjectStoreRegistry::new(),
            aws,
        }
    }
}

impl ObjectStoreRegistry for ClusterStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        match (url.scheme(), url.host_str()) {
            ("s3", Some(bucket)) => {
                let store: Arc<dyn ObjectStore> =
                    Arc::new(S3Store::new(s3_client(&self.aws, None), bucket.to_owned()));
                self.known.register_store(url, Arc::clone(&store));
                Ok(store)
            }
            _ => self.known.get_store(url),
        }
    }
}
