//! The runtime bridge: a byte stream behind one small trait, one adapter per runtime.
//!
//! Everything above this module is runtime-agnostic and written once. Each adapter is a
//! few lines mapping four operations (read, write, flush, shut down the write side)
//! onto its runtime's stream traits; the runtime's timer is the [`Clock`] of
//! [`Runtime`](crate::clock::Runtime), which the adapter type names.
//!
//! Reads go straight into the connection's receive buffer: there is no second buffer
//! and no copy. On tokio the buffer's spare room is handed over uninitialized, through
//! tokio's own `read_buf` (the `unsafe` that makes this sound is tokio's; this crate
//! keeps `forbid(unsafe_code)`). futures-io's `poll_read` takes only an initialized
//! slice, so there the room is zero-filled first, at most `ZERO_FILL_MAX` bytes per
//! read.
//!
//! One exception: a small read into a buffer with no room (an idle connection freed
//! it) goes to the stack first, and only the bytes that came are appended. A
//! connection's buffers are freed whenever it waits, so most reads of small messages
//! are of this kind, and half of them find nothing: reading into the stack, they
//! allocate nothing then, and exactly the message's size otherwise, instead of
//! [`ReadSize::MIN`] bytes each time.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tidings_handshake::{Error as HeadError, Rejection, Status};

use crate::clock::{Clock, Runtime};
use crate::outbox::Outbox;

/// A byte stream on a runtime: what a [`WebSocket`](crate::WebSocket) runs on.
///
/// Implemented by `Tokio` (feature `tokio`) and `FuturesIo` (feature
/// `futures-io`); sealed, so the adapters can change without a breaking release.
pub trait Transport: sealed::Read + sealed::Write + Runtime {}

impl<T: sealed::Read + sealed::Write + Runtime> Transport for T {}

pub(crate) mod sealed {
    use super::*;

    /// The reading side of a stream (a whole transport, or its reading half).
    #[allow(unreachable_pub)] // Sealed: public in a private module on purpose.
    pub trait Read: Unpin {
        /// Reads at most `max` bytes, appended to `buf`.
        fn poll_read_into(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut BytesMut,
            max: usize,
        ) -> Poll<io::Result<usize>>;
    }

    /// The writing side of a stream (a whole transport, or its writing half).
    #[allow(unreachable_pub)] // Sealed: public in a private module on purpose.
    pub trait Write: Unpin {
        /// Writes some of `bufs`, in order.
        fn poll_write_vectored(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>>;
        /// Writes some of `buf`. One slice is the common case (a small message is one
        /// chunk), and a plain write is a cheaper system call than a vectored one
        /// (`send` against `writev`, which goes through the VFS layer).
        fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
        /// Flushes what the stream buffers itself (TLS does; TCP does not).
        fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// Closes the write side (TCP: FIN).
        fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    }

