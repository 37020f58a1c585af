//! Reminders: "🔔 Remind me" under a guided answer's outcome keeps one in the database (some
//! days before the date worked out, as the curator set it); `/reminders` lists them, each with a
//! cancel button; the background task of whichever instance claims them sends the due ones
//! ([`Conversation::due_reminders`], then [`Conversation::reminder_sent`]), in the language
//! the person used, and only in the daytime where they live ([`daytime`]).

use super::callback::Callback;
use super::desk::Delivery;
use super::reply::{Button, Output, Reply};
use super::{Conversation, Knowledge, screens};
use crate::kb::flow::show_day;
use crate::kb::html::escape;
use crate::lang::{Country, Lang};
use crate::model::{NewReminder, Reminder};
use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Utc};
use std::time::Duration;

/// How long an instance holds the reminders it claimed while it sends them.
const LEASE: Duration = Duration::from_secs(600);
/// When Telegram could not be reached, how long until the next try.
const RETRY_AFTER: TimeDelta = TimeDelta::minutes(5);
/// The furthest ahead a reminder may be asked for (a ban runs ten years at most).
const MAX_AHEAD: Days = Days::new(366 * 12);

/// The daytime where a person lives, in which reminders are sent: 09:00–21:00 by the clock of
/// their profile's country (Moscow time for Russia, where most work; UTC+5 for Kazakhstan;
/// UTC+6 for Kyrgyzstan; none of them keeps summer time). For another country or none, 09:00–
/// 12:00 UTC, which is daytime everywhere from the UK to Korea.
pub fn daytime(country: Option<Country>) -> (FixedOffset, NaiveTime, NaiveTime) {
    let hours = |h: u32| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default();
    let (offset, until) = match country {
        Some(Country::Ru) => (3, 21),
        Some(Country::Kz) => (5, 21),
        Some(Country::Kg) => (6, 21),
        Some(Country::Other) | None => (0, 12),
    };
    let offset = FixedOffset::east_opt(offset * 3600).unwrap_or(FixedOffset::east_opt(0).unwrap());
    (offset, hours(9), hours(until))
}

/// The start of the daytime of `day` where the person lives.
pub fn morning_of(day: NaiveDate, country: Option<Country>) -> DateTime<Utc> {
    let (offset, from, _) = daytime(country);
    let local = day.and_time(from);
    (local - offset).and_utc()
}

/// `None` when `now` is in the person's daytime; else the next start of it.
pub fn next_daytime(now: DateTime<Utc>, country: Option<Country>) -> Option<DateTime<Utc>> {
    let (offset, from, until) = daytime(country);
    let local = now.with_timezone(&offset);
    let time = local.time();
    if (from..until).contains(&time) {
        return None;
    }
    let day = local.date_naive();
    let day = if time < from { day } else { day.succ_opt()? };
    Some(morning_of(day, country))
}

/// A reminder to send now: to `chat`, `reply`.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: i64,
    pub chat: i64,
    pub reply: Reply,
}

impl Conversation {
    /// "🔔 Remind me" under outcome `node` of `entry`'s flow, for the date `due` it worked out.
    pub(super) async fn remind(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        country: Option<Country>,
        (entry, node, due): (usize, usize, NaiveDate),
    ) -> Output {
        let kb = &k.kb;
        let e = kb.entries.get(entry);
        let before = e
            .and_then(|e| e.flow.as_ref())
            .and_then(|f| f.reminder_days_before(node));
        let today = self.clock.today();
        let (Some(e), Some(before)) = (e, before) else {
            return Output::one(screens::stale(kb, ui));
        };
        if today
            .checked_add_days(MAX_AHEAD)
            .is_none_or(|far| due > far)
        {
            // No outcome works out such a date: the data was not ours.
            return Output::one(screens::stale(kb, ui));
        }
        let tomorrow = today.succ_opt().unwrap_or(today);
        let remind_on = due
            .checked_sub_days(Days::new(before.into()))
            .unwrap_or(due)
            .max(tomorrow);
        if remind_on >= due {
            let text = kb
                .interface
                .fill("reminder_too_close", ui, &[("due", &show_day(due))]);
            return Output::one(Reply::text(text));
        }
        let r = NewReminder {
            chat_id: chat,
            entry: e.id.clone(),
            lang: ui,
            due_on: due,
            remind_on,
            send_at: morning_of(remind_on, country),
        };
        match self.store.add_reminder(r).await {
            Ok(r) => {
                let text = kb.interface.fill(
                    "reminder_set",
                    ui,
                    &[
                        ("remind_on", &show_day(r.remind_on)),
                        ("due", &show_day(r.due_on)),
                    ],
                );
                Output::one(Reply::text(text))
            }
            Err(e) => {
                log::error!("a reminder could not be stored: {e:#}");
                Output::one(Reply::text(kb.t("save_failed", ui).to_string()))
            }
        }
    }

