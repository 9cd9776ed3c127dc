//! Time, and one resettable sleep, on the runtime of a transport type: the only timer
//! in the crate, used by the WebSocket driver, the handshakes, the SSE server and the
//! SSE client alike.
//!
//! A clock is not part of a stream. An event source spends its reconnection delay with
//! no transport at all, and the halves of a split WebSocket read the time on both
//! sides. So the runtime is taken from the transport *type* (`Tokio<_>` or
//! `FuturesIo<_>`, through [`Runtime`]), and whoever keeps time makes a [`Clock`] of
//! it. Time is a [`Duration`] since the clock was made, on the runtime's own clock, so
//! tokio's paused test clock drives every timer of the crate, the cores' included.

use std::task::{Context, Poll};
use std::time::Duration;

/// The runtime of a transport type, for its timers.
///
/// Implemented by `Tokio` and `FuturesIo`; sealed like [`Transport`](crate::Transport).
pub trait Runtime: sealed::Sealed {}

impl<T: sealed::Sealed> Runtime for T {}

pub(crate) mod sealed {
    use super::Clock;

    /// Makes a clock of the type's runtime.
    #[allow(unreachable_pub)] // Sealed: public in a private module on purpose.
    pub trait Sealed {
        /// A clock starting now.
        fn clock() -> Clock;
    }
}

#[cfg(feature = "tokio")]
impl<T> sealed::Sealed for crate::Tokio<T> {
    fn clock() -> Clock {
        Clock(Inner::Tokio(tokio::time::Instant::now(), None))
    }
}

#[cfg(feature = "futures-io")]
impl<T> sealed::Sealed for crate::FuturesIo<T> {
    fn clock() -> Clock {
        Clock(Inner::AsyncIo(std::time::Instant::now(), None))
    }
}

/// Time since the clock was made, and one sleep, made on first use and reset to each
/// new deadline (a connection's timers are always one deadline: the earliest).
#[derive(Debug)]
#[allow(unreachable_pub)] // Reachable only through the sealed trait.
pub struct Clock(Inner);

/// Per runtime: the epoch, and the armed sleep with its deadline.
#[derive(Debug)]
enum Inner {
    #[cfg(feature = "tokio")]
    Tokio(
        tokio::time::Instant,
        Option<(Duration, std::pin::Pin<Box<tokio::time::Sleep>>)>,
    ),
    #[cfg(feature = "futures-io")]
    AsyncIo(std::time::Instant, Option<(Duration, async_io::Timer)>),
}

impl Clock {
    /// The time since the clock was made.
    #[inline]
    pub(crate) fn now(&self) -> Duration {
        match &self.0 {
            #[cfg(feature = "tokio")]
            Inner::Tokio(epoch, _) => epoch.elapsed(),
            #[cfg(feature = "futures-io")]
            Inner::AsyncIo(epoch, _) => epoch.elapsed(),
            #[cfg(not(any(feature = "tokio", feature = "futures-io")))]
            never => match *never {},
        }
    }

    /// Ready once `now() >= deadline`; otherwise wakes the task then.
    pub(crate) fn poll_sleep_until(
        &mut self,
        cx: &mut Context<'_>,
        deadline: Duration,
    ) -> Poll<()> {
        if self.now() >= deadline {
            return Poll::Ready(());
        }
        self.poll_sleep(cx, deadline)
    }

    /// [`poll_sleep_until`](Self::poll_sleep_until) without reading the clock first,
    /// for a caller that just did: a deadline that has just passed may then be
    /// reported at the runtime's next timer tick instead of at once.
    pub(crate) fn poll_sleep(&mut self, cx: &mut Context<'_>, deadline: Duration) -> Poll<()> {
        // `cx` and `deadline` go unused when no runtime feature is on.
        let _ = (&cx, deadline);
        match &mut self.0 {
            #[cfg(feature = "tokio")]
            Inner::Tokio(epoch, slot) => {
                use std::future::Future;
                let at = *epoch + deadline;
                let (armed, sleep) =
                    slot.get_or_insert_with(|| (deadline, Box::pin(tokio::time::sleep_until(at))));
                if *armed != deadline {
                    *armed = deadline;
                    sleep.as_mut().reset(at);
                }
                sleep.as_mut().poll(cx)
            }
            #[cfg(feature = "futures-io")]
            Inner::AsyncIo(epoch, slot) => {
                use std::future::Future;
                let at = *epoch + deadline;
                let (armed, timer) =
                    slot.get_or_insert_with(|| (deadline, async_io::Timer::at(at)));
                if *armed != deadline {
                    *armed = deadline;
                    timer.set_at(at);
                }
                std::pin::Pin::new(timer).poll(cx).map(|_| ())
            }
            #[cfg(not(any(feature = "tokio", feature = "futures-io")))]
            never => match *never {},
        }
    }

    /// Drops the armed sleep, if any: the caller has no deadline. A sleep left armed
    /// stays in the runtime's timer wheel, so every wait for I/O would set a kernel
    /// timer (`epoll_wait` with a timeout) until it fires.
    #[inline]
    pub(crate) fn cancel_sleep(&mut self) {
        match &mut self.0 {
            #[cfg(feature = "tokio")]
            Inner::Tokio(_, slot) => *slot = None,
            #[cfg(feature = "futures-io")]
            Inner::AsyncIo(_, slot) => *slot = None,
            #[cfg(not(any(feature = "tokio", feature = "futures-io")))]
            never => match *never {},
        }
    }
}
