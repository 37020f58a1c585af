//! Our long-polling listener against the fake Bot API: the offset passes only handled updates,
//! no more than a bounded number of updates is taken in, and each update is handled once.

use fake_bot_api::FakeBotApi;
use jardam::telegram::polling::{MAX_RUNNING, Polling, Running};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use teloxide::dispatching::ShutdownToken;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use tokio::sync::Semaphore;

const WAIT: Duration = Duration::from_secs(20);

/// A dispatcher whose handler records each update's text and then waits for a permit from
/// `gate` (never for texts starting with "quick"), listening with our polling.
struct Harness {
    fake: FakeBotApi,
    gate: Arc<Semaphore>,
    handled: Arc<Mutex<HashMap<String, usize>>>,
    running: Running,
    token: ShutdownToken,
    task: tokio::task::JoinHandle<()>,
}

impl Harness {
    async fn start() -> Harness {
        let fake = FakeBotApi::start().await;
        let gate = Arc::new(Semaphore::new(0));
        let handled: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let running = Running::default();
        let (g, h) = (gate.clone(), handled.clone());
        let handler = Update::filter_message().endpoint(move |m: Message| {
            let (g, h) = (g.clone(), h.clone());
            async move {
                let text = m.text().unwrap_or_default().to_owned();
                *h.lock().unwrap().entry(text.clone()).or_default() += 1;
                if !text.starts_with("quick") {
                    g.acquire().await?.forget();
                }
                anyhow::Ok(())
            }
        });
        let mut dispatcher = Dispatcher::builder(fake.bot(), jardam::telegram::tracked(handler))
            .dependencies(dptree::deps![running.clone()])
            .worker_queue_size(4096)
            .build();
        let token = dispatcher.shutdown_token();
        let listener = Polling::new(fake.bot(), running.clone());
        let task = tokio::spawn(async move {
            dispatcher
                .dispatch_with_listener(listener, LoggingErrorHandler::new())
                .await
        });
        Harness {
            fake,
            gate,
            handled,
            running,
            token,
            task,
        }
    }

    fn handled(&self) -> HashMap<String, usize> {
        self.handled.lock().unwrap().clone()
    }