    /// A transport that can be cut into a reading and a writing half.
    #[allow(unreachable_pub)] // Sealed: public in a private module on purpose.
    pub trait Split {
        /// The reading half.
        type ReadHalf: Read;
        /// The writing half.
        type WriteHalf: Write;
        /// Cuts the transport in two.
        fn split(self) -> (Self::ReadHalf, Self::WriteHalf);
    }
}

/// A [`Transport`] that [`WebSocket::split`](crate::WebSocket::split) can cut into a
/// reading and a writing half.
///
/// The halves are lock-free for the streams that have owned halves, found at run
/// time: tokio's `TcpStream`, `UnixStream` (`into_split`) and a plain
/// `MaybeTlsStream`, and smol's / async-net's `TcpStream` and `UnixStream` (shared
/// handles). Any other stream (a TLS stream, a hyper upgrade...) is shared between
/// the halves behind a mutex, taken for the duration of each single non-blocking
/// read or write call: uncontended unless both tasks touch the stream at the same
/// instant, and never held across an `.await`. TLS needs it anyway: reading can make
/// a TLS stream write (alerts, key updates). Each half is one boxed stream (one
/// allocation when splitting, one indirect call per read or write), so both kinds
/// of split share one type. Splitting needs a `Send + 'static` stream.
pub trait SplitTransport: Transport + sealed::Split {}

impl<T: Transport + sealed::Split> SplitTransport for T {}

/// Takes the `U` out of `slot` if `T` is `U`: a run-time specialization (safe code,
/// through [`Any`](std::any::Any)) that lets `split` use owned halves where a stream
/// type has them.
#[cfg(any(feature = "tokio", feature = "futures-io"))]
fn take_as<U: 'static, T: 'static>(slot: &mut Option<T>) -> Option<U> {
    (slot as &mut dyn std::any::Any)
        .downcast_mut::<Option<U>>()?
        .take()
}

/// How many bytes the next read asks for: from [`ReadSize::MIN`] up to
/// [`Config::read_buffer_size`](crate::Config::read_buffer_size), following what
/// the reads bring, or up to [`FRAME_READ_MAX`](Self::FRAME_READ_MAX) of a large
/// frame still arriving.
///
/// A connection frees its receive buffer whenever it goes idle, so asking for 16 KiB
/// to receive a 20-byte message would cost a 16 KiB allocation per message (and,
/// where reads zero-fill, a 16 KiB `memset`). The size starts small, doubles after a
/// read that filled it, and halves after two reads in a row that used less than a
/// quarter of it (the adaptive strategy of hyper's read buffer). Each read also has
/// room for a frame header beyond that size ([`HEADER_ROOM`](Self::HEADER_ROOM)), so
/// a message of exactly the read size arrives in one read.
///
/// Once the core has parsed the header of a frame that is still arriving
/// (`frame_bytes_wanted`), the next read asks for the frame's missing bytes, up to
/// [`FRAME_READ_MAX`](Self::FRAME_READ_MAX): small reads of a large frame multiply
/// the system calls, and a read of the whole frame at once costs more than it saves
/// (page faults on a fresh buffer of that size). `docs/performance.md` has the
/// figures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadSize {
    next: usize,
    max: usize,
    /// The last read used less than a quarter of its room.
    small: bool,
}

impl ReadSize {
    /// The smallest read: room for most messages of a chat or a feed in one read.
    pub(crate) const MIN: usize = 2048;

    /// The most bytes one read asks for to complete a frame (see the type's
    /// documentation).
    pub(crate) const FRAME_READ_MAX: usize = 64 * 1024;

    /// Room for the longest frame header on top of the payload a read is sized for.
    pub(crate) const HEADER_ROOM: usize = tidings_ws::frame::MAX_HEADER_LEN;

    /// Starts at the smallest size; never asks for more than `max` (nor less than 1)
    /// plus [`HEADER_ROOM`](Self::HEADER_ROOM), except for the rest of a frame.
    pub(crate) fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            next: Self::MIN.min(max),
            max,
            small: false,
        }
    }

    /// The size of the next read when no frame is being received whole.
    pub(crate) fn get(&self) -> usize {
        self.next + Self::HEADER_ROOM
    }

    /// The size of the next read, given the core's `frame_bytes_wanted()`: the rest
    /// of the frame being received, up to [`FRAME_READ_MAX`](Self::FRAME_READ_MAX),
    /// when it is more than [`get`](Self::get).
    pub(crate) fn for_frame(&self, frame_bytes_wanted: usize) -> usize {
        self.get().max(frame_bytes_wanted.min(Self::FRAME_READ_MAX))
    }

    /// Adapts to a read of `n` bytes.
    pub(crate) fn record(&mut self, n: usize) {
        if n >= self.next {
            self.next = self.next.saturating_mul(2).min(self.max);
            self.small = false;
        } else if n < self.next / 4 {
            if self.small {
                self.next = (self.next / 2).max(Self::MIN.min(self.max));
            }
            self.small = !self.small;
        } else {
            self.small = false;
        }
    }
}

/// The largest read that goes through the stack when the receive buffer has no room
/// (see the module documentation): the smallest read size.
#[cfg(any(feature = "tokio", feature = "futures-io"))]
const STACK_READ: usize = ReadSize::MIN + ReadSize::HEADER_ROOM;

/// Whether a read of `max` bytes into `buf` goes through the stack: it is small, and
/// `buf` would have to allocate for it.
#[cfg(any(feature = "tokio", feature = "futures-io"))]
fn via_stack(buf: &BytesMut, max: usize) -> bool {
    max <= STACK_READ && buf.capacity() - buf.len() < max
}

