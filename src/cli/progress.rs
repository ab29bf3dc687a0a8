//! Progress on stderr: a live bar (files, bytes, events, errors) when stderr is a terminal,
//! otherwise one summary line at the end.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use trailmap::TrailSession;

/// A bar of objects done out of objects listed on a terminal (nothing otherwise), fed by
/// `snapshot` (listed, done, bytes) every 100 ms until dropped.
pub struct CountBar {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl CountBar {
    /// Starts a bar of `what` (e.g. "objects verified"); `None` when quiet or not a terminal.
    pub fn start(
        what: &'static str,
        quiet: bool,
        snapshot: impl Fn() -> (usize, usize, u64) + Send + 'static,
    ) -> Option<CountBar> {
        if quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} [{{bar:30}}] {{pos}}/{{len}} {what} {{msg}} ({{elapsed}})"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        let ticking = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                let (listed, done, bytes) = snapshot();
                ticking.set_length(listed as u64);
                ticking.set_position(done as u64);
                ticking.set_message(format!("{}", HumanBytes(bytes)));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Some(CountBar { bar, ticker })
    }
}

impl Drop for CountBar {
    fn drop(&mut self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// Shows progress of the reads of a session until [`Progress::finish`].
pub struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
    started: Instant,
    quiet: bool,
}

impl Progress {
    /// Starts showing progress; `quiet` shows nothing.
    pub fn start(session: &Arc<TrailSession>, quiet: bool) -> Progress {
        let started = Instant::now();
        if quiet || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                ticker: None,
                started,
                quiet,
            };
        }
        if let Some(cluster) = session.cluster() {
            // The executors read the files: all there is to show here is that it runs.
            let spinner = ProgressBar::new_spinner()
                .with_message(format!("running on the executors of {cluster}"));
            spinner.enable_steady_tick(Duration::from_millis(100));
            return Progress {
                bar: Some(spinner),
                ticker: None,
                started,
                quiet,
            };
        }
        let total = session.coverage().files_listed as u64;
        let bar = ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} files {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        let ticking = bar.clone();
        let watched = Arc::clone(session);
        let ticker = tokio::spawn(async move {
            loop {
                let p = watched.progress();
                ticking.set_position(p.files);
                ticking.set_message(format!(
                    "{}, {} events, {} errors",
                    HumanBytes(p.bytes),
                    p.records,
                    p.errors
                ));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Progress {
            bar: Some(bar),
            ticker: Some(ticker),
            started,
            quiet,
        }
    }

    /// Stops the bar without a summary.
    pub fn clear(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Stops the bar and prints the summary line.
    pub fn finish(mut self, session: &TrailSession) {
        self.stop();
        if self.quiet {
            return;
        }
        let p = session.progress();
        let c = session.coverage();
        let seconds = self.started.elapsed().as_secs_f64();
        match (session.warehouse_location(), session.cluster()) {
            (None, Some(cluster)) => eprintln!(
                "trailmap: ran on the executors of {cluster} in {seconds:.2} s over {} listed file(s) ({}); a file they could not read would have failed it",
                c.files_listed,
                HumanBytes(session.listed_bytes()),
            ),
            (Some(warehouse), _) => eprintln!(
                "trailmap: read warehouse {warehouse} in {seconds:.2} s: {} ingested object(s) in range ({} events); {} could not be ingested",
                c.files_read, c.records, c.files_failed
            ),
            (None, None) => eprintln!(
                "trailmap: read {} of {} listed files ({}, {} events) in {seconds:.2} s; {} could not be read",
                c.files_read,
                c.files_listed,
                HumanBytes(p.bytes),
                p.records,
                c.files_failed
            ),
        }
        let delivery = c.delivery_note();
        if c.lag_exceeds_half_margin() {
            eprintln!("trailmap: {delivery}");
        } else {
            tracing::info!("{delivery}");
        }
        if c.bad_event_times > 0 {
            eprintln!(
                "trailmap: {} record(s) have an eventTime that does not parse: event_time is null for them, and --from/--to leave them out",
                c.bad_event_times
            );
        }
    }
}
