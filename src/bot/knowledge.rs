//! The knowledge base with its matcher, and the cell that swaps them as one: at a reload, and
//! when experts taught phrasings (on this instance or another).

use crate::kb::KnowledgeBase;
use crate::matcher::Matcher;
use crate::storage::Storage;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// The knowledge base with its matcher: swapped as one on reload.
pub struct Knowledge {
    pub kb: KnowledgeBase,
    pub matcher: Matcher,
}

impl Knowledge {
    pub fn new(kb: KnowledgeBase, learned: &[(String, String)]) -> Knowledge {
        let matcher = Matcher::with_learned(&kb, learned);
        Knowledge { kb, matcher }
    }

    /// As [`Knowledge::new`], on a blocking thread: training the matcher takes about a second
    /// of CPU, which must not hold up the replies the async threads are sending.
    pub async fn train(kb: KnowledgeBase, learned: Vec<(String, String)>) -> Knowledge {
        tokio::task::spawn_blocking(move || Knowledge::new(kb, &learned))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

/// The knowledge in service. Readers take an `Arc` of it and keep a consistent view for a
/// whole event, whatever is swapped in meanwhile.
pub struct Shelf {
    current: RwLock<Arc<Knowledge>>,
    /// The newest learned phrasing in the matcher: newer ones (taught on any instance) are
    /// picked up by [`Shelf::refresh_learned`].
    learned_seen: AtomicI64,
    /// How many learned phrasings the matcher has: fewer in the database means some were
    /// deleted.
    learned_count: AtomicI64,
}

impl Shelf {
    pub fn new(knowledge: Knowledge) -> Shelf {
        Shelf {
            current: RwLock::new(Arc::new(knowledge)),
            learned_seen: AtomicI64::new(0),
            learned_count: AtomicI64::new(0),
        }
    }

    /// `kb` with every phrasing experts taught so far.
    pub async fn load(kb: KnowledgeBase, store: &dyn Storage) -> anyhow::Result<Shelf> {
        let learned = store.learned_since(0).await?;
        let seen = learned.iter().map(|l| l.id).max().unwrap_or(0);
        let pairs: Vec<(String, String)> = learned.into_iter().map(|l| (l.entry, l.text)).collect();
        let count = pairs.len() as i64;
        let shelf = Shelf::new(Knowledge::train(kb, pairs).await);
        shelf.learned_seen.store(seen, Ordering::SeqCst);
        shelf.learned_count.store(count, Ordering::SeqCst);
        Ok(shelf)
    }

    pub fn get(&self) -> Arc<Knowledge> {
        self.current.read().expect("knowledge lock").clone()
    }

    /// Puts new knowledge in service; buttons of the old one become "out of date".
    pub fn replace(&self, knowledge: Knowledge) {
        *self.current.write().expect("knowledge lock") = Arc::new(knowledge);
    }

    /// Puts phrasings taught since the last call (on this or another instance) into the
    /// matcher, and drops those deleted meanwhile (a /forget). Returns how many were new.
    pub async fn refresh_learned(&self, store: &dyn Storage) -> anyhow::Result<usize> {
        let seen = self.learned_seen.load(Ordering::SeqCst);
        let new = store.learned_since(seen).await?;
        let count = store.count_learned().await?;
        // Nothing new and nothing deleted (a person's /forget, on any instance).
        if new.is_empty() && count == self.learned_count.load(Ordering::SeqCst) {
            return Ok(0);
        }
        // Rebuilt from the full list: a phrasing taught again for another entry replaces
        // the old pairing.
        let all = store.learned().await?;
        let newest = new.iter().map(|l| l.id).max().unwrap_or(seen);
        let kb = self.get().kb.clone();
        self.learned_count.store(all.len() as i64, Ordering::SeqCst);
        self.replace(Knowledge::train(kb, all).await);
        self.learned_seen.fetch_max(newest, Ordering::SeqCst);
        Ok(new.len())
    }

    /// Loads `dir` and, if it is valid, puts it in service with the learned phrasings. A
    /// broken knowledge base is refused with the `check` messages; the old one stays.
    pub async fn reload(&self, dir: &Path, store: &dyn Storage) -> Result<usize, String> {
        let (kb, warnings) =
            crate::kb::load(dir, &crate::kb::CheckOptions::default()).map_err(|e| e.to_string())?;
        for w in &warnings {
            log::warn!("{w}");
        }
        let learned = store.learned().await.map_err(|e| format!("{e:#}"))?;
        let entries = kb.entries.len();
        self.replace(Knowledge::train(kb, learned).await);
        Ok(entries)
    }
}
