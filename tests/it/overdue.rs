//! Promises kept, end to end: two `jardam run` processes on one PostgreSQL behind the fake Bot
//! API, going by a clock the test moves. A question still open a day later is listed once in
//! the expert chat and its asker told once, across both instances and a restart of both; the
//! weekly digest is posted once on Monday morning.

use crate::reminders::set_clock;
use crate::webhook::{push_to, sent_with, two_instances};
use fake_bot_api::FakeBotApi;
use jardam::lang::{Country, Lang};
use std::time::Duration;

const EXPERTS: i64 = -100_888_000;

#[tokio::test]
async fn an_overdue_question_is_listed_and_its_asker_told_once_and_the_digest_posted_once() {
    let Some(db) = crate::storage::PgTestDb::create().await else {
        return;
    };
    let fake = FakeBotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("now");
    let now = chrono::Utc::now();
    set_clock(&clock, &now.to_rfc3339());
    let clock_var = clock.display().to_string();
    let experts = EXPERTS.to_string();
    let env = [
        ("JARDAM_CLOCK_FILE", clock_var.as_str()),
        ("JARDAM_EXPERT_CHAT", experts.as_str()),
        ("JARDAM_EXPERT_LANG", "en"),
        ("JARDAM_DIGEST", "off"),
    ];
    let (bots, [a, _]) = two_instances(&fake, &db.url, &env).await;
    let store = jardam::storage::connect(&db.url).await.unwrap();
    const CHAT: i64 = 8_101;
    store
        .save_profile(CHAT, Some(Lang::Ru), Some(Country::Ru))
        .await
        .unwrap();
    push_to(a, &fake.text_message(CHAT, CHAT, crate::desk::UNMET)).await;
    sent_with(&fake, EXPERTS, "Question No. 1").await;
    let count = |chat: i64, part: &str| {
        fake.calls_of("sendMessage")
            .iter()
            .filter(|c| c.chat_id() == Some(chat) && c.text().is_some_and(|t| t.contains(part)))
            .count()
    };
    // Within the day: nothing. A day and an hour on: listed, and the person told, once.
    set_clock(&clock, &(now + chrono::TimeDelta::hours(23)).to_rfc3339());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(EXPERTS, "Still open"), 0);
    set_clock(&clock, &(now + chrono::TimeDelta::hours(25)).to_rfc3339());
    sent_with(&fake, EXPERTS, "Still open after the promised time: 1").await;
    sent_with(&fake, CHAT, "дольше").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(EXPERTS, "Still open"), 1, "listed once");
    assert_eq!(count(CHAT, "дольше"), 1, "told once");

    // Both stopped, two started again on the coming Monday morning, when the digest of the
    // week (with this question in it) is due: the question is not listed again, and one of
    // the two posts the digest.
    drop(bots);
    let today = now.date_naive();
    let ahead = 7 - u64::from(chrono::Datelike::weekday(&today).num_days_from_monday());
    let monday = (today + chrono::Days::new(ahead))
        .and_hms_opt(3, 30, 0)
        .unwrap()
        .and_utc();
    set_clock(&clock, &monday.to_rfc3339());
    let env = [
        ("JARDAM_CLOCK_FILE", clock_var.as_str()),
        ("JARDAM_EXPERT_CHAT", experts.as_str()),
        ("JARDAM_EXPERT_LANG", "en"),
    ];
    let (_bots, _) = two_instances(&fake, &db.url, &env).await;
    let photos = || {
        fake.calls_of("sendPhoto")
            .iter()
            .filter(|c| c.chat_id() == Some(EXPERTS))
            .count()
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        while photos() == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the weekly digest is posted");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(photos(), 1, "one digest from the two instances");
    assert_eq!(
        count(EXPERTS, "Still open"),
        1,
        "not again after the restart"
    );
    assert_eq!(count(CHAT, "дольше"), 1);
    store.close().await;
    db.drop().await;
    fake.shutdown().await;
}
