//! The `regions` reference table and the `geography(region)` SQL function.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

use crate::regions::{REGIONS, Region, geography};
use crate::schema::REGIONS_COLUMNS;

/// The schema of the `regions` table.
pub fn regions_schema() -> SchemaRef {
    let fields: Vec<Field> = REGIONS_COLUMNS
        .iter()
        .map(|c| Field::new(c.name, DataType::Utf8, false))
        .collect();
    Arc::new(Schema::new(fields))
}

/// The `regions` table: one row per known Region.
pub fn regions_table() -> Result<MemTable> {
    let schema = regions_schema();
    let column = |f: fn(&Region) -> &'static str| -> ArrayRef {
        Arc::new(REGIONS.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            column(|r| r.code),
            column(|r| r.geography),
            column(|r| r.country),
            column(|r| r.name),
            column(|r| r.partition),
        ],
    )?;
    MemTable::try_new(schema, vec![vec![batch]])
}

/// `geography(region)`: the broad residency area of a Region code, null if unknown.
pub fn geography_udf() -> ScalarUDF {
    create_udf(
        "geography",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let [arg] = args else {
                return exec_err!("geography() takes one argument, a Region code");
            };
            Ok(match arg {
                ColumnarValue::Scalar(ScalarValue::Utf8(region)) => ColumnarValue::Scalar(
                    ScalarValue::Utf8(region.as_deref().and_then(geography).map(str::to_owned)),
                ),
                ColumnarValue::Scalar(other) => {
                    return exec_err!("geography() expects a text Region code, got {other:?}");
                }
                ColumnarValue::Array(array) => {
                    let regions = array.as_string::<i32>();
                    let geographies: StringArray = (0..regions.len())
                        .map(|i| {
                            regions
                                .is_valid(i)
                                .then(|| regions.value(i))
                                .and_then(geography)
                        })
                        .collect();
                    ColumnarValue::Array(Arc::new(geographies))
                }
            })
        }),
    )
}
