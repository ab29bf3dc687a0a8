//! The residency policy file: TOML, one `[[rule]]` per requirement, checked in full before any
//! data is read.
//!
//! ```toml
//! [[rule]]
//! name = "eu-stays-in-eu"                 # required, unique
//! description = "EU requests run in the EU"
//! # scope (all optional; globs; a rule with no scope covers every invocation)
//! accounts = ["444455556666"]
//! source_regions = ["eu-*"]
//! principals = ["arn:aws:sts::*:assumed-role/app-*"]
//! models = ["anthropic.*"]                # matches model or model_id
//! profile_scopes = ["eu", "global", "in-region"]
//! surfaces = ["runtime", "batch"]         # inference surfaces (default: all; see trailmap schema)
//! # requirements (at least one)
//! allowed_regions = ["eu-*"]
//! allowed_geographies = ["EU"]
//! denied_profile_scopes = ["global"]
//! violation_when = "served_region = 'us-east-2'"  # SQL boolean over invocations
//! include_failed = false                  # also judge failed calls (default: report them as attempted)
//! ```

use std::collections::HashSet;
use std::path::Path;

use globset::Glob;
use serde::Deserialize;

use crate::bedrock::{APPLICATION_SCOPE, PROFILE_SCOPES};
pub use crate::error::PolicyError;
use crate::regions::GEOGRAPHIES;

/// `profile_scope` value of a plain foundation model (null in `events`).
pub const IN_REGION_SCOPE: &str = "in-region";

/// A residency policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The rules, in file order.
    #[serde(rename = "rule", default)]
    pub rules: Vec<Rule>,
}

/// One requirement and the invocations it applies to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique name, used in findings.
    pub name: String,
    /// What the rule is for, shown in the summary.
    #[serde(default)]
    pub description: Option<String>,
    /// Scope: account ids (globs).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Scope: source Regions, `aws_region` (globs).
    #[serde(default)]
    pub source_regions: Vec<String>,
    /// Scope: principal ARNs (globs).
    #[serde(default)]
    pub principals: Vec<String>,
    /// Scope: `model` or `model_id` (globs).
    #[serde(default)]
    pub models: Vec<String>,
    /// Scope: `person` (globs). A call whose person is unknown is unverifiable.
    #[serde(default)]
    pub persons: Vec<String>,
    /// Scope: `person_source` (globs over `source-identity`, `identity-center`, ...): which
    /// fields a `persons` scope may trust (a role session's name is the caller's choice).
    #[serde(default)]
    pub person_sources: Vec<String>,
    /// Scope: session tags the call's credentials carry, tag key to value (glob). A call made
    /// with temporary credentials whose issuing STS event is not in the archive is
    /// unverifiable; a call without temporary credentials carries no session tag.
    #[serde(default)]
    pub session_tags: std::collections::BTreeMap<String, String>,
    /// Scope: profile scopes (globs over `global`, `us`, ..., `application`, `in-region`).
    #[serde(default)]
    pub profile_scopes: Vec<String>,
    /// Scope: inference surfaces (globs over `runtime`, `mantle`, ...; default every one).
    /// The only key that takes a surface out of the rule for the blind-spot check: a surface
    /// the trail does not record, in a rule's scope, makes the audit incomplete.
    #[serde(default)]
    pub surfaces: Vec<String>,
    /// Requirement: `served_region` matches one of these globs.
    #[serde(default)]
    pub allowed_regions: Vec<String>,
    /// Requirement: `served_geography` is one of these.
    #[serde(default)]
    pub allowed_geographies: Vec<String>,
    /// Requirement: the profile scope matches none of these globs.
    #[serde(default)]
    pub denied_profile_scopes: Vec<String>,
    /// Requirement: this SQL boolean over `invocations` is not true.
    #[serde(default)]
    pub violation_when: Option<String>,
    /// Judge failed calls too (by default they are counted as "attempted", not violations).
    #[serde(default)]
    pub include_failed: bool,
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
            path: display.clone(),
            reason: e.to_string(),
        })?;
        Policy::parse(&text, &display)
    }

    /// Parses and checks policy text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError::Syntax {
            path: origin.to_owned(),
            reason: e.message().to_owned() + &location(text, e.span()),
        })?;
        policy.check()?;
        Ok(policy)
    }

    fn check(&self) -> Result<(), PolicyError> {
        if self.rules.is_empty() {
            return Err(PolicyError::Rule {
                rule: "(none)".into(),
                reason: "the policy has no [[rule]]".into(),
            });
        }
        let mut names = HashSet::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let label = if rule.name.trim().is_empty() {
                format!("#{}", index + 1)
            } else {
                rule.name.clone()
            };
            let fail = |reason: String| PolicyError::Rule {
                rule: label.clone(),
                reason,
            };
            if rule.name.trim().is_empty() {
                return Err(fail("every rule needs a name".into()));
            }
            if !names.insert(rule.name.as_str()) {
                return Err(fail("another rule has the same name".into()));
            }
            rule.check().map_err(fail)?;
        }
        Ok(())
    }
}

