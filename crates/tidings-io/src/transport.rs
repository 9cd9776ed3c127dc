//! The runtime bridge: a byte stream and the runtime's timer, behind one small trait.
//!
//! Everything above this module is runtime-agnostic and written once. Each adapter
//! here is a few lines mapping four operations (read, vectored write, flush, shut down
//! the write side) and a clock with one resettable sleep onto its runtime. Time is
//! handed to the protocol core as a [`Duration`] since the adapter was made, on the
//! runtime's own clock, so tokio's paused test clock drives the core's timers too.
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
//! [`ReadSize::MIN`] bytes each time. The copy is of at most
//! [`STACK_READ`] bytes, of which a small message uses a few dozen.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;

/// A byte stream plus its runtime's timer: what a [`WebSocket`](crate::WebSocket)
/// runs on.
///
/// Implemented by `Tokio` (feature `tokio`) and `FuturesIo` (feature
/// `futures-io`); sealed, so the adapters can change without a breaking release.
pub trait Transport: Unpin + sealed::Io {}

impl<T: sealed::Io + Unpin> Transport for T {}

pub(crate) mod sealed {
    use super::*;

    /// The operations the binding needs; see the module documentation.
    #[allow(unreachable_pub)] // Sealed: public in a private module on purpose.
    pub trait Io {
        /// Reads at most `max` bytes, appended to `buf`.
        fn poll_read_into(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut BytesMut,
            max: usize,
        ) -> Poll<io::Result<usize>>;
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
        /// The time since the adapter was made, on the runtime's clock.
        fn now(&self) -> Duration;
        /// Ready once `now() >= deadline`; otherwise wakes the task then.
        fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Duration) -> Poll<()>;
        /// Drops the armed sleep, if any: the caller has no deadline. A sleep left
        /// armed stays in the runtime's timer wheel, so every wait for I/O would set
        /// a kernel timer (`epoll_wait` with a timeout) until it fires.
        fn cancel_sleep(&mut self);
    }

    /// The reading half of a split transport.
    #[allow(unreachable_pub)] // Sealed: public in a private module on purpose.
    pub trait ReadIo: Unpin {
        /// As [`Io::poll_read_into`].
        fn poll_read_into(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut BytesMut,
            max: usize,
        ) -> Poll<io::Result<usize>>;
        /// As [`Io::now`], on the same clock as the writing half.
        fn now(&self) -> Duration;
    }

    /// The writing half of a split transport, which also keeps the timers.
    #[allow(unreachable_pub)] // Sealed: public in a private module on purpose.
    pub trait WriteIo: Unpin {
        /// As [`Io::poll_write_vectored`].
        fn poll_write_vectored(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>>;
        /// As [`Io::poll_write`].
        fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
        /// As [`Io::poll_flush`].
        fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// As [`Io::poll_shutdown`].
        fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// As [`Io::now`].
        fn now(&self) -> Duration;
        /// As [`Io::poll_sleep_until`].
        fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Duration) -> Poll<()>;
        /// As [`Io::cancel_sleep`].
        fn cancel_sleep(&mut self);
    }

    /// A whole transport writes like a writing half (the unsplit `WebSocket` and
    /// the split writer share their write loop this way).
    impl<T: Io + Unpin> WriteIo for T {
        fn poll_write_vectored(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Io::poll_write_vectored(self, cx, bufs)
        }
        fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Io::poll_write(self, cx, buf)
        }
        fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Io::poll_flush(self, cx)
        }
        fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Io::poll_shutdown(self, cx)
        }
        fn now(&self) -> Duration {
            Io::now(self)
        }
        fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Duration) -> Poll<()> {
            Io::poll_sleep_until(self, cx, deadline)
        }
        fn cancel_sleep(&mut self) {
            Io::cancel_sleep(self)
        }
    }

    /// A transport that can be cut into a reading and a writing half.
    #[allow(unreachable_pub)] // Sealed: public in a private module on purpose.
    pub trait Split: Io {
        /// The reading half.
        type ReadHalf: ReadIo;
        /// The writing half.
        type WriteHalf: WriteIo;
        /// Cuts the transport in two; both halves keep this transport's clock.
        fn split(self) -> (Self::ReadHalf, Self::WriteHalf);
    }
}

