//! Following a topic on a broker: which read comes next, and what each answer
//! means for the topic's history. One [`Follower`] per followed topic, driven by
//! [`Hub::poll_follow`](crate::Hub::poll_follow) and
//! [`Hub::handle_followed`](crate::Hub::handle_followed).
//!
//! The rules are the ones that keep a resumption from ever being silently wrong
//! when the broker loses a topic's history:
//!
//! * nothing is read before the topic's head: the head gives the epoch, and the
//!   events read after it are taken in that epoch;
//! * an event of another epoch, or an epoch that changed (or vanished) while
//!   nothing came, means the history was lost: the follower reads the new head;
//! * after a loss, the new history is taken from its beginning (offset 0), not from
//!   its head: subscribers of the old one resume there, after the discontinuity,
//!   and get every event of the new one;
//! * after a failed read, a broker whose events carry their epoch is read on from
//!   where it was (an event of another history says so itself); one whose events do
//!   not is read from its head again, since events read on could be of a new
//!   history taken for the old one. A failed epoch check just reads on.

use alloc::vec::Vec;

use bytes::Bytes;

use crate::position::{Epoch, StreamPosition};

/// Whether the events a broker delivers to a follower say which history they are
/// of. See [`Hub::follow`](crate::Hub::follow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tagging {
    /// Each event carries its epoch (Redis Streams: a field of each entry). After a
    /// failed read, the follower reads on from where it was.
    PerEvent,
    /// Events carry none: they are of the epoch of the head read before them
    /// (JetStream: the stream's creation time). After a failed read, the follower
    /// reads the head again.
    FromHead,
}

/// The next read a follower asks of the broker, from
/// [`Hub::poll_follow`](crate::Hub::poll_follow); answer with
/// [`Hub::handle_followed`](crate::Hub::handle_followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Read the position of the topic's last event, drawing its epoch if it has
    /// none: answer [`Followed::Head`].
    ReadHead,
    /// Wait a while (a second, say) for the events after this position: answer
    /// [`Followed::Events`], or [`Followed::Nothing`] if none came.
    ReadAfter(StreamPosition),
    /// Read the topic's epoch now, without drawing one (nothing came: was the
    /// history lost meanwhile?): answer [`Followed::Epoch`].
    CheckEpoch(Epoch),
}

/// The broker's answer to a [`Follow`], for
/// [`Hub::handle_followed`](crate::Hub::handle_followed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Followed {
    /// The position of the topic's last event (offset 0: none yet).
    Head(StreamPosition),
    /// Events after the position read after, in order: the epoch each carries
    /// (`None` under [`Tagging::FromHead`]), its offset and its payload.
    Events(Vec<(Option<Epoch>, u64, Bytes)>),
    /// No event came within the wait.
    Nothing,
    /// The topic's epoch, `None` if it has none (its history is gone).
    Epoch(Option<Epoch>),
    /// The read failed (the broker is unreachable, or answered an error).
    Failed,
}

/// Where one topic's follower is. The hub applies what it reads.
#[derive(Debug)]
pub(crate) struct Follower {
    tagging: Tagging,
    /// The position of the last event read; `None`: read the head next.
    head: Option<StreamPosition>,
    /// The topic's history was lost since it was first followed.
    lost: bool,
    /// Nothing came at the last read: check the epoch next.
    checking: bool,
}

impl Follower {
    pub(crate) fn new(tagging: Tagging) -> Self {
        Self {
            tagging,
            head: None,
            lost: false,
            checking: false,
        }
    }

    pub(crate) fn next(&self) -> Follow {
        match self.head {
            None => Follow::ReadHead,
            Some(head) if self.checking => Follow::CheckEpoch(head.epoch),
            Some(head) => Follow::ReadAfter(head),
        }
    }

    /// Takes the head read, and returns the position the topic is at: after a loss,
    /// the new history's beginning.
    pub(crate) fn head(&mut self, mut head: StreamPosition) -> StreamPosition {
        if self.lost {
            head.offset = 0;
        }
        self.head = Some(head);
        self.checking = false;
        head
    }

    /// The position of an event read, or `None` if it is not to be taken: none was
    /// asked for, or it is of another history (then the head is read again).
    pub(crate) fn event(&mut self, epoch: Option<Epoch>, offset: u64) -> Option<StreamPosition> {
        let head = self.head?;
        if epoch.is_some_and(|epoch| epoch != head.epoch) {
            self.lose();
            return None;
        }
        let position = StreamPosition::new(head.epoch, offset);
        self.head = Some(position);
        Some(position)
    }

    pub(crate) fn nothing(&mut self) {
        self.checking = self.head.is_some();
    }

    pub(crate) fn epoch(&mut self, epoch: Option<Epoch>) {
        self.checking = false;
        if self.head.is_some_and(|head| Some(head.epoch) != epoch) {
            self.lose();
        }
    }

