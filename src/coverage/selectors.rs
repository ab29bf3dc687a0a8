//! A trail's event selectors, and whether they record the calls of a catalogue entry.
//!
//! Read from three places, all one model:
//! - the JSON `aws cloudtrail get-event-selectors` prints (`EventSelectors` or
//!   `AdvancedEventSelectors`, PascalCase);
//! - the `requestParameters` of a `PutEventSelectors` event (the same fields in camelCase);
//! - aws-sdk-cloudtrail's `GetEventSelectors` output.
//!
//! Per the CloudTrail User Guide
//! (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html,
//! https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_AdvancedFieldSelector.html):
//! a trail uses basic or advanced selectors, never both; selectors are ORed; the field
//! selectors of an advanced selector are ANDed; the values of one operator are ORed. Basic
//! selectors select management events and the data events of S3 objects, Lambda functions and
//! DynamoDB tables only, so Bedrock's data events need advanced selectors.
//!
//! A selector that depends on something a catalogue entry does not fix (`readOnly`,
//! `resources.ARN`, the caller, ...) records only some of its calls: "partly recorded", never
//! "recorded".

use serde_json::Value;

use crate::surfaces::{Recording, Surface};

/// `eventCategory` of management events in advanced selectors.
const MANAGEMENT: &str = "Management";
/// `eventCategory` of data events in advanced selectors.
const DATA: &str = "Data";

/// A trail's event selectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selectors {
    /// Basic event selectors (`EventSelectors`).
    Basic(Vec<BasicSelector>),
    /// Advanced event selectors (`AdvancedEventSelectors`).
    Advanced(Vec<AdvancedSelector>),
}

/// One basic event selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicSelector {
    /// `ReadWriteType`: `All` (the default), `ReadOnly` or `WriteOnly`.
    pub read_write_type: String,
    /// `IncludeManagementEvents` (default true).
    pub include_management_events: bool,
    /// `ExcludeManagementEventSources`.
    pub exclude_management_event_sources: Vec<String>,
    /// `DataResources`: resource type and the ARNs or prefixes selected.
    pub data_resources: Vec<(String, Vec<String>)>,
}

/// One advanced event selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvancedSelector {
    /// `Name`, if any.
    pub name: Option<String>,
    /// `FieldSelectors`, ANDed.
    pub field_selectors: Vec<FieldSelector>,
}

/// One field selector: the operators are ANDed, the values of each ORed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// `Field`: `eventCategory`, `eventSource`, `eventName`, `resources.type`, `readOnly`, ...
    pub field: String,
    /// `Equals`.
    pub equals: Vec<String>,
    /// `StartsWith`.
    pub starts_with: Vec<String>,
    /// `EndsWith`.
    pub ends_with: Vec<String>,
    /// `NotEquals`.
    pub not_equals: Vec<String>,
    /// `NotStartsWith`.
    pub not_starts_with: Vec<String>,
    /// `NotEndsWith`.
    pub not_ends_with: Vec<String>,
}

impl FieldSelector {
    /// Whether a record whose field has `value` passes every operator.
    fn accepts(&self, value: &str) -> bool {
        let any = |values: &[String], test: &dyn Fn(&str) -> bool| {
            values.is_empty() || values.iter().any(|v| test(v))
        };
        let none = |values: &[String], test: &dyn Fn(&str) -> bool| !values.iter().any(|v| test(v));
        any(&self.equals, &|v| value == v)
            && any(&self.starts_with, &|v| value.starts_with(v))
            && any(&self.ends_with, &|v| value.ends_with(v))
            && none(&self.not_equals, &|v| value == v)
            && none(&self.not_starts_with, &|v| value.starts_with(v))
            && none(&self.not_ends_with, &|v| value.ends_with(v))
    }
}

/// How much of one kind of call a trail's selectors record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selected {
    /// Every call.
    All,
    /// Some calls at most, and why not all.
    Some(String),
    /// None, and why.
    None(String),
}

/// One kind of call, as selectors see it.
struct Call<'a> {
    category: &'static str,
    event_source: &'a str,
    event_name: &'a str,
    resource_type: Option<&'a str>,
}

