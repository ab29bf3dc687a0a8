//! The library's error type, and the record of a file that could not be read.

use std::fmt;

use datafusion::error::DataFusionError;

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a trailmap command. Per-file read failures are not errors of the
/// command: they are [`LoadError`]s, collected in `load_errors` while the rest is read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `-s` value that names no usable source.
    #[error("invalid source {spec:?}: {reason}")]
    InvalidSource {
        /// The value as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A local source that cannot be listed.
    #[error("cannot read source {path}: {source}")]
    ListLocal {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `--from` / `--to` value that is not a date or time.
    #[error(
        "invalid date or time {value:?}: expected YYYY-MM-DD or an RFC 3339 time such as 2025-03-01T12:00:00Z"
    )]
    InvalidTime {
        /// The value as given.
        value: String,
    },
    /// Filters that contradict each other.
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    /// A bare word that is not a named query.
    #[error("unknown named query {name:?}; known queries: {known}")]
    UnknownQuery {
        /// The word as given.
        name: String,
        /// Comma-separated known names.
        known: String,
    },
    /// A statement that would write or change state.
    #[error("only read statements (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE) run in trailmap: {0}")]
    NotReadOnly(String),
    /// SQL that DataFusion rejected, or a failure while executing it. The message is already
    /// the innermost cause, so no source is chained.
    #[error("{}", describe_datafusion(.0))]
    DataFusion(DataFusionError),
    /// Writing output failed.
    #[error("cannot write {target}: {source}")]
    Output {
        /// What was being written (a path or "stdout").
        target: String,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A residency policy that cannot be used.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Arrow failed building a result.
    #[error("{0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A usage problem the user must fix (e.g. binary output to a terminal).
    #[error("{0}")]
    Usage(String),
    /// Nothing was read, so nothing can be concluded (an audit over no evidence).
    #[error("no evidence: {0}")]
    NoEvidence(String),
    /// Public or signing keys for digest verification that cannot be used.
    #[error("cannot use keys from {origin}: {reason}")]
    Keys {
        /// Where the keys came from (a file, or the CloudTrail API in a Region).
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A Ballista cluster that cannot be used (`--cluster`, `trailmap scheduler`, `executor`).
    #[error("cluster: {0}")]
    Cluster(String),
    /// A Parquet warehouse that cannot be read or written.
    #[error("warehouse {location}: {reason}")]
    Warehouse {
        /// The warehouse (a directory or `s3://bucket/prefix`).
        location: String,
        /// What went wrong.
        reason: String,
    },
    /// A broken invariant of trailmap itself (a bug), with what broke.
    #[error("internal error (please report): {0}")]
    Internal(String),
}

impl From<DataFusionError> for Error {
    fn from(err: DataFusionError) -> Self {
        Error::DataFusion(err)
    }
}

/// DataFusion's innermost message, on one line, with a hint where one helps.
fn describe_datafusion(err: &DataFusionError) -> String {
    use datafusion::sql::sqlparser::parser::ParserError;
    match err.find_root() {
        DataFusionError::External(inner) => inner.to_string(),
        DataFusionError::SQL(parser, _) => match parser.as_ref() {
            ParserError::ParserError(m) | ParserError::TokenizerError(m) => {
                format!("invalid SQL: {m}")
            }
            other => format!("invalid SQL: {other}"),
        },
        root => {
            let message = root.to_string();
            let first_line = message.lines().next().unwrap_or_default().to_owned();
            if first_line.contains("No field named")
                || first_line.contains("table") && first_line.contains("not found")
            {
                format!("{first_line} (`trailmap schema` lists the tables and columns)")
            } else {
                first_line
            }
        }
    }
}

/// A policy that could not be used, with the rule and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {reason}")]
    Read {
        /// The policy path.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// TOML syntax or an unknown / mistyped key.
    #[error("invalid policy {path}: {reason}")]
    Syntax {
        /// The policy path.
        path: String,
        /// What the TOML parser said (with line and column).
        reason: String,
    },
    /// A rule that parses but makes no sense.
    #[error("policy rule {rule:?}: {reason}")]
    Rule {
        /// The rule's name (or its position when it has none).
        rule: String,
        /// What to fix.
        reason: String,
    },
}

/// A boxed error from a library trailmap calls (the AWS SDK, serde_json, flate2, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How far reading a file got before it failed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LoadStage {
    /// Reading the bytes (local I/O or S3 GET).
    Fetch,
    /// Inflating gzip.
    Gunzip,
    /// Parsing JSON.
    Json,
    /// Valid JSON, but not a CloudTrail log (`{"Records": [...]}` of objects).
    Schema,
    /// A warehouse's object that changed at its source since it was ingested (another size or
    /// ETag): the warehouse holds what was read then.
    Changed,
}

impl LoadStage {
    /// The name used in `load_errors.stage`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadStage::Fetch => "fetch",
            LoadStage::Gunzip => "gunzip",
            LoadStage::Json => "json",
            LoadStage::Schema => "schema",
            LoadStage::Changed => "changed",
        }
    }
}