/// A [`Transport`] that [`WebSocket::split`](crate::WebSocket::split) can cut into a
/// reading and a writing half.
///
/// The halves are lock-free for the streams that have owned halves, found at run
/// time: tokio's `TcpStream`, `UnixStream` (`into_split`) and a plain
/// `MaybeTlsStream`, and smol's / async-net's
/// `TcpStream` and `UnixStream` (shared handles). Any other stream (a TLS stream, a
/// hyper upgrade...) is shared between the halves behind a mutex, taken for the
/// duration of each single non-blocking read or write call: uncontended unless both
/// tasks touch the stream at the same instant, and never held across an `.await`.
/// TLS needs it anyway: reading can make a TLS stream write (alerts, key updates).
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

/// The same stream for two halves, one non-blocking call at a time.
#[cfg(any(feature = "tokio", feature = "futures-io"))]
#[derive(Debug)]
struct Shared<T>(std::sync::Arc<std::sync::Mutex<T>>);

#[cfg(any(feature = "tokio", feature = "futures-io"))]
impl<T> Shared<T> {
    fn new(io: T) -> (Self, Self) {
        let io = std::sync::Arc::new(std::sync::Mutex::new(io));
        (Self(io.clone()), Self(io))
    }

    /// Runs one poll with the stream. A poisoned lock (a panic in another poll)
    /// changes nothing about the stream, so it is taken anyway.
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut io = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut io)
    }
}

/// How many bytes the next read asks for: from [`ReadSize::MIN`] up to
/// [`Config::read_buffer_size`](crate::Config::read_buffer_size), following what
/// the reads bring, or up to [`FRAME_READ_MAX`](Self::FRAME_READ_MAX) of a large
/// frame still arriving.
///
/// A connection frees its receive buffer whenever it goes idle, so asking for 16 KiB
/// to receive a 20-byte message costs a 16 KiB allocation per message (and, where
/// reads zero-fill, a 16 KiB `memset`). The size starts small, doubles after a read
/// that filled it, and halves after two reads in a row that used less than a quarter
/// of it (the adaptive strategy of hyper's read buffer). Each read also has room for
/// a frame header beyond that size ([`HEADER_ROOM`](Self::HEADER_ROOM)), so a message
/// of exactly the read size arrives in one read.
///
/// Once the core has parsed the header of a frame that is still arriving
/// (`frame_bytes_wanted`), the next read asks for the frame's missing bytes, up to
/// [`FRAME_READ_MAX`](Self::FRAME_READ_MAX): reading a 1 MiB frame 16 KiB at a time
/// cost 25 times the system calls of the peers in `benches/e2e` (13,040 `recvfrom`
/// for 20 echoes against 525). Not all of it at once, though: in `benches/e2e`,
/// 1 MiB echoes cost the server 244 µs of CPU each with 64 KiB reads, 456 µs with
/// 256 KiB reads and 1,039 µs with whole-frame reads (same run, page faults on the
/// fresh buffers being most of the difference). Measured again once the core kept
/// such frames in place: 1 MiB reads still cost more than 64 KiB ones (server CPU
/// 1.09x tokio-websockets' against 0.99x, same run).
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

    /// Room for the longest frame header (RFC 6455 §5.2: 2 + 8 bytes of length + 4 of
    /// masking key) on top of the payload a read is sized for.
    pub(crate) const HEADER_ROOM: usize = 14;

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
pub(crate) const STACK_READ: usize = ReadSize::MIN + ReadSize::HEADER_ROOM;

/// Whether a read of `max` bytes into `buf` goes through the stack: it is small, and
/// `buf` would have to allocate for it.
#[cfg(any(feature = "tokio", feature = "futures-io"))]
fn via_stack(buf: &BytesMut, max: usize) -> bool {
    max <= STACK_READ && buf.capacity() - buf.len() < max
}

/// The most bytes one read zero-fills where reads must (futures-io), whatever it is
/// asked for, so the zeroing stays proportional to the bytes that can arrive.
#[cfg(feature = "futures-io")]
const ZERO_FILL_MAX: usize = 64 * 1024;

/// Reserves `max` bytes in `buf`, zero-fills at most [`ZERO_FILL_MAX`] of them, lets
/// `read` fill a prefix, and keeps only that prefix. A small read into a buffer
/// without room goes through a zeroed stack array instead.
#[cfg(feature = "futures-io")]
fn read_into(
    buf: &mut BytesMut,
    max: usize,
    read: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>,
) -> Poll<io::Result<usize>> {
    let max = max.max(1);
    if via_stack(buf, max) {
        let mut scratch = [0u8; STACK_READ];
        let scratch = &mut scratch[..max];
        let n = std::task::ready!(read(scratch))?.min(max);
        buf.extend_from_slice(&scratch[..n]);
        return Poll::Ready(Ok(n));
    }
    buf.reserve(max);
    let room = max.min(ZERO_FILL_MAX);
    let start = buf.len();
    buf.resize(start + room, 0);
    let result = read(&mut buf[start..]);
    let n = match &result {
        Poll::Ready(Ok(n)) => (*n).min(room),
        _ => 0,
    };
    buf.truncate(start + n);
    result.map_ok(|_| n)
}

