//! Reminders in the conversation: set under an outcome, listed and cancelled, and sent when
//! due in the daytime where the person lives, by a clock the test moves.

use super::desk::Delivery;
use super::tests::{conversation, press, start_flow, text};
use super::*;
use crate::clock::Clock;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The first reply to `event`.
async fn reply(c: &Conversation, chat: i64, event: Event) -> Reply {
    c.handle(chat, event).await.replies.remove(0)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The ban flow in Russian up to its estimate: deported once, left on `left`.
async fn ban_estimate(c: &Conversation, chat: i64, left: &str) -> Reply {
    let cause = start_flow(c, chat, "stay.ban-duration").await;
    c.handle(chat, press(&cause, "один раз")).await;
    reply(c, chat, text(left)).await
}

#[tokio::test]
async fn a_reminder_is_set_under_an_outcome_listed_cancelled_and_sent_once_in_the_daytime() {
    // 2 December 2026, 10:00 in Moscow.
    let clock = Clock::manual(at("2026-12-02T07:00:00Z"));
    let c = conversation().await.with_clock(clock.clone());
    let estimate = ban_estimate(&c, 1, "15.03.2023").await;
    assert!(
        estimate.text.contains("<b>15.03.2028</b>"),
        "{}",
        estimate.text
    );
    let set = reply(&c, 1, press(&estimate, "Напомнить")).await;
    assert!(
        set.text.contains("14.02.2028") && set.text.contains("15.03.2028"),
        "{}",
        set.text
    );
    // Pressed again: still one.
    c.handle(1, press(&estimate, "Напомнить")).await;
    let stored = c.store.reminders_of(1).await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    let r = &stored[0];
    assert_eq!(
        (r.entry.as_str(), r.lang, r.due_on, r.remind_on),
        (
            "stay.ban-duration",
            Lang::Ru,
            day(2028, 3, 15),
            day(2028, 2, 14)
        )
    );
    assert_eq!(
        r.send_at,
        at("2028-02-14T06:00:00Z"),
        "09:00 in Moscow, 30 days before"
    );

    // /reminders lists it; nothing is due yet.
    let list = reply(&c, 1, Event::Reminders).await;
    assert!(list.text.contains("15.03.2028"), "{}", list.text);
    assert!(c.due_reminders("a", 10).await.unwrap().is_empty());

    // The day comes, at 06:00 in Moscow: put off to 09:00, not sent at night.
    clock.set(at("2028-02-14T03:00:00Z"));
    assert!(c.due_reminders("a", 10).await.unwrap().is_empty());
    clock.set(at("2028-02-14T05:59:00Z"));
    assert!(c.due_reminders("a", 10).await.unwrap().is_empty());
    clock.set(at("2028-02-14T06:30:00Z"));
    let due = c.due_reminders("a", 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].chat, 1);
    let sent = &due[0].reply;
    assert!(
        sent.text.contains("<b>15.03.2028</b>") && sent.text.contains("через 30 дн."),
        "{}",
        sent.text
    );
    // Its buttons open the answer as it is now and work the date out again.
    let answer = reply(&c, 1, press(sent, "Открыть ответ")).await;
    assert!(answer.text.contains("запрет"), "{}", answer.text);
    press(sent, "Рассчитать мои сроки");
    assert!(
        c.due_reminders("b", 10).await.unwrap().is_empty(),
        "claimed by a"
    );
    c.reminder_sent(due[0].id, "a", Delivery::Delivered)
        .await
        .unwrap();
    clock.advance(TimeDelta::days(1));
    assert!(
        c.due_reminders("b", 10).await.unwrap().is_empty(),
        "sent once"
    );
    let list = reply(&c, 1, Event::Reminders).await;
    assert_eq!(list.text, c.knowledge().kb.t("reminders_none", Lang::Ru));
}

