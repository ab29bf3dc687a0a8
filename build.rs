//! Embeds every `queries/*.sql` file in the binary as a named query.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=queries");
    // Read when the script runs, not when it is compiled: cargo reuses a compiled build script
    // for another checkout of the same sources (a git worktree sharing the target directory).
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let dir = Path::new(&manifest_dir).join("queries");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| name.ends_with(".sql"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut code = String::from(
        "/// `(name, sql)` of every file in `queries/`, sorted by name.\npub const EMBEDDED: &[(&str, &str)] = &[\n",
    );
    for file in &names {
        let name = file.trim_end_matches(".sql");
        let path = dir.join(file);
        let _ = writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
        .join("named_queries.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
