//! Long polling that confirms to Telegram only the updates that were handled, and fetches no
//! more than the bot can work on.
//!
//! Telegram confirms updates with a single number: `getUpdates(offset)` forgets every update
//! below `offset`. teloxide's own listener passes one past the last update it fetched, so the
//! updates of the previous batch that were still waiting or running are confirmed too, and a
//! crash loses them. Here the offset is the lowest update that is still being handled (the
//! "watermark"); Telegram hands the unfinished ones out again with the next batch, and they are
//! skipped, since the listener remembers what it has handed out.
//!
//! Two kinds of update may run without holding the watermark back, or one slow chat would stop
//! everyone's updates (a batch holds at most 100, counted from the offset):
//! - *released* ones: those that wait for their own chat's limits (a flooding chat's messages,
//!   sends past Telegram's per-chat rate), those whose person has been answered (posting to
//!   the expert chat is retried from the database anyway; see [`release_current`]), the other
//!   updates of such a chat (they queue behind it), and every update of a chat that already
//!   has a burst's worth running;
//! - *overdue* ones: running for longer than [`HOLD_AT_MOST`] (a Telegram or database outage
//!   stretching a handler's retries).
//!
//! A crash may lose those (they were fetched, and the offset has moved past them), and may
//! hand the others out again after the restart: handling an update twice is the safe side, and
//! questions are stored once per message (see `Storage::save_question`).
//!
//! Backpressure: no batch is fetched while [`MAX_RUNNING`] updates hold the watermark (or
//! [`MAX_TAKEN`] run in all), so a burst waits at Telegram rather than in this process's
//! memory. One chat may have at most [`CHAT_SHARE`] updates taken in: its further updates are
//! dropped (it has been told to slow down), so that a flood from one chat cannot fill the
//! process and stop the fetching for everyone.
//!
//! A batch that is not valid JSON as a whole (Telegram passes on texts with a lone UTF-16
//! surrogate, which serde refuses) is read update by update: the surrogate becomes U+FFFD, an
//! update that cannot be read even then is skipped alone, and nothing of the texts is logged.

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use teloxide::RequestError;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::requests::{Request, Requester};
use teloxide::stop::{StopFlag, StopToken, mk_stop_token};
use teloxide::types::{AllowedUpdate, Update, UpdateKind};
use teloxide::update_listeners::{AsUpdateStream, UpdateListener};
use tokio::sync::watch;

mod running;

pub use running::{Running, Ticket, release_current, with_ticket};

/// Updates that may hold the watermark at once; past it, no new batch is fetched. Enough to
/// keep both cores busy while handlers wait on the database and on Telegram.
pub const MAX_RUNNING: usize = 256;

/// Updates taken in at once, released ones included: a bound on memory whatever the chats do.
pub const MAX_TAKEN: usize = 4096;

/// Updates of one chat taken in at once, at most: a chat sending faster than its updates are
/// handled gets the rest of its updates dropped (it was told to slow down, see `flood`), so
/// that no chat can fill [`MAX_TAKEN`] and stop the fetching for every other chat.
pub const CHAT_SHARE: usize = 64;

/// How long an update may hold the watermark back.
pub const HOLD_AT_MOST: Duration = Duration::from_secs(5);

/// A chat with this many updates running gets its further updates released at once: they queue
/// behind the others (one chat's updates are handled in order), which is a flood.
pub const CHAT_BACKLOG: usize = 8;

/// Telegram returns at most this many updates per `getUpdates`.
const BATCH: usize = 100;

/// A batch is fetched once the updates from the watermark on are fewer than this: every batch
/// then brings at least half new ones, rather than mostly the same running ones again.
const REFETCH_BELOW: usize = BATCH / 2;

/// How long a `getUpdates` waits for an update when nothing is running.
const LONG_POLL: Duration = Duration::from_secs(25);

