//! Per-file CPU work (decoding, hashing) on the rayon pool, keeping tokio's threads free for
//! I/O, with a panic in one file's work turned into that file's error.

use crate::error::{DecodeError, FileError, LoadStage};

/// Runs `work` for `log_file` on the rayon pool and hands its result back. A panic in it
/// becomes a load error of that file (rayon would abort the process on a panic in a spawned
/// job), so one bad file never takes the others down.
pub async fn on_rayon<T: Send + 'static>(
    log_file: String,
    work: impl FnOnce() -> Result<T, FileError> + Send + 'static,
) -> Result<T, FileError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let file = log_file.clone();
    rayon::spawn(move || {
        // The receiver is gone only when the query was cancelled; nothing to do then.
        let _ = tx.send(without_panics(&file, work));
    });
    rx.await.unwrap_or_else(|_| {
        Err(FileError::decode(
            &log_file,
            DecodeError::new(LoadStage::Json, "the decoding thread stopped"),
        ))
    })
}

/// `work()`, with a panic turned into a load error of `log_file`.
fn without_panics<T>(
    log_file: &str,
    work: impl FnOnce() -> Result<T, FileError>,
) -> Result<T, FileError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Err(FileError::decode(
            log_file,
            DecodeError::new(
                LoadStage::Schema,
                format!("decoding panicked (a trailmap bug, please report it): {message}"),
            ),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::LoadError;

    #[test]
    fn a_panic_while_decoding_is_a_load_error_of_that_file() {
        let error = without_panics::<()>("f.json.gz", || panic!("index out of bounds"))
            .expect_err("the panic is caught");
        let row = LoadError::of_file("f.json.gz".into(), &error);
        assert_eq!(row.stage, LoadStage::Schema);
        assert!(
            row.message.contains("index out of bounds"),
            "{}",
            row.message
        );
        assert!(row.message.contains("please report"), "{}", row.message);
        assert_eq!(without_panics("f", || Ok(7)).ok(), Some(7));
    }
}
