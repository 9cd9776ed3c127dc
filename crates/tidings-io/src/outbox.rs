//! The one write loop of the crate: chunks in hand, written in vectored writes.
//!
//! The WebSocket frames the core hands out go through an [`Outbox`], and so do the
//! handshakes' heads. It keeps what the transport has not taken yet, knows since
//! when the transport has taken nothing (for the write timeout), and flushes once
//! all is written. (The event stream writer and the SSE client keep their own
//! one-buffer loops: one event, or one request, is one chunk, and splitting it off
//! as `Bytes` for an outbox costs more than it saves on that hot path.)
//!
//! The first two chunks live in the struct itself: a small message is one chunk and
//! a large one from a server two (header, payload), so the common write needs no
//! list. The list (`spill`) is allocated only when more chunks wait, and freed again
//! when the connection goes idle.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};

use crate::transport::sealed::Write;

/// How many chunks one vectored write may carry.
const MAX_IOV: usize = 16;
/// How many bytes are taken from the source ahead of a write. Control frames the core
/// queues later overtake data only behind this much.
const WRITE_BATCH: usize = 64 * 1024;

/// Bytes in hand for the transport, and the write loop that empties them.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// The first two chunks in hand, in order; an empty `Bytes` (no allocation)
    /// where there is none, and the second is empty when the first is.
    head: [Bytes; 2],
    /// The chunks after those two, in order: a chunk goes here only when both are
    /// taken.
    pub(crate) spill: VecDeque<Bytes>,
    /// Bytes in hand.
    pub(crate) len: usize,
    /// Bytes were written since the last flush.
    unflushed: bool,
    /// When the transport last refused bytes we had in hand, if it has taken none
    /// since (the write timeout counts from here).
    stalled_since: Option<Duration>,
}

impl Outbox {
    /// When the write timeout fires, if the transport is stuck with bytes in hand.
    pub(crate) fn write_deadline(&self, timeout: Option<Duration>) -> Option<Duration> {
        timeout
            .zip(self.stalled_since)
            .map(|(timeout, since)| since.saturating_add(timeout))
    }

    /// Drops everything in hand: the peer will not take it.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Drops the list's memory once it is empty: an idle connection holds none.
    pub(crate) fn shrink(&mut self) {
        if self.spill.is_empty() && self.spill.capacity() != 0 {
            self.spill = VecDeque::new();
        }
    }

    /// Appends a chunk (not empty) for the next write.
    #[inline]
    pub(crate) fn push_back(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        match self.head.iter_mut().find(|slot| slot.is_empty()) {
            Some(slot) => *slot = chunk,
            None => self.spill.push_back(chunk),
        }
    }

    /// The chunks in hand, in order.
    fn chunks(&self) -> impl Iterator<Item = &Bytes> {
        let head = self.head.iter().take_while(|chunk| !chunk.is_empty());
        head.chain(&self.spill)
    }

    /// Writes what is in hand and what `transmit` gives (the core's `poll_transmit`;
    /// `|| None` for bytes pushed beforehand), batched into vectored writes, until
    /// both are empty and the transport is flushed. `Pending` means the transport is
    /// full (the waker is registered); `now` is when it started refusing bytes, if
    /// it had not already.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut impl Write,
        now: Duration,
        mut transmit: impl FnMut() -> Option<Bytes>,
    ) -> Poll<io::Result<()>> {
        loop {
            // Refill the batch: the source decides the order (control frames first).
            // While fewer than `MAX_IOV` chunks are in hand: the head slots fill first.
            while self.spill.len() < MAX_IOV - self.head.len() && self.len < WRITE_BATCH {
                match transmit() {
                    Some(chunk) if chunk.is_empty() => {}
                    Some(chunk) => self.push_back(chunk),
                    None => break,
                }
            }
            if self.len == 0 {
                self.stalled_since = None;
                if self.unflushed {
                    ready!(io.poll_flush(cx))?;
                    self.unflushed = false;
                }
                return Poll::Ready(Ok(()));
            }
            // One chunk (a small message) goes out with a plain write, a cheaper
            // system call than a vectored one.
            let polled = if self.head[1].is_empty() {
                io.poll_write(cx, &self.head[0])
            } else {
                let mut iov = [IoSlice::new(&[]); MAX_IOV];
                let mut n = 0;
                for (slot, chunk) in iov.iter_mut().zip(self.chunks()) {
                    *slot = IoSlice::new(chunk);
                    n += 1;
                }
                io.poll_write_vectored(cx, &iov[..n])
            };
            let Poll::Ready(written) = polled else {
                self.stalled_since.get_or_insert(now);
                return Poll::Pending;
            };
            let mut written = written?;
            self.stalled_since = None;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.unflushed = true;
            self.len -= written;
            while written >= self.head[0].len() && !self.head[0].is_empty() {
                written -= self.head[0].len();
                let next = self.spill.pop_front().unwrap_or_default();
                self.head[0] = std::mem::replace(&mut self.head[1], next);
            }
            self.head[0].advance(written);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// A transport that takes at most `step` bytes per write, vectored or not.
    struct Trickle {
        written: Vec<u8>,
        step: usize,
        plain_writes: usize,
    }

    impl Write for Trickle {
        fn poll_write_vectored(
            &mut self,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut room = self.step;
            for buf in bufs {
                let n = buf.len().min(room);
                self.written.extend_from_slice(&buf[..n]);
                room -= n;
            }
            Poll::Ready(Ok(self.step - room))
        }
        fn poll_write(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.plain_writes += 1;
            let n = buf.len().min(self.step);
            self.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Chunks beyond the inline slots, written a few bytes at a time, come out
    /// whole and in order, and the list is freed once empty.
    #[test]
    fn chunks_keep_their_order_across_inline_and_spill() {
        let chunks: Vec<Bytes> = (0u8..40)
            .map(|i| Bytes::from(vec![i; 1 + usize::from(i) % 7]))
            .collect();
        let expected: Vec<u8> = chunks.iter().flatten().copied().collect();
        for step in [1, 3, 5, 64, 1000] {
            let mut io = Trickle {
                written: Vec::new(),
                step,
                plain_writes: 0,
            };
            let mut out = Outbox::default();
            let mut source = chunks.iter().cloned();
            let mut cx = Context::from_waker(Waker::noop());
            let done = out.poll_write(&mut cx, &mut io, Duration::ZERO, || source.next());
            assert!(matches!(done, Poll::Ready(Ok(()))));
            assert_eq!(io.written, expected, "step {step}");
            assert_eq!(out.len, 0);
            out.shrink();
            assert_eq!(out.spill.capacity(), 0);
        }
    }

    /// A single chunk goes out with a plain write.
    #[test]
    fn one_chunk_is_a_plain_write() {
        let mut io = Trickle {
            written: Vec::new(),
            step: 1000,
            plain_writes: 0,
        };
        let mut out = Outbox::default();
        let mut source = Some(Bytes::from_static(b"\x82\x02hi")).into_iter();
        let mut cx = Context::from_waker(Waker::noop());
        let done = out.poll_write(&mut cx, &mut io, Duration::ZERO, || source.next());
        assert!(matches!(done, Poll::Ready(Ok(()))));
        assert_eq!(io.written, b"\x82\x02hi");
        assert_eq!(io.plain_writes, 1);
    }
}
