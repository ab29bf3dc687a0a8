//! Policy rules → SQL expressions over `invocations` columns.
//!
//! Each rule gives a scope expression and one breach expression per requirement, written here
//! from validated policy values only (escaped literals and regexes): a rule's own
//! `violation_when` is never part of this text; it is parsed on its own as one expression (see
//! [`crate::audit`]). All of them go into one projection over `events`, so every rule is judged
//! in a single pass over the data.
//!
//! Every expression keeps SQL's three values: NULL means the log does not establish the answer
//! (a missing model id, an unknown served Region, an unknown application profile), and the audit
//! reports such calls as `unverifiable` instead of letting them pass.

use crate::audit::policy::{IN_REGION_SCOPE, Rule, glob_regex};
use crate::bedrock::APPLICATION_SCOPE;

/// A SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `(regexp_like(column, re1) OR ...)` for a list of globs (already validated).
fn matches_any(column: &str, globs: &[String]) -> String {
    let tests: Vec<String> = globs
        .iter()
        .map(|g| {
            let regex = glob_regex(g).unwrap_or_else(|_| regex_literal_of(g));
            format!("regexp_like({column}, {})", literal(&regex))
        })
        .collect();
    format!("({})", tests.join(" OR "))
}

/// A regex matching `text` literally (only reached for globs that failed validation, which
/// [`crate::audit::policy::Policy::parse`] rejects first).
fn regex_literal_of(text: &str) -> String {
    format!("^{}$", regex_escape(text))
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = "\\.+*?()|[]{}^$-#&~".contains(c);
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// Whether the call's profile scope or routing scope matches one of `globs`, plain models being
/// `in-region`. NULL when the log does not say: no model id, or an application profile that is
/// not known (it still matches `application`).
fn scope_matches(globs: &[String]) -> String {
    let in_region = literal(IN_REGION_SCOPE);
    // Only where the model id decides where a call runs does its scope say anything: a
    // knowledge base, agent or Claude Platform call is no in-Region call for lack of a prefix.
    let routed_by_model: Vec<String> = crate::surfaces::routed_by_model_id()
        .map(|s| literal(s.id))
        .collect();
    format!(
        "CASE WHEN model_id IS NULL THEN NULL \
         WHEN surface IS NULL OR surface NOT IN ({routed}) THEN NULL \
         WHEN profile_scope = {app} AND model IS NULL THEN (CASE WHEN {app_matches} THEN true END) \
         ELSE ({by_profile} OR {by_routing}) END",
        app = literal(APPLICATION_SCOPE),
        app_matches = matches_any(&literal(APPLICATION_SCOPE), globs),
        by_profile = matches_any(&format!("coalesce(profile_scope, {in_region})"), globs),
        by_routing = matches_any(&format!("coalesce(routing_scope, {in_region})"), globs),
        routed = routed_by_model.join(", "),
    )
}

/// The SQL boolean for "this invocation is in the rule's scope" (true when no scope key is set;
/// NULL when a value the scope needs is missing).
pub fn scope(rule: &Rule) -> String {
    let mut parts = scope_parts(rule);
    if let Some(surfaces) = surfaces_match(rule) {
        parts.push(surfaces);
    }
    conjunction(parts)
}

/// The rule's scope but for its `surfaces` key.
pub fn scope_except_surfaces(rule: &Rule) -> String {
    conjunction(scope_parts(rule))
}

/// The SQL test of the rule's `surfaces` key, if it has one.
pub fn surfaces_match(rule: &Rule) -> Option<String> {
    (!rule.surfaces.is_empty()).then(|| matches_any("surface", &rule.surfaces))
}

/// `parts` ANDed (`true` when none).
fn conjunction(parts: Vec<String>) -> String {
    if parts.is_empty() {
        "true".to_owned()
    } else {
        parts.join(" AND ")
    }
}

/// The tests of every scope key but `surfaces`.
fn scope_parts(rule: &Rule) -> Vec<String> {
    let mut parts = Vec::new();
    if !rule.accounts.is_empty() {
        parts.push(matches_any("account_id", &rule.accounts));
    }
    if !rule.source_regions.is_empty() {
        parts.push(matches_any("aws_region", &rule.source_regions));
    }
    if !rule.principals.is_empty() {
        parts.push(matches_any("principal_arn", &rule.principals));
    }
    if !rule.models.is_empty() {
        parts.push(format!(
            "({} OR {})",
            matches_any("model", &rule.models),
            matches_any("model_id", &rule.models)
        ));
    }
    if !rule.profile_scopes.is_empty() {
        parts.push(format!("({})", scope_matches(&rule.profile_scopes)));
    }
    if !rule.persons.is_empty() {
        parts.push(matches_any("person", &rule.persons));
    }
    if !rule.person_sources.is_empty() {
        parts.push(matches_any("person_source", &rule.person_sources));
    }
    if !rule.session_tags.is_empty() {
        parts.push(session_tags_match(&rule.session_tags));
    }
    parts
}

/// Whether the call's session tags hold every `tags` key (in any case, as IAM matches keys)
/// with a value its glob matches. False only for a call that cannot carry session tags: an IAM
/// user's or the root user's (long-term keys, or `GetSessionToken`'s untagged session) and an
/// AWS service's own call. Otherwise NULL (unverifiable) when the tags are not known: the
/// issuing STS event (or one of its chain) is not in the archive, or the record names no key.
fn session_tags_match(tags: &std::collections::BTreeMap<String, String>) -> String {
    let tests: Vec<String> = tags
        .iter()
        .map(|(key, glob)| {
            let value = format!("session_tag(session_tags, {})", literal(key));
            format!(
                "coalesce({}, false)",
                matches_any(&value, std::slice::from_ref(glob))
            )
        })
        .collect();
    format!(
        "(CASE WHEN session_tags IS NOT NULL THEN ({}) \
         WHEN user_type IN ('IAMUser', 'Root', 'AWSService') THEN false ELSE NULL END)",
        tests.join(" AND ")
    )
}

/// The rule's requirement keys, in the order of its breach columns: those of [`breaches`], then
/// `violation_when` if set.
pub fn requirement_names(rule: &Rule) -> Vec<&'static str> {
    breaches(rule)
        .into_iter()
        .map(|(name, _)| name)
        .chain(rule.violation_when.as_ref().map(|_| "violation_when"))
        .collect()
}

