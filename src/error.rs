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
    Policy(#[from] crate::audit::policy::PolicyError),
    /// Arrow failed building a result.
    #[error("{0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A usage problem the user must fix (e.g. binary output to a terminal).
    #[error("{0}")]
    Usage(String),
    /// Nothing was read, so nothing can be concluded (an audit over no evidence).
    #[error("no evidence: {0}")]
    NoEvidence(String),
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

/// How far reading a file got before it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LoadStage {
    /// Reading the bytes (local I/O or S3 GET).
    Fetch,
    /// Inflating gzip.
    Gunzip,
    /// Parsing JSON.
    Json,
    /// Valid JSON, but not a CloudTrail log (`{"Records": [...]}` of objects).
    Schema,
}

impl LoadStage {
    /// The name used in `load_errors.stage`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadStage::Fetch => "fetch",
            LoadStage::Gunzip => "gunzip",
            LoadStage::Json => "json",
            LoadStage::Schema => "schema",
        }
    }
}

impl fmt::Display for LoadStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one file's contents could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct DecodeError {
    /// Where it failed.
    pub stage: LoadStage,
    /// What was wrong.
    pub message: String,
}

impl DecodeError {
    /// A decode error at `stage`.
    pub fn new(stage: LoadStage, message: impl Into<String>) -> Self {
        DecodeError {
            stage,
            message: message.into(),
        }
    }
}

/// One file that could not be read: a row of `load_errors`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoadError {
    /// The file (local path or `s3://bucket/key`).
    pub log_file: String,
    /// Where reading failed.
    pub stage: LoadStage,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.log_file, self.stage, self.message)
    }
}
