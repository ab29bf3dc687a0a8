//! Inflating a log file's bytes: gzip when it is gzip, the bytes as they are when it is JSON.

use std::io::Read;

use flate2::bufread::GzDecoder;

use crate::error::{DecodeError, LoadStage};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Upper bound on the pre-allocation taken from a gzip trailer (the trailer is only a hint).
const MAX_SIZE_HINT: usize = 256 << 20;
/// Default of `--max-file-size`: the largest JSON text one log file may inflate to. CloudTrail
/// log files are a few MB; a file past this is a gzip bomb or not a log file.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// Returns the JSON text of a file: `raw` itself when it is not gzip, else `raw` inflated into
/// `buffer` (cleared first; reusing one buffer saves allocating and faulting in megabytes per
/// file). `named_gzip` says whether the name ends in `.gz`, so that a `.json.gz` that is not
/// gzip is reported as such rather than as bad JSON. A CloudTrail log file is exactly one gzip
/// member: bytes after its end (a second member appended, or anything else) are an error, as
/// in `aws cloudtrail validate-logs`, and none of the file is used. JSON text longer than
/// `max_size` bytes is an error before more than `max_size` + 1 bytes are inflated.
pub fn inflate_into<'a>(
    raw: &'a [u8],
    named_gzip: bool,
    max_size: u64,
    buffer: &'a mut Vec<u8>,
) -> Result<&'a [u8], DecodeError> {
    if raw.is_empty() {
        let stage = if named_gzip {
            LoadStage::Gunzip
        } else {
            LoadStage::Json
        };
        return Err(DecodeError::new(stage, "empty file (0 bytes)"));
    }
    if !raw.starts_with(&GZIP_MAGIC) {
        if named_gzip {
            return Err(DecodeError::new(
                LoadStage::Gunzip,
                format!(
                    "not a gzip file: starts with {:02x?}, expected 1f 8b",
                    &raw[..raw.len().min(4)]
                ),
            ));
        }
        if raw.len() as u64 > max_size {
            return Err(too_large(LoadStage::Json, max_size));
        }
        return Ok(raw);
    }
    buffer.clear();
    buffer.reserve(size_hint(raw).min(usize::try_from(max_size).unwrap_or(usize::MAX)));
    let mut decoder = GzDecoder::new(raw);
    (&mut decoder)
        .take(max_size.saturating_add(1))
        .read_to_end(buffer)
        .map_err(|e| DecodeError::new(LoadStage::Gunzip, format!("corrupt gzip stream: {e}")))?;
    if buffer.len() as u64 > max_size {
        buffer.clear();
        buffer.shrink_to(MAX_SIZE_HINT);
        return Err(too_large(LoadStage::Gunzip, max_size));
    }
    let trailing = decoder.into_inner().len();
    if trailing > 0 {
        return Err(DecodeError::new(
            LoadStage::Gunzip,
            format!(
                "{trailing} byte(s) after the end of the first gzip member; a CloudTrail log file is a single gzip member, so the file is not used"
            ),
        ));
    }
    Ok(buffer)
}

fn too_large(stage: LoadStage, max_size: u64) -> DecodeError {
    DecodeError::new(
        stage,
        format!(
            "the JSON text is larger than {max_size} bytes (--max-file-size): a gzip bomb or not a CloudTrail log file; not read"
        ),
    )
}

/// The uncompressed size recorded in the gzip trailer (modulo 2^32), bounded.
fn size_hint(raw: &[u8]) -> usize {
    let Some(trailer) = raw.len().checked_sub(4).and_then(|start| raw.get(start..)) else {
        return 0;
    };
    let mut isize_bytes = [0u8; 4];
    isize_bytes.copy_from_slice(trailer);
    (u32::from_le_bytes(isize_bytes) as usize).min(MAX_SIZE_HINT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn inflate(raw: &[u8], named_gzip: bool) -> Result<Vec<u8>, DecodeError> {
        inflate_into(raw, named_gzip, DEFAULT_MAX_FILE_SIZE, &mut Vec::new()).map(<[u8]>::to_vec)
    }

    #[test]
    fn a_file_past_the_size_cap_is_refused_without_inflating_it_all() {
        // 64 MiB of zeros compress to about 64 KiB: a small bomb.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        let mut buffer = Vec::new();
        let err = inflate_into(&bomb, true, 1 << 20, &mut buffer).unwrap_err();
        assert_eq!(err.stage, LoadStage::Gunzip);
        assert!(
            err.source.to_string().contains("--max-file-size"),
            "{}",
            err.source
        );
        assert!(
            buffer.capacity() <= MAX_SIZE_HINT,
            "the buffer is not kept large"
        );
        let err = inflate_into(b"{\"Records\":[]}", false, 4, &mut buffer).unwrap_err();
        assert_eq!(err.stage, LoadStage::Json);
        assert_eq!(
            inflate_into(&gzip(b"1234"), true, 4, &mut buffer).unwrap(),
            b"1234"
        );
    }

    #[test]
    fn gzip_and_plain() {
        assert_eq!(
            &*inflate(&gzip(b"{\"Records\":[]}"), true).unwrap(),
            b"{\"Records\":[]}"
        );
        assert_eq!(&*inflate(b"{}", false).unwrap(), b"{}");
        // Data after the first member is refused, whatever it is.
        let mut two = gzip(b"ab");
        two.extend(gzip(b"cd"));
        let err = inflate(&two, true).unwrap_err();
        assert_eq!(err.stage, LoadStage::Gunzip);
        assert!(
            err.source
                .to_string()
                .contains("after the end of the first gzip member"),
            "{}",
            err.source
        );
        let mut padded = gzip(b"ab");
        padded.push(0);
        assert_eq!(inflate(&padded, true).unwrap_err().stage, LoadStage::Gunzip);
    }

    #[test]
    fn bad_gzip_is_named() {
        let full = gzip(&[b'x'; 10_000]);
        let truncated = inflate(&full[..full.len() / 2], true).unwrap_err();
        assert_eq!(truncated.stage, LoadStage::Gunzip);
        let not_gzip = inflate(b"{\"Records\":[]}", true).unwrap_err();
        assert_eq!(not_gzip.stage, LoadStage::Gunzip);
        assert!(
            not_gzip.source.to_string().contains("not a gzip file"),
            "{}",
            not_gzip.source
        );
        assert_eq!(inflate(b"", true).unwrap_err().stage, LoadStage::Gunzip);
        assert_eq!(inflate(b"", false).unwrap_err().stage, LoadStage::Json);
        let mut bad_crc = full.clone();
        let n = bad_crc.len();
        bad_crc[n - 6] ^= 0xff;
        assert_eq!(
            inflate(&bad_crc, true).unwrap_err().stage,
            LoadStage::Gunzip
        );
    }
}