/// Pauses after failed polls: 1, 2, 4 … 30 s (or Telegram's `retry_after`).
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Confirms to Telegram what is done, after the dispatcher has stopped; what is still running
/// (a handler cut off at the end of the grace period) will come again.
pub async fn confirm<B: Requester<Err = RequestError>>(bot: &B, running: &Running) {
    let offset = running.offset();
    if offset == 0 {
        return;
    }
    let req = bot.get_updates().offset(offset as i32).limit(1).timeout(0);
    match req.send().await {
        Ok(_) => log::info!("updates below {offset} confirmed to Telegram"),
        Err(e) => log::warn!("could not confirm updates below {offset}: {e}"),
    }
}

/// The long-polling listener; see the module's documentation.
pub struct Polling<B> {
    bot: B,
    running: Running,
    allowed: Vec<AllowedUpdate>,
    stop_token: StopToken,
    stop_flag: StopFlag,
}

impl<B> Polling<B>
where
    B: Requester<Err = RequestError> + Send + Sync + 'static,
    B::GetUpdates: Send,
{
    /// A listener that takes updates through `bot`, tracking them in `running` (which the
    /// handler tree's [`Ticket`]s finish: see `telegram::schema`).
    pub fn new(bot: B, running: Running) -> Polling<B> {
        let (stop_token, stop_flag) = mk_stop_token();
        Polling {
            bot,
            running,
            allowed: Vec::new(),
            stop_token,
            stop_flag,
        }
    }

    async fn stopped(&self) {
        self.stop_flag.clone().await
    }

    /// Waits until fetching is worth it: fewer than [`MAX_RUNNING`] updates hold the watermark,
    /// fewer than [`MAX_TAKEN`] run, and a batch from the watermark brings mostly new updates.
    /// `false` on a stop.
    async fn room(&self) -> bool {
        let mut changed = self.subscribe();
        loop {
            changed.borrow_and_update();
            let w = self.running.window();
            let past_offset = w.next.saturating_sub(w.offset) as usize;
            if w.holding < MAX_RUNNING && w.taken < MAX_TAKEN && past_offset < REFETCH_BELOW {
                return true;
            }
            if !self.wait_change(&mut changed).await {
                return false;
            }
        }
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.running.0.changed.subscribe()
    }

    /// Waits for an update to finish or be released, or for one to become overdue; `false` on
    /// a stop.
    async fn wait_change(&self, changed: &mut watch::Receiver<u64>) -> bool {
        let overdue = self
            .running
            .window()
            .overdue_at
            .unwrap_or_else(|| Instant::now() + HOLD_AT_MOST);
        tokio::select! {
            _ = changed.changed() => true,
            () = tokio::time::sleep_until(overdue.into()) => true,
            () = self.stopped() => false,
        }
    }

    /// The next batch of updates not handed out before; `None` on a stop.
    async fn fetch(&self, errors: &mut u32) -> Option<Result<Vec<Update>, RequestError>> {
        let mut changed = self.subscribe();
        loop {
            if !self.room().await {
                return None;
            }
            changed.borrow_and_update();
            let w = self.running.window();
            let offset = w.offset;
            // While updates are running, a batch comes back at once with them in it: waiting
            // at Telegram would only delay what they are waiting for.
            let timeout = if w.holding == 0 {
                LONG_POLL
            } else {
                Duration::ZERO
            };
            let mut req = self
                .bot
                .get_updates()
                .offset(offset as i32)
                .limit(BATCH as u8)
                .timeout(timeout.as_secs() as u32);
            if !self.allowed.is_empty() {
                req = req.allowed_updates(self.allowed.clone());
            }
            let batch = tokio::select! {
                result = req.send() => result,
                () = self.stopped() => return None,
            };
            let batch = match batch {
                Err(RequestError::InvalidJson { source, raw }) => match salvage(&raw) {
                    Some(Salvaged {
                        updates,
                        skipped,
                        replaced,
                    }) => {
                        if replaced > 0 {
                            log::warn!(
                                "getUpdates: {replaced} invalid character(s) in the batch replaced"
                            );
                        }
                        for id in skipped {
                            log::warn!("update {id} skipped: Telegram sent it malformed");
                            self.running.skip(id);
                        }
                        Ok(updates)
                    }
                    // Not even the batch's outline could be read: an outage of sorts. The
                    // error goes on to the dispatcher's log, which must not see people's texts.
                    None => Err(RequestError::InvalidJson {
                        source,
                        raw: format!("({} bytes not shown)", raw.len()).into(),
                    }),
                },
                other => other,
            };
            let updates = match batch {
                Ok(u) => u,
                Err(e) => {
                    let pause = match &e {
                        RequestError::RetryAfter(s) => s.duration(),
                        _ => Duration::from_secs(1 << (*errors).min(5)).min(MAX_BACKOFF),
                    };
                    *errors = errors.saturating_add(1);
                    log::warn!("getUpdates failed, polling again in {pause:?}");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = self.stopped() => return None,
                    }
                    return Some(Err(e));
                }
            };
            *errors = 0;
            // Only this listener moves `next`, so the one read before the request still holds,
            // unless Telegram has numbered updates afresh (after a quiet week, when nothing can
            // be running): then they come below the offset asked for.
            let known = if updates.iter().any(|u| u.id.0 < offset) {
                self.running.restart_numbering();
                0
            } else {
                w.next
            };
            let fresh: Vec<Update> = updates.into_iter().filter(|u| u.id.0 >= known).collect();
            if !fresh.is_empty() {
                return Some(Ok(fresh));
            }
            // Only updates already handed out: wait until one of them is done.
            if self.running.holding() > 0 && !self.wait_change(&mut changed).await {
                return None;
            }
        }
    }
}

