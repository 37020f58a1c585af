//! The per-chat flood limit: a token bucket per chat. A chat may send a burst of messages at
//! once and then a few per second; beyond that its messages wait (they are never dropped, so
//! nothing acknowledged is lost), and it is told once per flood to slow down.
//!
//! Waiting happens in the chat's own turn: updates of one chat are handled one after another,
//! those of different chats side by side, so a flooding chat delays only itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What to do with one incoming message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Handle it now.
    Go,
    /// Wait this long first; `warn` is true for the first message of a flood, which gets the
    /// "please slow down" reply.
    Wait { delay: Duration, warn: bool },
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    warned: bool,
}

pub struct FloodLimit {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

/// How many buckets to keep before forgetting chats that have been quiet long enough to be full.
const PRUNE_AT: usize = 10_000;

impl FloodLimit {
    pub fn new(burst: u32, per_second: f64) -> FloodLimit {
        FloodLimit {
            burst: f64::from(burst.max(1)),
            per_second: per_second.max(0.01),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `chat` at time `now`.
    pub fn admit_at(&self, chat: i64, now: Instant) -> Admission {
        let mut buckets = self.buckets.lock().expect("flood lock");
        if buckets.len() >= PRUNE_AT {
            let full_after = Duration::from_secs_f64(self.burst / self.per_second);
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < full_after);
        }
        let b = buckets.entry(chat).or_insert(Bucket {
            tokens: self.burst,
            at: now,
            warned: false,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_second).min(self.burst);
        b.at = now;
        // One token spent now, even if that leaves the bucket in debt: the debt is the wait.
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            // A full token back since the flood: the next flood is warned about again.
            if b.tokens >= 1.0 {
                b.warned = false;
            }
            return Admission::Go;
        }
        let delay = Duration::from_secs_f64(-b.tokens / self.per_second);
        let warn = !b.warned;
        b.warned = true;
        Admission::Wait { delay, warn }
    }

    pub fn admit(&self, chat: i64) -> Admission {
        self.admit_at(chat, Instant::now())
    }
}

impl Default for FloodLimit {
    /// A burst of 8 messages, then 2 per second: more than a person types, less than a script.
    fn default() -> FloodLimit {
        FloodLimit::new(8, 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_messages_wait_and_the_first_excess_is_warned_once() {
        let f = FloodLimit::new(3, 2.0);
        let t = Instant::now();
        for _ in 0..3 {
            assert_eq!(f.admit_at(1, t), Admission::Go);
        }
        assert_eq!(
            f.admit_at(1, t),
            Admission::Wait {
                delay: Duration::from_millis(500),
                warn: true
            }
        );
        assert_eq!(
            f.admit_at(1, t),
            Admission::Wait {
                delay: Duration::from_millis(1000),
                warn: false
            }
        );
        // Other chats are not affected.
        assert_eq!(f.admit_at(2, t), Admission::Go);
        // After a quiet spell the bucket is full again, and a new flood is warned again.
        let later = t + Duration::from_secs(10);
        for _ in 0..3 {
            assert_eq!(f.admit_at(1, later), Admission::Go);
        }
        assert!(matches!(
            f.admit_at(1, later),
            Admission::Wait { warn: true, .. }
        ));
    }

    #[test]
    fn a_steady_pace_under_the_rate_never_waits() {
        let f = FloodLimit::new(2, 2.0);
        let t = Instant::now();
        for i in 0..100 {
            let at = t + Duration::from_millis(600 * i);
            assert_eq!(f.admit_at(7, at), Admission::Go);
        }
    }
}