/// Reads at most `max` bytes from a tokio stream into `buf`'s spare room, which is
/// reserved first and not zero-filled: tokio's `read_buf` hands it to the stream as
/// uninitialized memory and advances `buf` by what was read. A small read into a
/// buffer without room goes through an uninitialized stack array instead.
#[cfg(feature = "tokio")]
fn read_uninit<R: tokio::io::AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
    max: usize,
) -> Poll<io::Result<usize>> {
    use bytes::BufMut;
    use std::future::Future;
    use std::mem::MaybeUninit;
    use tokio::io::AsyncReadExt;
    let max = max.max(1);
    if via_stack(buf, max) {
        let mut scratch = [MaybeUninit::<u8>::uninit(); STACK_READ];
        let mut read = tokio::io::ReadBuf::uninit(&mut scratch[..max]);
        std::task::ready!(std::pin::Pin::new(io).poll_read(cx, &mut read))?;
        buf.extend_from_slice(read.filled());
        return Poll::Ready(Ok(read.filled().len()));
    }
    buf.reserve(max);
    let mut room = buf.limit(max);
    // `read_buf` is a future borrowing `io` and `room`; one poll reads or registers
    // the waker, and dropping it afterwards loses nothing (it is cancel safe).
    std::pin::pin!(io.read_buf(&mut room)).poll(cx)
}

#[cfg(feature = "tokio")]
pub use self::tokio_rt::Tokio;

#[cfg(feature = "tokio")]
mod tokio_rt {
    use super::*;
    use crate::stream::MaybeTlsStream;
    use std::future::Future;
    use std::pin::Pin;
    use tokio::io::{AsyncRead, AsyncWrite};
    use tokio::time::{Instant, Sleep};

    /// A tokio stream (`TcpStream`, a TLS stream, a hyper upgrade...) with tokio's
    /// timer.
    ///
    /// Time is read from `tokio::time`, so `tokio::time::pause` drives keepalives and
    /// timeouts in tests.
    #[derive(Debug)]
    pub struct Tokio<T> {
        io: T,
        epoch: Instant,
        sleep: SleepSlot,
    }

    impl<T> Tokio<T> {
        /// Wraps a stream; its clock starts now.
        pub fn new(io: T) -> Self {
            Self {
                io,
                epoch: Instant::now(),
                sleep: None,
            }
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

    impl<T: AsyncRead + AsyncWrite + Unpin> sealed::Io for Tokio<T> {
        fn poll_read_into(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut BytesMut,
            max: usize,
        ) -> Poll<io::Result<usize>> {
            read_uninit(&mut self.io, cx, buf, max)
        }

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
            Pin::new(&mut self.io).poll_shutdown(cx)
        }

        fn now(&self) -> Duration {
            self.epoch.elapsed()
        }

        fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Duration) -> Poll<()> {
            poll_sleep(&mut self.sleep, self.epoch, cx, deadline)
        }

        fn cancel_sleep(&mut self) {
            self.sleep = None;
        }
    }

    /// One sleep, made on first use and reset to each new deadline.
    type SleepSlot = Option<(Duration, Pin<Box<Sleep>>)>;

    fn poll_sleep(
        slot: &mut SleepSlot,
        epoch: Instant,
        cx: &mut Context<'_>,
        deadline: Duration,
    ) -> Poll<()> {
        let at = epoch + deadline;
        let (armed, sleep) =
            slot.get_or_insert_with(|| (deadline, Box::pin(tokio::time::sleep_until(at))));
        if *armed != deadline {
            *armed = deadline;
            sleep.as_mut().reset(at);
        }
        sleep.as_mut().poll(cx)
    }

    /// The stream a half reads or writes: an owned half, or the shared stream.
    #[derive(Debug)]
    enum Side<T, Tcp, Unix> {
        Tcp(Tcp),
        #[cfg_attr(not(unix), allow(dead_code))]
        Unix(Unix),
        Shared(Shared<T>),
    }