/// What could be read of a `getUpdates` response that failed to parse as a whole.
struct Salvaged {
    updates: Vec<Update>,
    /// Ids of the updates that could not be read even on their own.
    skipped: Vec<u32>,
    /// Lone UTF-16 surrogates replaced by U+FFFD.
    replaced: usize,
}

/// Reads a `getUpdates` response update by update, after replacing lone UTF-16 surrogates
/// (`"\ud800"`: Telegram counts text in UTF-16 and may pass one on, but it is not JSON that
/// serde accepts). One bad update then costs only itself, rather than the whole batch failing
/// for ever and every chat waiting. `None` when the response is not a list of updates at all.
fn salvage(raw: &str) -> Option<Salvaged> {
    let (text, replaced) = replace_lone_surrogates(raw);
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    if value.get("ok").and_then(serde_json::Value::as_bool) != Some(true) {
        return None;
    }
    let mut salvaged = Salvaged {
        updates: Vec::new(),
        skipped: Vec::new(),
        replaced,
    };
    for item in value.get("result")?.as_array()? {
        let id = u32::try_from(item.get("update_id")?.as_u64()?).ok()?;
        // From text, not from the `Value`: teloxide's update parser needs borrowed keys.
        match serde_json::from_str::<Update>(&item.to_string()) {
            Ok(update) => salvaged.updates.push(update),
            Err(_) => salvaged.skipped.push(id),
        }
    }
    Some(salvaged)
}

/// `json` with every `\uXXXX` escape of a lone surrogate replaced by `\ufffd`, and how many
/// were replaced. Escapes occur only inside strings, and an escaped backslash is skipped whole,
/// so `"\\ud800"` (a backslash, then letters) is left alone.
fn replace_lone_surrogates(json: &str) -> (std::borrow::Cow<'_, str>, usize) {
    fn escape_at(b: &[u8], i: usize) -> Option<u16> {
        if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
            return None;
        }
        let hex = std::str::from_utf8(b.get(i + 2..i + 6)?).ok()?;
        u16::from_str_radix(hex, 16).ok()
    }
    if !json.contains("\\u") {
        return (json.into(), 0);
    }
    let b = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let (mut replaced, mut copied, mut i) = (0, 0, 0);
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = escape_at(b, i) else {
            i += 2; // an escape of another kind: skip both characters
            continue;
        };
        let high = (0xD800..0xDC00).contains(&unit);
        let low = (0xDC00..0xE000).contains(&unit);
        if high && escape_at(b, i + 6).is_some_and(|u| (0xDC00..0xE000).contains(&u)) {
            i += 12; // a proper pair
        } else if high || low {
            out.push_str(&json[copied..i]);
            out.push_str("\\ufffd");
            replaced += 1;
            i += 6;
            copied = i;
        } else {
            i += 6;
        }
    }
    if replaced == 0 {
        return (json.into(), 0);
    }
    out.push_str(&json[copied..]);
    (out.into(), replaced)
}

