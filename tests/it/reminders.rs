//! Reminders and change notes end to end: two `jardam run` processes on one PostgreSQL behind
//! the fake Bot API. Both go by a clock the test moves (`JARDAM_CLOCK_FILE`): a person works
//! out the end of a ban, asks to be reminded, time moves on, and the reminder arrives once; one
//! for a person who blocked the bot is tried once and dropped. And a change note a curator
//! adds (both reloaded with SIGHUP) reaches a follower once.

use crate::webhook::{button, push_to, sent_with, two_instances};
use fake_bot_api::FakeBotApi;
use jardam::lang::{Country, Lang};
use std::net::SocketAddr;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

pub(crate) fn set_clock(path: &std::path::Path, at: &str) {
    // Written whole and renamed, so that a bot never reads half a time.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, at).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The ban flow from a typed question to the estimate, its steps alternating between the two
/// instances, and "Remind me" pressed; the reminder is then in the database.
async fn set_reminder(fake: &FakeBotApi, [a, b]: [SocketAddr; 2], chat: i64) {
    let press = |message: i32, buttons: &[(String, String)], label: &str| {
        fake.callback(chat, chat, message, button(buttons, label))
    };
    let question = "меня выдворили, когда можно вернуться в Россию";
    push_to(a, &fake.text_message(chat, chat, question)).await;
    let (answer, buttons) = sent_with(fake, chat, "запрет").await;
    push_to(b, &press(answer, &buttons, "Рассчитать мои сроки")).await;
    let (cause, choices) = sent_with(fake, chat, "Из-за чего").await;
    push_to(a, &press(cause, &choices, "один раз")).await;
    sent_with(fake, chat, "15.03.2023").await;
    push_to(b, &fake.text_message(chat, chat, "15.03.2023")).await;
    let (estimate, buttons) = sent_with(fake, chat, "15.03.2028").await;
    push_to(a, &press(estimate, &buttons, "Напомнить")).await;
    sent_with(fake, chat, "14.02.2028").await;
}

#[tokio::test]
async fn a_reminder_arrives_once_from_two_instances_when_the_clock_moves() {
    let Some(db) = crate::storage::PgTestDb::create().await else {
        return;
    };
    let fake = FakeBotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("now");
    // 2 December 2026, 10:00 in Moscow.
    set_clock(&clock, "2026-12-02T07:00:00Z");
    let clock_var = clock.display().to_string();
    let env = [("JARDAM_CLOCK_FILE", clock_var.as_str())];
    let (_bots, addrs) = two_instances(&fake, &db.url, &env).await;
    let store = jardam::storage::connect(&db.url).await.unwrap();
    const CHAT: i64 = 7_301;
    const GONE: i64 = 7_302;
    for chat in [CHAT, GONE] {
        store
            .save_profile(chat, Some(Lang::Ru), Some(Country::Ru))
            .await
            .unwrap();
        set_reminder(&fake, addrs, chat).await;
        let stored = store.reminders_of(chat).await.unwrap();
        assert_eq!(stored.len(), 1, "{stored:?}");
    }
    fake.block_chat(GONE);
    let reminders_to = |chat: i64| {
        fake.calls_of("sendMessage")
            .iter()
            .filter(|c| {
                c.chat_id() == Some(chat) && c.text().is_some_and(|t| t.contains("Напоминание"))
            })
            .count()
    };

    // A year on: nothing is due yet. The day itself, at 05:00 in Moscow: still night there.
    set_clock(&clock, "2027-12-01T07:00:00Z");
    tokio::time::sleep(Duration::from_secs(3)).await;
    set_clock(&clock, "2028-02-14T02:00:00Z");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(reminders_to(CHAT) + reminders_to(GONE), 0);
    // 10:00 in Moscow: it arrives, once, from one instance or the other.
    set_clock(&clock, "2028-02-14T07:00:00Z");
    let (_, buttons) = sent_with(&fake, CHAT, "Напоминание").await;
    assert!(
        buttons.iter().any(|(l, _)| l.contains("Открыть ответ")),
        "{buttons:?}"
    );
    tokio::time::timeout(WAIT, async {
        while !store.reminders_of(GONE).await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the blocked chat's reminder is given up");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(reminders_to(CHAT), 1, "sent once");
    assert_eq!(reminders_to(GONE), 1, "tried once, then dropped");
    assert!(store.reminders_of(CHAT).await.unwrap().is_empty());
    store.close().await;
    db.drop().await;
    fake.shutdown().await;
}

#[tokio::test]
async fn a_change_note_reaches_a_follower_once_from_two_instances() {
    let Some(db) = crate::storage::PgTestDb::create().await else {
        return;
    };
    let fake = FakeBotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    crate::desk::copy_dir(std::path::Path::new("dialogues"), dir.path());
    let dialogues = dir.path().display().to_string();
    let env = [("JARDAM_DIALOGUES", dialogues.as_str())];
    let (bots, [a, _]) = two_instances(&fake, &db.url, &env).await;
    const CHAT: i64 = 7_401;
    let store = jardam::storage::connect(&db.url).await.unwrap();
    store
        .save_profile(CHAT, Some(Lang::Uz), Some(Country::Ru))
        .await
        .unwrap();
    push_to(
        a,
        &fake.text_message(CHAT, CHAT, "deportdan keyin qachon qayta kirsa boladi"),
    )
    .await;
    let (answer, buttons) = sent_with(&fake, CHAT, "taqiq").await;
    push_to(
        a,
        &fake.callback(CHAT, CHAT, answer, button(&buttons, "oʻzgarsa")),
    )
    .await;
    sent_with(&fake, CHAT, "bir marta xabar beraman").await;
    assert_eq!(
        store.follower_counts().await.unwrap(),
        [("stay.ban-duration".to_string(), 1)]
    );

    let file = dir.path().join("stay/ban-duration.toml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(
        "\n[[change]]\ndate = \"2026-11-30\"\ntext.ky = \"ky\"\ntext.ru = \"ru\"\n\
         text.uz = \"Taqiq muddati <b>oʻzgardi</b>.\"\ntext.en = \"en\"\n",
    );
    std::fs::write(&file, text).unwrap();
    for bot in &bots {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &bot.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    sent_with(&fake, CHAT, "Javob oʻzgardi").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let notes = fake
        .calls_of("sendMessage")
        .iter()
        .filter(|c| {
            c.chat_id() == Some(CHAT) && c.text().is_some_and(|t| t.contains("Javob oʻzgardi"))
        })
        .count();
    assert_eq!(notes, 1, "once, from one instance or the other");
    store.close().await;
    db.drop().await;
    fake.shutdown().await;
}
