//! Every command the documentation shows runs here, so an example that drifts from the binary
//! fails the build.
//!
//! In README.md and docs/*.md:
//! - a ```` ```console ```` block is a terminal session: each `$ ` line (with `\` continuations)
//!   is run by bash, whatever the command; the lines under it are what it prints on stdout. A
//!   first line `? N` is its exit code (0 when absent). In the expected text `[..]` stands for
//!   any part of a line and a line `...` for any number of lines; no lines under a command
//!   means its output is not checked.
//! - in a ```` ```sh ```` block, every line that starts with `trailmap` is run, and must exit 0,
//!   or N when its comment says `exit N`; other lines (cargo, aws, crontab entries) are not run.
//! - no other block may hold a `trailmap` command (it would go unchecked).
//!
//! Each file runs in a directory of its own holding `sample-data`, `queries`, `deploy`, `src`,
//! `.ci`, a
//! signing key `key.pem` with its public key as CloudTrail lists it (`keys.json`), and
//! `trail-copy`, a local copy of the bucket below; against an S3 server on 127.0.0.1 (`s3s-fs`, the SDK's real client)
//! with a bucket `org-trail-logs`: the sample archive with a signed digest chain (signatures in
//! object metadata, as CloudTrail stores them), an empty bucket `analytics`, and CloudTrail's
//! GetTrail (`trail:org-trail`) and ListPublicKeys answered as AWS would. Commands of a file
//! run in order and see what earlier ones wrote. A command ending in `&` runs in the
//! background until the file is done; the next command waits for its `--bind` port. Ballista's
//! default ports 50050 and 50051, as the docs write them, are replaced by free ones.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::free_port;
use crate::common::s3_server::{Faults, S3Server};
use crate::verify::put_digest;
use trailmap::generate::{DigestChain, GeneratorConfig, chain::SIGNATURE_SUFFIX, generate};
use trailmap::verify::keys::SigningKey;

/// The trail bucket the documentation reads.
const BUCKET: &str = "org-trail-logs";

/// One command of the documentation.
#[derive(Debug)]
struct Example {
    /// `FILE:LINE` where it is written.
    place: String,
    /// The command line, continuations joined.
    command: String,
    /// The exit code it must end with.
    exit_code: i32,
    /// The stdout it must print, if the documentation shows it.
    output: Option<Vec<String>>,
    /// Started in the background (`&`), stopped when the file is done.
    background: bool,
}

/// The commands of one Markdown file, in order.
fn examples(file: &str, markdown: &str) -> Vec<Example> {
    let mut examples = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((start, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            assert!(
                !trimmed.starts_with("~~~") && !line.starts_with("    $ "),
                "{file}:{}: only ``` fences are read for examples",
                start + 1
            );
            continue;
        };
        let info = info.trim().to_owned();
        // A block in a list item is indented: its lines lose that indentation, no more.
        let indent = line.len() - trimmed.len();
        let mut block = Vec::new();
        let mut closed = false;
        for (number, line) in lines.by_ref() {
            if line.trim_start().starts_with("```") {
                closed = true;
                break;
            }
            let unindented = line
                .get(indent..)
                .filter(|_| line[..indent].trim().is_empty());
            block.push((
                number + 1,
                unindented.unwrap_or(line.trim_start()).to_owned(),
            ));
        }
        assert!(
            closed,
            "{file}:{}: a ``` block that never closes",
            start + 1
        );
        match info.as_str() {
            "console" => examples.extend(console_examples(file, &block)),
            "sh" => examples.extend(sh_examples(file, &block)),
            "" | "text" | "toml" | "json" => {
                for (number, line) in &block {
                    assert!(
                        !runs_trailmap(line),
                        "{file}:{number}: a trailmap command in a ```{info} block is never run: \
                         put it in a ```sh or ```console block"
                    );
                }
            }
            other => panic!(
                "{file}:{}: ```{other} blocks are not read for examples: use ```sh (commands) \
                 or ```console (commands and their output)",
                start + 1
            ),
        }
    }
    examples
}

/// Whether a line calls a trailmap subcommand anywhere a shell would run it (at its start,
/// after a pipe, `;`, `&&` or `$ `, by any path), as opposed to naming the tool in prose.
fn runs_trailmap(line: &str) -> bool {
    static COMMAND: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(^|[|;&(]\s*|\$ |\s)(\S*/)?trailmap\s+(query|report|audit|verify|ingest|vacuum|shell|scheduler|executor|queries|schema|generate|completions|man|help|-)",
        )
        .expect("a valid regex")
    });
    COMMAND.is_match(line)
}