impl<B> UpdateListener for Polling<B>
where
    B: Requester<Err = RequestError> + Send + Sync + 'static,
    B::GetUpdates: Send,
{
    type Err = RequestError;

    fn stop_token(&mut self) -> StopToken {
        self.stop_token.clone()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.allowed = hint.collect();
    }
}

impl<'a, B> AsUpdateStream<'a> for Polling<B>
where
    B: Requester<Err = RequestError> + Send + Sync + 'static,
    B::GetUpdates: Send,
{
    type StreamErr = RequestError;
    type Stream = futures::stream::BoxStream<'a, Result<Update, RequestError>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let this: &'a Polling<B> = self;
        let state = (VecDeque::<Update>::new(), 0u32);
        Box::pin(futures::stream::unfold(
            state,
            move |(mut buffer, mut errors)| async move {
                loop {
                    if let Some(update) = buffer.pop_front() {
                        return Some((Ok(update), (buffer, errors)));
                    }
                    match this.fetch(&mut errors).await? {
                        Err(e) => return Some((Err(e), (buffer, errors))),
                        Ok(fresh) => {
                            for u in fresh {
                                if let UpdateKind::Error(_) = u.kind {
                                    // The dispatcher would drop it: it counts as handled.
                                    log::warn!(
                                        "update {} skipped: of a kind this version cannot read",
                                        u.id.0
                                    );
                                    this.running.skip(u.id.0);
                                    continue;
                                }
                                if this.running.admit(u.id.0, u.chat().map(|c| c.id.0)) {
                                    buffer.push_back(u);
                                }
                            }
                        }
                    }
                }
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_are_replaced_and_pairs_and_escaped_backslashes_kept() {
        let (t, n) = replace_lone_surrogates(
            r#"{"a":"hi \ud800 x","b":"\ud83d\ude00","c":"\\ud800","d":"\udc00"}"#,
        );
        assert_eq!(n, 2);
        assert_eq!(
            t,
            r#"{"a":"hi \ufffd x","b":"\ud83d\ude00","c":"\\ud800","d":"\ufffd"}"#
        );
        let (t, n) = replace_lone_surrogates(r#"{"a":"\ud800\ud800\udc00"}"#);
        assert_eq!((t.as_ref(), n), (r#"{"a":"\ufffd\ud800\udc00"}"#, 1));
        assert_eq!(replace_lone_surrogates("{}").1, 0);
    }

    #[test]
    fn a_batch_with_a_malformed_update_yields_the_others() {
        let message = |id: u32, text: &str| {
            format!(
                r#"{{"update_id":{id},"message":{{"message_id":{id},"date":1,"chat":{{"id":{id},"type":"private","first_name":"A"}},"from":{{"id":{id},"is_bot":false,"first_name":"A"}},"text":"{text}"}}}}"#
            )
        };
        let raw = format!(
            r#"{{"ok":true,"result":[{},{},{{"update_id":3,"message":42}},{}]}}"#,
            message(1, "one"),
            message(2, r"hello \ud800"),
            message(4, "four"),
        );
        assert!(serde_json::from_str::<serde_json::Value>(&raw).is_err());
        let s = salvage(&raw).expect("a readable outline");
        assert_eq!(s.replaced, 1);
        let texts: Vec<_> = s
            .updates
            .iter()
            .filter_map(|u| match &u.kind {
                UpdateKind::Message(m) => m.text().map(str::to_owned),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["one", "hello \u{fffd}", "four"]);
        // Update 3 is either skipped here or comes back as a kind teloxide cannot read
        // (skipped later like any such kind); either way it yields no message.
        assert!(s.skipped.iter().all(|&id| id == 3));
        assert!(salvage("<html>Bad Gateway</html>").is_none());
        assert!(salvage(r#"{"ok":false,"error_code":502}"#).is_none());
    }
}