    pub(crate) fn failed(&mut self) {
        if self.checking {
            self.checking = false;
        } else if self.tagging == Tagging::FromHead {
            self.head = None;
        }
    }

    fn lose(&mut self) {
        (self.head, self.lost, self.checking) = (None, true, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: Epoch = Epoch(0xe);
    const F: Epoch = Epoch(0xf);

    fn attached(tagging: Tagging, head: u64) -> Follower {
        let mut follower = Follower::new(tagging);
        follower.head(StreamPosition::new(E, head));
        follower
    }

    #[test]
    fn nothing_is_read_before_the_head() {
        let mut follower = Follower::new(Tagging::PerEvent);
        assert_eq!(follower.next(), Follow::ReadHead);
        assert_eq!(follower.event(Some(E), 1), None, "no head, no event");
        follower.nothing();
        follower.failed();
        assert_eq!(follower.next(), Follow::ReadHead);
        let head = StreamPosition::new(E, 7);
        assert_eq!(follower.head(head), head);
        assert_eq!(follower.next(), Follow::ReadAfter(head));
    }

    #[test]
    fn events_move_the_position_read_after() {
        let mut follower = attached(Tagging::PerEvent, 7);
        assert_eq!(follower.event(Some(E), 8), Some(StreamPosition::new(E, 8)));
        assert_eq!(
            follower.next(),
            Follow::ReadAfter(StreamPosition::new(E, 8))
        );
    }

    #[test]
    fn untagged_events_are_of_the_heads_epoch() {
        let mut follower = attached(Tagging::FromHead, 7);
        assert_eq!(follower.event(None, 8), Some(StreamPosition::new(E, 8)));
        assert_eq!(follower.event(None, 9), Some(StreamPosition::new(E, 9)));
    }

    #[test]
    fn an_event_of_another_epoch_is_a_loss_and_the_new_history_is_read_from_its_beginning() {
        let mut follower = attached(Tagging::PerEvent, 7);
        assert_eq!(follower.event(Some(F), 1), None);
        assert_eq!(follower.next(), Follow::ReadHead);
        assert_eq!(follower.event(Some(F), 2), None, "ignored until the head");
        let taken = follower.head(StreamPosition::new(F, 5));
        assert_eq!(taken, StreamPosition::new(F, 0), "from its beginning");
        assert_eq!(follower.next(), Follow::ReadAfter(taken));
    }

    #[test]
    fn nothing_read_checks_the_epoch_and_a_changed_one_is_a_loss() {
        let mut follower = attached(Tagging::PerEvent, 7);
        follower.nothing();
        assert_eq!(follower.next(), Follow::CheckEpoch(E));
        follower.epoch(Some(E));
        assert_eq!(
            follower.next(),
            Follow::ReadAfter(StreamPosition::new(E, 7))
        );
        follower.nothing();
        follower.epoch(Some(F));
        assert_eq!(follower.next(), Follow::ReadHead);
        assert_eq!(follower.head(StreamPosition::new(F, 3)).offset, 0);
    }

    #[test]
    fn a_vanished_epoch_is_a_loss() {
        let mut follower = attached(Tagging::FromHead, 7);
        follower.nothing();
        follower.epoch(None);
        assert_eq!(follower.next(), Follow::ReadHead);
    }

    #[test]
    fn a_loss_is_remembered_for_every_later_head() {
        let mut follower = attached(Tagging::FromHead, 7);
        follower.nothing();
        follower.epoch(Some(F));
        follower.head(StreamPosition::new(F, 3));
        follower.failed();
        assert_eq!(follower.head(StreamPosition::new(F, 9)).offset, 0);
    }

    #[test]
    fn a_failed_read_reads_on_when_events_carry_their_epoch() {
        let mut follower = attached(Tagging::PerEvent, 7);
        follower.failed();
        assert_eq!(
            follower.next(),
            Follow::ReadAfter(StreamPosition::new(E, 7))
        );
    }

    #[test]
    fn a_failed_read_reads_the_head_again_when_they_do_not() {
        let mut follower = attached(Tagging::FromHead, 7);
        follower.failed();
        assert_eq!(follower.next(), Follow::ReadHead);
        let head = StreamPosition::new(E, 12);
        assert_eq!(follower.head(head), head, "no loss: the head as it is");
    }

    #[test]
    fn a_failed_epoch_check_reads_on() {
        for tagging in [Tagging::PerEvent, Tagging::FromHead] {
            let mut follower = attached(tagging, 7);
            follower.nothing();
            follower.failed();
            assert_eq!(
                follower.next(),
                Follow::ReadAfter(StreamPosition::new(E, 7))
            );
        }
    }
}