    /// `/reminders`: the chat's reminders not yet sent, each with a cancel button; `notice`
    /// above them (after a cancel, which edits the list in place).
    pub(super) async fn reminders(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        edit: bool,
        notice: Option<&str>,
    ) -> Output {
        let kb = &k.kb;
        let list = match self.store.reminders_of(chat).await {
            Ok(l) => l,
            Err(e) => {
                log::error!("reminders not read: {e:#}");
                return Output::one(Reply::text(kb.t("save_failed", ui).to_string()));
            }
        };
        let mut lines: Vec<String> = notice.map(str::to_string).into_iter().collect();
        let mut buttons = Vec::new();
        if list.is_empty() {
            lines.push(kb.t("reminders_none", ui).to_string());
        } else {
            lines.push(kb.t("reminders_list", ui).to_string());
            for (n, r) in list.iter().enumerate() {
                let n = (n + 1).to_string();
                let title = kb
                    .entry(&r.entry)
                    .map_or_else(|| r.entry.clone(), |e| e.title.get(ui).clone());
                lines.push(kb.interface.fill(
                    "reminders_line",
                    ui,
                    &[
                        ("n", &n),
                        ("title", &escape(&title)),
                        ("due", &show_day(r.due_on)),
                        ("remind_on", &show_day(r.remind_on)),
                    ],
                ));
                let label = kb.interface.fill("btn_cancel_reminder", ui, &[("n", &n)]);
                buttons.push(vec![Button::to(label, kb, Callback::CancelReminder(r.id))]);
            }
        }
        buttons.push(vec![Button::to(kb.t("btn_menu", ui), kb, Callback::Menu)]);
        Output::one(Reply {
            text: lines.join("\n"),
            buttons,
            edit,
        })
    }

    /// A cancel button of `/reminders`: the reminder is deleted (only the chat's own), and
    /// the list shown again without it.
    pub(super) async fn cancel_reminder(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        id: i64,
    ) -> Output {
        match self.store.cancel_reminder(chat, id).await {
            Ok(true) => {
                let notice = k.kb.t("reminder_cancelled", ui);
                self.reminders(k, chat, ui, true, Some(notice)).await
            }
            // Cancelled already, sent meanwhile, or not this chat's: the list as it is.
            Ok(false) => self.reminders(k, chat, ui, true, None).await,
            Err(e) => {
                log::error!("a reminder could not be cancelled: {e:#}");
                Output::one(Reply::text(k.kb.t("save_failed", ui).to_string()))
            }
        }
    }

    /// Claims for `instance` at most `limit` reminders due by the clock, puts off those that
    /// come at night where the person lives, and returns the others to send.
    pub async fn due_reminders(&self, instance: &str, limit: u32) -> anyhow::Result<Vec<Due>> {
        let now = self.clock.now();
        let claimed = self
            .store
            .claim_due_reminders(now, instance, LEASE, limit)
            .await?;
        let k = self.knowledge();
        let mut out = Vec::new();
        for r in claimed {
            let country = self
                .store
                .get_profile(r.chat_id)
                .await?
                .and_then(|p| p.country);
            if let Some(morning) = next_daytime(now, country) {
                self.store
                    .postpone_reminder(r.id, instance, morning)
                    .await?;
                continue;
            }
            out.push(Due {
                id: r.id,
                chat: r.chat_id,
                reply: reminder_reply(&k, &r, now.date_naive()),
            });
        }
        Ok(out)
    }