impl fmt::Display for LoadStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one file's contents could not be decoded, as the decoder sees it (without the file).
#[derive(Debug, thiserror::Error)]
#[error("{stage}{}: {source}", at_record(*.record_index))]
pub struct DecodeError {
    /// Where it failed.
    pub stage: LoadStage,
    /// Index (from 0) of the first record of `Records` that could not be decoded, when the
    /// failure is in one record.
    pub record_index: Option<u64>,
    /// What was wrong.
    pub source: BoxError,
}

fn at_record(index: Option<u64>) -> String {
    index.map_or_else(String::new, |i| format!(" at record {i}"))
}

impl DecodeError {
    /// A decode error at `stage`, not tied to one record.
    pub fn new(stage: LoadStage, source: impl Into<BoxError>) -> Self {
        DecodeError {
            stage,
            record_index: None,
            source: source.into(),
        }
    }

    /// A refusal of the memory pool, while building a batch.
    pub fn out_of_memory(refusal: datafusion::error::DataFusionError) -> Self {
        DecodeError::new(LoadStage::Schema, OutOfMemory(refusal))
    }

    /// Whether this is a refusal of the memory pool rather than something wrong in the file.
    pub fn is_out_of_memory(&self) -> bool {
        self.source.is::<OutOfMemory>()
    }

    /// The same error, tied to the record of index `index` (when `Some`).
    pub fn at_record(self, index: Option<usize>) -> Self {
        DecodeError {
            record_index: index.map(|i| i as u64).or(self.record_index),
            ..self
        }
    }
}

/// The memory pool refused room for decoded rows.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OutOfMemory(pub datafusion::error::DataFusionError);

/// Why one file could not be read, with the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// An S3 GET failed (after the SDK's retries), or its body was cut off every time.
    #[error("cannot get s3://{bucket}/{key}: {source}")]
    Fetch {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// The SDK's error, with its context.
        source: BoxError,
    },
    /// A local file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadLocal {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The memory pool (`--memory-limit`) had no room for a file's rows: a failure of the
    /// query, not of the file, so never a load error.
    #[error(
        "{file}: the memory limit (--memory-limit) leaves no room for its rows: {source}; raise the limit, select fewer columns or filter more"
    )]
    OutOfMemory {
        /// The file (local path or `s3://bucket/key`).
        file: String,
        /// The pool's refusal.
        source: BoxError,
    },
    /// The bytes are not a readable CloudTrail log file.
    #[error("{file} ({stage}{}): {source}", at_record(*.record_index))]
    Decode {
        /// The file (local path or `s3://bucket/key`).
        file: String,
        /// Index of the first record that could not be decoded, when known.
        record_index: Option<u64>,
        /// How far decoding got.
        stage: LoadStage,
        /// What was wrong.
        source: BoxError,
    },
}

impl FileError {
    /// The decode error `error` of `file`.
    pub fn decode(file: &str, error: DecodeError) -> Self {
        if error.is_out_of_memory() {
            return FileError::OutOfMemory {
                file: file.to_owned(),
                source: error.source,
            };
        }
        FileError::Decode {
            file: file.to_owned(),
            record_index: error.record_index,
            stage: error.stage,
            source: error.source,
        }
    }
}

/// One file that could not be read: a row of `load_errors`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct LoadError {
    /// The file (local path or `s3://bucket/key`).
    pub log_file: String,
    /// Where reading failed.
    pub stage: LoadStage,
    /// What was wrong.
    pub message: String,
    /// Index of the first record that could not be decoded, when known.
    pub record_index: Option<u64>,
}

impl LoadError {
    /// A load error of `log_file` at `stage`, not tied to one record.
    pub fn new(log_file: String, stage: LoadStage, message: impl Into<String>) -> Self {
        LoadError {
            log_file,
            stage,
            message: message.into(),
            record_index: None,
        }
    }

    /// The row of `load_errors` for a file that failed with `error`, named `log_file`.
    pub fn of_file(log_file: String, error: &FileError) -> Self {
        match error {
            FileError::Fetch { source, .. } => {
                LoadError::new(log_file, LoadStage::Fetch, source.to_string())
            }
            FileError::ReadLocal { source, .. } => {
                LoadError::new(log_file, LoadStage::Fetch, source.to_string())
            }
            // Not a fault of the file: the scan fails the query instead (see `Archive::read`).
            FileError::OutOfMemory { source, .. } => {
                LoadError::new(log_file, LoadStage::Schema, source.to_string())
            }
            FileError::Decode {
                record_index,
                stage,
                source,
                ..
            } => LoadError {
                log_file,
                stage: *stage,
                message: source.to_string(),
                record_index: *record_index,
            },
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}{}): {}",
            self.log_file,
            self.stage,
            at_record(self.record_index),
            self.message
        )
    }
}
