//! Hashing files as CloudTrail does: SHA-256 of the inflated bytes of the first gzip member,
//! streamed (never held whole), noting any bytes after that member.

use std::io::{BufRead, Read};

use aws_lc_rs::digest::{Context, SHA256};

use crate::decode::gzip::{JsonText, read_error};
use crate::error::{DecodeError, LoadStage};

/// What hashing a file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    /// Hex SHA-256 of the inflated first member (of the bytes, for a file that is not gzip).
    pub sha256: String,
    /// Bytes after the first gzip member (a CloudTrail file has none).
    pub trailing_bytes: u64,
    /// Inflated bytes hashed.
    pub inflated_bytes: u64,
}

/// Bytes hashed per read.
const CHUNK: usize = 256 << 10;

/// Hashes the inflated text of `input`, up to `max` bytes: a file that inflates past that (a
/// gzip bomb, or not a log file) is an error, not hashed to the end.
pub fn hash_inflated(
    input: impl BufRead,
    named_gzip: bool,
    max: u64,
) -> Result<Hashed, DecodeError> {
    let mut text = JsonText::open(input, named_gzip)?;
    let (sha256, inflated_bytes) = sha256_of(&mut (&mut text).take(max.saturating_add(1)))?;
    if inflated_bytes > max {
        return Err(DecodeError::new(
            LoadStage::Gunzip,
            format!("inflates to more than {max} bytes (--max-file-size); not hashed to the end"),
        ));
    }
    let trailing_bytes = text.trailing_bytes()?;
    Ok(Hashed {
        sha256,
        trailing_bytes,
        inflated_bytes,
    })
}

/// Hex SHA-256 of everything `input` yields, and its length.
pub fn sha256_of(input: &mut impl Read) -> Result<(String, u64), DecodeError> {
    let mut context = Context::new(&SHA256);
    let mut buffer = vec![0; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        context.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((hex::encode(context.finish().as_ref()), total))
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&SHA256, bytes).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::gzip::gzip;

    #[test]
    fn hashes_the_inflated_first_member() {
        // sha256("abc"), a standard test vector.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hashed = hash_inflated(&gzip(b"abc")[..], true, 100).unwrap();
        assert_eq!(hashed.sha256, abc);
        assert_eq!((hashed.trailing_bytes, hashed.inflated_bytes), (0, 3));
        assert_eq!(sha256_hex(b"abc"), abc);
        let mut two = gzip(b"abc");
        let second = gzip(b"def");
        two.extend(&second);
        let hashed = hash_inflated(&two[..], true, 100).unwrap();
        assert_eq!(hashed.sha256, abc);
        assert_eq!(hashed.trailing_bytes, second.len() as u64);
        assert_eq!(hash_inflated(&b"abc"[..], false, 100).unwrap().sha256, abc);
        assert!(hash_inflated(&b"abc"[..], true, 100).is_err());
        // Past the cap: an error, whatever follows.
        assert!(hash_inflated(&gzip(&[b'x'; 1000])[..], true, 999).is_err());
        assert!(hash_inflated(&gzip(&[b'x'; 1000])[..], true, 1000).is_ok());
    }
}