impl Selectors {
    /// How much of the calls of `entry` these selectors record (an entry whose recording AWS
    /// does not document is `None` of nothing: ask [`Recording`] first).
    pub fn select(&self, entry: &Surface) -> Selected {
        let (category, resource_type) = match entry.recording {
            Recording::Management => (MANAGEMENT, None),
            Recording::Data { resource_type } => (DATA, Some(resource_type)),
            Recording::Unknown => {
                return Selected::Some(
                    "AWS documents no CloudTrail event category for these calls".into(),
                );
            }
        };
        let per_name: Vec<Selected> = entry
            .event_names
            .iter()
            .map(|name| {
                self.select_call(&Call {
                    category,
                    event_source: entry.event_source,
                    event_name: name,
                    resource_type,
                })
            })
            .collect();
        if per_name.iter().all(|s| *s == Selected::All) {
            return Selected::All;
        }
        if let Some(Selected::None(why)) = per_name.iter().find(|s| matches!(s, Selected::None(_)))
            && per_name.iter().all(|s| matches!(s, Selected::None(_)))
        {
            return Selected::None(why.clone());
        }
        let why: Vec<String> = entry
            .event_names
            .iter()
            .zip(&per_name)
            .filter_map(|(name, s)| match s {
                Selected::All => None,
                Selected::Some(why) | Selected::None(why) => Some(format!("{name}: {why}")),
            })
            .collect();
        Selected::Some(why.join("; "))
    }

    /// The best any selector does for `call` (selectors are ORed).
    fn select_call(&self, call: &Call<'_>) -> Selected {
        let verdicts: Vec<Selected> = match self {
            Selectors::Basic(selectors) => selectors.iter().map(|s| s.select(call)).collect(),
            Selectors::Advanced(selectors) => selectors.iter().map(|s| s.select(call)).collect(),
        };
        if verdicts.contains(&Selected::All) {
            return Selected::All;
        }
        if let Some(some) = verdicts.iter().find(|v| matches!(v, Selected::Some(_))) {
            return some.clone();
        }
        Selected::None(match self {
            Selectors::Basic(_) if call.resource_type.is_some() => {
                "its data events need advanced event selectors (basic ones select only S3, Lambda and DynamoDB data events)".to_owned()
            }
            _ if call.resource_type.is_some() => {
                "no event selector selects its data events (resources.type)".to_owned()
            }
            _ => "no event selector selects its management events".to_owned(),
        })
    }
}

impl BasicSelector {
    fn select(&self, call: &Call<'_>) -> Selected {
        if call.category == MANAGEMENT {
            if !self.include_management_events
                || self
                    .exclude_management_event_sources
                    .iter()
                    .any(|s| s == call.event_source)
            {
                return Selected::None(String::new());
            }
            return match self.read_write_type.as_str() {
                "All" => Selected::All,
                other => Selected::Some(format!(
                    "ReadWriteType {other} records only some management events"
                )),
            };
        }
        let Some(resource_type) = call.resource_type else {
            return Selected::None(String::new());
        };
        if self
            .data_resources
            .iter()
            .any(|(t, values)| t == resource_type && !values.is_empty())
        {
            Selected::Some(format!(
                "DataResources select only the listed {resource_type} resources"
            ))
        } else {
            Selected::None(String::new())
        }
    }
}

impl AdvancedSelector {
    fn select(&self, call: &Call<'_>) -> Selected {
        let mut unsure = Vec::new();
        let mut has_category = false;
        for field in &self.field_selectors {
            let value = match field.field.as_str() {
                "eventCategory" => {
                    has_category = true;
                    Some(call.category)
                }
                "eventSource" => Some(call.event_source),
                "eventName" => Some(call.event_name),
                "resources.type" => call.resource_type,
                _ => None,
            };
            match value {
                Some(v) if !field.accepts(v) => return Selected::None(String::new()),
                Some(_) => {}
                None => unsure.push(field.field.clone()),
            }
        }
        if !has_category {
            unsure.push("no eventCategory".into());
        }
        if unsure.is_empty() {
            return Selected::All;
        }
        let name = self
            .name
            .as_deref()
            .map_or(String::new(), |n| format!(" {n:?}"));
        Selected::Some(format!(
            "selector{name} also filters on {}, which trailmap cannot judge",
            unsure.join(", ")
        ))
    }
}

/// A field of a JSON object, named in PascalCase (the API and the CLI) or camelCase (a
/// `PutEventSelectors` event's `requestParameters`).
fn field<'v>(object: &'v Value, pascal: &str) -> Option<&'v Value> {
    let mut camel = pascal.to_owned();
    if let Some(first) = camel.get_mut(..1) {
        first.make_ascii_lowercase();
    }
    object
        .get(pascal)
        .or_else(|| object.get(&camel))
        .filter(|v| !v.is_null())
}

/// A list of strings, or why not.
fn strings(value: Option<&Value>, name: &str) -> Result<Vec<String>, String> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{name} holds a value that is not text: {v}"))
            })
            .collect(),
        Some(other) => Err(format!("{name} is not a list: {other}")),
    }
}