    #[cfg(unix)]
    use tokio::net::unix::{OwnedReadHalf as UnixRead, OwnedWriteHalf as UnixWrite};
    #[cfg(not(unix))]
    type UnixRead = std::convert::Infallible;
    #[cfg(not(unix))]
    type UnixWrite = std::convert::Infallible;
    use tokio::net::tcp::{OwnedReadHalf as TcpRead, OwnedWriteHalf as TcpWrite};

    /// Takes the TCP stream out of `slot` if `T` is [`MaybeTlsStream`] and the stream
    /// is plain; a TLS stream stays where it is.
    fn take_plain_tcp<T: 'static>(slot: &mut Option<T>) -> Option<tokio::net::TcpStream> {
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

    /// The reading half of a split [`Tokio`] transport.
    #[derive(Debug)]
    #[allow(unreachable_pub)] // Named only through the sealed `Split` trait.
    pub struct TokioReadHalf<T> {
        io: Side<T, TcpRead, UnixRead>,
        epoch: Instant,
    }

    /// The writing half of a split [`Tokio`] transport.
    #[derive(Debug)]
    #[allow(unreachable_pub)] // Named only through the sealed `Split` trait.
    pub struct TokioWriteHalf<T> {
        io: Side<T, TcpWrite, UnixWrite>,
        epoch: Instant,
        sleep: SleepSlot,
    }

    impl<T: AsyncRead + AsyncWrite + Unpin + 'static> sealed::Split for Tokio<T> {
        type ReadHalf = TokioReadHalf<T>;
        type WriteHalf = TokioWriteHalf<T>;

        fn split(self) -> (Self::ReadHalf, Self::WriteHalf) {
            let mut slot = Some(self.io);
            let tcp = take_as::<tokio::net::TcpStream, T>(&mut slot)
                .or_else(|| take_plain_tcp(&mut slot));
            let (read, write) = if let Some(tcp) = tcp {
                let (r, w) = tcp.into_split();
                (Side::Tcp(r), Side::Tcp(w))
            } else {
                #[cfg(unix)]
                let unix = take_as::<tokio::net::UnixStream, T>(&mut slot).map(|u| u.into_split());
                #[cfg(not(unix))]
                let unix: Option<(UnixRead, UnixWrite)> = None;
                match (unix, slot) {
                    (Some((r, w)), _) => (Side::Unix(r), Side::Unix(w)),
                    (None, Some(io)) => {
                        let (r, w) = Shared::new(io);
                        (Side::Shared(r), Side::Shared(w))
                    }
                    // `take_as` empties the slot only when it returns the stream.
                    (None, None) => unreachable!("the stream was taken and not returned"),
                }
            };
            let epoch = self.epoch;
            (
                TokioReadHalf { io: read, epoch },
                TokioWriteHalf {
                    io: write,
                    epoch,
                    sleep: None,
                },
            )
        }
    }

    impl<T: AsyncRead + Unpin> sealed::ReadIo for TokioReadHalf<T> {
        fn poll_read_into(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut BytesMut,
            max: usize,
        ) -> Poll<io::Result<usize>> {
            match &mut self.io {
                Side::Tcp(io) => read_uninit(io, cx, buf, max),
                #[cfg(unix)]
                Side::Unix(io) => read_uninit(io, cx, buf, max),
                #[cfg(not(unix))]
                Side::Unix(never) => match *never {},
                Side::Shared(io) => io.with(|io| read_uninit(io, cx, buf, max)),
            }
        }

        fn now(&self) -> Duration {
            self.epoch.elapsed()
        }
    }

    impl<T: AsyncWrite + Unpin> TokioWriteHalf<T> {
        /// Runs `f` on the stream this half writes.
        fn with<R>(&mut self, f: impl FnOnce(Pin<&mut (dyn AsyncWrite + Unpin)>) -> R) -> R {
            match &mut self.io {
                Side::Tcp(io) => f(Pin::new(io)),
                #[cfg(unix)]
                Side::Unix(io) => f(Pin::new(io)),
                #[cfg(not(unix))]
                Side::Unix(never) => match *never {},
                Side::Shared(io) => io.with(|io| f(Pin::new(io))),
            }
        }
    }

    impl<T: AsyncWrite + Unpin> sealed::WriteIo for TokioWriteHalf<T> {
        fn poll_write_vectored(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.with(|io| io.poll_write_vectored(cx, bufs))
        }

        fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.with(|io| io.poll_write(cx, buf))
        }

        fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.with(|io| io.poll_flush(cx))
        }

        fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.with(|io| io.poll_shutdown(cx))
        }

        fn now(&self) -> Duration {
            self.epoch.elapsed()
        }

        fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Duration) -> Poll<()> {
            poll_sleep(&mut self.sleep, self.epoch, cx, deadline)
        }

        fn cancel_sleep(&mut self) {
            self.sleep = None;
        }
    }
}

