//! Named queries: the `queries/*.sql` files, embedded in the binary at build time.
//!
//! Each file starts with a `-- description` line; `trailmap queries` lists them and
//! `trailmap query NAME` runs one.

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/named_queries.rs"));
}

/// One named query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedQuery {
    /// The file name without `.sql`.
    pub name: &'static str,
    /// The first line's `-- ` comment.
    pub description: &'static str,
    /// The whole SQL text.
    pub sql: &'static str,
}

/// Every named query, sorted by name.
pub fn all() -> impl Iterator<Item = NamedQuery> {
    embedded::EMBEDDED.iter().map(|&(name, sql)| NamedQuery {
        name,
        description: sql
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("--"))
            .map(str::trim)
            .unwrap_or(""),
        sql,
    })
}

/// The named query called `name`.
pub fn find(name: &str) -> Option<NamedQuery> {
    all().find(|q| q.name == name)
}

/// The known names, comma-separated, for error messages.
pub fn known_names() -> String {
    all().map(|q| q.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_has_a_description() {
        assert!(all().count() >= 9);
        for q in all() {
            assert!(
                !q.description.is_empty(),
                "{} has no -- description first line",
                q.name
            );
        }
        assert!(find("served-regions").is_some());
        assert!(find("nope").is_none());
    }
}
