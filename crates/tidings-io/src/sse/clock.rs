//! A timer that outlives connections, for the `EventSource` client.
//!
//! A [`Transport`](crate::Transport) carries its runtime's timer, but an event
//! source spends its reconnection delay with *no* transport: the old one was
//! dropped, the next is not dialled yet. The sans-IO machine also needs one time
//! scale across all its connections. So the client takes the runtime from the
//! transport *type* (`Tokio<_>` or `FuturesIo<_>`) and makes one [`Clock`] of that
//! runtime for its whole life.

use std::task::{Context, Poll};
use std::time::Duration;

/// The runtime of a transport type, for timers that do not belong to one stream.
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
        Clock {
            inner: Inner::Tokio {
                epoch: tokio::time::Instant::now(),
                sleep: None,
            },
        }
    }
}

#[cfg(feature = "futures-io")]
impl<T> sealed::Sealed for crate::FuturesIo<T> {
    fn clock() -> Clock {
        Clock {
            inner: Inner::AsyncIo {
                epoch: std::time::Instant::now(),
                timer: None,
            },
        }
    }
}

/// Time since the clock was made, and one resettable sleep, on some runtime.
#[derive(Debug)]
#[allow(unreachable_pub)] // Reachable only through the sealed trait.
pub struct Clock {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    #[cfg(feature = "tokio")]
    Tokio {
        epoch: tokio::time::Instant,
        sleep: Option<(Duration, std::pin::Pin<Box<tokio::time::Sleep>>)>,
    },
    #[cfg(feature = "futures-io")]
    AsyncIo {
        epoch: std::time::Instant,
        timer: Option<(Duration, async_io::Timer)>,
    },
}

impl Clock {
    /// The time since the clock was made.
    pub(crate) fn now(&self) -> Duration {
        match &self.inner {
            #[cfg(feature = "tokio")]
            Inner::Tokio { epoch, .. } => epoch.elapsed(),
            #[cfg(feature = "futures-io")]
            Inner::AsyncIo { epoch, .. } => epoch.elapsed(),
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
        // `cx` and `deadline` go unused when no runtime feature is on.
        let _ = (&cx, deadline);
        match &mut self.inner {
            #[cfg(feature = "tokio")]
            Inner::Tokio { epoch, sleep } => {
                use std::future::Future;
                let at = *epoch + deadline;
                let (armed, sleep) =
                    sleep.get_or_insert_with(|| (deadline, Box::pin(tokio::time::sleep_until(at))));
                if *armed != deadline {
                    *armed = deadline;
                    sleep.as_mut().reset(at);
                }
                sleep.as_mut().poll(cx)
            }
            #[cfg(feature = "futures-io")]
            Inner::AsyncIo { epoch, timer } => {
                use std::future::Future;
                let at = *epoch + deadline;
                let (armed, timer) =
                    timer.get_or_insert_with(|| (deadline, async_io::Timer::at(at)));
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
}
