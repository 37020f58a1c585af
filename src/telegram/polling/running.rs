//! The updates handed out and not finished: admission (a chat's share), the watermark the
//! offset follows, and the handlers' tickets that finish or release their update.

use super::{CHAT_BACKLOG, CHAT_SHARE, HOLD_AT_MOST};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;

/// The updates handed out and not finished, shared by the listener (which reads the watermark)
/// and the handlers' [`Ticket`]s (which finish or release their update).
#[derive(Clone)]
pub struct Running(pub(super) Arc<Shared>);

pub(super) struct Shared {
    state: Mutex<State>,
    /// Bumped whenever an update finishes or is released, so the listener can wait for room.
    pub(super) changed: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    /// Update id → its entry.
    running: BTreeMap<u32, Entry>,
    per_chat: HashMap<i64, ChatRun>,
    /// One past the highest update id handed out; every update below it is known.
    next: u32,
    /// Updates dropped because their chat had its share running.
    dropped: u64,
}

#[derive(Default)]
struct ChatRun {
    running: usize,
    /// One of the chat's updates was released: it is being slowed down by its own limits, and
    /// its other updates queue behind that one.
    slow: bool,
    /// Updates dropped while the chat had its share running.
    dropped: u64,
}

struct Entry {
    at: Instant,
    chat: Option<i64>,
    released: bool,
}

impl State {
    fn holds(&self, e: &Entry, now: Instant) -> bool {
        !e.released && now.saturating_duration_since(e.at) < HOLD_AT_MOST
    }
}

impl Default for Running {
    fn default() -> Running {
        Running(Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: watch::Sender::new(0),
        }))
    }
}

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain counters behind: keep going.
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.0.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Records a fetched update as running, unless its chat already has [`CHAT_SHARE`] updates
    /// running: then it is noted as known and dropped (`false`), and the first drop of a flood
    /// is logged, with the count once the flood is over.
    pub fn admit(&self, id: u32, chat: Option<i64>) -> bool {
        if let Some(c) = chat {
            let mut st = self.lock();
            if let Some(run) = st.per_chat.get_mut(&c)
                && run.running >= CHAT_SHARE
            {
                run.dropped += 1;
                if run.dropped == 1 {
                    log::warn!(
                        "a chat has {CHAT_SHARE} updates running: its further updates are dropped"
                    );
                }
                st.next = st.next.max(id.saturating_add(1));
                st.dropped += 1;
                return false;
            }
        }
        self.start(id, chat);
        true
    }

    /// Updates dropped so far by [`Running::admit`].
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Records a fetched update as running.
    pub(super) fn start(&self, id: u32, chat: Option<i64>) {
        let mut st = self.lock();
        st.next = st.next.max(id.saturating_add(1));
        let (released, now_slow) = match chat {
            Some(c) => {
                let run = st.per_chat.entry(c).or_default();
                let was_slow = run.slow;
                run.slow |= run.running >= CHAT_BACKLOG;
                run.running += 1;
                (run.slow, run.slow && !was_slow)
            }
            None => (false, false),
        };
        if now_slow {
            // A burst's worth is running: the chat's earlier updates stop holding the
            // watermark too, or a flood would hold everyone's for `HOLD_AT_MOST`.
            for e in st.running.values_mut().filter(|e| e.chat == chat) {
                e.released = true;
            }
        }
        st.running.insert(
            id,
            Entry {
                at: Instant::now(),
                chat,
                released,
            },
        );
    }

    /// Notes an update that is not handed out (one this version cannot read) as known.
    pub(super) fn skip(&self, id: u32) {
        let mut st = self.lock();
        st.next = st.next.max(id.saturating_add(1));
    }

    /// Forgets the numbering, when Telegram has started a new one.
    pub(super) fn restart_numbering(&self) {
        self.lock().next = 0;
    }

    /// Forgets update `id` as running (a ticket does this when dropped).
    pub fn finish(&self, id: u32) {
        {
            let mut st = self.lock();
            let Some(e) = st.running.remove(&id) else {
                return;
            };
            if let Some(c) = e.chat
                && let Some(run) = st.per_chat.get_mut(&c)
            {
                run.running -= 1;
                if run.running == 0 {
                    if run.dropped > 0 {
                        log::warn!(
                            "a chat's flood is over: {} of its updates dropped",
                            run.dropped
                        );
                    }
                    st.per_chat.remove(&c);
                }
            }
        }
        self.bump();
    }

    /// Releases update `id`, and with it the other updates of its chat, which wait behind it.
    fn release(&self, id: u32) {
        let released = {
            let mut st = self.lock();
            match st.running.get_mut(&id) {
                Some(e) if !e.released => {
                    e.released = true;
                    if let Some(c) = e.chat {
                        st.per_chat.entry(c).or_default().slow = true;
                        for e in st.running.values_mut().filter(|e| e.chat == Some(c)) {
                            e.released = true;
                        }
                    }
                    true
                }
                _ => false,
            }
        };
        if released {
            self.bump();
        }
    }

    /// Everything the listener decides on, read in one pass under one lock.
    pub(super) fn window(&self) -> Window {
        let st = self.lock();
        let now = Instant::now();
        let mut w = Window {
            offset: st.next,
            next: st.next,
            holding: 0,
            taken: st.running.len(),
            overdue_at: None,
        };
        // In id order: the first update that holds is the offset, and the oldest.
        for (&id, e) in st.running.iter().filter(|(_, e)| st.holds(e, now)) {
            if w.holding == 0 {
                w.offset = id;
            }
            w.holding += 1;
            let at = e.at + HOLD_AT_MOST;
            w.overdue_at = Some(w.overdue_at.map_or(at, |o: Instant| o.min(at)));
        }
        w
    }

    /// The offset that confirms every update that is done or may run on its own: the lowest
    /// update still holding the watermark, else one past the last update handed out.
    pub fn offset(&self) -> u32 {
        self.window().offset
    }

    /// Updates holding the watermark.
    pub fn holding(&self) -> usize {
        self.window().holding
    }

    /// Updates handed out and not finished, released or not.
    pub fn len(&self) -> usize {
        self.lock().running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A ticket for update `id`: finished when the last clone is dropped.
    pub fn ticket(&self, id: u32) -> Ticket {
        Ticket(Arc::new(TicketInner {
            running: Some(self.clone()),
            id,
        }))
    }
}