#[cfg(feature = "futures-io")]
pub use self::futures_rt::FuturesIo;

#[cfg(feature = "futures-io")]
mod futures_rt {
    use super::*;
    use async_io::Timer;
    use futures_io::{AsyncRead, AsyncWrite};
    use std::future::Future;
    use std::pin::Pin;
    use std::time::Instant;

    /// A futures-io stream (smol, async-std, async-net...) with `async-io`'s timer.
    #[derive(Debug)]
    pub struct FuturesIo<T> {
        io: T,
        epoch: Instant,
        timer: TimerSlot,
    }

    impl<T> FuturesIo<T> {
        /// Wraps a stream; its clock starts now.
        pub fn new(io: T) -> Self {
            Self {
                io,
                epoch: Instant::now(),
                timer: None,
            }
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

    impl<T: AsyncRead + AsyncWrite + Unpin> sealed::Io for FuturesIo<T> {
        fn poll_read_into(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut BytesMut,
            max: usize,
        ) -> Poll<io::Result<usize>> {
            read_into(buf, max, |spare| {
                Pin::new(&mut self.io).poll_read(cx, spare)
            })
        }

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
            Pin::new(&mut self.io).poll_close(cx)
        }

        fn now(&self) -> Duration {
            self.epoch.elapsed()
        }

        fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Duration) -> Poll<()> {
            poll_timer(&mut self.timer, self.epoch, cx, deadline)
        }

        fn cancel_sleep(&mut self) {
            self.timer = None;
        }
    }

    /// One timer, made on first use and reset to each new deadline.
    type TimerSlot = Option<(Duration, Timer)>;

    fn poll_timer(
        slot: &mut TimerSlot,
        epoch: Instant,
        cx: &mut Context<'_>,
        deadline: Duration,
    ) -> Poll<()> {
        let at = epoch + deadline;
        let (armed, timer) = slot.get_or_insert_with(|| (deadline, Timer::at(at)));
        if *armed != deadline {
            *armed = deadline;
            timer.set_at(at);
        }
        Pin::new(timer).poll(cx).map(|_| ())
    }

    /// The stream a half reads or writes: a handle of a stream whose handles share
    /// one socket without a lock (async-net's), or the shared stream.
    #[derive(Debug)]
    enum Side<T> {
        Tcp(async_net::TcpStream),
        #[cfg(unix)]
        Unix(async_net::unix::UnixStream),
        Shared(Shared<T>),
    }

    impl<T: AsyncRead + AsyncWrite + Unpin> Side<T> {
        /// Runs `f` on the stream.
        fn with<R>(&mut self, f: impl FnOnce(Pin<&mut (dyn Stream + Unpin)>) -> R) -> R {
            match self {
                Side::Tcp(io) => f(Pin::new(io)),
                #[cfg(unix)]
                Side::Unix(io) => f(Pin::new(io)),
                Side::Shared(io) => io.with(|io| f(Pin::new(io))),
            }
        }
    }

    /// Both directions, as one object type.
    trait Stream: AsyncRead + AsyncWrite {}
    impl<T: AsyncRead + AsyncWrite> Stream for T {}

    /// The reading half of a split [`FuturesIo`] transport.
    #[derive(Debug)]
    #[allow(unreachable_pub)] // Named only through the sealed `Split` trait.
    pub struct FuturesIoReadHalf<T> {
        io: Side<T>,
        epoch: Instant,
    }

    /// The writing half of a split [`FuturesIo`] transport.
    #[derive(Debug)]
    #[allow(unreachable_pub)] // Named only through the sealed `Split` trait.
    pub struct FuturesIoWriteHalf<T> {
        io: Side<T>,
        epoch: Instant,
        timer: TimerSlot,
    }

    impl<T: AsyncRead + AsyncWrite + Unpin + 'static> sealed::Split for FuturesIo<T> {
        type ReadHalf = FuturesIoReadHalf<T>;
        type WriteHalf = FuturesIoWriteHalf<T>;