/// A runtime's adapter: the wrapper type and its accessors, and its writing side
/// through the runtime's `$write` trait, whose `$shutdown` closes the write side.
#[cfg(any(feature = "tokio", feature = "futures-io"))]
macro_rules! adapter {
    ($(#[$doc:meta])* $name:ident, $write:ident, $shutdown:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<T> {
            io: T,
        }

        impl<T> $name<T> {
            /// Wraps a stream.
            pub fn new(io: T) -> Self {
                Self { io }
            }

            /// The stream.
            pub fn get_ref(&self) -> &T {
                &self.io
            }

            /// The stream, mutably. Reading or writing it directly corrupts the
            /// connection.
            pub fn get_mut(&mut self) -> &mut T {
                &mut self.io
            }

            /// Gives the stream back.
            pub fn into_inner(self) -> T {
                self.io
            }
        }

        impl<T: $write + Unpin> sealed::Write for $name<T> {
            fn poll_write_vectored(
                &mut self,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
            }

            fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.io).poll_write(cx, buf)
            }

            fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut self.io).poll_flush(cx)
            }

            fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut self.io).$shutdown(cx)
            }
        }
    };
}

#[cfg(feature = "tokio")]
pub use self::tokio_rt::Tokio;

#[cfg(feature = "tokio")]
mod tokio_rt {
    use super::*;
    use crate::stream::MaybeTlsStream;
    use std::future::Future;
    use std::mem::MaybeUninit;
    use std::pin::Pin;
    use std::task::ready;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
    use tokio::net::TcpStream;

    adapter!(
        /// A tokio stream (`TcpStream`, a TLS stream, a hyper upgrade...), with
        /// tokio's timer.
        ///
        /// Time is read from `tokio::time`, so `tokio::time::pause` drives keepalives
        /// and timeouts in tests.
        Tokio,
        AsyncWrite,
        poll_shutdown
    );

    impl<T: AsyncRead + Unpin> sealed::Read for Tokio<T> {
        /// Reads at most `max` bytes into `buf`'s spare room, which is reserved
        /// first and not zero-filled: tokio's `read_buf` hands it to the stream as
        /// uninitialized memory and advances `buf` by what was read. A small read
        /// into a buffer without room goes through an uninitialized stack array
        /// instead.
        fn poll_read_into(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut BytesMut,
            max: usize,
        ) -> Poll<io::Result<usize>> {
            use bytes::BufMut;
            let max = max.max(1);
            if via_stack(buf, max) {
                let mut scratch = [MaybeUninit::<u8>::uninit(); STACK_READ];
                let mut read = ReadBuf::uninit(&mut scratch[..max]);
                ready!(Pin::new(&mut self.io).poll_read(cx, &mut read))?;
                buf.extend_from_slice(read.filled());
                return Poll::Ready(Ok(read.filled().len()));
            }
            buf.reserve(max);
            let mut room = buf.limit(max);
            // `read_buf` is a future borrowing the stream and `room`; one poll reads
            // or registers the waker, and dropping it afterwards loses nothing (it is
            // cancel safe).
            std::pin::pin!(self.io.read_buf(&mut room)).poll(cx)
        }
    }

    impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> sealed::Split for Tokio<T> {
        type ReadHalf = Tokio<Box<dyn AsyncRead + Send + Unpin>>;
        type WriteHalf = Tokio<Box<dyn AsyncWrite + Send + Unpin>>;

        fn split(self) -> (Self::ReadHalf, Self::WriteHalf) {
            let mut slot = Some(self.io);
            if let Some(tcp) =
                take_as::<TcpStream, T>(&mut slot).or_else(|| take_plain_tcp(&mut slot))
            {
                let (r, w) = tcp.into_split();
                return (Tokio::new(Box::new(r)), Tokio::new(Box::new(w)));
            }
            #[cfg(unix)]
            if let Some(unix) = take_as::<tokio::net::UnixStream, T>(&mut slot) {
                let (r, w) = unix.into_split();
                return (Tokio::new(Box::new(r)), Tokio::new(Box::new(w)));
            }
            // `take_as` empties the slot only when it returns the stream.
            let (r, w) = tokio::io::split(slot.expect("the stream was taken and not returned"));
            (Tokio::new(Box::new(r)), Tokio::new(Box::new(w)))
        }
    }

    /// Takes the TCP stream out of `slot` if `T` is [`MaybeTlsStream`] and the stream
    /// is plain; a TLS stream stays where it is.
    fn take_plain_tcp<T: 'static>(slot: &mut Option<T>) -> Option<TcpStream> {
        let slot = (slot as &mut dyn std::any::Any).downcast_mut::<Option<MaybeTlsStream>>()?;
        match slot.take()? {
            MaybeTlsStream::Plain(tcp) => Some(tcp),
            #[allow(unreachable_patterns)] // Reachable with the `rustls` feature.
            other => {
                *slot = Some(other);
                None
            }
        }
    }
}

