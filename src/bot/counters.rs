//! The daily counters (`/stats`): added up in memory and written every few seconds in one
//! transaction, instead of one database write per answered or unmet question.
//!
//! A counter is statistics, not a promise to a person: what a crash loses is at most the last
//! [`FLUSH_EVERY`] of counts. A write that fails (the database is down) keeps its counts for the
//! next one, so an outage loses none.

use crate::model::Count;
use crate::storage::Storage;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How often the counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Counts not yet written.
#[derive(Default)]
pub struct Counters {
    pending: Mutex<HashMap<Count, i64>>,
}

impl Counters {
    /// Adds one to `count`.
    pub fn add(&self, count: Count) {
        *self.lock().entry(count).or_insert(0) += 1;
    }

    /// Writes the pending counts; those a failed write did not store are kept for the next
    /// one. Returns how many counters were written.
    pub async fn flush(&self, store: &dyn Storage) -> crate::storage::Result<usize> {
        let batch: Vec<(Count, i64)> = self.lock().drain().collect();
        if batch.is_empty() {
            return Ok(0);
        }
        match store.add_counts(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                let mut pending = self.lock();
                for (count, n) in batch {
                    *pending.entry(count).or_insert(0) += n;
                }
                Err(e)
            }
        }
    }

    /// Whether nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Count, i64>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Lang;

    fn count(outcome: &str) -> Count {
        Count {
            day: chrono::Utc::now().date_naive(),
            entry: String::new(),
            topic: String::new(),
            lang: Lang::Ru,
            country: None,
            outcome: outcome.to_string(),
        }
    }

    #[tokio::test]
    async fn counts_are_summed_and_kept_when_a_write_fails() {
        let counters = Counters::default();
        for _ in 0..3 {
            counters.add(count("answered"));
        }
        counters.add(count("unmet"));
        let down = crate::storage::connect("sqlite::memory:").await.unwrap();
        down.close().await;
        assert!(counters.flush(down.as_ref()).await.is_err());
        assert!(!counters.is_empty(), "a failed write loses nothing");
        counters.add(count("unmet"));

        let store = crate::storage::connect("sqlite::memory:").await.unwrap();
        assert_eq!(counters.flush(store.as_ref()).await.unwrap(), 2);
        assert!(counters.is_empty());
        assert_eq!(counters.flush(store.as_ref()).await.unwrap(), 0);
        let day = chrono::Utc::now().date_naive();
        let stats = store.stats(day).await.unwrap();
        assert_eq!(stats.outcome("answered"), 3);
        assert_eq!(stats.outcome("unmet"), 2);
    }
}
