//! The database-down guard: calls that only remember something (profiles, counters, chat
//! states, feedback) are given a short time and skipped for a while after one failed, so that
//! FAQ answers come from memory at once when the database is slow or gone. Questions for
//! experts never go through it: they are always tried, and the person is told if they failed.

use crate::storage;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// The longest a database call that only remembers something may hold up a reply.
const SOFT_DB_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the database is left alone after such a call failed.
const DB_DOWN_PAUSE: Duration = Duration::from_secs(5);

pub struct Guard {
    /// Until when the database is taken to be down (milliseconds since `started`).
    down_until: AtomicI64,
    started: Instant,
}

impl Default for Guard {
    fn default() -> Guard {
        Guard {
            down_until: AtomicI64::new(0),
            started: Instant::now(),
        }
    }
}

impl Guard {
    /// `call`, unless the database is taken to be down; given at most `SOFT_DB_TIMEOUT`; a
    /// failure marks the database down for `DB_DOWN_PAUSE`. `what` names the loss in the log.
    pub async fn soft<T>(
        &self,
        what: &str,
        call: impl Future<Output = storage::Result<T>>,
    ) -> Option<T> {
        let now = self.started.elapsed().as_millis() as i64;
        if now < self.down_until.load(Ordering::Relaxed) {
            return None;
        }
        let failure = match tokio::time::timeout(SOFT_DB_TIMEOUT, call).await {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => format!("no answer within {SOFT_DB_TIMEOUT:?}"),
        };
        log::error!("{what}: {failure}; the database is skipped for {DB_DOWN_PAUSE:?}");
        let until = self.started.elapsed() + DB_DOWN_PAUSE;
        self.down_until
            .store(until.as_millis() as i64, Ordering::Relaxed);
        None
    }
}
