//! `trailmap shell` driven through stdin: statements over lines, backslash commands, named
//! queries, and an error that does not end the session; over a raw archive and a warehouse.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{query_json, trailmap};

/// Runs the shell over `source` with `input` on stdin; returns (exit code, stdout, stderr).
fn shell(source: &Path, input: &str) -> (Option<i32>, String, String) {
    let data_home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailmap"))
        .args(["shell", "-s", source.to_str().unwrap()])
        .env("XDG_DATA_HOME", data_home.path())
        .env("HOME", data_home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let history = data_home.path().join("trailmap/shell_history");
    assert!(history.is_file(), "the history is saved in the data dir");
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

const SESSION: &str = "\\d\n\\d events\nSELECT count(*) AS n\n  FROM invocations\n  WHERE served_region IS NOT NULL;\nSELECT nope FROM nowhere;\nserved-regions\nSELECT count(*) AS total FROM events;\n\\q\nSELECT 'after quit';\n";

#[test]
fn the_shell_runs_statements_commands_and_named_queries_and_survives_errors() {
    let raw = Path::new("sample-data");
    let warehouse = tempfile::tempdir().unwrap();
    let ingested = trailmap(&[
        "ingest",
        "-s",
        "sample-data",
        "--into",
        warehouse.path().to_str().unwrap(),
    ]);
    assert!(ingested.status.success());
    let served = query_json(
        raw,
        &[],
        "SELECT count(*) AS n FROM invocations WHERE served_region IS NOT NULL",
    )[0]["n"]
        .as_u64()
        .unwrap();
    for source in [raw, warehouse.path()] {
        let (code, stdout, stderr) = shell(source, SESSION);
        assert_eq!(code, Some(0), "{stderr}");
        // \d lists every table; \d events gives columns with meanings.
        for table in [
            "events",
            "invocations",
            "regions",
            "load_errors",
            "integrity",
        ] {
            assert!(stdout.contains(table), "{stdout}");
        }
        assert!(stdout.contains("served_region") && stdout.contains("inference_region"));
        // The multi-line statement ran, the bad one said why, the next ones still ran.
        assert!(stdout.contains(&format!("| {served} ")), "{stdout}");
        assert!(
            stderr.contains("table 'datafusion.public.nowhere' not found"),
            "{stderr}"
        );
        assert!(
            stdout.contains("share_pct"),
            "served-regions ran by name: {stdout}"
        );
        assert!(stdout.contains("| 3000 "), "{stdout}");
        assert!(!stdout.contains("after quit"), "\\q ends the session");
    }
}
