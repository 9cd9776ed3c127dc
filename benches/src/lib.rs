//! Shared inputs and reference code for the tidings micro-benchmarks.
//!
//! The benchmarks in `benches/benches/` compare the tidings codecs with their peers and
//! with physical limits (memcpy, a plain `memchr2` scan) measured in the same run. What
//! they have in common lives here, so that every implementation is fed exactly the same
//! bytes and checked against the same expected output before anything is timed:
//!
//! - [`Replay`]: an endless transport that hands out a recorded byte stream in reads of
//!   at most [`READ_SIZE`] bytes, as a socket would (one copy per read, like every peer's
//!   own read into its buffer);
//! - [`ws`]: masked client frames, payloads, a reference frame reader and the one-pass
//!   copy-and-mask limit;
//! - [`sse`]: a realistic `text/event-stream` (ids, event types, multi-line JSON data,
//!   comments, LF or CRLF) and the events it must produce.
//!
//! Nothing here is timed code of tidings itself; it is the harness around it.

use std::pin::Pin;
use std::task::{Context, Poll};

pub mod sse;
pub mod ws;

/// The most a single read from [`Replay`] returns: a typical socket read size.
pub const READ_SIZE: usize = 64 * 1024;

/// The payload sizes the WebSocket benchmarks run at.
pub const WS_SIZES: [usize; 5] = [16, 125, 4096, 64 * 1024, 1024 * 1024];

/// The buffer sizes the limits and mask benchmarks run at.
pub const LIMIT_SIZES: [usize; 4] = [125, 4096, 64 * 1024, 1024 * 1024];

/// An endless transport: a recorded stream replayed from the start whenever it ends.
///
/// The recorded stream must hold whole frames (or whole events), so that replaying it
/// keeps a decoder in step.
#[derive(Debug, Clone)]
pub struct Replay {
    data: Vec<u8>,
    pos: usize,
    read_size: usize,
}

impl Replay {
    /// Replays `data`, at most [`READ_SIZE`] bytes per read.
    pub fn new(data: Vec<u8>) -> Self {
        Self::with_read_size(data, READ_SIZE)
    }

    /// Replays `data`, at most `read_size` bytes per read.
    pub fn with_read_size(data: Vec<u8>, read_size: usize) -> Self {
        assert!(!data.is_empty() && read_size > 0);
        Self {
            data,
            pos: 0,
            read_size,
        }
    }

    /// The recorded stream.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The next read, without copying: at most `read_size` bytes, never past the end of
    /// the recording.
    pub fn next_chunk(&mut self) -> &[u8] {
        if self.pos == self.data.len() {
            self.pos = 0;
        }
        let start = self.pos;
        let end = (start + self.read_size).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }

    /// Copies the next read into `dst` (at most `dst.len()` bytes); returns its length.
    pub fn read_into(&mut self, dst: &mut [u8]) -> usize {
        if self.pos == self.data.len() {
            self.pos = 0;
        }
        let n = dst
            .len()
            .min(self.read_size)
            .min(self.data.len() - self.pos);
        dst[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

impl std::io::Read for Replay {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

/// A transport that accepts every write and keeps nothing but a byte count, so that
/// encoders are measured without the cost of a destination copy they would not make
/// on a real socket either (a vectored write hands the kernel the caller's buffers).
#[derive(Debug, Default, Clone)]
pub struct Sink {
    /// Bytes written so far.
    pub written: u64,
    /// When `Some`, writes are also recorded here (used once, for the output check).
    pub record: Option<Vec<u8>>,
}

impl Sink {
    /// A sink that records what it is given, for checking outputs.
    pub fn recording() -> Self {
        Self {
            written: 0,
            record: Some(Vec::new()),
        }
    }

    /// Accepts `buf`.
    #[inline]
    pub fn put(&mut self, buf: &[u8]) {
        self.written += buf.len() as u64;
        if let Some(r) = &mut self.record {
            r.extend_from_slice(buf);
        }
    }
}

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.put(buf);
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            self.put(b);
            n += b.len();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A duplex transport for the peers' `Read + Write` and tokio `AsyncRead + AsyncWrite`
/// APIs: reads come from a [`Replay`], writes go to a [`Sink`].
#[derive(Debug)]
pub struct Duplex {
    /// Where reads come from.
    pub input: Replay,
    /// Where writes go.
    pub output: Sink,
}

impl Duplex {
    /// Reads from `input`, writes to `output`.
    pub fn new(input: Replay, output: Sink) -> Self {
        Self { input, output }
    }
}

impl std::io::Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Ok(self.input.read_into(buf))
    }
}

impl std::io::Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.output.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        self.output.write_vectored(bufs)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Duplex {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        // Copy straight into the caller's (possibly uninitialised) space: no zeroing
        // pass that a real socket read would not make either.
        let input = &mut self.get_mut().input;
        if input.pos == input.data.len() {
            input.pos = 0;
        }
        let n = buf
            .remaining()
            .min(input.read_size)
            .min(input.data.len() - input.pos);
        buf.put_slice(&input.data[input.pos..input.pos + n]);
        input.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Duplex {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().output.put(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(std::io::Write::write_vectored(
            &mut self.get_mut().output,
            bufs,
        ))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A finite `futures::io::AsyncRead` over a byte stream, at most `read_size` bytes per
/// read, for the peers that parse from a reader (sse-codec).
#[derive(Debug)]
pub struct ChunkReader<'a> {
    data: &'a [u8],
    read_size: usize,
}

impl<'a> ChunkReader<'a> {
    /// Reads `data` once, `read_size` bytes at a time.
    pub fn new(data: &'a [u8], read_size: usize) -> Self {
        Self { data, read_size }
    }
}

impl futures::io::AsyncRead for ChunkReader<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let n = buf.len().min(this.read_size).min(this.data.len());
        buf[..n].copy_from_slice(&this.data[..n]);
        this.data = &this.data[n..];
        Poll::Ready(Ok(n))
    }
}

/// Runs a future that never waits (every transport here is always ready).
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// The criterion settings every benchmark uses: short warm-up and measurement, so a
/// full run stays within minutes on two cores. Command-line flags
/// (`--warm-up-time`, `--measurement-time`, `--sample-size`) override them.
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(400))
        .measurement_time(std::time::Duration::from_millis(1200))
        .sample_size(20)
}

/// A deterministic byte generator (xorshift), so inputs are the same on every run.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A destination buffer placed so that it never 4K-aliases a given source.
///
/// Some CPUs run a copy between two buffers whose addresses are equal modulo 4 KiB
/// (plus a few bytes) many times slower ("4K aliasing"); fresh allocations of the same
/// large size often land exactly that way. Benchmarks that copy use this placement so a
/// figure measures the code, not the allocator's luck.
#[derive(Debug)]
pub struct Unaliased {
    backing: Vec<u8>,
    off: usize,
    len: usize,
}

impl Unaliased {
    /// `len` bytes starting 1 KiB + 64 B away from `src`'s address modulo 4 KiB.
    pub fn after(src: &[u8], len: usize) -> Self {
        let backing = vec![0u8; len + 4096];
        let src_off = src.as_ptr() as usize % 4096;
        let dst_off = backing.as_ptr() as usize % 4096;
        let want = (src_off + 1024 + 64) % 4096;
        let off = (want + 4096 - dst_off) % 4096;
        Self { backing, off, len }
    }

    /// The placed buffer.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.backing[self.off..self.off + self.len]
    }

    /// The placed buffer.
    pub fn as_slice(&self) -> &[u8] {
        &self.backing[self.off..self.off + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_wraps_at_the_end() {
        let mut r = Replay::with_read_size(b"abcde".to_vec(), 2);
        let reads: Vec<Vec<u8>> = (0..4).map(|_| r.next_chunk().to_vec()).collect();
        assert_eq!(reads, [&b"ab"[..], b"cd", b"e", b"ab"]);
    }

    #[test]
    fn unaliased_is_not_aliased() {
        for len in [125, 4096, 65536] {
            let a = pseudo_random(len, 1);
            let mut b = Unaliased::after(&a, len);
            let b = b.as_mut_slice();
            assert_eq!(b.len(), len);
            let d = (b.as_ptr() as usize).wrapping_sub(a.as_ptr() as usize) % 4096;
            assert!((256..=4096 - 256).contains(&d), "{d}");
        }
    }
}
