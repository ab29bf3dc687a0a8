//! The SHA-256 of a file's JSON text, taken while it is decoded: `--verify` then judges the
//! bytes that were read against the hash their digest names, not a second download of them.

use std::io::{self, Read};

use aws_lc_rs::digest::{Context, SHA256};

/// A reader that hashes what it passes on, when asked to.
pub struct HashingRead<R> {
    inner: R,
    context: Option<Context>,
}

impl<R: Read> HashingRead<R> {
    /// Reads `inner`, hashing it when `hash` is set.
    pub fn new(inner: R, hash: bool) -> Self {
        HashingRead {
            inner,
            context: hash.then(|| Context::new(&SHA256)),
        }
    }

    /// Reads what is left (the hash covers the whole text), and gives back the reader and the
    /// hash, if one was taken.
    pub fn finish(mut self) -> io::Result<(R, Option<[u8; 32]>)> {
        if self.context.is_some() {
            io::copy(&mut self, &mut io::sink())?;
        }
        let sha256 = self.context.map(|context| {
            let mut bytes = [0; 32];
            bytes.copy_from_slice(context.finish().as_ref());
            bytes
        });
        Ok((self.inner, sha256))
    }
}

impl<R: Read> Read for HashingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(context) = &mut self.context {
            context.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_everything_read_and_what_is_left() {
        let text = b"{\"Records\":[]}\n  ";
        let mut reader = HashingRead::new(&text[..], true);
        let mut head = [0; 5];
        reader.read_exact(&mut head).unwrap();
        let (_, sha256) = reader.finish().unwrap();
        // SHA-256 of the text, computed apart: `printf '{"Records":[]}\n  ' | sha256sum`.
        assert_eq!(
            hex::encode(sha256.unwrap()),
            "8b4c62213a4fa9e8ee940b1787166f7a5a7efe360053aec49786300e3a02c926"
        );
        let (_, none) = HashingRead::new(&text[..], false).finish().unwrap();
        assert_eq!(none, None);
    }
}