#[cfg(feature = "futures-io")]
pub use self::futures_rt::FuturesIo;

#[cfg(feature = "futures-io")]
mod futures_rt {
    use super::*;
    use futures_io::{AsyncRead, AsyncWrite};
    use std::pin::Pin;
    use std::task::ready;

    adapter!(
        /// A futures-io stream (smol, async-std, async-net...), with `async-io`'s
        /// timer.
        FuturesIo,
        AsyncWrite,
        poll_close
    );

    /// The most bytes one read zero-fills (futures-io reads must), whatever it is
    /// asked for, so the zeroing stays proportional to the bytes that can arrive.
    const ZERO_FILL_MAX: usize = 64 * 1024;

    impl<T: AsyncRead + Unpin> sealed::Read for FuturesIo<T> {
        /// Reserves `max` bytes in `buf`, zero-fills at most [`ZERO_FILL_MAX`] of
        /// them, lets the stream fill a prefix, and keeps only that prefix. A small
        /// read into a buffer without room goes through a zeroed stack array instead.
        fn poll_read_into(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut BytesMut,
            max: usize,
        ) -> Poll<io::Result<usize>> {
            let max = max.max(1);
            let io = Pin::new(&mut self.io);
            if via_stack(buf, max) {
                let mut scratch = [0u8; STACK_READ];
                let scratch = &mut scratch[..max];
                let n = ready!(io.poll_read(cx, scratch))?.min(max);
                buf.extend_from_slice(&scratch[..n]);
                return Poll::Ready(Ok(n));
            }
            buf.reserve(max);
            let room = max.min(ZERO_FILL_MAX);
            let start = buf.len();
            buf.resize(start + room, 0);
            let result = io.poll_read(cx, &mut buf[start..]);
            let n = match &result {
                Poll::Ready(Ok(n)) => (*n).min(room),
                _ => 0,
            };
            buf.truncate(start + n);
            result.map_ok(|_| n)
        }
    }

    impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> sealed::Split for FuturesIo<T> {
        type ReadHalf = FuturesIo<Box<dyn AsyncRead + Send + Unpin>>;
        type WriteHalf = FuturesIo<Box<dyn AsyncWrite + Send + Unpin>>;

        fn split(self) -> (Self::ReadHalf, Self::WriteHalf) {
            let mut slot = Some(self.io);
            if let Some(tcp) = take_as::<async_net::TcpStream, T>(&mut slot) {
                return (
                    FuturesIo::new(Box::new(tcp.clone())),
                    FuturesIo::new(Box::new(tcp)),
                );
            }
            #[cfg(unix)]
            if let Some(unix) = take_as::<async_net::unix::UnixStream, T>(&mut slot) {
                let twin = Box::new(unix.clone());
                return (FuturesIo::new(twin), FuturesIo::new(Box::new(unix)));
            }
            // `take_as` empties the slot only when it returns the stream.
            let io = slot.expect("the stream was taken and not returned");
            let (r, w) = futures_lite::io::split(io);
            (FuturesIo::new(Box::new(r)), FuturesIo::new(Box::new(w)))
        }
    }
}

/// Why an exchange bounded by a [`Deadline`] (an opening handshake, a request head)
/// ended early.
#[derive(Debug)]
pub(crate) enum Bounded {
    /// The deadline passed first.
    TimedOut,
    /// The transport failed.
    Io(io::Error),
    /// The peer closed the stream before a whole head arrived.
    Closed,
}

/// How much of a head one read asks for. The parsers take a head in pieces of any
/// size, so this only trades system calls for memory; their limits bound the head.
const HEAD_READ: usize = 4096;

/// A deadline on a runtime's clock, for exchanges that must be over by then.
#[derive(Debug)]
pub(crate) struct Deadline {
    clock: Clock,
    at: Duration,
}

impl Deadline {
    /// `timeout` from now, on the clock of `S`'s runtime.
    pub(crate) fn after<S: Runtime>(timeout: Duration) -> Self {
        let clock = S::clock();
        let at = clock.now().saturating_add(timeout);
        Self { clock, at }
    }

