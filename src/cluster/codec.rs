//! How trailmap's tables and scan travel between a client, a Ballista scheduler and its
//! executors: logical and physical extension codecs wrapping Ballista's own.
//!
//! - A raw archive's `events` is sent with its listing ([`ArchiveSpec`]): the scheduler plans
//!   it without listing again, and each executor fetches and decodes the files of its tasks
//!   with its own credentials. Executors keep one [`Archive`] per listing ([`Archives`]), so
//!   their tasks share what they learn (the archive's application profiles).
//! - A warehouse's `events` is sent with its files; its scan is DataFusion's Parquet scan,
//!   which Ballista carries itself.
//! - Small in-memory tables (`regions`, a warehouse's `load_errors` and
//!   `application_profiles`) travel as Arrow IPC.
//!
//! A raw archive's `load_errors`, `application_profiles` and `integrity` are answered by the
//! process that reads the files; they cannot be sent, and a statement using them on a cluster
//! fails with an error that says so.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::bytes::Serializeable;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::{Deserialize, Serialize};

use crate::cluster::scan::{CloudTrailSource, ClusterEvents};
use crate::cluster::spec::{ArchiveSpec, ScanSpec, WarehouseSpec, malformed};
use crate::decode::pushdown::RecordFilter;
use crate::schema::Column;
use crate::table::archive::Archive;
use crate::table::events::EventsTable;
use crate::table::exec::EventsScanExec;
use crate::table::warehouse::{NoIntegrity, WarehouseEvents};

/// Marks trailmap's own encodings (Ballista's protobuf never starts with it).
const MAGIC: &[u8] = b"trailmap/1\0";

/// Listings an executor keeps (the most recent ones).
const KEPT_ARCHIVES: usize = 8;

/// A trailmap table or scan as sent: after [`MAGIC`], its JSON deflated (a listing's keys
/// share long prefixes: about 20 bytes an object travel), then any Arrow IPC bytes.
#[derive(Debug, Serialize, Deserialize)]
enum Node {
    RawEvents(ArchiveSpec),
    WarehouseEvents(WarehouseSpec),
    /// A `MemTable`; its batches follow as an Arrow IPC stream.
    Memory,
    NoIntegrity(String),
    Scan(ScanSpec),
}

fn encode(node: &Node, ipc: &[u8], buf: &mut Vec<u8>) -> Result<()> {
    let mut deflater = DeflateEncoder::new(Vec::new(), Compression::default());
    serde_json::to_writer(&mut deflater, node)
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let json = deflater.finish()?;
    let length = u32::try_from(json.len()).map_err(|_| malformed("description too large"))?;
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&length.to_le_bytes());
    buf.extend_from_slice(&json);
    buf.extend_from_slice(ipc);
    Ok(())
}

/// The node in `buf` and the bytes after it, if `buf` is one of trailmap's encodings.
fn decode(buf: &[u8]) -> Result<Option<(Node, &[u8])>> {
    let Some(rest) = buf.strip_prefix(MAGIC) else {
        return Ok(None);
    };
    let (length, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| malformed("truncated"))?;
    let length = u32::from_le_bytes(*length) as usize;
    if rest.len() < length {
        return Err(malformed("truncated"));
    }
    let (json, ipc) = rest.split_at(length);
    let node = serde_json::from_reader(DeflateDecoder::new(json)).map_err(malformed)?;
    Ok(Some((node, ipc)))
}

/// The archives this process has rebuilt from listings (with the listing, which a scheduler
/// sends on to the executors as it came), most recent last.
#[derive(Debug, Default)]
pub struct Archives {
    aws: Option<aws_config::SdkConfig>,
    kept: Mutex<VecDeque<(ArchiveSpec, Arc<Archive>)>>,
    /// This process's name in scan metrics (an executor's address).
    runner: Option<Arc<str>>,
}

impl Archives {
    /// Archives whose S3 objects are read with clients made from `aws` (`None`: a process that
    /// plans but reads nothing, the scheduler).
    pub fn new(aws: Option<aws_config::SdkConfig>) -> Self {
        Archives {
            aws,
            kept: Mutex::default(),
            runner: None,
        }
    }

