//! Building a session's [`TrailKnowledge`]: the trails named on the command line or resolved
//! from `trail:NAME` sources, `--event-selectors FILE`, and `GetEventSelectors` for each named
//! trail when the sources are in AWS (a local copy never calls AWS).

use std::path::PathBuf;

use aws_sdk_cloudtrail::error::DisplayErrorContext;
use serde_json::Value;

use super::{Declared, Selectors, TrailId, TrailKnowledge, selectors};
use crate::error::{Error, Result};
use crate::source::aws::{self, AwsOptions};

/// What the command line says about the trail (`--trail`, `--event-selectors`,
/// `--assume-recorded`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageOptions {
    /// `--trail NAME`: the trails that wrote the sources.
    pub trails: Vec<String>,
    /// `--event-selectors FILE`: the JSON `aws cloudtrail get-event-selectors` prints.
    pub event_selectors: Option<PathBuf>,
    /// `--assume-recorded SURFACE`.
    pub assume_recorded: Vec<String>,
}

/// Everything [`build`] needs.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeInputs {
    /// The command line's options.
    pub options: CoverageOptions,
    /// Trails `trail:NAME` sources resolved to (ARNs where CloudTrail gave them).
    pub source_trails: Vec<String>,
    /// How to call AWS, when the sources are in AWS (`None`: never).
    pub aws: Option<AwsOptions>,
    /// Why today's selectors can never speak for the range, if so (a warehouse).
    pub current_not_applicable: Option<String>,
}

/// The knowledge `inputs` give.
pub async fn build(inputs: &KnowledgeInputs) -> Result<TrailKnowledge> {
    let mut knowledge = TrailKnowledge {
        assumed: inputs.options.assume_recorded.clone(),
        current_not_applicable: inputs.current_not_applicable.clone(),
        ..TrailKnowledge::default()
    };
    for trail in inputs.source_trails.iter().chain(&inputs.options.trails) {
        knowledge.add_trail(trail);
    }
    if let Some(path) = &inputs.options.event_selectors {
        let (trail, selectors) = read_file(path, &knowledge.trails)?;
        let id = knowledge.add_trail(&trail);
        knowledge.declared.push(Declared {
            trail: id,
            selectors,
            basis: format!("--event-selectors {}", path.display()),
        });
    }
    if let Some(aws_options) = &inputs.aws
        && !knowledge.trails.is_empty()
    {
        let config = aws::load(aws_options).await;
        let client = aws_sdk_cloudtrail::Client::new(&config);
        for trail in knowledge.trails.clone() {
            if knowledge
                .declared
                .iter()
                .any(|d| d.trail.name == trail.name)
            {
                continue;
            }
            // By ARN when known: a bare name is looked up in the caller's own account.
            let asked = match &trail.home {
                Some(home) => format!(
                    "arn:aws:cloudtrail:{}:{}:trail/{}",
                    home.region, home.account, trail.name
                ),
                None => trail.name.clone(),
            };
            match ask(&client, &asked).await {
                Ok(Some((arn, selectors))) => {
                    let id = match &arn {
                        Some(arn) => knowledge.add_trail(arn),
                        None => trail.clone(),
                    };
                    knowledge.declared.push(Declared {
                        trail: id,
                        selectors,
                        basis: "GetEventSelectors".into(),
                    });
                }
                // Without them the trail's rows say "no selectors known".
                Ok(None) => tracing::warn!("GetEventSelectors for {asked} returned no selectors"),
                Err(why) => {
                    tracing::warn!(
                        "cannot ask CloudTrail for the event selectors of {asked}: {why}"
                    );
                }
            }
        }
    }
    Ok(knowledge)
}

/// Today's selectors of `trail` (a name or an ARN), with the `TrailARN` CloudTrail gives.
pub async fn ask(
    client: &aws_sdk_cloudtrail::Client,
    trail: &str,
) -> std::result::Result<Option<(Option<String>, Selectors)>, String> {
    client
        .get_event_selectors()
        .trail_name(trail)
        .send()
        .await
        .map(|output| {
            selectors::from_sdk(&output).map(|selectors| (output.trail_arn.clone(), selectors))
        })
        .map_err(|e| DisplayErrorContext(&e).to_string())
}

/// The trail (its ARN, or a name) and selectors of an `--event-selectors` file.
fn read_file(path: &PathBuf, named: &[TrailId]) -> Result<(String, Selectors)> {
    let fail = |reason: String| {
        Error::Usage(format!(
            "--event-selectors {}: {reason}; expected the JSON `aws cloudtrail get-event-selectors --trail-name NAME` prints",
            path.display()
        ))
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let selectors = Selectors::from_json(&json)
        .map_err(&fail)?
        .ok_or_else(|| fail("it holds neither EventSelectors nor AdvancedEventSelectors".into()))?;
    let trail = match (json.get("TrailARN").and_then(Value::as_str), named) {
        (Some(arn), _) => arn.to_owned(),
        (None, [one]) => one.name.clone(),
        (None, _) => {
            return Err(fail(
                "it has no TrailARN; name its trail with --trail NAME".into(),
            ));
        }
    };
    Ok((trail, selectors))
}