        fn split(self) -> (Self::ReadHalf, Self::WriteHalf) {
            let mut slot = Some(self.io);
            let (read, write) = if let Some(tcp) = take_as::<async_net::TcpStream, T>(&mut slot) {
                (Side::Tcp(tcp.clone()), Side::Tcp(tcp))
            } else {
                #[cfg(unix)]
                let unix = take_as::<async_net::unix::UnixStream, T>(&mut slot);
                #[cfg(not(unix))]
                let unix: Option<std::convert::Infallible> = None;
                match (unix, slot) {
                    #[cfg(unix)]
                    (Some(u), _) => (Side::Unix(u.clone()), Side::Unix(u)),
                    #[cfg(not(unix))]
                    (Some(never), _) => match never {},
                    (None, Some(io)) => {
                        let (r, w) = Shared::new(io);
                        (Side::Shared(r), Side::Shared(w))
                    }
                    // `take_as` empties the slot only when it returns the stream.
                    (None, None) => unreachable!("the stream was taken and not returned"),
                }
            };
            let epoch = self.epoch;
            (
                FuturesIoReadHalf { io: read, epoch },
                FuturesIoWriteHalf {
                    io: write,
                    epoch,
                    timer: None,
                },
            )
        }
    }

    impl<T: AsyncRead + AsyncWrite + Unpin> sealed::ReadIo for FuturesIoReadHalf<T> {
        fn poll_read_into(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut BytesMut,
            max: usize,
        ) -> Poll<io::Result<usize>> {
            let io = &mut self.io;
            read_into(buf, max, |spare| io.with(|io| io.poll_read(cx, spare)))
        }

        fn now(&self) -> Duration {
            self.epoch.elapsed()
        }
    }

    impl<T: AsyncRead + AsyncWrite + Unpin> sealed::WriteIo for FuturesIoWriteHalf<T> {
        fn poll_write_vectored(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.io.with(|io| io.poll_write_vectored(cx, bufs))
        }

        fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.io.with(|io| io.poll_write(cx, buf))
        }

        fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.io.with(|io| io.poll_flush(cx))
        }

        fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.io.with(|io| io.poll_close(cx))
        }

        fn now(&self) -> Duration {
            self.epoch.elapsed()
        }

        fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Duration) -> Poll<()> {
            poll_timer(&mut self.timer, self.epoch, cx, deadline)
        }

        fn cancel_sleep(&mut self) {
            self.timer = None;
        }
    }
}

/// Why an exchange bounded by a deadline (an opening handshake, a request head)
/// ended early.
#[derive(Debug)]
pub(crate) enum Bounded {
    /// The deadline passed first.
    TimedOut,
    /// The transport failed.
    Io(io::Error),
}

/// Ready once `deadline` has passed on the transport's clock.
fn poll_passed<S: Transport>(io: &mut S, cx: &mut Context<'_>, deadline: Duration) -> Poll<()> {
    if io.now() >= deadline {
        return Poll::Ready(());
    }
    io.poll_sleep_until(cx, deadline)
}

/// Reads at most `max` bytes, appended to `buf`, before `deadline`.
pub(crate) async fn read_before<S: Transport>(
    io: &mut S,
    buf: &mut BytesMut,
    max: usize,
    deadline: Duration,
) -> Result<usize, Bounded> {
    std::future::poll_fn(|cx| {
        if poll_passed(io, cx, deadline).is_ready() {
            return Poll::Ready(Err(Bounded::TimedOut));
        }
        io.poll_read_into(cx, buf, max).map_err(Bounded::Io)
    })
    .await
}

/// Writes and flushes all of `bytes` before `deadline`.
pub(crate) async fn write_all_before<S: Transport>(
    io: &mut S,
    mut bytes: &[u8],
    deadline: Duration,
) -> Result<(), Bounded> {
    std::future::poll_fn(|cx| {
        if poll_passed(io, cx, deadline).is_ready() {
            return Poll::Ready(Err(Bounded::TimedOut));
        }
        while !bytes.is_empty() {
            let n = std::task::ready!(io.poll_write_vectored(cx, &[IoSlice::new(bytes)]))
                .map_err(Bounded::Io)?;
            if n == 0 {
                return Poll::Ready(Err(Bounded::Io(io::ErrorKind::WriteZero.into())));
            }
            bytes = &bytes[n..];
        }
        std::task::ready!(io.poll_flush(cx)).map_err(Bounded::Io)?;
        Poll::Ready(Ok(()))
    })
    .await
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