/// A list of objects, or why not.
fn objects<'v>(value: &'v Value, name: &str) -> Result<&'v [Value], String> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| format!("{name} is not a list"))
}

impl Selectors {
    /// The selectors in a JSON object holding `EventSelectors` or `AdvancedEventSelectors`
    /// (either case); `Ok(None)` when it holds neither.
    pub fn from_json(object: &Value) -> Result<Option<Selectors>, String> {
        if let Some(advanced) = field(object, "AdvancedEventSelectors") {
            let selectors = objects(advanced, "AdvancedEventSelectors")?;
            if !selectors.is_empty() {
                return selectors
                    .iter()
                    .map(advanced_selector)
                    .collect::<Result<_, _>>()
                    .map(|s| Some(Selectors::Advanced(s)));
            }
        }
        match field(object, "EventSelectors") {
            Some(basic) => objects(basic, "EventSelectors")?
                .iter()
                .map(basic_selector)
                .collect::<Result<_, _>>()
                .map(|s| Some(Selectors::Basic(s))),
            None => Ok(None),
        }
    }

    /// The selectors a new trail has: every management event, no data event.
    pub fn trail_default() -> Selectors {
        Selectors::Basic(vec![BasicSelector {
            read_write_type: "All".into(),
            include_management_events: true,
            exclude_management_event_sources: Vec::new(),
            data_resources: Vec::new(),
        }])
    }
}

fn basic_selector(value: &Value) -> Result<BasicSelector, String> {
    let read_write_type = match field(value, "ReadWriteType") {
        None => "All".to_owned(),
        Some(Value::String(s)) if ["All", "ReadOnly", "WriteOnly"].contains(&s.as_str()) => {
            s.clone()
        }
        Some(other) => {
            return Err(format!(
                "ReadWriteType {other} is not All, ReadOnly or WriteOnly"
            ));
        }
    };
    let include_management_events = match field(value, "IncludeManagementEvents") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "IncludeManagementEvents {other} is not true or false"
            ));
        }
    };
    let data_resources = match field(value, "DataResources") {
        None => Vec::new(),
        Some(list) => objects(list, "DataResources")?
            .iter()
            .map(|r| {
                let kind = field(r, "Type")
                    .and_then(Value::as_str)
                    .ok_or("a DataResources entry has no Type")?;
                Ok((kind.to_owned(), strings(field(r, "Values"), "Values")?))
            })
            .collect::<Result<_, String>>()?,
    };
    Ok(BasicSelector {
        read_write_type,
        include_management_events,
        exclude_management_event_sources: strings(
            field(value, "ExcludeManagementEventSources"),
            "ExcludeManagementEventSources",
        )?,
        data_resources,
    })
}