/// `(requirement key, SQL boolean that is true when the invocation breaks it)` for each
/// requirement of the rule but `violation_when`: NULL when the log cannot tell (a null served
/// Region, an unknown routing scope).
pub fn breaches(rule: &Rule) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if !rule.allowed_regions.is_empty() {
        out.push((
            "allowed_regions",
            format!(
                "NOT {}",
                matches_any("served_region", &rule.allowed_regions)
            ),
        ));
    }
    if !rule.allowed_geographies.is_empty() {
        let list: Vec<String> = rule
            .allowed_geographies
            .iter()
            .map(|g| literal(g))
            .collect();
        out.push((
            "allowed_geographies",
            format!("NOT (served_geography IN ({}))", list.join(", ")),
        ));
    }
    if !rule.denied_profile_scopes.is_empty() {
        out.push((
            "denied_profile_scopes",
            format!("({})", scope_matches(&rule.denied_profile_scopes)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_escapes() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(regex_escape("a.b*"), "a\\.b\\*");
    }

    #[test]
    fn rule_without_scope_covers_everything() {
        let rule = Rule {
            name: "r".into(),
            allowed_geographies: vec!["EU".into()],
            ..Rule::default()
        };
        assert_eq!(scope(&rule), "true");
        let b = breaches(&rule);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].1, "NOT (served_geography IN ('EU'))");
    }
}
