//! What each connection of `soak` sends and when: a fixed period per connection, start
//! times spread over one period so that the total rate is even, and a deterministic mix of
//! message kinds and topics.

use std::time::Duration;
use tokio::time::Instant;

use super::tally::Kind;
use crate::Result;

/// The schedule shared by all connections.
pub(super) struct Plan {
    /// Between two messages of one connection: connections / rate.
    pub(super) period: Duration,
    /// When the first connection sends; the others follow one total-rate interval apart.
    pub(super) start: Instant,
    /// The total rate's interval between two messages.
    pub(super) spacing: Duration,
    /// No message is sent from then on.
    pub(super) stop_sending: Instant,
    pub(super) mix: Mix,
    pub(super) topics: u32,
}

impl Plan {
    /// When connection `index` sends its first message.
    pub(super) fn first_send(&self, index: usize) -> Instant {
        self.start + self.spacing.mul_f64(index as f64)
    }
}

/// The name of topic `topic`.
pub(super) fn topic_name(topic: u32) -> String {
    format!("soak-{topic}")
}

/// The share of each kind of message, in parts: `ECHO:ECHO_RPC:PUBLISH`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mix {
    echo: u64,
    rpc: u64,
    publish: u64,
}

/// The next message of a connection.
#[derive(Debug, PartialEq)]
pub(super) enum Pick {
    Request(Kind),
    /// A publish to this topic.
    Publish(u32),
}

impl Default for Mix {
    fn default() -> Self {
        Mix { echo: 45, rpc: 45, publish: 10 }
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.echo, self.rpc, self.publish)
    }
}

impl Mix {
    /// Takes `ECHO:RPC:PUBLISH`, e.g. `45:45:10`.
    pub(crate) fn parse(value: &str) -> Result<Mix> {
        let parts: Vec<u64> = value.split(':').map(str::parse).collect::<Result<_, _>>().map_err(|_| {
            format!("--mix {value}: expected three whole numbers ECHO:RPC:PUBLISH, e.g. 45:45:10")
        })?;
        match parts[..] {
            [echo, rpc, publish] if echo + rpc + publish > 0 => Ok(Mix { echo, rpc, publish }),
            _ => Err(format!("--mix {value}: expected ECHO:RPC:PUBLISH with a positive sum, e.g. 45:45:10")),
        }
    }

    /// Message `seq` of connection `index`: drawn from a hash of both, so that every
    /// connection sends the same mix in a different order, the same in every run.
    pub(super) fn pick(&self, index: usize, seq: u64, topics: u32) -> Pick {
        let draw = splitmix((index as u64) << 32 ^ seq);
        let part = draw % (self.echo + self.rpc + self.publish);
        if part < self.echo {
            Pick::Request(Kind::Echo)
        } else if part < self.echo + self.rpc {
            Pick::Request(Kind::Rpc)
        } else {
            Pick::Publish(((draw >> 32) % u64::from(topics)) as u32)
        }
    }
}

/// A 64-bit mixing function (SplitMix64's finalizer): well-spread bits from a counter.
fn splitmix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_kept() {
        let mix = Mix::parse("45:45:10").unwrap();
        let (mut echo, mut rpc, mut publish) = (0, 0, 0);
        for index in 0..100 {
            for seq in 1..=1000 {
                match mix.pick(index, seq, 7) {
                    Pick::Request(Kind::Echo) => echo += 1,
                    Pick::Request(Kind::Rpc) => rpc += 1,
                    Pick::Publish(topic) => {
                        assert!(topic < 7);
                        publish += 1;
                    }
                }
            }
        }
        assert!((44_000..46_000).contains(&echo), "{echo}");
        assert!((44_000..46_000).contains(&rpc), "{rpc}");
        assert!((9_500..10_500).contains(&publish), "{publish}");
        assert!(Mix::parse("1:2").is_err() && Mix::parse("0:0:0").is_err() && Mix::parse("a:1:1").is_err());
    }
}
