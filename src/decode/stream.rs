//! A log file's JSON text, read a window at a time: `{"Records": [ ... ]}` with each record
//! parsed by serde_json (borrowed from the window) and handed on before the next window is read.
//!
//! Memory is one window (about [`WINDOW`] bytes, more only while a single record is larger)
//! whatever the file's size. The text is checked for UTF-8 once per window, so the parser need
//! not check every string again. The structure around the records is read by a small state
//! machine; records are read by [`skim`] where it is sure of them and by serde_json otherwise,
//! every other value (keys, other members) by serde_json, and a value cut by the end of a
//! window is parsed again once the window holds all of it.

use std::borrow::Cow;
use std::io::Read;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::decode::record::Record;
use crate::decode::skim::{NotRead, skim};
use crate::error::{DecodeError, LoadStage};

/// Bytes read from the input per window.
pub const WINDOW: usize = 1 << 20;
/// The longest single JSON value (a record, or another member of the top-level object) read.
/// CloudTrail omits request and response elements too large to log, so its records are at
/// most a few hundred KB; a value this long is a gzip bomb or not a log file, and refusing it
/// bounds the window whatever `--max-file-size` allows.
pub const MAX_VALUE: usize = 64 << 20;

/// Where the reader is in `{"Records": [ ... ]}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the top-level `{`.
    Open,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,` between members: a key.
    Key,
    /// After a key: `:`; `records` tells whether the key was `Records`.
    Colon { records: bool },
    /// After `:`.
    Value { records: bool },
    /// After `[` of `Records`: a record or `]`.
    FirstRecord,
    /// After `,` between records.
    Record,
    /// After a record: `,` or `]`.
    AfterRecord,
    /// After a member's value: `,` or `}`.
    AfterValue,
    /// After the top-level `}`: only whitespace may follow.
    Done,
}

/// What one step of the reader did.
enum Step {
    /// Consumed this many bytes of the window.
    Advance(usize, State),
    /// Needs more of the text than the window holds.
    NeedMore,
}

/// Totals of a file read in full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextRead {
    /// Records in the file.
    pub records: usize,
    /// Bytes of JSON text.
    pub bytes: u64,
}

/// Reads the JSON text from `input` (at most `max_size` bytes of it) and calls `each` with every
/// record, in order, with its index. `each` may stop the reading with an error of its own. A
/// text that is not `{"Records": [ ... ]}` is an error naming the stage (`json` for broken
/// JSON, `schema` for JSON of another shape) and, where known, the index of the record.
pub fn read_records<R: Read>(
    input: &mut R,
    max_size: u64,
    each: impl FnMut(&Record<'_>, usize) -> Result<(), DecodeError>,
) -> Result<TextRead, DecodeError> {
    read_in_windows(input, max_size, WINDOW, each)
}

/// [`read_records`] reading `window_size` bytes at a time.
fn read_in_windows<R: Read>(
    input: &mut R,
    max_size: u64,
    window_size: usize,
    mut each: impl FnMut(&Record<'_>, usize) -> Result<(), DecodeError>,
) -> Result<TextRead, DecodeError> {
    let mut window = Window::new(max_size, window_size);
    let mut state = State::Open;
    let mut records = 0usize;
    let mut saw_records = false;
    loop {
        let at_end = window.fill(input)?;
        let text = window.text()?;
        let mut offset = 0;
        loop {
            let rest = &text[offset..];
            let step = step(state, rest, at_end, records, |record| {
                each(record, records)?;
                records += 1;
                Ok(())
            })?;
            match step {
                Step::Advance(used, next) => {
                    if matches!(next, State::FirstRecord) {
                        saw_records = true;
                    }
                    offset += used;
                    state = next;
                }
                Step::NeedMore => break,
            }
        }
        window.consume(offset);
        if at_end {
            return match (state, saw_records) {
                (State::Done, true) => Ok(TextRead {
                    records,
                    bytes: window.total,
                }),
                (State::Done, false) => Err(DecodeError::new(
                    LoadStage::Schema,
                    "no \"Records\" array: not a CloudTrail log file",
                )),
                _ => Err(DecodeError::new(
                    LoadStage::Json,
                    format!(
                        "the JSON text ends early (after {} bytes and {records} records)",
                        window.total
                    ),
                )
                .at_record(matches!(state, State::FirstRecord | State::Record).then_some(records))),
            };
        }
    }
}

/// One step of the state machine over `rest` (the unread part of the window). `at_end`: the
/// window holds the rest of the text. `record` is called with each record read.
fn step(
    state: State,
    rest: &str,
    at_end: bool,
    index: usize,
    record: impl FnOnce(&Record<'_>) -> Result<(), DecodeError>,
) -> Result<Step, DecodeError> {
    let skipped = rest.len() - rest.trim_start_matches(is_json_space).len();
    let Some(next) = rest.as_bytes().get(skipped).copied() else {
        // Whitespace is consumed as it comes: a window of nothing else is not kept.
        return Ok(match skipped {
            0 => Step::NeedMore,
            _ => Step::Advance(skipped, state),
        });
    };
    let punctuation = |state: State| Ok(Step::Advance(skipped + 1, state));
    match (state, next) {
        (State::Open, b'{') => punctuation(State::FirstKey),
        (State::Open, _) => Err(not_an_object(&rest[skipped..])),
        (State::FirstKey, b'}') => punctuation(State::Done),
        (State::FirstKey | State::Key, b'"') => {
            Ok(match value::<Cow<'_, str>>(&rest[skipped..], at_end)? {
                Some((key, used)) => Step::Advance(
                    skipped + used,
                    State::Colon {
                        records: key == "Records",
                    },
                ),
                None => Step::NeedMore,
            })
        }
        (State::Colon { records }, b':') => punctuation(State::Value { records }),
        (State::Value { records: true }, b'[') => punctuation(State::FirstRecord),
        (State::Value { records: true }, _) => Err(DecodeError::new(
            LoadStage::Schema,
            "\"Records\" is not an array: not a CloudTrail log file",
        )),
        (State::Value { records: false }, _) => {
            Ok(match value::<IgnoredAny>(&rest[skipped..], at_end)? {
                Some((_, used)) => Step::Advance(skipped + used, State::AfterValue),
                None => Step::NeedMore,
            })
        }
        (State::FirstRecord, b']') | (State::AfterRecord, b']') => punctuation(State::AfterValue),
        (State::FirstRecord | State::Record, _) => {
            let text = &rest[skipped..];
            let parsed = match skim(text, at_end) {
                Ok(read) => Some(read),
                Err(NotRead::NeedMore) => None,
                Err(NotRead::Unsure) => {
                    value::<Record<'_>>(text, at_end).map_err(|e| e.at_record(Some(index)))?
                }
            };
            Ok(match parsed {
                Some((parsed, used)) => {
                    record(&parsed)?;
                    Step::Advance(skipped + used, State::AfterRecord)
                }
                None => Step::NeedMore,
            })
        }
        (State::AfterRecord, b',') => punctuation(State::Record),
        (State::AfterValue, b',') => punctuation(State::Key),
        (State::AfterValue, b'}') => punctuation(State::Done),
        (state, found) => Err(DecodeError::new(
            LoadStage::Json,
            format!(
                "unexpected {:?} {}",
                char::from(found),
                match state {
                    State::Done => "after the end of the JSON text",
                    State::AfterRecord => "after a record (expected , or ])",
                    _ => "in the JSON text",
                }
            ),
        )
        .at_record(matches!(state, State::AfterRecord).then_some(index))),
    }
}

/// The first value of `text` and the bytes it takes, or `None` when the window may hold only
/// part of it.
fn value<'a, T: Deserialize<'a>>(
    text: &'a str,
    at_end: bool,
) -> Result<Option<(T, usize)>, DecodeError> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<T>();
    match values.next() {
        // A value that ends where the window ends may go on (a number, `1` of `12`).
        Some(Ok(_)) if !at_end && values.byte_offset() == text.len() => Ok(None),
        Some(Ok(value)) => Ok(Some((value, values.byte_offset()))),
        Some(Err(e)) if !at_end && (e.is_eof() || at_the_end(text, &e)) => Ok(None),
        Some(Err(e)) => Err(from_serde(e)),
        None if at_end => Err(DecodeError::new(
            LoadStage::Json,
            "the JSON text ends early",
        )),
        None => Ok(None),
    }
}

/// Whether `error` is at the end of `text`. A number cut by the window's end (`1.`, `-`, `1e`)
/// is an invalid number there for serde_json when it skips a value, not an end of input, yet the
/// next window completes it.
pub(crate) fn at_the_end(text: &str, error: &serde_json::Error) -> bool {
    let line_start = match error.line() {
        0 | 1 => 0,
        line => memchr::memchr_iter(b'\n', text.as_bytes())
            .nth(line - 2)
            .map_or(text.len(), |newline| newline + 1),
    };
    line_start + error.column() >= text.len()
}

/// A serde_json error as a decode error: JSON of another shape is `schema`, broken JSON `json`.
fn from_serde(error: serde_json::Error) -> DecodeError {
    let stage = match error.classify() {
        serde_json::error::Category::Data => LoadStage::Schema,
        _ => LoadStage::Json,
    };
    DecodeError {
        stage,
        record_index: None,
        source: Box::new(error),
    }
}

/// The error for a text that does not start with `{`: `schema` when it is other JSON.
fn not_an_object(text: &str) -> DecodeError {
    let found = text.chars().next().unwrap_or(' ');
    let starts_a_value = matches!(found, '[' | '"' | '-' | '0'..='9')
        || ["true", "false", "null"]
            .iter()
            .any(|word| text.starts_with(word));
    let (stage, what) = match starts_a_value {
        true => (LoadStage::Schema, "JSON, but not an object"),
        false => (LoadStage::Json, "not JSON"),
    };
    DecodeError::new(
        stage,
        format!("{what} (starts with {found:?}): a CloudTrail log file is {{\"Records\": [...]}}"),
    )
}

fn is_json_space(c: char) -> bool {
    matches!(c, ' ' | '\n' | '\r' | '\t')
}

/// A window this large is freed after use rather than kept for the next file.
const KEEP_WINDOW_UP_TO: usize = 8 << 20;

thread_local! {
    /// Each decoding thread reads into one buffer, file after file (a fresh megabyte per file
    /// would be allocated and faulted in again every time).
    static WINDOW_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The unread part of the text: read from the input a window at a time, checked for UTF-8.
struct Window {
    /// Zeroed once when it grows; holds the text in `start..end`.
    buffer: Vec<u8>,
    /// Bytes of `buffer` already handed on.
    start: usize,
    /// End of the bytes read.
    end: usize,
    at_end: bool,
    total: u64,
    max_size: u64,
    size: usize,
}

impl Window {
    fn new(max_size: u64, size: usize) -> Self {
        Window {
            buffer: WINDOW_BUFFER.take(),
            start: 0,
            end: 0,
            at_end: false,
            total: 0,
            max_size,
            size: size.max(1),
        }
    }

    /// Drops what was handed on and reads up to a window's size more bytes. Returns whether
    /// the input is exhausted.
    fn fill<R: Read>(&mut self, input: &mut R) -> Result<bool, DecodeError> {
        if self.at_end {
            return Ok(true);
        }
        self.buffer.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        // What is held is one value the window could not finish.
        if self.end >= MAX_VALUE {
            return Err(DecodeError::new(
                LoadStage::Json,
                format!(
                    "a single JSON value is longer than {} MiB (from byte {}): not a CloudTrail log file",
                    MAX_VALUE >> 20,
                    self.total - self.end as u64
                ),
            ));
        }
        // A record longer than a window: read as much again as is held, not one window more.
        let wanted = (self.end + self.size.max(self.end)).min(MAX_VALUE + self.size);
        if self.buffer.len() < wanted {
            self.buffer.resize(wanted, 0);
        }
        while self.end < wanted {
            let read = match input.read(&mut self.buffer[self.end..wanted]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(super::gzip::read_error(e)),
            };
            self.end += read;
            self.total += read as u64;
            if self.total > self.max_size {
                return Err(too_large(self.max_size));
            }
            if read == 0 {
                self.at_end = true;
                break;
            }
        }
        Ok(self.at_end)
    }

    /// The unread text. A partial record carried over from the last window is checked again
    /// with the new bytes: a small part of a window, unless one record spans many windows
    /// (and windows then grow geometrically).
    fn text(&self) -> Result<&str, DecodeError> {
        let unread = &self.buffer[self.start..self.end];
        match std::str::from_utf8(unread) {
            Ok(text) => Ok(text),
            // A character cut by the window's end: its other bytes come with the next read.
            Err(e) if e.error_len().is_none() && !self.at_end => {
                std::str::from_utf8(&unread[..e.valid_up_to()])
                    .map_err(|e| DecodeError::new(LoadStage::Json, format!("not UTF-8 text: {e}")))
            }
            Err(e) => {
                let at = self.total - (unread.len() - e.valid_up_to()) as u64;
                Err(DecodeError::new(
                    LoadStage::Json,
                    format!("not UTF-8 text: invalid byte at offset {at}"),
                ))
            }
        }
    }

    /// Marks `bytes` more of the text as handed on.
    fn consume(&mut self, bytes: usize) {
        self.start += bytes;
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        if self.buffer.capacity() <= KEEP_WINDOW_UP_TO {
            WINDOW_BUFFER.set(std::mem::take(&mut self.buffer));
        }
    }
}

/// The error for a text longer than `--max-file-size`.
pub fn too_large(max_size: u64) -> DecodeError {
    DecodeError::new(
        LoadStage::Gunzip,
        format!(
            "the JSON text is larger than {max_size} bytes (--max-file-size): a gzip bomb or not a CloudTrail log file; not read"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `json` in windows of `window` bytes from an input that returns at most `chunk`
    /// bytes per read, giving each record's `eventName`.
    fn names_in_windows(
        json: &str,
        window: usize,
        chunk: usize,
    ) -> Result<Vec<Option<String>>, DecodeError> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut names = Vec::new();
        let mut input = Trickle(json.as_bytes(), chunk);
        let read = read_in_windows(&mut input, u64::MAX, window, |r, i| {
            assert_eq!(i, names.len(), "records come in order with their index");
            names.push(r.event_name.get().map(str::to_owned));
            Ok(())
        })?;
        assert_eq!(read.records, names.len());
        assert_eq!(read.bytes, json.len() as u64);
        Ok(names)
    }

    fn names(json: &str) -> Result<Vec<Option<String>>, DecodeError> {
        names_in_windows(json, WINDOW, usize::MAX)
    }

    fn stage_of(json: &str) -> LoadStage {
        names(json).unwrap_err().stage
    }

    #[test]
    fn records_across_window_boundaries_read_as_in_one_piece() {
        // Records longer than a window, a multi-byte character cut at every possible byte,
        // other top-level members before and after `Records`, numbers cut in the middle (at
        // `-`, `1.` and `1e`, where serde_json skipping a value sees an invalid number).
        let long = "x".repeat(3 * WINDOW);
        let json = format!(
            r#" {{ "other" : [1, {{"a":"]}}"}}], "n": 12345678, "Records" : [
            {{"eventName":"A","p":"{long}"}} ,{{"eventName":"é€𝄞 \"quoted\" ]}}"}},
            {{"eventName":12.5,"x":[-1.5e+3,{{"y":0.25}}]}}, {{"n":[-2E-1]}} ] ,
            "after": {{"x":[1.0e5]}} }}
            "#
        );
        let expected = vec![
            Some("A".to_owned()),
            Some("é€𝄞 \"quoted\" ]}".to_owned()),
            Some("12.5".to_owned()),
            None,
        ];
        assert_eq!(names(&json).unwrap(), expected);
        let small = json.replace(&long, "yy");
        for window in 1..small.len() + 1 {
            for chunk in [1, 3, 4096] {
                let names = names_in_windows(&small, window, chunk);
                assert_eq!(names.unwrap(), expected, "window {window}, chunk {chunk}");
            }
        }
        assert_eq!(names_in_windows(&json, 1000, 7).unwrap(), expected);
    }

    #[test]
    fn bad_shapes_have_stages() {
        assert_eq!(stage_of("{\"Records\":[{}"), LoadStage::Json);
        assert_eq!(stage_of("not json"), LoadStage::Json);
        assert_eq!(stage_of("{\"records\":[]}"), LoadStage::Schema);
        assert_eq!(stage_of("{\"Records\":{}}"), LoadStage::Schema);
        assert_eq!(stage_of("{\"Records\":[1]}"), LoadStage::Schema);
        assert_eq!(stage_of("[1,2]"), LoadStage::Schema);
        assert_eq!(stage_of("{\"Records\":[]} trailing"), LoadStage::Json);
        assert_eq!(stage_of("{\"Records\":[{} {}]}"), LoadStage::Json);
        assert_eq!(stage_of("{\"Records\":[],}"), LoadStage::Json);
        assert_eq!(stage_of(""), LoadStage::Json);
        assert_eq!(
            stage_of("{\"Records\":[{\"a\":\"\u{0}\"}]}"),
            LoadStage::Json
        );
        assert!(names("{\"Records\":[]}").unwrap().is_empty());
        let not_utf8 = read_records(&mut &b"{\"Records\":[\"\xff\"]}"[..], u64::MAX, |_, _| {
            Ok(())
        });
        assert_eq!(not_utf8.unwrap_err().stage, LoadStage::Json);
    }

    #[test]
    fn the_first_bad_record_is_named_by_index() {
        let index = |json: &str| names(json).unwrap_err().record_index;
        assert_eq!(index(r#"{"Records":[{},{},7]}"#), Some(2));
        assert_eq!(index(r#"{"Records":[{}, {"eventTime": ]}"#), Some(1));
        assert_eq!(index(r#"{"Records":[{}, {"eventTime": "#), Some(1));
        assert_eq!(index(r#"{"Records":[{} {}]}"#), Some(1));
        assert_eq!(index(r#"{"Records":{}}"#), None);
        assert_eq!(index(r#"{"Records":[{}]} trailing"#), None);
    }

    #[test]
    fn text_past_the_cap_is_refused_without_reading_it_all() {
        let json = format!("{{\"Records\":[{{\"p\":\"{}\"}}]}}", "x".repeat(4 * WINDOW));
        let mut input = json.as_bytes();
        let err = read_records(&mut input, WINDOW as u64, |_, _| Ok(())).unwrap_err();
        assert_eq!(err.stage, LoadStage::Gunzip);
        assert!(
            err.source.to_string().contains("--max-file-size"),
            "{}",
            err.source
        );
        assert!(
            input.len() >= 2 * WINDOW,
            "stopped within a window or two of the cap, {} bytes left",
            input.len()
        );
    }

    #[test]
    fn whitespace_is_not_held_and_a_giant_value_is_refused() {
        // 40 windows of whitespace between records: read, never held.
        let json = format!(
            "{{\"Records\":[{}{{\"eventName\":\"A\"}}]}}",
            " ".repeat(40 * 64)
        );
        let mut window = Window::new(u64::MAX, 64);
        let mut input = json.as_bytes();
        let mut state = State::Open;
        while !window.fill(&mut input).unwrap() {
            let text = window.text().unwrap();
            let mut offset = 0;
            while let Step::Advance(used, next) =
                step(state, &text[offset..], false, 0, |_| Ok(())).unwrap()
            {
                offset += used;
                state = next;
            }
            window.consume(offset);
            assert!(window.buffer.len() <= 2 * 64, "the window stays one window");
        }
        assert_eq!(names(&json).unwrap(), [Some("A".to_owned())]);
        let giant = format!(
            "{{\"Records\":[{{\"p\":\"{}\"}}]}}",
            "x".repeat(MAX_VALUE + WINDOW)
        );
        let err = names(&giant).unwrap_err();
        assert_eq!(err.stage, LoadStage::Json);
        assert!(
            err.source.to_string().contains("longer than 64 MiB"),
            "{}",
            err.source
        );
    }

    #[test]
    fn an_error_of_the_caller_stops_the_reading() {
        let json = r#"{"Records":[{"eventName":"A"},{"eventName":"B"}]}"#;
        let mut seen = 0;
        let err = read_records(&mut json.as_bytes(), u64::MAX, |_, index| {
            seen += 1;
            match index {
                0 => Ok(()),
                _ => Err(DecodeError::new(LoadStage::Schema, "stop")),
            }
        })
        .unwrap_err();
        assert_eq!((seen, err.source.to_string()), (2, "stop".to_owned()));
    }
}
