//! Telegram's limits on the messages a bot sends, and the bot type the handlers use.
//!
//! Telegram allows a bot about 30 messages a second in all, about one a second in one chat
//! (short bursts pass), and 20 a minute in a group; past that it answers 429. teloxide's
//! `Throttle` keeps to these limits by queueing every message for a worker that sends in rounds
//! 250 ms apart, so each reply waited up to a quarter of a second even when the bot was idle.
//! Here a message goes out at once while the chat and the bot are within their limits (GCRA
//! rate limiters from `governor`), and waits only for as long as a limit requires.

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use teloxide::prelude::*;
use teloxide::requests::Request;

/// Telegram's broadcast limit for a bot without paid broadcasts.
pub const DEFAULT_SEND_RATE: u32 = 30;

/// How many messages the bot may send.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// In all, a second (with a burst of as many).
    pub per_second: u32,
    /// To one chat, a second.
    pub chat_per_second: u32,
    /// To one chat at once, before the per-second rate applies.
    pub chat_burst: u32,
    /// To one group, a minute.
    pub group_per_minute: u32,
}

impl Limits {
    /// Telegram's: one message a second to a chat (after a burst of 3: an answer and a
    /// follow-up go out together), 20 a minute to a group, `per_second` in all.
    pub fn telegram(per_second: u32) -> Limits {
        Limits {
            per_second,
            chat_per_second: 1,
            chat_burst: 3,
            group_per_minute: 20,
        }
    }
}

/// Keyed limiters keep a cell per chat; chats quiet for long enough are dropped after this
/// many sends.
const FORGET_EVERY: u32 = 4096;

/// The rate limiters of one bot.
pub struct Limiter {
    overall: DefaultDirectRateLimiter,
    per_chat: DefaultKeyedRateLimiter<i64>,
    per_group: DefaultKeyedRateLimiter<i64>,
    sends: AtomicU32,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least 1")
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            overall: RateLimiter::direct(Quota::per_second(nonzero(limits.per_second))),
            per_chat: RateLimiter::keyed(
                Quota::per_second(nonzero(limits.chat_per_second))
                    .allow_burst(nonzero(limits.chat_burst)),
            ),
            per_group: RateLimiter::keyed(Quota::per_minute(nonzero(limits.group_per_minute))),
            sends: AtomicU32::new(0),
        }
    }

    /// Takes a place for a message to `chat` if every limit has room now; false (and nothing
    /// taken from the overall rate) when one has not. For sends that may as well wait for a
    /// quieter moment, so that they never queue before answers to people.
    pub fn try_now(&self, chat: ChatId) -> bool {
        (chat.0 >= 0 || self.per_group.check_key(&chat.0).is_ok())
            && self.per_chat.check_key(&chat.0).is_ok()
            && self.overall.check().is_ok()
    }

    /// Waits until a message to `chat` is within every limit.
    pub async fn wait(&self, chat: ChatId) {
        if self.sends.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.per_chat.retain_recent();
            self.per_group.retain_recent();
        }
        // Group ids are negative; private chats are users' ids. A wait for the chat's own
        // limits is that chat's doing: the update is released so as not to hold up the
        // others'. A wait for the overall rate is everyone's, and holds, so that no more
        // updates are taken in than can be answered.
        if chat.0 < 0 && self.per_group.check_key(&chat.0).is_err() {
            super::polling::release_current();
            self.per_group.until_key_ready(&chat.0).await;
        }
        if self.per_chat.check_key(&chat.0).is_err() {
            super::polling::release_current();
            self.per_chat.until_key_ready(&chat.0).await;
        }
        self.overall.until_ready().await;
    }
}

/// The bot as the handlers get it: Telegram's client and the rate limiters. Requests are built
/// on the client (through `Deref`); messages are sent with [`TgBot::send_to`], which waits for
/// the limits and retries what failed in passing.
#[derive(Clone)]
pub struct TgBot {
    bot: Bot,
    limiter: Arc<Limiter>,
}

impl TgBot {
    pub fn new(bot: Bot, limits: Limits) -> TgBot {
        TgBot {
            bot,
            limiter: Arc::new(Limiter::new(limits)),
        }
    }

    /// The client itself, for the dispatcher and the update listener.
    pub fn client(&self) -> &Bot {
        &self.bot
    }

    /// Whether a message (or an edit) to `chat` may go out now; see [`Limiter::try_now`].
    pub fn may_send_now(&self, chat: ChatId) -> bool {
        self.limiter.try_now(chat)
    }

    /// Sends a request that creates a message in `chat` (sendMessage, copyMessage,
    /// sendDocument…), once the limits allow it.
    pub async fn send_to<R>(
        &self,
        chat: ChatId,
        req: R,
    ) -> Result<teloxide::requests::Output<R>, teloxide::RequestError>
    where
        R: Request<Err = teloxide::RequestError>,
    {
        self.limiter.wait(chat).await;
        super::send(req).await
    }
}

impl Deref for TgBot {
    type Target = Bot;

    fn deref(&self) -> &Bot {
        &self.bot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admits(l: &Limiter, chat: i64) -> bool {
        l.try_now(ChatId(chat))
    }

    #[test]
    fn a_chat_gets_a_burst_then_waits_and_other_chats_do_not() {
        let l = Limiter::new(Limits::telegram(1000));
        for _ in 0..3 {
            assert!(admits(&l, 7));
        }
        assert!(!admits(&l, 7), "a fourth message at once to one chat");
        assert!(admits(&l, 8), "another chat is held up by chat 7");
    }

    #[test]
    fn the_overall_rate_caps_all_chats_together() {
        let l = Limiter::new(Limits::telegram(5));
        for chat in 1..=5 {
            assert!(admits(&l, chat));
        }
        assert!(!admits(&l, 6));
    }

    #[test]
    fn a_group_gets_twenty_a_minute() {
        let l = Limiter::new(Limits::telegram(1000));
        let group = -100_123;
        let mut sent = 0;
        // The per-second limit is checked apart from the group's own.
        while l.per_group.check_key(&group).is_ok() {
            sent += 1;
            assert!(sent <= 20, "more than 20 at once");
        }
        assert_eq!(sent, 20);
    }
}