    /// What became of sending reminder `id`: sent; undeliverable (the person blocked the bot
    /// or the chat is gone: dropped after this one try); or failed (tried again later).
    pub async fn reminder_sent(
        &self,
        id: i64,
        instance: &str,
        delivery: Delivery,
    ) -> anyhow::Result<()> {
        match delivery {
            Delivery::Delivered => self.store.finish_reminder(id, true).await?,
            Delivery::Blocked => {
                log::info!("reminder {id} dropped: the chat blocked the bot or is gone");
                self.store.finish_reminder(id, false).await?;
            }
            Delivery::Failed => {
                let later = self.clock.now() + RETRY_AFTER;
                self.store.postpone_reminder(id, instance, later).await?;
            }
        }
        Ok(())
    }
}

/// The reminder as the person gets it: the answer's title, the date and the days left, with
/// buttons to the answer as it is now and to work the date out again.
fn reminder_reply(k: &Knowledge, r: &Reminder, today: NaiveDate) -> Reply {
    let kb = &k.kb;
    let ui = r.lang;
    let entry = kb.entry_index(&r.entry);
    let title = entry.map_or_else(
        || "Jardam".to_string(),
        |i| kb.entries[i].title.get(ui).clone(),
    );
    let days = (r.due_on - today).num_days();
    let due = show_day(r.due_on);
    let title = escape(&title);
    let text = if days > 0 {
        let days = days.to_string();
        kb.interface.fill(
            "reminder_due",
            ui,
            &[("title", &title), ("due", &due), ("days", &days)],
        )
    } else {
        kb.interface
            .fill("reminder_due_now", ui, &[("title", &title), ("due", &due)])
    };
    let mut buttons = Vec::new();
    if let Some(i) = entry {
        let mut row = vec![Button::to(
            kb.t("btn_open_answer", ui),
            kb,
            Callback::Entry(i),
        )];
        if kb.entries[i].flow.is_some() {
            row.push(Button::to(kb.t("btn_flow", ui), kb, Callback::FlowStart(i)));
        }
        buttons.push(row);
    }
    buttons.push(vec![Button::to(kb.t("btn_menu", ui), kb, Callback::Menu)]);
    Reply {
        text,
        buttons,
        edit: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn reminders_come_in_the_daytime_of_the_persons_country() {
        let day = NaiveDate::from_ymd_opt(2027, 3, 14).unwrap();
        // 09:00 in Moscow, Astana, Bishkek; 09:00 UTC elsewhere.
        assert_eq!(
            morning_of(day, Some(Country::Ru)),
            utc("2027-03-14T06:00:00Z")
        );
        assert_eq!(
            morning_of(day, Some(Country::Kz)),
            utc("2027-03-14T04:00:00Z")
        );
        assert_eq!(
            morning_of(day, Some(Country::Kg)),
            utc("2027-03-14T03:00:00Z")
        );
        assert_eq!(morning_of(day, None), utc("2027-03-14T09:00:00Z"));
        // In the daytime: now. Before it: that morning; after it: the next.
        let ru = Some(Country::Ru);
        assert_eq!(next_daytime(utc("2027-03-14T06:00:00Z"), ru), None);
        assert_eq!(next_daytime(utc("2027-03-14T17:59:59Z"), ru), None);
        assert_eq!(
            next_daytime(utc("2027-03-14T18:00:00Z"), ru),
            Some(utc("2027-03-15T06:00:00Z"))
        );
        assert_eq!(
            next_daytime(utc("2027-03-14T02:00:00Z"), ru),
            Some(utc("2027-03-14T06:00:00Z"))
        );
        // 23:30 UTC on 31 December is 05:30 on 1 January in Bishkek: that morning.
        assert_eq!(
            next_daytime(utc("2027-12-31T23:30:00Z"), Some(Country::Kg)),
            Some(utc("2028-01-01T03:00:00Z"))
        );
        // Elsewhere, 12:00 UTC ends it (it is 21:00 in Korea).
        assert_eq!(
            next_daytime(utc("2027-03-14T12:00:00Z"), None),
            Some(utc("2027-03-15T09:00:00Z"))
        );
    }
}