/// Joins `\` continuations: the logical lines of a block, each with its first line number.
fn logical_lines(block: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut joined: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (number, line) in block {
        match joined.last_mut() {
            Some((_, text)) if open => {
                text.push(' ');
                text.push_str(line.trim());
            }
            _ => joined.push((*number, line.clone())),
        }
        let text = &mut joined.last_mut().expect("just pushed").1;
        open = text.ends_with('\\');
        if open {
            text.pop();
            *text = text.trim_end().to_owned();
        }
    }
    joined
}

fn console_examples(file: &str, block: &[(usize, String)]) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    for (number, line) in logical_lines(block) {
        if let Some(command) = line.strip_prefix("$ ") {
            examples.push(example(file, number, command, 0));
            continue;
        }
        let Some(last) = examples.last_mut() else {
            panic!("{file}:{number}: output before any `$ ` command in a ```console block");
        };
        let output = last.output.get_or_insert_with(Vec::new);
        match line.strip_prefix("? ") {
            Some(code) if output.is_empty() => {
                last.exit_code = code
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{file}:{number}: `? {code}` is not an exit code"));
            }
            _ => output.push(line),
        }
    }
    examples
}

fn sh_examples(file: &str, block: &[(usize, String)]) -> Vec<Example> {
    let expected_exit = regex::Regex::new(r"#.*\bexit (\d)\b").expect("a valid regex");
    logical_lines(block)
        .into_iter()
        .filter(|(number, line)| {
            assert!(
                !line.starts_with("$ "),
                "{file}:{number}: `$ ` commands belong in a ```console block"
            );
            // Only what comes before a comment can run.
            runs_trailmap(line.split(" #").next().unwrap_or_default())
        })
        .map(|(number, line)| {
            let code = expected_exit
                .captures(&line)
                .and_then(|c| c[1].parse().ok())
                .unwrap_or(0);
            example(file, number, &line, code)
        })
        .collect()
}

fn example(file: &str, number: usize, command: &str, exit_code: i32) -> Example {
    let command = command.trim();
    let (command, background) = match command.strip_suffix('&') {
        Some(rest) if !rest.ends_with('&') => (rest.trim_end(), true),
        _ => (command, false),
    };
    Example {
        place: format!("{file}:{number}"),
        command: command.to_owned(),
        exit_code,
        output: None,
        background,
    }
}

/// Whether `actual` is `expected`, where a line `...` is any number of lines and `[..]` any
/// part of a line.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(line, others)| line_matches(first, line) && matches(rest, others)),
    }
}