    /// The same, counting the scan partitions this process runs under `name` (executors).
    pub fn run_by(self, name: &str) -> Self {
        Archives {
            runner: Some(Arc::from(name)),
            ..self
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, VecDeque<(ArchiveSpec, Arc<Archive>)>> {
        // A poisoned lock only means another thread panicked; the list stays valid.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The archive of `spec`: the one kept for its token, or a new one.
    fn archive(&self, spec: &ArchiveSpec) -> Result<Arc<Archive>> {
        let mut kept = self.kept();
        if let Some((_, archive)) = kept.iter().find(|(_, a)| a.token() == spec.token) {
            return Ok(Arc::clone(archive));
        }
        let archive = Arc::new(spec.to_archive(self.aws.as_ref())?);
        if kept.len() == KEPT_ARCHIVES {
            kept.pop_front();
        }
        kept.push_back((spec.clone(), Arc::clone(&archive)));
        Ok(archive)
    }

    /// The listing of `archive`: as it was received, if this process rebuilt it from one
    /// (its clients, which say the buckets' Regions, may not be here), else described now.
    fn spec(&self, archive: &Archive) -> ArchiveSpec {
        self.kept()
            .iter()
            .find(|(_, a)| a.token() == archive.token())
            .map(|(spec, _)| spec.clone())
            .unwrap_or_else(|| ArchiveSpec::from(archive))
    }
}

/// Ballista's logical codec, plus trailmap's tables.
#[derive(Debug)]
pub struct LogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
    archives: Arc<Archives>,
}

impl LogicalCodec {
    /// A codec rebuilding raw archives into `archives`.
    pub fn new(archives: Arc<Archives>) -> Self {
        LogicalCodec {
            ballista: BallistaLogicalExtensionCodec::default(),
            archives,
        }
    }
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let Some((node, ipc)) = decode(buf)? else {
            return self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        Ok(match node {
            Node::RawEvents(spec) => Arc::new(ClusterEvents::new(self.archives.archive(&spec)?)),
            Node::WarehouseEvents(spec) => Arc::new(spec.to_table()?),
            Node::Memory => Arc::new(memory_table(schema, ipc)?),
            Node::NoIntegrity(location) => Arc::new(NoIntegrity::new(location)),
            Node::Scan(_) => return Err(malformed(format!("table {table_ref}"))),
        })
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(events) = node.downcast_ref::<EventsTable>() {
            return encode(
                &Node::RawEvents(self.archives.spec(events.archive())),
                &[],
                buf,
            );
        }
        if let Some(events) = node.downcast_ref::<WarehouseEvents>() {
            return encode(
                &Node::WarehouseEvents(WarehouseSpec::from(events)),
                &[],
                buf,
            );
        }
        if let Some(table) = node.downcast_ref::<MemTable>() {
            return encode(&Node::Memory, &memory_ipc(table)?, buf);
        }
        if let Some(table) = node.downcast_ref::<NoIntegrity>() {
            return encode(&Node::NoIntegrity(table.location().to_owned()), &[], buf);
        }
        match self
            .ballista
            .try_encode_table_provider(table_ref, node, buf)
        {
            Ok(()) => Ok(()),
            Err(_) => Err(DataFusionError::NotImplemented(format!(
                "the {table_ref} table of a raw archive (or a warehouse's sessions) is answered by the process that reads the files and cannot run on a cluster: run this statement without --cluster, or ingest the archive into a warehouse (whose load_errors and application_profiles a cluster can read)"
            ))),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.ballista.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udf(node, buf)
    }
}

/// The file scan and its [`CloudTrailSource`], if `plan` is a scan of a raw archive.
fn cloudtrail_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<(&FileScanConfig, &CloudTrailSource)> {
    let exec = plan.downcast_ref::<DataSourceExec>()?;
    let source: &dyn std::any::Any = exec.data_source().as_ref();
    let config = source.downcast_ref::<FileScanConfig>()?;
    let file_source: &dyn std::any::Any = config.file_source().as_ref();
    Some((config, file_source.downcast_ref::<CloudTrailSource>()?))
}

/// A `MemTable`'s batches as an Arrow IPC stream.
fn memory_ipc(table: &MemTable) -> Result<Vec<u8>> {
    let mut ipc = Vec::new();
    let mut writer = StreamWriter::try_new(&mut ipc, &table.schema())?;
    for partition in &table.batches {
        let batches = partition
            .try_read()
            .map_err(|_| malformed("an in-memory table is being written"))?;
        for batch in batches.iter() {
            writer.write(batch)?;
        }
    }
    writer.finish()?;
    drop(writer);
    Ok(ipc)
}

/// The `MemTable` of an Arrow IPC stream.
fn memory_table(schema: SchemaRef, ipc: &[u8]) -> Result<MemTable> {
    let reader = StreamReader::try_new(std::io::Cursor::new(ipc), None)?;
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    MemTable::try_new(schema, vec![batches])
}

/// Ballista's physical codec, plus trailmap's scan of a raw archive.
#[derive(Debug)]
pub struct PhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
    archives: Arc<Archives>,
}

impl PhysicalCodec {
    /// A codec rebuilding raw archives into `archives`.
    pub fn new(archives: Arc<Archives>) -> Self {
        PhysicalCodec {
            ballista: BallistaPhysicalExtensionCodec::default(),
            archives,
        }
    }

    /// The scan `spec` describes.
    fn scan(&self, spec: &ScanSpec, ctx: &TaskContext) -> Result<EventsScanExec> {
        // A task's own files, with every profile known, make an archive of their own; a whole
        // listing is kept, so the tasks reading it share the profiles they search for.
        let archive = match spec.archive.has_all_profiles() {
            true => Arc::new(spec.archive.to_archive(self.archives.aws.as_ref())?),
            false => self.archives.archive(&spec.archive)?,
        };
        let by_name: std::collections::HashMap<&str, _> = archive
            .objects()
            .iter()
            .map(|o| (o.context.log_file.as_str(), o))
            .collect();
        let partitions = spec
            .partitions
            .iter()
            .map(|files| {
                files
                    .iter()
                    .map(|name| {
                        by_name
                            .get(name.as_str())
                            .map(|o| Arc::clone(o))
                            .ok_or_else(|| malformed(format!("file {name} is not in the listing")))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let columns = spec
            .columns
            .iter()
            .map(|name| {
                Column::ALL
                    .iter()
                    .find(|c| c.name() == name)
                    .copied()
                    .ok_or_else(|| malformed(format!("column {name}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let filters: Vec<Expr> = match &spec.filters {
            Some(bytes) => split_conjunction(&Expr::from_bytes_with_ctx(bytes, ctx)?)
                .into_iter()
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let mut plan = archive
            .decode_plan(columns)
            .with_record_filter(RecordFilter::of(&filters))
            .with_batch_size(spec.batch_size);
        if let Some(all) = archive.known_profiles() {
            plan = plan.with_all_profiles(all);
        }
        let scan = EventsScanExec::with_partitions(archive, partitions, plan).with_filters(filters);
        Ok(match &self.archives.runner {
            Some(runner) => scan.run_by(Arc::clone(runner)),
            None => scan,
        })
    }
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match decode(buf)? {
            Some((Node::Scan(spec), _)) => Ok(Arc::new(self.scan(&spec, ctx)?)),
            Some(_) => Err(malformed("a table where a scan was expected")),
            None => self.ballista.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some((config, source)) = cloudtrail_scan(&node) else {
            return self.ballista.try_encode(node, buf, proto_converter);
        };
        let filters = conjunction(source.filters().iter().cloned())
            .map(|f| f.to_bytes().map(|b| b.to_vec()))
            .transpose()?;
        let partitions: Vec<Vec<String>> = source
            .partitions(config)?
            .iter()
            .map(|files| files.iter().map(|f| f.context.log_file.clone()).collect())
            .collect();
        let archive = self.archives.spec(source.archive());
        // With every application profile known, a task needs no file but its own.
        let archive = match archive.has_all_profiles() {
            true => archive.only(partitions.iter().flatten().map(String::as_str)),
            false => archive,
        };
        let spec = ScanSpec {
            archive,
            partitions,
            columns: source
                .plan()
                .columns()
                .iter()
                .map(|c| c.name().to_owned())
                .collect(),
            batch_size: source.plan().batch_size(),
            filters,
        };
        encode(&Node::Scan(spec), &[], buf)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.ballista.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udf(node, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Fetcher, Location, LogObject};
    use crate::table::archive::ReadOptions;

    #[test]
    fn a_listing_travels_compressed() {
        let objects: Vec<Arc<LogObject>> = (0..10_000_u64)
            .map(|i| {
                let key = format!(
                    "AWSLogs/o-a1b2c3d4e5/11112222{:04}/CloudTrail/eu-west-1/2025/03/{:02}/11112222{:04}_CloudTrail_eu-west-1_202503{:02}T{:04}Z_{:016x}.json.gz",
                    i % 40,
                    i % 28 + 1,
                    i % 40,
                    i % 28 + 1,
                    i % 2400,
                    i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                );
                let location = Location::S3 {
                    bucket: "org-trail-logs".into(),
                    key: key.clone(),
                };
                Arc::new(
                    LogObject::new(location, format!("s3://org-trail-logs/{key}"), 4_000 + i)
                        .with_revision(Some(format!("\"{:032x}\"", u128::from(i) * 7919))),
                )
            })
            .collect();
        let archive =
            Archive::listed_elsewhere(objects, ReadOptions::default(), Fetcher::default(), 7);
        let archives = Archives::new(None);
        let mut buf = Vec::new();
        encode(&Node::RawEvents(archives.spec(&archive)), &[], &mut buf).unwrap();
        eprintln!("a listing of 10,000 objects: {} bytes", buf.len());
        assert!(buf.len() < 40 * 10_000, "{} bytes", buf.len());
        let Some((Node::RawEvents(spec), rest)) = decode(&buf).unwrap() else {
            panic!("not a raw archive");
        };
        assert!(rest.is_empty());
        let again = archives.archive(&spec).unwrap();
        assert_eq!(again.token(), 7);
        let names = |a: &Archive| -> Vec<(String, u64, Option<String>)> {
            let mut names: Vec<_> = a
                .objects()
                .iter()
                .map(|o| (o.context.log_file.clone(), o.size, o.revision.clone()))
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(&again), names(&archive));
        assert!(decode(b"not trailmap").unwrap().is_none());
    }
}