/// " at line L, column C" for a byte span of `text`.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return String::new();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" (line {line}, column {column})")
}

impl Rule {
    /// Whether the rule has at least one requirement.
    pub fn has_requirement(&self) -> bool {
        !self.allowed_regions.is_empty()
            || !self.allowed_geographies.is_empty()
            || !self.denied_profile_scopes.is_empty()
            || self.violation_when.is_some()
    }

    /// The catalogue's surface ids `glob` matches.
    fn surfaces_matching(&self, glob: &str) -> Vec<&'static str> {
        let Ok(glob) = Glob::new(glob) else {
            return Vec::new();
        };
        let matcher = glob.compile_matcher();
        crate::surfaces::ids()
            .into_iter()
            .filter(|id| matcher.is_match(id))
            .collect()
    }

    /// The surface ids in the rule's scope: those `surfaces` matches, or every one.
    pub fn surfaces_in_scope(&self) -> Vec<&'static str> {
        let mut ids: Vec<&'static str> = if self.surfaces.is_empty() {
            crate::surfaces::ids()
        } else {
            self.surfaces
                .iter()
                .flat_map(|g| self.surfaces_matching(g))
                .collect()
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn check(&self) -> Result<(), String> {
        if !self.has_requirement() {
            return Err("no requirement: give allowed_regions, allowed_geographies, denied_profile_scopes or violation_when".into());
        }
        for (key, globs) in [
            ("accounts", &self.accounts),
            ("source_regions", &self.source_regions),
            ("principals", &self.principals),
            ("models", &self.models),
            ("persons", &self.persons),
            ("person_sources", &self.person_sources),
            ("profile_scopes", &self.profile_scopes),
            ("surfaces", &self.surfaces),
            ("allowed_regions", &self.allowed_regions),
            ("denied_profile_scopes", &self.denied_profile_scopes),
        ] {
            for glob in globs {
                glob_regex(glob).map_err(|e| format!("{key}: invalid glob {glob:?}: {e}"))?;
            }
        }
        for (tag, glob) in &self.session_tags {
            if tag.is_empty() {
                return Err("session_tags: a tag key is empty".into());
            }
            glob_regex(glob)
                .map_err(|e| format!("session_tags: {tag}: invalid glob {glob:?}: {e}"))?;
        }
        let known_scopes: Vec<&str> = PROFILE_SCOPES
            .iter()
            .copied()
            .chain([APPLICATION_SCOPE, IN_REGION_SCOPE])
            .collect();
        for (key, globs) in [
            ("profile_scopes", &self.profile_scopes),
            ("denied_profile_scopes", &self.denied_profile_scopes),
        ] {
            for glob in globs {
                let matcher = Glob::new(glob)
                    .map_err(|e| e.to_string())?
                    .compile_matcher();
                if !known_scopes.iter().any(|s| matcher.is_match(s)) {
                    return Err(format!(
                        "{key}: {glob:?} matches no profile scope; known: {}",
                        known_scopes.join(", ")
                    ));
                }
            }
        }
        for glob in &self.person_sources {
            let matcher = Glob::new(glob)
                .map_err(|e| e.to_string())?
                .compile_matcher();
            let sources = crate::decode::caller::PersonSource::ALL.map(|s| s.as_str());
            if !sources.iter().any(|s| matcher.is_match(s)) {
                return Err(format!(
                    "person_sources: {glob:?} matches no person source; known: {}",
                    sources.join(", ")
                ));
            }
        }
        for glob in &self.surfaces {
            if self.surfaces_matching(glob).is_empty() {
                return Err(format!(
                    "surfaces: {glob:?} matches no inference surface; known: {}",
                    crate::surfaces::ids().join(", ")
                ));
            }
        }
        for geography in &self.allowed_geographies {
            if !GEOGRAPHIES.contains(&geography.as_str()) {
                return Err(format!(
                    "allowed_geographies: unknown geography {geography:?}; known: {}",
                    GEOGRAPHIES.join(", ")
                ));
            }
        }
        if let Some(sql) = &self.violation_when
            && sql.trim().is_empty()
        {
            return Err("violation_when is empty".into());
        }
        Ok(())
    }
}