fn advanced_selector(value: &Value) -> Result<AdvancedSelector, String> {
    let fields =
        field(value, "FieldSelectors").ok_or("an advanced selector has no FieldSelectors")?;
    let field_selectors = objects(fields, "FieldSelectors")?
        .iter()
        .map(|f| {
            let name = field(f, "Field")
                .and_then(Value::as_str)
                .ok_or("a field selector has no Field")?;
            let list = |operator: &str| strings(field(f, operator), operator);
            Ok(FieldSelector {
                field: name.to_owned(),
                equals: list("Equals")?,
                starts_with: list("StartsWith")?,
                ends_with: list("EndsWith")?,
                not_equals: list("NotEquals")?,
                not_starts_with: list("NotStartsWith")?,
                not_ends_with: list("NotEndsWith")?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(AdvancedSelector {
        name: field(value, "Name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        field_selectors,
    })
}

/// The selectors of aws-sdk-cloudtrail's `GetEventSelectors` output.
pub fn from_sdk(
    output: &aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput,
) -> Option<Selectors> {
    if let Some(advanced) = output
        .advanced_event_selectors
        .as_ref()
        .filter(|a| !a.is_empty())
    {
        return Some(Selectors::Advanced(
            advanced
                .iter()
                .map(|s| AdvancedSelector {
                    name: s.name.clone(),
                    field_selectors: s
                        .field_selectors
                        .iter()
                        .map(|f| FieldSelector {
                            field: f.field.clone(),
                            equals: f.equals.clone().unwrap_or_default(),
                            starts_with: f.starts_with.clone().unwrap_or_default(),
                            ends_with: f.ends_with.clone().unwrap_or_default(),
                            not_equals: f.not_equals.clone().unwrap_or_default(),
                            not_starts_with: f.not_starts_with.clone().unwrap_or_default(),
                            not_ends_with: f.not_ends_with.clone().unwrap_or_default(),
                        })
                        .collect(),
                })
                .collect(),
        ));
    }
    let basic = output.event_selectors.as_ref()?;
    Some(Selectors::Basic(
        basic
            .iter()
            .map(|s| BasicSelector {
                read_write_type: s
                    .read_write_type
                    .as_ref()
                    .map_or("All".to_owned(), |t| t.as_str().to_owned()),
                include_management_events: s.include_management_events.unwrap_or(true),
                exclude_management_event_sources: s
                    .exclude_management_event_sources
                    .clone()
                    .unwrap_or_default(),
                data_resources: s
                    .data_resources
                    .iter()
                    .flatten()
                    .map(|r| {
                        (
                            r.r#type.clone().unwrap_or_default(),
                            r.values.clone().unwrap_or_default(),
                        )
                    })
                    .collect(),
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::SURFACES;

    fn entry(id: &str, name: &str) -> &'static Surface {
        SURFACES
            .iter()
            .find(|s| s.id == id && s.event_names.contains(&name))
            .unwrap()
    }

    fn parse(json: &str) -> Selectors {
        Selectors::from_json(&serde_json::from_str(json).unwrap())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_default_records_management_events_only() {
        let default = Selectors::trail_default();
        assert_eq!(default.select(entry("runtime", "Converse")), Selected::All);
        assert!(matches!(
            default.select(entry("mantle", "CreateInference")),
            Selected::None(why) if why.contains("advanced event selectors")
        ));
    }

    #[test]
    fn an_advanced_selector_for_one_resource_type() {
        // As `aws cloudtrail get-event-selectors` prints it.
        let selectors = parse(
            r#"{"TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail",
                "AdvancedEventSelectors":[
                  {"Name":"Management","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]},
                  {"Name":"Mantle","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},
                    {"Field":"resources.type","Equals":["AWS::BedrockMantle::Project"]}]}]}"#,
        );
        assert_eq!(
            selectors.select(entry("runtime", "InvokeModel")),
            Selected::All
        );
        assert_eq!(
            selectors.select(entry("mantle", "CreateInference")),
            Selected::All
        );
        assert!(matches!(
            selectors.select(entry("claude-platform", "CreateInference")),
            Selected::None(_)
        ));
    }

    #[test]
    fn a_camel_case_request_with_a_filter_trailmap_cannot_judge_is_partial() {
        // As a PutEventSelectors event's requestParameters hold it.
        let selectors = parse(
            r#"{"trailName":"org-trail","advancedEventSelectors":[
                {"fieldSelectors":[{"field":"eventCategory","equals":["Data"]},
                  {"field":"resources.type","equals":["AWS::BedrockMantle::Project"]},
                  {"field":"resources.ARN","startsWith":["arn:aws:bedrock-mantle:eu-west-1:"]}]}]}"#,
        );
        assert!(matches!(
            selectors.select(entry("mantle", "CreateInference")),
            Selected::Some(why) if why.contains("resources.ARN")
        ));
    }

    #[test]
    fn event_names_narrow_a_selector() {
        let selectors = parse(
            r#"{"AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},
                {"Field":"resources.type","Equals":["AWS::AWSExternalAnthropic::Workspace"]},
                {"Field":"eventName","NotEquals":["CreateBatchInference"]}]}]}"#,
        );
        assert!(matches!(
            selectors.select(entry("claude-platform", "CreateInference")),
            Selected::Some(why) if why.contains("CreateBatchInference")
        ));
    }

    #[test]
    fn write_only_management_events_are_partial_and_unreadable_selectors_refused() {
        let selectors = parse(
            r#"{"EventSelectors":[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":true}]}"#,
        );
        assert!(matches!(
            selectors.select(entry("runtime", "Converse")),
            Selected::Some(_)
        ));
        let odd: Value =
            serde_json::from_str(r#"{"EventSelectors":[{"ReadWriteType":"Most"}]}"#).unwrap();
        assert!(Selectors::from_json(&odd).is_err());
        let none: Value = serde_json::from_str(r#"{"TrailARN":"x"}"#).unwrap();
        assert_eq!(Selectors::from_json(&none), Ok(None));
    }

    #[test]
    fn management_events_off_records_no_runtime_call() {
        let selectors = parse(
            r#"{"EventSelectors":[{"ReadWriteType":"All","IncludeManagementEvents":false}]}"#,
        );
        assert!(matches!(
            selectors.select(entry("runtime", "Converse")),
            Selected::None(_)
        ));
    }
}
