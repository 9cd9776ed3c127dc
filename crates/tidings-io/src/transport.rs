//! The runtime bridge: a byte stream and the runtime's timer, behind one small trait.
//!
//! Everything above this module is runtime-agnostic and written once. Each adapter
//! here is a few lines mapping four operations (read, vectored write, flush, shut down
//! the write side) and a clock with one resettable sleep onto its runtime. Time is
//! handed to the protocol core as a [`Duration`] since the adapter was made, on the
//! runtime's own clock, so tokio's paused test clock drives the core's timers too.
//!
//! Reads go straight into the connection's receive buffer: the spare space is
//! zero-filled and handed to the runtime as an initialized slice, then truncated to
//! what was read. The zero fill (a `memset` of at most
//! [`Config::read_buffer_size`](crate::Config::read_buffer_size)) is the price of
//! `forbid(unsafe_code)`; there is no second buffer and no copy.

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
/// the reads bring.
///
/// Each read zero-fills the room it asks for (see the module documentation), and a
/// connection frees its receive buffer whenever it goes idle, so asking for 16 KiB
/// to receive a 20-byte message costs a 16 KiB allocation and `memset` per message.
/// The size starts small, doubles after a read that filled it, and halves after two
/// reads in a row that used less than a quarter of it (the adaptive strategy of
/// hyper's read buffer). A stream of large messages reaches the full size within a
/// few reads.
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

    /// Starts at the smallest size; never asks for more than `max` (nor less than 1).
    pub(crate) fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            next: Self::MIN.min(max),
            max,
            small: false,
        }
    }

    /// The size of the next read.
    pub(crate) fn get(&self) -> usize {
        self.next
    }

    /// Adapts to a read of `n` bytes that asked for [`get`](Self::get).
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

/// Zero-fills `max` bytes of spare room in `buf`, lets `read` fill a prefix, and keeps
/// only that prefix.
#[cfg(any(feature = "tokio", feature = "futures-io"))]
fn read_into(
    buf: &mut BytesMut,
    max: usize,
    read: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>,
) -> Poll<io::Result<usize>> {
    let start = buf.len();
    buf.resize(start + max.max(1), 0);
    let result = read(&mut buf[start..]);
    let n = match &result {
        Poll::Ready(Ok(n)) => (*n).min(max.max(1)),
        _ => 0,
    };
    buf.truncate(start + n);
    result.map_ok(|_| n)
}

#[cfg(feature = "tokio")]
pub use self::tokio_rt::Tokio;

#[cfg(feature = "tokio")]
mod tokio_rt {
    use super::*;
    use crate::stream::MaybeTlsStream;
    use std::future::Future;
    use std::pin::Pin;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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
            read_into(buf, max, |spare| {
                let mut rb = ReadBuf::new(spare);
                Pin::new(&mut self.io)
                    .poll_read(cx, &mut rb)
                    .map_ok(|()| rb.filled().len())
            })
        }

        fn poll_write_vectored(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
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
            read_into(buf, max, |spare| {
                let mut rb = ReadBuf::new(spare);
                let polled = match &mut self.io {
                    Side::Tcp(io) => Pin::new(io).poll_read(cx, &mut rb),
                    #[cfg(unix)]
                    Side::Unix(io) => Pin::new(io).poll_read(cx, &mut rb),
                    #[cfg(not(unix))]
                    Side::Unix(never) => match *never {},
                    Side::Shared(io) => io.with(|io| Pin::new(io).poll_read(cx, &mut rb)),
                };
                polled.map_ok(|()| rb.filled().len())
            })
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

    #[test]
    fn grows_on_full_reads_and_shrinks_on_small_ones() {
        let mut size = ReadSize::new(16 * 1024);
        assert_eq!(size.get(), ReadSize::MIN);
        for expected in [4096, 8192, 16384, 16384] {
            size.record(size.get());
            assert_eq!(size.get(), expected);
        }
        // One small read is not a trend; two are.
        size.record(20);
        assert_eq!(size.get(), 16384);
        size.record(20);
        assert_eq!(size.get(), 8192);
        // A read in between resets the count.
        size.record(20);
        size.record(4000);
        size.record(20);
        assert_eq!(size.get(), 8192);
        for _ in 0..20 {
            size.record(1);
        }
        assert_eq!(size.get(), ReadSize::MIN);
    }

    #[test]
    fn stays_within_a_small_maximum() {
        let mut size = ReadSize::new(100);
        assert_eq!(size.get(), 100);
        size.record(100);
        assert_eq!(size.get(), 100);
        size.record(1);
        size.record(1);
        assert_eq!(size.get(), 100);
        assert_eq!(ReadSize::new(0).get(), 1);
    }
}