/// The regular expression (Rust `regex` syntax, anchored) of a glob.
pub fn glob_regex(glob: &str) -> Result<String, globset::Error> {
    let regex = Glob::new(glob)?.regex().to_owned();
    // globset marks its regexes byte-oriented; DataFusion matches UTF-8 text.
    Ok(regex.trim_start_matches("(?-u)").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> String {
        Policy::parse(text, "test.toml").unwrap_err().to_string()
    }

    #[test]
    fn a_full_rule_parses() {
        let policy = Policy::parse(
            r#"
            [[rule]]
            name = "eu"
            description = "EU stays in EU"
            accounts = ["4444*"]
            source_regions = ["eu-*"]
            principals = ["arn:aws:sts::*:assumed-role/app-*"]
            models = ["anthropic.*"]
            profile_scopes = ["eu", "global", "in-region"]
            allowed_regions = ["eu-*"]
            allowed_geographies = ["EU"]
            denied_profile_scopes = ["global"]
            violation_when = "served_region = 'us-east-2'"
            include_failed = true
            "#,
            "test.toml",
        )
        .unwrap();
        assert_eq!(policy.rules.len(), 1);
        assert!(policy.rules[0].include_failed);
    }

    #[test]
    fn malformed_policies_name_rule_and_reason() {
        assert!(
            reason("[[rule]]\nname = \"a\"\nallowed_region = [\"eu-*\"]")
                .contains("unknown field `allowed_region`")
        );
        assert!(reason("[[rule]]\nname = \"a\"\nallowed_regions = [\"eu-*\"").contains("line"));
        assert!(
            reason("[[rule]]\nname = \"a\"\nsource_regions = [\"eu-*\"]")
                .contains("policy rule \"a\": no requirement")
        );
        assert!(
            reason("[[rule]]\nname = \"a\"\nallowed_regions = [\"eu-[\"]").contains("invalid glob")
        );
        assert!(
            reason("[[rule]]\nname = \"a\"\nallowed_geographies = [\"EUROPE\"]")
                .contains("unknown geography \"EUROPE\"")
        );
        assert!(
            reason("[[rule]]\nname = \"a\"\ndenied_profile_scopes = [\"globl\"]")
                .contains("matches no profile scope")
        );
        assert!(reason("[[rule]]\nallowed_geographies = [\"EU\"]").contains("name"));
        assert!(reason("[[rule]]\nname = \"a\"\nallowed_geographies = [\"EU\"]\n[[rule]]\nname = \"a\"\nallowed_geographies = [\"US\"]").contains("same name"));
        assert!(reason("").contains("no [[rule]]"));
        assert!(reason("[[rule]]\nname = \"a\"\nviolation_when = \" \"").contains("empty"));
    }

    #[test]
    fn globs_become_anchored_regexes() {
        let re = regex::Regex::new(&glob_regex("eu-*").unwrap()).unwrap();
        assert!(re.is_match("eu-west-1"));
        assert!(!re.is_match("us-east-1"));
        assert!(!re.is_match("xeu-west-1"));
        let re =
            regex::Regex::new(&glob_regex("arn:aws:sts::*:assumed-role/app-*").unwrap()).unwrap();
        assert!(re.is_match("arn:aws:sts::111122223333:assumed-role/app-backend/session"));
    }
}
