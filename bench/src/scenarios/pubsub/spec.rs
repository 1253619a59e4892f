//! What a PUB → SUB run publishes: the [`Spec`] of a run, the layout of its messages
//! (optional topic, sequence number, the scenario's payload) and the warm-up and end
//! markers (their sequence numbers, topics and pace).

use std::time::Duration;

use crate::Result;

/// Topics in `fanout-topics`; subscriber `j` of N subscribes to topic `j·1000/N`.
pub const TOPICS: usize = 1000;
/// Bytes of the topic prefix (`T042`) in `fanout-topics`.
const TOPIC_LEN: usize = 4;
/// The sequence number of a warm-up marker.
pub(crate) const WARMUP: u64 = u64::MAX;
/// The sequence number of an end marker.
pub(crate) const END: u64 = u64::MAX - 1;
/// Marker rounds are at least this far apart (see [`Spec::marker_tick`]); closing
/// publishers poll their subscribers this often.
pub(crate) const MARKER_TICK: Duration = Duration::from_millis(1);
/// …and at least this long per subscriber: a round every millisecond to 1000 subscribers
/// of 1 KiB messages kept a libzmq PUB so busy that a third of the subscribers had not
/// seen one after 30 s.
const MARKER_TICK_PER_SUB: Duration = Duration::from_micros(10);

/// What one PUB → SUB run does.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Subscribers.
    pub subs: usize,
    /// Message size (at least the topic, if any, and the 8-byte sequence number).
    pub size: usize,
    /// Messages published (at most, with a time limit).
    pub count: u64,
    /// Each subscriber takes 1 of [`TOPICS`] topics (else all subscribe to everything).
    pub topics: bool,
    /// Publish rate (messages/s); `None` = flat out.
    pub rate: Option<f64>,
    /// Stop publishing after this long even if fewer than `count` messages were sent
    /// (`feed`: each run holds its rate for a fixed time).
    pub limit: Option<Duration>,
}

impl Spec {
    /// The topic subscriber `sub` takes, in topics mode.
    pub fn topic_of(&self, sub: usize) -> usize {
        sub * TOPICS / self.subs
    }

    /// What subscriber `sub` subscribes to.
    pub fn subscription(&self, sub: usize) -> Vec<u8> {
        if self.topics {
            topic_bytes(self.topic_of(sub)).to_vec()
        } else {
            Vec::new()
        }
    }

    /// Messages subscriber `sub` should get when all `count` are published.
    pub fn expected(&self, sub: usize) -> u64 {
        if !self.topics {
            return self.count;
        }
        let t = self.topic_of(sub) as u64;
        let n = TOPICS as u64;
        self.count / n + u64::from(self.count % n > t)
    }

    /// The topic (if any) of message `seq` of the stream.
    pub fn topic_of_seq(&self, seq: u64) -> Option<usize> {
        self.topics.then_some((seq % TOPICS as u64) as usize)
    }

    /// Topics that markers go to: one per subscriber in topics mode, else one message.
    pub(crate) fn marker_topics(&self) -> Vec<Option<usize>> {
        if self.topics {
            (0..self.subs).map(|j| Some(self.topic_of(j))).collect()
        } else {
            vec![None]
        }
    }

    /// How far apart marker rounds are.
    pub(crate) fn marker_tick(&self) -> Duration {
        MARKER_TICK.max(MARKER_TICK_PER_SUB * self.subs as u32)
    }

    /// Where the sequence number starts in a message body.
    fn seq_at(&self) -> usize {
        if self.topics {
            TOPIC_LEN
        } else {
            0
        }
    }

    /// Where the bytes after the sequence number start (free for the scenario).
    pub fn payload_at(&self) -> usize {
        self.seq_at() + 8
    }

    /// Writes topic and sequence number into a message body of `self.size` bytes.
    pub fn fill(&self, body: &mut [u8], topic: Option<usize>, seq: u64) {
        if self.topics {
            body[..TOPIC_LEN].copy_from_slice(&topic_bytes(topic.unwrap_or(0)));
        }
        let at = self.seq_at();
        body[at..at + 8].copy_from_slice(&seq.to_le_bytes());
    }

    /// The sequence number of a message body.
    pub fn seq(&self, body: &[u8]) -> Result<u64> {
        let at = self.seq_at();
        body.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| "PUB/SUB message too short".into())
    }
}

fn topic_bytes(t: usize) -> [u8; TOPIC_LEN] {
    let s = format!("T{:03}", t % TOPICS);
    s.as_bytes().try_into().expect("4-byte topic")
}

/// The two marker rounds around the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Warmup,
    End,
}

impl Phase {
    /// The sequence number of this round's markers.
    pub(crate) fn seq(self) -> u64 {
        match self {
            Phase::Warmup => WARMUP,
            Phase::End => END,
        }
    }
}
