//! Webhook mode's durable inbox: an update is stored before Telegram is told it arrived (the
//! webhook answers 200 only then), marked done once its handlers have run, and taken up again
//! after a crash, by this instance after its restart or by another one, once the lease of the
//! instance that stored it has run out. Long polling needs none of this: Telegram keeps what
//! was not confirmed.

use crate::storage::Storage;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use teloxide::types::Update;
use tokio::sync::mpsc;

/// How long an instance's claim on an update lasts without being renewed; the running
/// instance renews its claims every [`RENEW_EVERY`].
pub const LEASE: Duration = Duration::from_secs(30);

/// How often claims are renewed and the updates of dead instances looked for.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);

/// Handled updates are kept this long (a redelivery by Telegram is then recognised), then
/// deleted.
pub const KEEP_DONE: Duration = Duration::from_secs(3600);

/// The inbox, once the database is open (until then the webhook answers 503).
#[derive(Clone, Default)]
pub struct Inbox(Arc<OnceLock<Arc<dyn Storage>>>);

impl Inbox {
    pub fn open(&self, store: Arc<dyn Storage>) {
        let _ = self.0.set(store);
    }

    pub fn store(&self) -> Option<&Arc<dyn Storage>> {
        self.0.get()
    }

    /// Marks update `id` as handled; in long polling (no inbox open) does nothing.
    pub async fn done(&self, id: u32) {
        if let Some(store) = self.store()
            && let Err(e) = store.inbox_done(i64::from(id)).await
        {
            // It is handled again after the lease runs out: the safe side.
            log::warn!("update {id} not marked done in the inbox: {e:#}");
        }
    }
}

/// Renews this instance's claims, hands the updates of dead instances to the dispatcher
/// through `replay`, and deletes old handled ones, until `replay` is closed.
pub async fn keep(store: Arc<dyn Storage>, instance: &'static str, replay: mpsc::Sender<Update>) {
    let mut tick = tokio::time::interval(RENEW_EVERY);
    let mut pruned_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = replay.closed() => return,
        }
        if let Err(e) = store.inbox_renew(instance, LEASE).await {
            log::warn!("inbox claims not renewed: {e:#}");
        }
        let stale = match store.inbox_claim_stale(instance, LEASE, 100).await {
            Ok(s) => s,
            Err(e) => {
                log::warn!("inbox not read: {e:#}");
                continue;
            }
        };
        if !stale.is_empty() {
            log::info!("{} update(s) of a stopped instance taken up", stale.len());
        }
        for (id, body) in stale {
            match serde_json::from_str::<Update>(&body) {
                Ok(update) => {
                    if replay.send(update).await.is_err() {
                        return;
                    }
                }
                Err(_) => {
                    log::warn!("update {id} in the inbox cannot be read; dropped");
                    if let Err(e) = store.inbox_done(id).await {
                        log::warn!("update {id} not marked done in the inbox: {e:#}");
                    }
                }
            }
        }
        if pruned_at.elapsed() >= KEEP_DONE / 4 {
            pruned_at = tokio::time::Instant::now();
            let before = chrono::Utc::now()
                - chrono::TimeDelta::from_std(KEEP_DONE).unwrap_or(chrono::TimeDelta::zero());
            if let Err(e) = store.inbox_prune(before).await {
                log::warn!("inbox not pruned: {e:#}");
            }
        }
    }
}