/// What the listener sees of the running updates at one moment.
pub(super) struct Window {
    /// See [`Running::offset`].
    pub(super) offset: u32,
    /// One past the highest update id handed out.
    pub(super) next: u32,
    /// Updates holding the watermark.
    pub(super) holding: usize,
    /// Updates handed out and not finished, released or not.
    pub(super) taken: usize,
    /// When the first update holding the watermark stops holding it.
    pub(super) overdue_at: Option<Instant>,
}

tokio::task_local! {
    /// The ticket of the update the running handler handles.
    static CURRENT: Ticket;
}

/// Runs `handling` (the handlers of one update) with `ticket` as the current ticket, so that
/// code deep inside can [`release_current`] without the ticket being passed down.
pub async fn with_ticket<F: std::future::Future>(ticket: Ticket, handling: F) -> F::Output {
    CURRENT.scope(ticket, handling).await
}

/// The update being handled will take long on purpose, for reasons of its own chat (its flood
/// limit, its send limit) or once what is left of it is safe to lose (the person has been
/// answered and the question stored): let the offset move past it, so that it does not hold up
/// other chats. A crash may then lose the rest of it. Outside a handler, does nothing.
pub fn release_current() {
    let _ = CURRENT.try_with(Ticket::release);
}

/// The handlers' handle on the update they are handling: `telegram::tracked` holds it while the
/// handlers run, and dropping the last clone finishes the update.
#[derive(Clone)]
pub struct Ticket(Arc<TicketInner>);

struct TicketInner {
    running: Option<Running>,
    id: u32,
}

impl Ticket {
    /// A ticket that tracks nothing, for handlers run without a [`Running`] (handler tests).
    pub fn detached(id: u32) -> Ticket {
        Ticket(Arc::new(TicketInner { running: None, id }))
    }

    /// See [`release_current`].
    pub fn release(&self) {
        if let Some(r) = &self.0.running {
            r.release(self.0.id);
        }
    }
}

impl Drop for TicketInner {
    fn drop(&mut self) {
        if let Some(r) = &self.running {
            r.finish(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_waits_for_the_lowest_unfinished_update() {
        let r = Running::default();
        assert_eq!(r.offset(), 0);
        let tickets: Vec<Ticket> = (10..13).map(|id| r.ticket(id)).collect();
        for id in 10..13 {
            r.start(id, Some(i64::from(id)));
        }
        assert_eq!(r.offset(), 10);
        let mut tickets = tickets.into_iter();
        let first = tickets.next().unwrap();
        let second = tickets.next().unwrap();
        let third = tickets.next().unwrap();
        drop(second);
        assert_eq!(r.offset(), 10, "11 is done, but 10 is not");
        drop(first);
        assert_eq!(r.offset(), 12);
        third.release();
        assert_eq!(r.offset(), 13, "a released update does not hold the offset");
        assert_eq!(r.holding(), 0);
        assert_eq!(r.len(), 1);
        drop(third);
        assert!(r.is_empty());
    }

    #[test]
    fn releasing_an_update_releases_the_ones_of_its_chat_behind_it() {
        let r = Running::default();
        r.start(1, Some(5));
        r.start(2, Some(5));
        r.start(3, Some(6));
        r.release(1);
        assert_eq!(
            r.offset(),
            3,
            "chat 5's second update waits behind its first"
        );
        r.start(4, Some(5));
        assert_eq!(
            r.holding(),
            1,
            "a slow chat's next update is released at once"
        );
        r.finish(1);
        r.finish(2);
        r.finish(4);
        r.start(7, Some(5));
        assert_eq!(
            r.holding(),
            2,
            "once all its updates are done, the chat starts afresh"
        );
    }

    #[test]
    fn a_ticket_finishes_when_its_last_clone_is_dropped() {
        let r = Running::default();
        r.start(5, None);
        let t = r.ticket(5);
        let clone = t.clone();
        drop(t);
        assert_eq!(r.offset(), 5);
        drop(clone);
        assert_eq!(r.offset(), 6);
    }

    #[test]
    fn a_chat_with_a_backlog_does_not_hold_the_offset() {
        let r = Running::default();
        for id in 1..=CHAT_BACKLOG as u32 {
            r.start(id, Some(42));
        }
        r.start(100, Some(42));
        r.start(101, Some(7));
        // Chat 42's next update releases all of its updates; chat 7's holds.
        assert_eq!(r.holding(), 1);
        assert_eq!(
            r.offset(),
            101,
            "chat 42's updates were released, 101 is chat 7's"
        );
        // Past its share, a chat's further updates are dropped, not taken in.
        for id in 200..200 + (CHAT_SHARE - CHAT_BACKLOG - 1) as u32 {
            assert!(r.admit(id, Some(42)));
        }
        assert!(!r.admit(300, Some(42)), "chat 42 has its share running");
        assert!(r.admit(301, Some(8)), "another chat is taken in");
        assert_eq!(r.dropped(), 1);
        assert_eq!(r.len(), CHAT_SHARE + 2);
    }
}
