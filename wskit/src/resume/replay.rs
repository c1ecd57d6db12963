//! [`Replay`]: the numbering of a resumable connection's frames, and the last ones written,
//! kept to be written again after a reconnect.

use super::Refusal;
use crate::outbox::Frame;
use std::collections::VecDeque;

/// Numbers the frames a resumable connection writes (the first is 1) and keeps the last
/// ones, within a count and a byte bound: what a client that lost its connection may not
/// have received.
#[derive(Debug)]
pub(crate) struct Replay {
    /// The number the next written frame gets.
    next: u64,
    /// The frames numbered `next - kept.len() ..next`, oldest first.
    kept: VecDeque<Frame>,
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
}

impl Replay {
    /// A session's numbering from its start, keeping at most `max_frames` frames and
    /// `max_bytes` bytes.
    pub(crate) fn new(max_frames: usize, max_bytes: usize) -> Self {
        Replay { next: 1, kept: VecDeque::new(), bytes: 0, max_frames, max_bytes }
    }

    /// The numbering of a session taken over from another instance, whose client received
    /// `received` frames: the next written is `received + 1`.
    #[cfg(feature = "redis")]
    pub(crate) fn after(received: u64, max_frames: usize, max_bytes: usize) -> Self {
        Replay { next: received + 1, ..Self::new(max_frames, max_bytes) }
    }

    /// Numbers `frame` and keeps it; returns it, to be written from where it is kept.
    pub(crate) fn record(&mut self, frame: Frame) -> &Frame {
        self.next += 1;
        self.bytes += frame.len();
        self.kept.push_back(frame);
        while self.kept.len() > self.max_frames || (self.bytes > self.max_bytes && self.kept.len() > 1) {
            if let Some(oldest) = self.kept.pop_front() {
                self.bytes -= oldest.len();
            }
        }
        self.kept.back().expect("the frame was just kept")
    }

    /// The number of frames written so far.
    pub(crate) fn written(&self) -> u64 {
        self.next - 1
    }

    /// Takes back the frames after the first `received`, which the client did not get, to
    /// be written again under the same numbers; the rest are forgotten. Refused when the
    /// client missed frames no longer kept, or claims more than was written.
    pub(crate) fn rewind(&mut self, received: u64) -> Result<Vec<Frame>, Refusal> {
        let first_kept = self.next - self.kept.len() as u64;
        if received > self.written() {
            return Err(Refusal::Invalid);
        }
        if received + 1 < first_kept {
            return Err(Refusal::Overflowed);
        }
        // Within the kept frames: `received + 1 - first_kept` of them were received.
        let received_kept = usize::try_from(received + 1 - first_kept).unwrap_or(usize::MAX);
        let missed = self.kept.split_off(received_kept.min(self.kept.len()));
        self.kept.clear();
        self.bytes = 0;
        self.next = received + 1;
        Ok(missed.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(frames: Vec<Frame>) -> Vec<String> {
        frames.into_iter().map(|frame| frame.into_message().unwrap()).collect()
    }

    fn written(replay: &mut Replay, texts: &[&str]) {
        for text in texts {
            replay.record(Frame::Owned((*text).to_owned()));
        }
    }

    #[test]
    fn rewinding_gives_the_frames_after_the_count_and_numbers_them_again() {
        let mut replay = Replay::new(10, 1024);
        written(&mut replay, &["a", "b", "c", "d"]);
        assert_eq!(replay.written(), 4);
        assert_eq!(texts(replay.rewind(2).unwrap()), ["c", "d"]);
        assert_eq!(replay.written(), 2, "c and d get numbers 3 and 4 again when written");
        written(&mut replay, &["c", "d", "e"]);
        assert_eq!(texts(replay.rewind(5).unwrap()), Vec::<String>::new());
    }

    #[test]
    fn a_count_behind_the_kept_frames_is_an_overflow_and_one_ahead_is_invalid() {
        let mut replay = Replay::new(2, 1024);
        written(&mut replay, &["a", "b", "c", "d"]);
        assert_eq!(replay.rewind(1).unwrap_err(), Refusal::Overflowed, "c is kept, b is not");
        let mut replay = Replay::new(2, 1024);
        written(&mut replay, &["a", "b", "c", "d"]);
        assert_eq!(texts(replay.rewind(2).unwrap()), ["c", "d"], "exactly the kept ones");
        let mut replay = Replay::new(2, 1024);
        written(&mut replay, &["a"]);
        assert_eq!(replay.rewind(2).unwrap_err(), Refusal::Invalid);
    }

    #[test]
    fn the_byte_bound_drops_the_oldest_but_keeps_the_newest_frame() {
        let mut replay = Replay::new(100, 4);
        written(&mut replay, &["aa", "bb", "cccccc"]);
        assert_eq!(texts(replay.rewind(2).unwrap()), ["cccccc"]);
        let mut replay = Replay::new(100, 4);
        written(&mut replay, &["aa", "bb", "cc"]);
        assert_eq!(replay.rewind(0).unwrap_err(), Refusal::Overflowed);
    }
}
