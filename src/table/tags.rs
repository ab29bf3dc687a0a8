//! The `session_tag(session_tags, key)` SQL function: the value of one session tag, its key
//! matched without regard to case as IAM matches tag keys (`Team` and `team` are one key).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

use crate::decode::sessions::Tags;

/// The value of the tag `key` (any case) in a `session_tags` JSON text; null when the text is
/// null, not a JSON object of texts, or has no such key.
pub fn session_tag(session_tags: &str, key: &str) -> Option<String> {
    let tags: Tags = serde_json::from_str(session_tags).ok()?;
    tags.into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, value)| value)
}

/// `session_tag(session_tags, key)`.
pub fn session_tag_udf() -> ScalarUDF {
    create_udf(
        "session_tag",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let [tags, key] = args else {
                return exec_err!("session_tag() takes two arguments: session_tags and a tag key");
            };
            let rows = args
                .iter()
                .find_map(|a| match a {
                    ColumnarValue::Array(array) => Some(array.len()),
                    ColumnarValue::Scalar(_) => None,
                })
                .unwrap_or(1);
            let (tags, key) = (tags.to_array(rows)?, key.to_array(rows)?);
            let (tags, key) = (text(&tags)?, text(&key)?);
            let values: StringArray = (0..rows)
                .map(|i| {
                    let tags = tags.is_valid(i).then(|| tags.value(i))?;
                    let key = key.is_valid(i).then(|| key.value(i))?;
                    session_tag(tags, key)
                })
                .collect();
            Ok(
                match args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
                    true => ColumnarValue::Scalar(ScalarValue::try_from_array(&values, 0)?),
                    false => ColumnarValue::Array(Arc::new(values)),
                },
            )
        }),
    )
}

fn text(array: &ArrayRef) -> datafusion::common::Result<&StringArray> {
    match array.as_string_opt::<i32>() {
        Some(text) => Ok(text),
        None => exec_err!("session_tag() expects text arguments"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_in_any_case() {
        let tags = r#"{"Team":"eu-analytics","cost":"7"}"#;
        assert_eq!(session_tag(tags, "team").as_deref(), Some("eu-analytics"));
        assert_eq!(session_tag(tags, "COST").as_deref(), Some("7"));
        assert_eq!(session_tag(tags, "project"), None);
        assert_eq!(session_tag("not json", "team"), None);
    }
}