fn line_matches(pattern: &str, line: &str) -> bool {
    let line = line.trim_end();
    let pattern = pattern.trim_end();
    let mut parts = pattern.split("[..]");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Where one file's commands run: a directory, an S3 server and the background processes.
struct Workspace {
    dir: tempfile::TempDir,
    server: S3Server,
    background: Vec<Child>,
    /// Ballista's default ports as the docs write them, and the free ports used instead (fixed
    /// ports would collide with other tests running at the same time).
    ports: [(&'static str, String); 2],
}

impl Drop for Workspace {
    fn drop(&mut self) {
        for child in &mut self.background {
            kill_group(child);
            let _ = child.wait();
        }
    }
}

/// Kills a child started in a process group of its own, and everything it started.
fn kill_group(child: &Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        for shared in ["sample-data", "queries", "deploy", "src", ".ci"] {
            std::os::unix::fs::symlink(repo().join(shared), dir.path().join(shared)).unwrap();
        }
        let key = SigningKey::generate().unwrap();
        std::fs::write(dir.path().join("key.pem"), key.to_pem().unwrap()).unwrap();
        std::fs::write(
            dir.path().join("keys.json"),
            key.public_keys_json().unwrap(),
        )
        .unwrap();
        let buckets = dir.path().join(".s3");
        std::fs::create_dir_all(buckets.join("analytics")).unwrap();
        let config = GeneratorConfig {
            digest_chain: Some(DigestChain {
                bucket: BUCKET.to_owned(),
                signing_key_pem: Some(key.to_pem().unwrap()),
            }),
            ..GeneratorConfig::default()
        };
        generate(&buckets.join(BUCKET), &config).unwrap();
        std::os::unix::fs::symlink(buckets.join(BUCKET), dir.path().join("trail-copy")).unwrap();
        let server = S3Server::start(&buckets, Faults::default());
        server.set_trail_bucket(BUCKET);
        server.set_public_keys(&key.public_keys_json().unwrap());
        for entry in walkdir::WalkDir::new(buckets.join(BUCKET)) {
            let path = entry.unwrap().into_path();
            let mut signature = path.clone().into_os_string();
            signature.push(SIGNATURE_SUFFIX);
            if let Ok(signature) = std::fs::read_to_string(&signature) {
                let key = path.strip_prefix(buckets.join(BUCKET)).unwrap();
                put_digest(&server, key.to_str().unwrap(), &signature);
            }
        }
        Workspace {
            dir,
            server,
            background: Vec::new(),
            ports: [
                ("50050", free_port(false).to_string()),
                ("50051", free_port(true).to_string()),
            ],
        }
    }

    fn command(&self, line: &str) -> Command {
        let line = self
            .ports
            .iter()
            .fold(line.to_owned(), |line, (doc, free)| line.replace(doc, free));
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_trailmap"));
        let path = format!(
            "{}:{}",
            binary.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("bash");
        command
            .args(["-o", "pipefail", "-c", &line])
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join(".local/share"))
            .env("NO_COLOR", "1")
            .env_remove("TRAILMAP_SOURCE")
            .env_remove("TRAILMAP_LOG")
            .env_remove("TRAILMAP_CLUSTER")
            .stdin(Stdio::null());
        for (key, value) in self.server.env() {
            command.env(key, value);
        }
        command
    }

    /// Runs one example; the reason it fails, if it does.
    fn run(&mut self, example: &Example) -> Option<String> {
        if example.background {
            return self.start_background(example).err();
        }
        let (code, stdout, stderr) = match self.run_to_end(&example.command) {
            Ok(ended) => ended,
            Err(why) => return Some(why),
        };
        let shown = |text: &str| ends_of(text, 30);
        if code != example.exit_code {
            return Some(format!(
                "exit {code}, the docs say {}\n--- stdout\n{}\n--- stderr\n{}",
                example.exit_code,
                shown(&stdout),
                shown(&stderr)
            ));
        }
        let expected = example.output.as_ref()?;
        let actual: Vec<&str> = stdout.lines().collect();
        (!matches(expected, &actual)).then(|| {
            format!(
                "stdout differs from the docs\n--- the docs\n{}\n--- stdout\n{}",
                expected.join("\n"),
                shown(&stdout)
            )
        })
    }
}

/// How long one example may run (a debug build, on two cores).
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(300);

impl Workspace {
    /// Runs a command in a process group of its own to its end: its exit code, stdout and
    /// stderr. One that runs past [`EXAMPLE_TIMEOUT`] is killed, its whole group with it.
    fn run_to_end(&self, line: &str) -> Result<(i32, String, String), String> {
        let out = self.dir.path().join(".stdout");
        let err = self.dir.path().join(".stderr");
        let file = |path: &PathBuf| std::fs::File::create(path).map_err(|e| e.to_string());
        let mut child = self
            .command(line)
            .process_group(0)
            .stdout(file(&out)?)
            .stderr(file(&err)?)
            .spawn()
            .expect("bash starts");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if started.elapsed() > EXAMPLE_TIMEOUT {
                kill_group(&child);
                let _ = child.wait();
                return Err(format!("still running after {EXAMPLE_TIMEOUT:?}: killed"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let read = |path: &PathBuf| {
            String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
        };
        Ok((status.code().unwrap_or(-1), read(&out), read(&err)))
    }

    /// Starts a background command and waits until it listens on its `--bind` address, which
    /// nothing may be listening on before (a process left from elsewhere would answer instead).
    fn start_background(&mut self, example: &Example) -> Result<(), String> {
        let address = bind_address(&example.command).map(|address| {
            self.ports
                .iter()
                .fold(address, |address, (doc, free)| address.replace(doc, free))
        });
        if let Some(address) = &address
            && std::net::TcpStream::connect(address).is_ok()
        {
            return Err(format!("something already listens on {address}"));
        }
        let log_path = self
            .dir
            .path()
            .join(format!(".background-{}.log", self.background.len()));
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let child = self
            .command(&format!("exec {}", example.command))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("bash starts");
        self.background.push(child);
        let started = Instant::now();
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        loop {
            if let Some(status) = self.background.last_mut().and_then(|c| c.try_wait().ok()?) {
                return Err(format!("it ended ({status}):\n{}", log()));
            }
            match &address {
                Some(address) if std::net::TcpStream::connect(address).is_err() => {}
                _ => return Ok(()),
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!("nothing listens after a minute:\n{}", log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The address a command's `--bind HOST:PORT` listens on, to connect to.
fn bind_address(command: &str) -> Option<String> {
    let mut words = command.split_whitespace();
    words.find(|w| *w == "--bind")?;
    Some(words.next()?.replace("0.0.0.0", "127.0.0.1"))
}

/// The first and last `n` lines of `text`, for a failure message.
fn ends_of(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 2 * n {
        return text.to_owned();
    }
    let skipped = lines.len() - 2 * n;
    format!(
        "{}\n[{skipped} lines]\n{}",
        lines[..n].join("\n"),
        lines[lines.len() - n..].join("\n")
    )
}

/// Runs every command of `file` (relative to the repository) and fails with all that broke.
fn check(file: &str) {
    let text = std::fs::read_to_string(repo().join(file)).unwrap();
    let examples = examples(file, &text);
    let mut workspace = Workspace::new();
    let mut failures: Vec<String> = Vec::new();
    for example in &examples {
        if let Some(why) = workspace.run(example) {
            failures.push(format!("{}: `{}`: {why}", example.place, example.command));
            // What follows a background process that did not start depends on it.
            if example.background {
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples in {file} fail:\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n\n")
    );
}

/// One test per documentation file, so a broken file names itself.
macro_rules! doc_tests {
    ($($name:ident => $file:literal),* $(,)?) => {
        $(#[test] fn $name() { check($file); })*

        /// Every Markdown file of the docs has its test above.
        #[test]
        fn every_doc_file_is_checked() {
            let checked = [$($file),*, "docs/cluster.md"];
            for file in documentation_files() {
                assert!(checked.contains(&file.as_str()), "{file} has no doc test in tests/docs.rs");
            }
        }
    };
}

doc_tests! {
    readme => "README.md",
    guide => "docs/guide.md",
    audit => "docs/audit.md",
    verify => "docs/verify.md",
    warehouse => "docs/warehouse.md",
    sources => "docs/sources.md",
    tables => "docs/tables.md",
    performance => "docs/performance.md",
    architecture => "docs/architecture.md",
    faq => "docs/FAQ.md",
}

/// The cluster's examples start a scheduler and an executor: only in a build that has them.
#[cfg(feature = "cluster")]
#[test]
fn cluster() {
    check("docs/cluster.md");
}

/// docs/tables.md is what `trailmap schema --format markdown` prints.
#[test]
fn tables_md_is_the_schema() {
    let output = crate::common::trailmap(&["schema", "--format", "markdown"]);
    let schema = crate::common::stdout_ok(&output);
    let file = std::fs::read_to_string(repo().join("docs/tables.md")).unwrap();
    assert!(
        file == schema,
        "docs/tables.md differs from `trailmap schema --format markdown`: regenerate it with \
         `cargo run -- schema --format markdown > docs/tables.md`"
    );
}

/// The tables and column types docs/tables.md lists are the ones a session registers, read back
/// from DataFusion's `information_schema` (not from the code that writes the file).
#[test]
fn tables_md_has_the_registered_types() {
    let file = std::fs::read_to_string(repo().join("docs/tables.md")).unwrap();
    let mut documented = std::collections::BTreeSet::new();
    let mut table = String::new();
    for line in file.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            // Tables are `## `name``; other sections (functions, notes) hold no columns.
            table = heading
                .strip_prefix('`')
                .and_then(|h| h.strip_suffix('`'))
                .unwrap_or_default()
                .to_owned();
        } else if let Some(row) = line.strip_prefix("| `") {
            let cells: Vec<&str> = row.split(" | ").collect();
            let is_table = !table.is_empty() && table != "invocations";
            if is_table && cells.len() >= 2 && cells[0].ends_with('`') {
                let column = cells[0].trim_end_matches('`').to_owned();
                documented.insert((table.clone(), column, cells[1].to_owned()));
            }
        }
    }
    let registered: std::collections::BTreeSet<(String, String, String)> =
        crate::common::query_json(
            &repo().join("sample-data"),
            &[],
            "SELECT table_name, column_name, data_type FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> 'invocations'",
        )
        .into_iter()
        .map(|row| {
            let text = |key: &str| row[key].as_str().unwrap().to_owned();
            let data_type = text("data_type");
            let data_type = if data_type.starts_with("Timestamp") {
                "Timestamp".to_owned()
            } else {
                data_type
            };
            (text("table_name"), text("column_name"), data_type)
        })
        .collect();
    assert!(registered.len() > 60, "{registered:?}");
    assert_eq!(documented, registered);
}

/// Every subcommand's --help has a description and examples, and every example is a command
/// the docs run.
#[test]
fn every_help_has_examples_the_docs_run() {
    let mut documented = String::new();
    for file in documentation_files() {
        let text = std::fs::read_to_string(repo().join(&file)).unwrap();
        for example in examples(&file, &text) {
            documented.push_str(&squeeze(&example.command));
            documented.push('\n');
        }
    }
    let top = crate::common::stdout_ok(&crate::common::trailmap(&["--help"]));
    let (_, listed) = top
        .split_once("Commands:\n")
        .expect("`trailmap --help` lists commands");
    let subcommands: Vec<&str> = listed
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter(|line| !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(subcommands.len() >= 12, "{subcommands:?}");
    for subcommand in subcommands {
        let description = crate::common::stdout_ok(&crate::common::trailmap(&[subcommand, "-h"]));
        assert!(
            description.lines().next().is_some_and(|l| l.len() > 20),
            "`trailmap {subcommand} -h` has no description"
        );
        let help = crate::common::stdout_ok(&crate::common::trailmap(&[subcommand, "--help"]));
        let (_, examples) = help
            .split_once("Examples:\n")
            .unwrap_or_else(|| panic!("`trailmap {subcommand} --help` has no examples"));
        let block: Vec<(usize, String)> = examples
            .lines()
            .take_while(|line| line.starts_with("  "))
            .map(|line| (0, line.trim().to_owned()))
            .collect();
        let mut shown = 0;
        for (_, line) in logical_lines(&block) {
            assert!(
                runs_trailmap(&line),
                "`trailmap {subcommand} --help` shows `{line}` as an example (a line wrapped?)"
            );
            shown += 1;
            let example = squeeze(&line);
            assert!(
                documented.lines().any(|doc| doc == example),
                "`trailmap {subcommand} --help` shows `{line}`, which no doc runs"
            );
        }
        assert!(shown > 0, "`trailmap {subcommand} --help` has no examples");
    }
}

/// A command without its trailing comment, with single spaces.
fn squeeze(command: &str) -> String {
    let command = command.split(" # ").next().unwrap_or(command);
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn documentation_files() -> Vec<String> {
    let mut files = vec!["README.md".to_owned()];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            files.push(format!("docs/{name}"));
        }
    }
    files.sort();
    files
}

#[test]
fn the_matcher_is_strict() {
    let lines = |text: &str| text.lines().map(String::from).collect::<Vec<_>>();
    assert!(matches(&lines("a\n...\nd"), &["a", "b", "c", "d"]));
    assert!(matches(&lines("a[..]c"), &["abbbc"]));
    assert!(!matches(&lines("a[..]c"), &["abbbcd"]));
    assert!(!matches(&lines("a\nb"), &["a", "b", "c"]));
    assert!(!matches(&lines("a\n...\nd"), &["a", "b"]));
    assert!(matches(&lines("..."), &[]));
    let parsed = examples(
        "x.md",
        "```console\n$ trailmap a \\\n  b\n? 1\nout\n```\n```sh\ntrailmap query x # exit 2\n\
         cargo x # puts trailmap on PATH\necho 1 | trailmap shell\n```\n",
    );
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[0].command, "trailmap a b");
    assert_eq!(parsed[0].exit_code, 1);
    assert_eq!(parsed[0].output, Some(vec!["out".to_owned()]));
    assert_eq!(parsed[1].exit_code, 2);
    assert_eq!(parsed[2].command, "echo 1 | trailmap shell");
    let unrun = std::panic::catch_unwind(|| examples("x.md", "```bash\ntrailmap query x\n```\n"));
    assert!(unrun.is_err(), "a ```bash block is refused");
    let hidden =
        std::panic::catch_unwind(|| examples("x.md", "```text\nx | trailmap audit\n```\n"));
    assert!(hidden.is_err(), "a command in a ```text block is refused");
    let unclosed = std::panic::catch_unwind(|| examples("x.md", "```sh\ntrailmap query x\n"));
    assert!(unclosed.is_err(), "an unclosed block is refused");
}