    /// Runs `poll` until it is ready or the deadline passes.
    async fn run<T>(
        &mut self,
        mut poll: impl FnMut(&mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Result<T, Bounded> {
        std::future::poll_fn(|cx| {
            if self.clock.poll_sleep_until(cx, self.at).is_ready() {
                return Poll::Ready(Err(Bounded::TimedOut));
            }
            poll(cx).map_err(Bounded::Io)
        })
        .await
    }

    /// Reads an HTTP head with `parse`, an incremental parser that keeps what it
    /// needs of each piece: the head and the bytes read past it, or the parser's
    /// error.
    pub(crate) async fn read_head<T>(
        &mut self,
        io: &mut impl sealed::Read,
        mut parse: impl FnMut(&[u8]) -> Result<Status<(T, usize)>, HeadError>,
    ) -> Result<Result<(T, BytesMut), HeadError>, Bounded> {
        let mut buf = BytesMut::new();
        loop {
            buf.clear();
            if self
                .run(|cx| io.poll_read_into(cx, &mut buf, HEAD_READ))
                .await?
                == 0
            {
                return Err(Bounded::Closed);
            }
            match parse(&buf) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete((head, consumed))) => {
                    return Ok(Ok((head, buf.split_off(consumed))));
                }
                Err(e) => return Ok(Err(e)),
            }
        }
    }

    /// Writes and flushes all of `bytes`.
    pub(crate) async fn write_all(
        &mut self,
        io: &mut impl sealed::Write,
        bytes: Bytes,
    ) -> Result<(), Bounded> {
        let mut out = Outbox::default();
        out.push_back(bytes);
        self.run(|cx| out.poll_write(cx, io, Duration::ZERO, || None))
            .await
    }

    /// Shuts the write side down.
    pub(crate) async fn shutdown(&mut self, io: &mut impl sealed::Write) -> Result<(), Bounded> {
        self.run(|cx| io.poll_shutdown(cx)).await
    }

    /// Writes `rejection`, then shuts the write side down (best effort: the peer
    /// may already be gone).
    pub(crate) async fn refuse(
        &mut self,
        io: &mut impl sealed::Write,
        rejection: &Rejection,
    ) -> Result<(), Bounded> {
        let mut answer = Vec::new();
        rejection.encode(&mut answer);
        self.write_all(io, answer.into()).await?;
        let _ = self.shutdown(io).await;
        Ok(())
    }
}

#[cfg(test)]
mod read_size_tests {
    use super::ReadSize;

    /// The payload size a read is sized for, without the header room.
    fn payload(size: &ReadSize) -> usize {
        size.get() - ReadSize::HEADER_ROOM
    }

    #[test]
    fn grows_on_full_reads_and_shrinks_on_small_ones() {
        let mut size = ReadSize::new(16 * 1024);
        assert_eq!(payload(&size), ReadSize::MIN);
        for expected in [4096, 8192, 16384, 16384] {
            size.record(size.get());
            assert_eq!(payload(&size), expected);
        }
        // One small read is not a trend; two are.
        size.record(20);
        assert_eq!(payload(&size), 16384);
        size.record(20);
        assert_eq!(payload(&size), 8192);
        // A read in between resets the count.
        size.record(20);
        size.record(4000);
        size.record(20);
        assert_eq!(payload(&size), 8192);
        for _ in 0..20 {
            size.record(1);
        }
        assert_eq!(payload(&size), ReadSize::MIN);
    }

    #[test]
    fn stays_within_a_small_maximum() {
        let mut size = ReadSize::new(100);
        assert_eq!(payload(&size), 100);
        size.record(100);
        assert_eq!(payload(&size), 100);
        size.record(1);
        size.record(1);
        assert_eq!(payload(&size), 100);
        assert_eq!(payload(&ReadSize::new(0)), 1);
    }

    #[test]
    fn a_whole_message_of_the_read_size_fits_one_read() {
        // A 16 KiB payload behind a masked client header of 8 bytes.
        let mut size = ReadSize::new(16 * 1024);
        for _ in 0..3 {
            size.record(size.get());
        }
        assert!(size.get() >= 16 * 1024 + 8);
    }

    #[test]
    fn reads_the_rest_of_a_large_frame_at_once() {
        let size = ReadSize::new(16 * 1024);
        assert_eq!(size.for_frame(0), size.get());
        assert_eq!(size.for_frame(10), size.get());
        assert_eq!(size.for_frame(40_000), 40_000);
        assert_eq!(size.for_frame(1 << 20), ReadSize::FRAME_READ_MAX);
    }
}