#[tokio::test]
async fn reminders_are_cancelled_from_the_list_and_only_by_their_chat() {
    let clock = Clock::manual(at("2026-12-02T07:00:00Z"));
    let c = conversation().await.with_clock(clock.clone());
    for (chat, left) in [(1, "15.03.2023"), (1, "01.06.2024"), (2, "15.03.2023")] {
        let estimate = ban_estimate(&c, chat, left).await;
        c.handle(chat, press(&estimate, "Напомнить")).await;
    }
    let list = reply(&c, 1, Event::Reminders).await;
    assert!(
        list.text.contains("1. ") && list.text.contains("2. "),
        "{}",
        list.text
    );
    // Chat 2 presses chat 1's cancel button (forged): nothing of chat 1 changes.
    let other = reply(&c, 2, press(&list, "Отменить 1")).await;
    assert!(other.text.contains("1. ") && !other.text.contains("2. "));
    assert_eq!(c.store.reminders_of(1).await.unwrap().len(), 2);
    let after = reply(&c, 1, press(&list, "Отменить 1")).await;
    let kb = &c.knowledge().kb;
    assert!(after.edit, "the list is edited in place");
    assert!(
        after.text.starts_with(kb.t("reminder_cancelled", Lang::Ru)),
        "{}",
        after.text
    );
    let left: Vec<NaiveDate> = c
        .store
        .reminders_of(1)
        .await
        .unwrap()
        .iter()
        .map(|r| r.due_on)
        .collect();
    assert_eq!(left, [day(2029, 6, 1)]);
    // The same button again: nothing more is cancelled.
    let again = reply(&c, 1, press(&list, "Отменить 1")).await;
    assert!(!again.text.contains(kb.t("reminder_cancelled", Lang::Ru)));
    // /forget deletes them.
    c.handle(
        1,
        Event::Button(Callback::Forget { confirmed: true }.data(kb.version)),
    )
    .await;
    assert!(c.store.reminders_of(1).await.unwrap().is_empty());
    assert_eq!(c.store.reminders_of(2).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_date_too_close_or_past_and_forged_reminders() {
    let clock = Clock::manual(at("2026-12-02T07:00:00Z"));
    let c = conversation().await.with_clock(clock.clone());
    c.store
        .save_profile(1, Some(Lang::En), Some(Country::Kz))
        .await
        .unwrap();
    let k = c.knowledge();
    let kb = &k.kb;
    let reg = kb.entry_index("stay.registration").unwrap();
    let flow = kb.entries[reg].flow.as_ref().unwrap();
    let outcome = flow.index("kz").unwrap();
    let remind = |due| {
        Event::Button(
            Callback::Remind {
                entry: reg,
                node: outcome,
                due,
            }
            .data(kb.version),
        )
    };
    // Tomorrow: "do it now", nothing stored. Three days ahead (the reminder would be today):
    // tomorrow, in Astana's morning.
    let close = reply(&c, 1, remind(day(2026, 12, 3))).await;
    assert!(close.text.contains("too close"), "{}", close.text);
    assert!(c.store.reminders_of(1).await.unwrap().is_empty());
    c.handle(1, remind(day(2026, 12, 5))).await;
    let stored = c.store.reminders_of(1).await.unwrap();
    assert_eq!(stored[0].remind_on, day(2026, 12, 3));
    assert_eq!(stored[0].send_at, at("2026-12-03T04:00:00Z"));
    // A date in the past, one no flow gives, an outcome without a reminder, a step: refused.
    let past = reply(&c, 1, remind(day(2020, 1, 1))).await;
    assert!(past.text.contains("too close"), "{}", past.text);
    let stale = kb.t("out_of_date", Lang::En);
    let far = reply(&c, 1, remind(day(2090, 1, 1))).await;
    assert!(far.text.starts_with(stale), "{}", far.text);
    let bad = [
        Callback::Remind {
            entry: reg,
            node: flow.start,
            due: day(2027, 1, 1),
        },
        Callback::Remind {
            entry: 9999,
            node: 0,
            due: day(2027, 1, 1),
        },
    ];
    for cb in bad {
        let out = c.handle(1, Event::Button(cb.data(kb.version))).await;
        assert!(out.replies[0].text.starts_with(stale), "{cb:?}");
    }
    assert_eq!(c.store.reminders_of(1).await.unwrap().len(), 1);
    // A reminder for a date that came meanwhile (the bot was down): "has come", in English.
    clock.set(at("2026-12-05T05:00:00Z"));
    let due = c.due_reminders("a", 10).await.unwrap();
    assert!(
        due[0].reply.text.contains("has come"),
        "{}",
        due[0].reply.text
    );
    // Telegram down: tried again five minutes later, not before.
    c.reminder_sent(due[0].id, "a", Delivery::Failed)
        .await
        .unwrap();
    assert!(c.due_reminders("a", 10).await.unwrap().is_empty());
    clock.advance(TimeDelta::minutes(6));
    let due = c.due_reminders("b", 10).await.unwrap();
    assert_eq!(due.len(), 1);
    // The person blocked the bot: dropped after that one try.
    c.reminder_sent(due[0].id, "b", Delivery::Blocked)
        .await
        .unwrap();
    clock.advance(TimeDelta::days(1));
    assert!(c.due_reminders("a", 10).await.unwrap().is_empty());
    assert!(c.store.reminders_of(1).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_outcome_offers_a_reminder_only_for_a_date_still_to_come() {
    let clock = Clock::manual(at("2026-12-02T07:00:00Z"));
    let c = conversation().await.with_clock(clock);
    let kb = c.knowledge();
    let label = kb.kb.t("btn_remind", Lang::Ru);
    let has = |r: &Reply| r.buttons.iter().flatten().any(|b| b.label == label);
    // A ban that ran out years ago: no reminder offered.
    assert!(!has(&ban_estimate(&c, 1, "01.01.2015").await));
    assert!(has(&ban_estimate(&c, 2, "01.01.2025").await));
}
