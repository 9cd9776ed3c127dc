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
        /// One sleep, made on first use and reset to each new deadline.
        sleep: Option<(Duration, Pin<Box<Sleep>>)>,
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
            let at = self.epoch + deadline;
            let (armed, sleep) = self
                .sleep
                .get_or_insert_with(|| (deadline, Box::pin(tokio::time::sleep_until(at))));
            if *armed != deadline {
                *armed = deadline;
                sleep.as_mut().reset(at);
            }
            sleep.as_mut().poll(cx)
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
        /// One timer, made on first use and reset to each new deadline.
        timer: Option<(Duration, Timer)>,
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
            let at = self.epoch + deadline;
            let (armed, timer) = self.timer.get_or_insert_with(|| (deadline, Timer::at(at)));
            if *armed != deadline {
                *armed = deadline;
                timer.set_at(at);
            }
            Pin::new(timer).poll(cx).map(|_| ())
        }
    }
}