    async fn wait_handled(&self, n: usize) {
        tokio::time::timeout(WAIT, async {
            while self.handled().len() < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{} of {n} updates handled", self.handled().len()));
    }

    async fn stop(self) {
        if let Ok(f) = self.token.shutdown() {
            f.await;
        }
        self.task.await.unwrap();
        self.fake.shutdown().await;
    }
}

#[tokio::test]
async fn the_offset_passes_only_updates_that_were_handled() {
    let h = Harness::start().await;
    // Chat 1's update is held; chat 2's are quick.
    let slow = h.fake.push_update(h.fake.text_message(1, 1, "slow"));
    for i in 0..5 {
        h.fake
            .push_update(h.fake.text_message(2, 2, &format!("quick {i}")));
    }
    h.wait_handled(6).await;
    // Let the listener poll a few more times: the held update still is not confirmed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        h.fake.confirmed_offset() <= slow,
        "the held update was confirmed"
    );
    assert!(
        h.fake.pending_updates().len() >= 6,
        "updates after the held one are confirmed while it runs"
    );
    // Done: the next poll confirms everything, and nothing was handled twice although the
    // updates came again with every batch.
    h.gate.add_permits(1);
    tokio::time::timeout(WAIT, async {
        while !h.running.is_empty() || !h.fake.pending_updates().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("all confirmed once handled");
    let handled = h.handled();
    assert!(handled.iter().all(|(_, &n)| n == 1), "{handled:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_burst_waits_at_telegram_not_in_memory_and_each_update_is_handled_once() {
    let h = Harness::start().await;
    let total = MAX_RUNNING * 2;
    for i in 0..total {
        // Each from its own chat, so that all could run side by side.
        let chat = 10_000 + i as i64;
        h.fake
            .push_update(h.fake.text_message(chat, chat, &format!("held {i}")));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let taken = h.handled().len();
    assert!(
        (1..=MAX_RUNNING).contains(&taken),
        "{taken} of {total} held updates taken in at once"
    );
    assert!(h.fake.pending_updates().len() >= total - MAX_RUNNING);
    h.gate.add_permits(total);
    h.wait_handled(total).await;
    let handled = h.handled();
    assert!(handled.values().all(|&n| n == 1), "an update handled twice");
    h.stop().await;
}

#[tokio::test]
async fn a_released_update_lets_the_offset_move_on() {
    let fake = FakeBotApi::start().await;
    let running = Running::default();
    let handler = Update::filter_message().endpoint(|m: Message| async move {
        if m.text() == Some("flood") {
            // What the flood limit does with a message that must wait its turn.
            jardam::telegram::polling::release_current();
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        anyhow::Ok(())
    });
    let mut dispatcher = Dispatcher::builder(fake.bot(), jardam::telegram::tracked(handler))
        .dependencies(dptree::deps![running.clone()])
        .build();
    let listener = Polling::new(fake.bot(), running.clone());
    let task = tokio::spawn(async move {
        dispatcher
            .dispatch_with_listener(listener, LoggingErrorHandler::new())
            .await
    });
    fake.push_update(fake.text_message(1, 1, "flood"));
    let after = fake.push_update(fake.text_message(2, 2, "hello"));
    tokio::time::timeout(WAIT, async {
        while fake.confirmed_offset() <= after {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the offset moved past the released update while it waits");
    assert_eq!(running.len(), 1, "the released update is still running");
    task.abort();
    fake.shutdown().await;
}

#[tokio::test]
async fn a_malformed_update_costs_only_itself() {
    let h = Harness::start().await;
    // A lone UTF-16 surrogate makes the whole batch invalid JSON for serde.
    h.fake.push_update(h.fake.text_message(1, 1, "quick one"));
    h.fake.push_update_raw(
        h.fake.text_message(2, 2, "quick two MARK"),
        "MARK",
        r"\ud800",
    );
    h.fake.push_update(h.fake.text_message(3, 3, "quick three"));
    h.wait_handled(3).await;
    let handled = h.handled();
    assert!(handled.contains_key("quick one"), "{handled:?}");
    assert!(handled.contains_key("quick two \u{fffd}"), "{handled:?}");
    assert!(handled.contains_key("quick three"), "{handled:?}");
    // And polling goes on: a later update is handled, everything is confirmed once.
    h.fake.push_update(h.fake.text_message(4, 4, "quick four"));
    h.wait_handled(4).await;
    assert!(h.fake.wait_drained(WAIT).await, "all confirmed");
    assert!(h.handled().values().all(|&n| n == 1));
    h.stop().await;
}

#[tokio::test]
async fn a_flood_from_one_chat_holds_only_its_share_and_others_are_answered() {
    use jardam::telegram::polling::CHAT_SHARE;
    let h = Harness::start().await;
    // 5,000 messages from chat 1, none of which finishes while the test runs.
    for i in 0..5_000 {
        h.fake
            .push_update(h.fake.text_message(1, 1, &format!("held {i}")));
    }
    let started = std::time::Instant::now();
    for chat in 2..22 {
        h.fake
            .push_update(h.fake.text_message(chat, chat, &format!("quick {chat}")));
    }
    tokio::time::timeout(WAIT, async {
        while h
            .handled()
            .keys()
            .filter(|t| t.starts_with("quick"))
            .count()
            < 20
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the other chats were answered during the flood");
    let waited = started.elapsed();
    let held = h.handled().keys().filter(|t| t.starts_with("held")).count();
    assert!(held <= CHAT_SHARE, "{held} of the flood taken in at once");
    assert!(h.running.len() <= CHAT_SHARE, "{} running", h.running.len());
    assert!(
        h.running.dropped() >= (5_000 - CHAT_SHARE) as u64,
        "{} dropped",
        h.running.dropped()
    );
    assert!(h.fake.wait_drained(WAIT).await, "the flood was confirmed");
    eprintln!("other chats answered {waited:?} into a 5,000-message flood");
    h.gate.add_permits(5_000);
    h.stop().await;
}
