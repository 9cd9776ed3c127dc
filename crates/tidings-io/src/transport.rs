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
//! [`ReadSize::MIN`](tidings_ws::ReadSize::MIN) bytes each time.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tidings_handshake::{Error as HeadError, Rejection, Status};

use crate::clock::{Clock, Runtime};
use crate::error::Error;
use crate::outbox::Outbox;
use tidings_ws::ReadSize;

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

    /// Runs `poll` until it is ready, or the deadline passes
    /// ([`Error::HandshakeTimeout`]).
    async fn run<T>(
        &mut self,
        mut poll: impl FnMut(&mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Result<T, Error> {
        std::future::poll_fn(|cx| {
            if self.clock.poll_sleep_until(cx, self.at).is_ready() {
                return Poll::Ready(Err(Error::HandshakeTimeout));
            }
            poll(cx).map_err(Error::Io)
        })
        .await
    }

    /// Reads an HTTP head with `parse`, an incremental parser that keeps what it
    /// needs of each piece: the head and the bytes read past it, or the parser's
    /// error. [`Error::Closed`] when the peer closes before a whole head arrived.
    pub(crate) async fn read_head<T>(
        &mut self,
        io: &mut impl sealed::Read,
        mut parse: impl FnMut(&[u8]) -> Result<Status<(T, usize)>, HeadError>,
    ) -> Result<Result<(T, BytesMut), HeadError>, Error> {
        let mut buf = BytesMut::new();
        loop {
            buf.clear();
            if self
                .run(|cx| io.poll_read_into(cx, &mut buf, HEAD_READ))
                .await?
                == 0
            {
                return Err(Error::Closed);
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
    ) -> Result<(), Error> {
        let mut out = Outbox::default();
        out.push_back(bytes);
        self.run(|cx| out.poll_write(cx, io, Duration::ZERO, || None))
            .await
    }

    /// Shuts the write side down.
    pub(crate) async fn shutdown(&mut self, io: &mut impl sealed::Write) -> Result<(), Error> {
        self.run(|cx| io.poll_shutdown(cx)).await
    }

    /// Writes `rejection`, then shuts the write side down (best effort: the peer
    /// may already be gone).
    pub(crate) async fn refuse(
        &mut self,
        io: &mut impl sealed::Write,
        rejection: &Rejection,
    ) -> Result<(), Error> {
        let mut answer = Vec::new();
        rejection.encode(&mut answer);
        self.write_all(io, answer.into()).await?;
        let _ = self.shutdown(io).await;
        Ok(())
    }
}
