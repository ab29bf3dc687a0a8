//! `trailmap shell` driven through stdin: statements over lines, backslash commands, named
//! queries, and an error that does not end the session; over a raw archive and a warehouse.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{copy_tree, query_json, trailmap};

/// Runs the shell over `source` with `input` on stdin; returns (exit code, stdout, stderr).
fn shell(source: &Path, input: &str) -> (Option<i32>, String, String) {
    shell_with(source, &[], input)
}

/// The shell over `source` with `options`, its pipes open, its data dir in `data_home`.
fn spawn_shell(source: &Path, options: &[&str], data_home: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_trailmap"))
        .args(["shell", "-s", source.to_str().unwrap()])
        .args(options)
        .env("XDG_DATA_HOME", data_home)
        .env("HOME", data_home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// [`shell`] with extra options.
fn shell_with(source: &Path, options: &[&str], input: &str) -> (Option<i32>, String, String) {
    let data_home = tempfile::tempdir().unwrap();
    let mut child = spawn_shell(source, options, data_home.path());
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

const CONVERSE: &str = "SELECT count(*) AS n, count(DISTINCT aws_region) AS regions FROM events WHERE event_name = 'Converse';\n";

#[test]
fn a_second_statement_over_decoded_columns_reads_no_file_again() {
    let archive = tempfile::tempdir().unwrap();
    copy_tree(Path::new("sample-data"), archive.path());
    let data_home = tempfile::tempdir().unwrap();
    let mut child = spawn_shell(archive.path(), &[], data_home.path());
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdin
        .write_all(format!("{CONVERSE}SELECT 'first-done' AS marker;\n").as_bytes())
        .unwrap();
    let mut first = String::new();
    while !first.contains("first-done") {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "shell ended: {first}"
        );
        first.push_str(&line);
    }
    // The files are gone: the same columns can only come from the cache.
    std::fs::remove_dir_all(archive.path()).unwrap();
    stdin
        .write_all(format!("{CONVERSE}\\cache\n\\q\n").as_bytes())
        .unwrap();
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(child.wait().unwrap().success(), "{stderr}");
    let row = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
            .map(str::to_owned)
    };
    let expected = query_json(
        Path::new("sample-data"),
        &[],
        "SELECT count(*) AS n FROM events WHERE event_name = 'Converse'",
    )[0]["n"]
        .as_u64()
        .unwrap();
    let first_row = row(&first).unwrap();
    assert!(first_row.starts_with(&format!("| {expected} ")), "{first}");
    assert_eq!(row(&rest), Some(first_row), "{rest}\n{stderr}");
    assert!(!stderr.contains("could not read"), "{stderr}");
    assert!(rest.contains("column cache: 51 file(s)"), "{rest}");
}

#[test]
fn a_full_cache_says_so_and_answers_stay_right() {
    let (code, stdout, stderr) = shell_with(
        Path::new("sample-data"),
        &["--cache-size", "64KiB"],
        &format!("{CONVERSE}{CONVERSE}"),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("the column cache is full (0.1 MiB)"),
        "{stderr}"
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], rows[1]);
}
