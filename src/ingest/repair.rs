//! Rows already in the warehouse that call an application profile unknown when they were
//! written, or use credentials whose issuing STS event was not known yet: a later run that
//! learns the profile (its `CreateInferenceProfile` event, or `--profiles`) or the session (its
//! STS event, delivered late or listed by a later run) rewrites their days with them resolved,
//! as a read of the raw archive would.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Date32Type;
use datafusion::logical_expr::{col, lit};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::bedrock::APPLICATION_SCOPE;
use crate::decode::profiles::ProfileMap;
use crate::decode::sessions::SessionTags;
use crate::decode::{Pending, resolve_pending};
use crate::error::{Error, Result};
use crate::schema::{Column, events_schema};

/// What a run learned that rows written before may lack: application profiles, and the session
/// tags of access keys.
#[derive(Debug, Clone, Default)]
pub struct Learned {
    /// Application profiles.
    pub profiles: Arc<ProfileMap>,
    /// Session tags of keys whose issuing events (or a chain's) were not known before.
    pub sessions: Arc<SessionTags>,
}

impl From<ProfileMap> for Learned {
    /// Profiles learned, no session.
    fn from(profiles: ProfileMap) -> Self {
        Learned {
            profiles: Arc::new(profiles),
            sessions: Arc::default(),
        }
    }
}

impl Learned {
    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty() && self.sessions.is_empty()
    }
}

/// The days among `files` (URLs) holding rows written unresolved that call a profile, or use
/// a key, of `learned`.
pub async fn days_to_repair(
    ctx: &SessionContext,
    files: Vec<String>,
    learned: &Learned,
) -> Result<BTreeSet<Option<NaiveDate>>> {
    if files.is_empty() || learned.is_empty() {
        return Ok(BTreeSet::new());
    }
    let arns: Vec<_> = learned
        .profiles
        .iter()
        .map(|p| lit(p.arn.clone()))
        .collect();
    let keys: Vec<_> = learned.sessions.keys().map(lit).collect();
    let calls = (!arns.is_empty())
        .then(|| unresolved().and(col(Column::ModelId.name()).in_list(arns, false)));
    let uses = (!keys.is_empty()).then(|| {
        col(Column::SessionTags.name())
            .is_null()
            .and(col(Column::AccessKeyId.name()).in_list(keys, false))
    });
    let Some(written_unresolved) = calls.into_iter().chain(uses).reduce(|a, b| a.or(b)) else {
        return Ok(BTreeSet::new());
    };
    let schema = events_schema();
    let batches = ctx
        .read_parquet(files, ParquetReadOptions::default().schema(&schema))
        .await?
        .filter(written_unresolved)?
        .select_columns(&[Column::LogDate.name()])?
        .distinct()?
        .collect()
        .await?;
    let mut days = BTreeSet::new();
    for batch in &batches {
        let dates = batch.column(0).as_primitive::<Date32Type>();
        for i in 0..dates.len() {
            days.insert(dates.is_valid(i).then(|| dates.value_as_date(i)).flatten());
        }
    }
    Ok(days)
}

/// Rows of an application profile written without it: no model and no routing scope.
fn unresolved() -> datafusion::logical_expr::Expr {
    col(Column::ProfileScope.name())
        .eq(lit(APPLICATION_SCOPE))
        .and(col(Column::Model.name()).is_null())
        .and(col(Column::RoutingScope.name()).is_null())
}

/// `batch` (every column of `events`) with its rows written unresolved resolved through
/// `learned`: profiles ([`resolve_profiles_written`]) and session tags.
pub fn resolve_written(batch: &RecordBatch, learned: &Learned) -> Result<RecordBatch> {
    let batch = resolve_profiles_written(batch, &learned.profiles)?;
    resolve_sessions_written(&batch, &learned.sessions)
}

/// `batch` with the `session_tags` its rows lack filled in where `sessions` knows their key.
fn resolve_sessions_written(batch: &RecordBatch, sessions: &SessionTags) -> Result<RecordBatch> {
    if sessions.is_empty() {
        return Ok(batch.clone());
    }
    let text = |column: Column| {
        batch
            .column_by_name(column.name())
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| Error::Internal(format!("a warehouse batch without {}", column.name())))
    };
    let (tags, keys) = (text(Column::SessionTags)?, text(Column::AccessKeyId)?);
    let filled: datafusion::arrow::array::StringArray = (0..batch.num_rows())
        .map(|row| match tags.is_valid(row) {
            true => Some(tags.value(row)),
            false => keys
                .is_valid(row)
                .then(|| sessions.get(keys.value(row)))
                .flatten(),
        })
        .collect();
    let index = batch
        .schema()
        .index_of(Column::SessionTags.name())
        .map_err(|e| Error::Internal(e.to_string()))?;
    let mut columns = batch.columns().to_vec();
    columns[index] = Arc::new(filled);
    RecordBatch::try_new(batch.schema(), columns)
        .map_err(|e| Error::Internal(format!("resolving session tags already written: {e}")))
}

/// `batch` (every column of `events`) with its rows that call a profile of `profiles` but were
/// written without it resolved, as the decoder resolves rows whose profile it learns late
/// ([`resolve_pending`]): grouped by profile, source Region and whether they log a served Region.
fn resolve_profiles_written(
    batch: &RecordBatch,
    profiles: &Arc<ProfileMap>,
) -> Result<RecordBatch> {
    let text = |column: Column| {
        batch
            .column_by_name(column.name())
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| Error::Internal(format!("a warehouse batch without {}", column.name())))
    };
    let (model_id, model, profile_scope) = (
        text(Column::ModelId)?,
        text(Column::Model)?,
        text(Column::ProfileScope)?,
    );
    let (routing_scope, aws_region, inference_region) = (
        text(Column::RoutingScope)?,
        text(Column::AwsRegion)?,
        text(Column::InferenceRegion)?,
    );
    let mut groups: BTreeMap<(&str, Option<&str>, bool), Vec<u32>> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        let written_unresolved = profile_scope.is_valid(row)
            && profile_scope.value(row) == APPLICATION_SCOPE
            && model.is_null(row)
            && routing_scope.is_null(row);
        if !written_unresolved || model_id.is_null(row) {
            continue;
        }
        let arn = model_id.value(row);
        if profiles.get(arn).is_none() {
            continue;
        }
        let region = aws_region.is_valid(row).then(|| aws_region.value(row));
        let served = inference_region.is_null(row);
        groups
            .entry((arn, region, served))
            .or_default()
            .push(row as u32);
    }
    if groups.is_empty() {
        return Ok(batch.clone());
    }
    let pending: Vec<Pending> = groups
        .into_iter()
        .map(|((arn, region, served), rows)| Pending {
            rows,
            arn: arn.to_owned(),
            aws_region: region.map(str::to_owned),
            served,
        })
        .collect();
    resolve_pending(batch, Column::ALL, &pending, profiles)
        .map_err(|e| Error::Internal(format!("resolving rows already written: {e}")))
}
