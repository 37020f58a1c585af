//! The storage suite, written once and run against every backend: SQLite in memory, SQLite in
//! a file, and PostgreSQL (from `TEST_DATABASE_URL`, one fresh database per test so that the
//! tests can run in parallel; without the variable the PostgreSQL runs are skipped).

use chrono::{Duration as Days, NaiveDate, Utc};
use jardam::lang::{Country, Lang};
use jardam::storage::{
    self, Count, Delivery, MediaRef, NewQuestion, QuestionKind, QuestionStatus, Reminder, Storage,
};
use sqlx::{Connection, Executor, PgConnection};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

type S = Arc<dyn Storage>;

// ---- the backends ----

async fn on_sqlite_memory<F, Fut>(test: F)
where
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = ()>,
{
    test(storage::connect("sqlite::memory:").await.unwrap()).await;
}

async fn on_sqlite_file<F, Fut>(test: F)
where
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jardam.db").display());
    test(storage::connect(&url).await.unwrap()).await;
}

async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let s = storage::connect(&db.url).await.unwrap();
    // Run the test as a task so that a failing test still gets its database dropped.
    let outcome = tokio::spawn(test(s)).await;
    db.drop().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A database of its own for one test, created through the maintenance connection.
pub(crate) struct PgTestDb {
    admin_url: String,
    name: String,
    pub(crate) url: String,
}

impl PgTestDb {
    pub(crate) async fn create() -> Option<PgTestDb> {
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("TEST_DATABASE_URL is not set: skipping the PostgreSQL run");
            return None;
        };
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "jardam_test_{}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000_000,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        Some(PgTestDb {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    pub(crate) async fn drop(self) {
        let mut admin = PgConnection::connect(&self.admin_url).await.unwrap();
        // FORCE: the storage's pool may still hold connections when the test ends.
        admin
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
    }
}

macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::on_sqlite_memory(super::$test).await
                }
            )*
        }
        mod sqlite_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::on_sqlite_file(super::$test).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::on_postgres(super::$test).await
                }
            )*
        }
    };
}

suite!(
    ping,
    profile_round_trip,
    forget_deletes_one_chat_only,
    hostile_texts_round_trip,
    media_round_trip,
    expert_message_mapping,
    claim_is_exclusive,
    claim_lease_expires,
    open_questions_urgent_first,
    answering_and_status,
    grouping,
    learned_phrasings,
    counters_increment,
    counts_are_added_in_batches,
    stats,
    export_has_no_chat_id,
    erase_old_texts,
    faq_texts_are_erased_after_their_time,
    a_message_delivered_twice_stores_one_question,
    inactive_chats_are_found_for_the_clean_up,
    open_posts_of_a_chat,
    webhook_inbox_stores_once_and_hands_out_each_stale_update_once,
    chat_states_are_per_chat_replaced_expire_and_are_forgotten,
    a_groups_post_is_its_oldest_open_questions,
    a_new_asker_joins_the_groups_post_as_it_is_stored,
    a_post_refresh_is_taken_once_per_interval,
    a_chats_profile_and_state_come_in_one_read,
    a_keeping_time_beyond_the_calendar_is_refused,
    reminders_are_stored_once_claimed_once_and_forgotten,
    followers_get_each_change_note_once_and_are_forgotten,
);

// ---- helpers ----

fn question(chat_id: i64, text: &str) -> NewQuestion {
    NewQuestion {
        chat_id,
        text: text.to_string(),
        lang: Lang::Ru,
        country: Some(Country::Ru),
        candidates: vec![("patent.price".into(), 0.42), ("patent.renew".into(), 0.31)],
        urgent: false,
        kind: QuestionKind::Text,
        media: None,
        group_key: text.to_lowercase(),
        source_message: None,
        join_post_in: None,
    }
}

fn urgent(chat_id: i64, text: &str) -> NewQuestion {
    NewQuestion {
        urgent: true,
        ..question(chat_id, text)
    }
}

fn ids(qs: &[storage::Question]) -> Vec<i64> {
    qs.iter().map(|q| q.id).collect()
}

fn yesterday() -> NaiveDate {
    Utc::now().date_naive() - Days::days(1)
}

/// Lets the clock move on, so that "later" is measurably later.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

const GROUP_CHAT: i64 = -1_001_234_567_890;

// ---- the suite ----

async fn ping(s: S) {
    s.ping().await.unwrap();
    // Closed at shutdown: later calls fail instead of hanging.
    s.close().await;
    let err = s.ping().await.unwrap_err();
    assert!(
        matches!(err, storage::Error::Database(sqlx::Error::PoolClosed)),
        "{err:?}"
    );
}

async fn profile_round_trip(s: S) {
    let chat = 7_000_000_001;
    assert_eq!(s.get_profile(chat).await.unwrap(), None);

    s.save_profile(chat, Some(Lang::Ky), Some(Country::Kz))
        .await
        .unwrap();
    let p = s.get_profile(chat).await.unwrap().unwrap();
    assert_eq!(
        (p.chat_id, p.lang, p.country),
        (chat, Some(Lang::Ky), Some(Country::Kz))
    );
    assert_eq!(p.first_seen, p.last_seen);

    tick().await;
    s.save_profile(chat, Some(Lang::Uz), None).await.unwrap();
    let q = s.get_profile(chat).await.unwrap().unwrap();
    assert_eq!((q.lang, q.country), (Some(Lang::Uz), None));
    assert_eq!(q.first_seen, p.first_seen, "first_seen is kept");
    assert!(q.last_seen > p.last_seen);

    tick().await;
    s.touch(chat).await.unwrap();
    let r = s.get_profile(chat).await.unwrap().unwrap();
    assert_eq!((r.lang, r.first_seen), (Some(Lang::Uz), p.first_seen));
    assert!(r.last_seen > q.last_seen);

    // Touching an unknown chat starts an empty profile; group chats have negative ids.
    s.touch(GROUP_CHAT).await.unwrap();
    let g = s.get_profile(GROUP_CHAT).await.unwrap().unwrap();
    assert_eq!((g.chat_id, g.lang, g.country), (GROUP_CHAT, None, None));
}

async fn forget_deletes_one_chat_only(s: S) {
    let day = yesterday();
    for chat in [1, 2] {
        s.save_profile(chat, Some(Lang::Ru), Some(Country::Ru))
            .await
            .unwrap();
        s.record_feedback(chat, "patent.price", true).await.unwrap();
        s.bump_counter(day, "patent.price", "patent", Lang::Ru, None, "answered")
            .await
            .unwrap();
    }
    let mine = s.add_question(question(1, "мой вопрос")).await.unwrap();
    let theirs = s.add_question(question(2, "мой вопрос")).await.unwrap();
    for chat in [1, 2] {
        s.keep_faq_text(chat, &format!("патент {chat}"), "patent.price", Lang::Ru)
            .await
            .unwrap();
    }

    s.set_expert_message(mine.id, GROUP_CHAT, 501)
        .await
        .unwrap();
    s.set_expert_message(theirs.id, GROUP_CHAT, 502)
        .await
        .unwrap();
    s.add_learned(
        "мой вопрос, телефон 0555 123 456",
        "patent.price",
        "@e",
        Some(1),
    )
    .await
    .unwrap();
    s.add_learned("их вопрос", "patent.price", "@e", Some(2))
        .await
        .unwrap();
    s.add_learned("ничей вопрос", "patent.price", "@e", None)
        .await
        .unwrap();

    for chat in [1, 2] {
        s.set_chat_state(chat, Some("{\"v\":\"1\"}")).await.unwrap();
    }
    let posts = s.forget(1).await.unwrap();
    let long_ago = Utc::now() - chrono::TimeDelta::days(1);
    assert_eq!(s.chat_state(1, long_ago).await.unwrap(), None);
    assert!(s.chat_state(2, long_ago).await.unwrap().is_some());
    assert_eq!(posts, [(GROUP_CHAT, 501)], "the post to mark as deleted");
    let learned: Vec<String> = s
        .learned()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.1)
        .collect();
    assert_eq!(learned, ["их вопрос", "ничей вопрос"]);
    assert_eq!(s.count_learned().await.unwrap(), 2);
    assert_eq!(
        s.faq_texts().await.unwrap(),
        [("patent.price".to_string(), "патент 2".to_string())]
    );

    assert_eq!(s.get_profile(1).await.unwrap(), None);
    assert_eq!(s.question(mine.id).await.unwrap(), None);
    assert!(s.get_profile(2).await.unwrap().is_some());
    assert_eq!(
        s.question(theirs.id).await.unwrap().map(|q| q.text),
        Some(theirs.text.clone())
    );
    assert_eq!(ids(&s.open_group("мой вопрос").await.unwrap()), [theirs.id]);
    let stats = s.stats(day).await.unwrap();
    assert_eq!(stats.feedback.len(), 1);
    assert_eq!((stats.feedback[0].up, stats.feedback[0].down), (1, 0));
    assert_eq!(stats.outcome("answered"), 2, "aggregates survive forget");

    // Forgetting a chat the bot never saw is not an error.
    assert_eq!(s.forget(424242).await.unwrap(), []);
}

async fn hostile_texts_round_trip(s: S) {
    let long: String = "ж".repeat(4000) + &"x".repeat(96);
    assert_eq!(long.chars().count(), 4096);
    let texts = [
        "<b>bold</b> & <i>italic</i> &amp; &lt;",
        "'); DROP TABLE questions;--",
        "\"; DELETE FROM profiles WHERE 1=1; --",
        "Robert'); DROP TABLE x;-- \\ \\' ? $1 %_ ::text",
        "zero\u{200B}width\u{200C}non\u{200D}joiner\u{FEFF}bom\u{2060}",
        "تسجيل مهاجر \u{202E}RTL override",
        "emoji 👨‍👩‍👧 and combining e\u{301} vs \u{e9}",
        "lines\nand\ttabs\r\nand trailing spaces   ",
        "",
        &long,
    ];
    for text in texts {
        let mut new = question(5, text);
        new.candidates = vec![
            (text.to_string(), 0.123_456_79),
            ("б".into(), f32::MIN_POSITIVE),
        ];
        let added = s.add_question(new.clone()).await.unwrap();
        assert_eq!(added.text, text);
        let back = s.question(added.id).await.unwrap().unwrap();
        assert_eq!(back, added);
        assert_eq!(back.text, text);
        assert_eq!(back.candidates, new.candidates);
        assert_eq!(back.group_key, new.group_key);
        if !text.is_empty() {
            assert_eq!(
                ids(&s.open_group(&new.group_key).await.unwrap()),
                [added.id]
            );
        }

        let id = s
            .add_learned(text, "entry'--", "expert <x>", None)
            .await
            .unwrap();
        let learned = s.learned_since(id - 1).await.unwrap();
        assert_eq!(learned.last().unwrap().text, text);

        assert!(s.mark_answered(added.id, text, text).await.unwrap());
        let answered = s.question(added.id).await.unwrap().unwrap();
        assert_eq!(answered.answer.as_deref(), Some(text));
        assert_eq!(answered.answered_by.as_deref(), Some(text));
    }
    let exported: Vec<String> = s
        .export(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.text)
        .collect();
    assert_eq!(exported, texts);
    // The tables are still there.
    s.get_profile(5).await.unwrap();
    assert_eq!(s.count_open().await.unwrap(), 0);
}

async fn media_round_trip(s: S) {
    let new = NewQuestion {
        kind: QuestionKind::Voice,
        media: Some(MediaRef {
            from_chat_id: 99,
            message_id: i32::MAX,
        }),
        lang: Lang::Ky,
        country: None,
        candidates: vec![],
        ..question(99, "")
    };
    let q = s.add_question(new.clone()).await.unwrap();
    assert_eq!(
        (q.kind, q.media, q.lang, q.country, q.candidates.clone()),
        (new.kind, new.media, Lang::Ky, None, vec![])
    );
    assert_eq!(q.status, QuestionStatus::Open);
    assert!(!q.urgent);
    assert_eq!(q.expert_chat_id, None);
    assert_eq!(q.delivery, None);
    assert_eq!(s.question(q.id).await.unwrap(), Some(q));
    assert_eq!(s.question(-1).await.unwrap(), None);
}

async fn expert_message_mapping(s: S) {
    let a = s.add_question(question(1, "a")).await.unwrap();
    let b = s.add_question(question(2, "b")).await.unwrap();
    assert_eq!(ids(&s.unposted_questions(10).await.unwrap()), [a.id, b.id]);
    assert_eq!(s.posted_as(GROUP_CHAT, 42).await.unwrap(), []);

    s.set_expert_message(a.id, GROUP_CHAT, 42).await.unwrap();
    let found = s.posted_as(GROUP_CHAT, 42).await.unwrap().remove(0);
    assert_eq!(found.id, a.id);
    assert_eq!(
        (found.expert_chat_id, found.expert_message_id),
        (Some(GROUP_CHAT), Some(42))
    );
    assert!(found.posted_at.is_some());
    // Message ids are per chat.
    assert_eq!(s.posted_as(-5, 42).await.unwrap(), []);
    assert_eq!(s.posted_as(GROUP_CHAT, 43).await.unwrap(), []);
    assert_eq!(ids(&s.unposted_questions(10).await.unwrap()), [b.id]);
    assert_eq!(s.unposted_questions(0).await.unwrap(), []);
}

async fn claim_is_exclusive(s: S) {
    let lease = Duration::from_secs(600);
    for i in 0..10 {
        let q = s.add_question(question(i, "claim me")).await.unwrap();
        let claims: Vec<_> = ["instance-a", "instance-b"]
            .into_iter()
            .map(|who| {
                let s = s.clone();
                tokio::spawn(async move {
                    s.claim_for_posting(q.id, who, lease)
                        .await
                        .unwrap()
                        .is_some()
                })
            })
            .collect();
        let mut won = 0;
        for claim in claims {
            won += usize::from(claim.await.unwrap());
        }
        assert_eq!(won, 1, "exactly one of two concurrent claims wins");
        assert!(
            s.claim_for_posting(q.id, "instance-c", lease)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(
        s.unposted_questions(100).await.unwrap(),
        [],
        "claimed ones are not offered"
    );

    // A failed post gives its claim up: only the holder can, and then anyone may claim again.
    let failed = s.add_question(question(1, "post failed")).await.unwrap();
    // The claim hands out the question it took.
    let taken = s
        .claim_for_posting(failed.id, "instance-z", lease)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(taken, failed);
    s.release_claim(failed.id, "instance-z").await.unwrap();
    assert!(
        s.claim_for_posting(failed.id, "instance-a", lease)
            .await
            .unwrap()
            .is_some()
    );
    s.release_claim(failed.id, "instance-b").await.unwrap();
    assert!(
        s.claim_for_posting(failed.id, "instance-b", lease)
            .await
            .unwrap()
            .is_none()
    );
    s.release_claim(failed.id, "instance-a").await.unwrap();
    assert_eq!(ids(&s.unposted_questions(100).await.unwrap()), [failed.id]);
    assert!(
        s.claim_for_posting(failed.id, "instance-b", lease)
            .await
            .unwrap()
            .is_some()
    );

    // A posted question cannot be claimed any more, even with no lease on it.
    let posted = s.add_question(question(1, "posted")).await.unwrap();
    s.set_expert_message(posted.id, GROUP_CHAT, 1)
        .await
        .unwrap();
    assert!(
        s.claim_for_posting(posted.id, "a", lease)
            .await
            .unwrap()
            .is_none()
    );
    // Nor a question that is no longer open, nor one that does not exist.
    let gone = s.add_question(question(1, "dismissed")).await.unwrap();
    assert!(
        s.set_status(gone.id, QuestionStatus::Dismissed)
            .await
            .unwrap()
    );
    assert!(
        s.claim_for_posting(gone.id, "a", lease)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.claim_for_posting(-7, "a", lease).await.unwrap().is_none());
}

async fn claim_lease_expires(s: S) {
    // The lease is long enough that it cannot run out between the two claims below, even on a
    // loaded CI machine (100 ms could, and did); the sleep then outlasts it.
    let lease = Duration::from_secs(2);
    let q = s.add_question(question(1, "q")).await.unwrap();
    assert!(
        s.claim_for_posting(q.id, "crashed", lease)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.claim_for_posting(q.id, "other", Duration::from_secs(600))
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(lease + Duration::from_millis(500)).await;
    assert_eq!(ids(&s.unposted_questions(10).await.unwrap()), [q.id]);
    assert!(
        s.claim_for_posting(q.id, "other", Duration::from_secs(600))
            .await
            .unwrap()
            .is_some()
    );
}

async fn open_questions_urgent_first(s: S) {
    let q1 = s.add_question(question(1, "one")).await.unwrap();
    let q2 = s.add_question(urgent(2, "two")).await.unwrap();
    let q3 = s.add_question(question(3, "three")).await.unwrap();
    let q4 = s.add_question(urgent(4, "four")).await.unwrap();
    assert!(q2.urgent && !q1.urgent);

    let all = s.open_questions(10, 0).await.unwrap();
    assert_eq!(ids(&all), [q2.id, q4.id, q1.id, q3.id]);
    assert_eq!(ids(&s.open_questions(2, 1).await.unwrap()), [q4.id, q1.id]);
    assert_eq!(s.open_questions(10, 4).await.unwrap(), []);
    assert_eq!(s.count_open().await.unwrap(), 4);
    // Unposted questions are oldest first, urgent or not.
    assert_eq!(
        ids(&s.unposted_questions(10).await.unwrap()),
        [q1.id, q2.id, q3.id, q4.id]
    );

    s.mark_answered(q2.id, "answer", "expert").await.unwrap();
    s.set_status(q1.id, QuestionStatus::Dismissed)
        .await
        .unwrap();
    assert_eq!(ids(&s.open_questions(10, 0).await.unwrap()), [q4.id, q3.id]);
    assert_eq!(s.count_open().await.unwrap(), 2);
}

async fn answering_and_status(s: S) {
    let q = s.add_question(question(1, "q")).await.unwrap();
    tick().await;
    assert!(
        s.mark_answered(q.id, "Go to the MFC <b>with</b> & papers", "@expert1")
            .await
            .unwrap()
    );
    // The second expert to answer loses: only one answer goes to the user.
    assert!(!s.mark_answered(q.id, "other", "@expert2").await.unwrap());
    assert!(!s.mark_answered(-1, "x", "y").await.unwrap());

    let a = s.question(q.id).await.unwrap().unwrap();
    assert_eq!(a.status, QuestionStatus::Answered);
    assert_eq!(
        a.answer.as_deref(),
        Some("Go to the MFC <b>with</b> & papers")
    );
    assert_eq!(a.answered_by.as_deref(), Some("@expert1"));
    assert!(a.answered_at.unwrap() > q.created_at);
    assert!(a.updated_at > q.updated_at);
    assert_eq!(a.created_at, q.created_at);

    s.set_delivery(q.id, false).await.unwrap();
    assert_eq!(
        s.question(q.id).await.unwrap().unwrap().delivery,
        Some(Delivery::Blocked)
    );
    s.set_delivery(q.id, true).await.unwrap();
    assert_eq!(
        s.question(q.id).await.unwrap().unwrap().delivery,
        Some(Delivery::Delivered)
    );

    for status in [
        QuestionStatus::Merged,
        QuestionStatus::Dismissed,
        QuestionStatus::Open,
        QuestionStatus::Answered,
    ] {
        assert!(s.set_status(q.id, status).await.unwrap());
        assert_eq!(s.question(q.id).await.unwrap().unwrap().status, status);
    }
    assert!(!s.set_status(-1, QuestionStatus::Open).await.unwrap());
}

async fn grouping(s: S) {
    let a = s.add_question(question(1, "Patent price?")).await.unwrap();
    let b = s.add_question(question(2, "patent price?")).await.unwrap();
    let other = s.add_question(question(3, "Something else")).await.unwrap();
    let c = s.add_question(question(4, "PATENT PRICE?")).await.unwrap();
    assert_eq!(a.group_key, "patent price?");

    let group = s.open_group("patent price?").await.unwrap();
    assert_eq!(ids(&group), [a.id, b.id, c.id]);
    assert_eq!(
        ids(&s.open_group("something else").await.unwrap()),
        [other.id]
    );
    assert_eq!(s.open_group("nobody asked").await.unwrap(), []);
    assert_eq!(s.open_group("").await.unwrap(), []);

    // The group posted as one message: a reply to it reaches all its questions.
    for q in &group {
        s.set_expert_message(q.id, GROUP_CHAT, 77).await.unwrap();
    }
    assert_eq!(
        ids(&s.posted_as(GROUP_CHAT, 77).await.unwrap()),
        ids(&group)
    );

    s.set_status(b.id, QuestionStatus::Merged).await.unwrap();
    s.mark_answered(c.id, "x", "e").await.unwrap();
    assert_eq!(ids(&s.open_group("patent price?").await.unwrap()), [a.id]);
    // Answered or not, they stay mapped to their post.
    assert_eq!(s.posted_as(GROUP_CHAT, 77).await.unwrap().len(), 3);
}

async fn learned_phrasings(s: S) {
    assert_eq!(s.learned().await.unwrap(), []);
    let a = s
        .add_learned("сколько стоит патент", "patent.price", "@e1", None)
        .await
        .unwrap();
    let b = s
        .add_learned("patent qancha", "patent.price", "@e2", None)
        .await
        .unwrap();
    assert!(b > a);
    assert_eq!(
        s.learned().await.unwrap(),
        [
            (
                "patent.price".to_string(),
                "сколько стоит патент".to_string()
            ),
            ("patent.price".to_string(), "patent qancha".to_string()),
        ]
    );
    let since_a = s.learned_since(a).await.unwrap();
    assert_eq!(since_a.len(), 1);
    assert_eq!(
        (
            since_a[0].id,
            since_a[0].text.as_str(),
            since_a[0].entry.as_str(),
            since_a[0].expert.as_str()
        ),
        (b, "patent qancha", "patent.price", "@e2")
    );

    // Re-teaching a phrasing replaces it and shows up as new.
    let c = s
        .add_learned("сколько стоит патент", "patent.renew", "@e3", None)
        .await
        .unwrap();
    assert!(c > b);
    assert_eq!(
        s.learned().await.unwrap(),
        [
            ("patent.price".to_string(), "patent qancha".to_string()),
            (
                "patent.renew".to_string(),
                "сколько стоит патент".to_string()
            ),
        ]
    );
    let since_b = s.learned_since(b).await.unwrap();
    assert_eq!(ids_of_learned(&since_b), [c]);
    assert_eq!(since_b[0].entry, "patent.renew");
    assert_eq!(s.learned_since(c).await.unwrap(), []);
    assert_eq!(s.learned_since(0).await.unwrap().len(), 2);
}

fn ids_of_learned(l: &[storage::Learned]) -> Vec<i64> {
    l.iter().map(|l| l.id).collect()
}

async fn counters_increment(s: S) {
    let day = yesterday();
    for _ in 0..3 {
        s.bump_counter(
            day,
            "patent.price",
            "patent",
            Lang::Ru,
            Some(Country::Ru),
            "answered",
        )
        .await
        .unwrap();
    }
    s.bump_counter(day, "", "", Lang::Ky, None, "unmet")
        .await
        .unwrap();
    s.bump_counter(day + Days::days(1), "", "", Lang::Ky, None, "unmet")
        .await
        .unwrap();
    s.bump_counter(
        day,
        "patent.renew",
        "patent",
        Lang::Uz,
        Some(Country::Kz),
        "clarify",
    )
    .await
    .unwrap();
    // Before the period: not counted.
    s.bump_counter(day - Days::days(1), "x", "old", Lang::En, None, "answered")
        .await
        .unwrap();

    let st = s.stats(day).await.unwrap();
    assert_eq!(
        st.outcomes,
        [
            ("answered".to_string(), 3),
            ("unmet".to_string(), 2),
            ("clarify".to_string(), 1)
        ]
    );
    assert_eq!(st.outcome("answered"), 3);
    assert_eq!(st.outcome("nothing"), 0);
    assert_eq!(st.by_topic, [("patent".to_string(), 4)]);
    assert_eq!(st.by_lang, [(Lang::Ru, 3), (Lang::Ky, 2), (Lang::Uz, 1)]);
    assert_eq!(
        st.by_country,
        [(Some(Country::Ru), 3), (None, 2), (Some(Country::Kz), 1)]
    );

    let later = s.stats(day + Days::days(1)).await.unwrap();
    assert_eq!(later.outcomes, [("unmet".to_string(), 1)]);
}

async fn counts_are_added_in_batches(s: S) {
    let day = yesterday();
    let count = |entry: &str, outcome: &str| Count {
        day,
        entry: entry.to_string(),
        topic: if entry.is_empty() { "" } else { "patent" }.to_string(),
        lang: Lang::Ky,
        country: Some(Country::Ru),
        outcome: outcome.to_string(),
    };
    s.add_counts(&[]).await.unwrap();
    s.add_counts(&[
        (count("patent.price", "answered"), 5),
        (count("", "unmet"), 2),
    ])
    .await
    .unwrap();
    // A second batch adds to the same rows; a single bump adds one.
    s.add_counts(&[
        (count("", "unmet"), 3),
        (count("patent.price", "answered"), 1),
    ])
    .await
    .unwrap();
    s.bump_counter(
        day,
        "patent.price",
        "patent",
        Lang::Ky,
        Some(Country::Ru),
        "answered",
    )
    .await
    .unwrap();
    let st = s.stats(day).await.unwrap();
    assert_eq!(
        st.outcomes,
        [("answered".to_string(), 7), ("unmet".to_string(), 5)]
    );
    assert_eq!(st.by_topic, [("patent".to_string(), 7)]);
    assert_eq!(st.by_lang, [(Lang::Ky, 12)]);
}

async fn stats(s: S) {
    for (chat, entry, helpful) in [
        (1, "patent.price", true),
        (2, "patent.price", true),
        (3, "patent.price", false),
        (1, "registration", false),
    ] {
        s.record_feedback(chat, entry, helpful).await.unwrap();
    }
    // Twelve groups, group g asked g+1 times; plus a dismissed group that would top them all.
    for g in 0..12i64 {
        for n in 0..=g {
            let mut q = question(100 * g + n, &format!("Missed question {g}"));
            q.text = format!("Missed question {g} (asker {n})");
            s.add_question(q).await.unwrap();
        }
    }
    for n in 0..20 {
        let spam = s.add_question(question(5000 + n, "spam")).await.unwrap();
        s.set_status(spam.id, QuestionStatus::Dismissed)
            .await
            .unwrap();
    }

    let st = s.stats(yesterday()).await.unwrap();
    let fb: Vec<_> = st
        .feedback
        .iter()
        .map(|f| (f.entry.as_str(), f.up, f.down))
        .collect();
    assert_eq!(fb, [("patent.price", 2, 1), ("registration", 0, 1)]);

    assert_eq!(st.top_missed.len(), 10);
    let counts: Vec<i64> = st.top_missed.iter().map(|m| m.count).collect();
    assert_eq!(counts, [12, 11, 10, 9, 8, 7, 6, 5, 4, 3]);
    assert!(
        st.top_missed[0]
            .text
            .starts_with("Missed question 11 (asker ")
    );
    assert!(st.top_missed.iter().all(|m| !m.text.contains("spam")));

    // Nothing happened in the future.
    let empty = s
        .stats(Utc::now().date_naive() + Days::days(2))
        .await
        .unwrap();
    assert_eq!(empty, storage::Stats::default());
}

async fn export_has_no_chat_id(s: S) {
    let chat = 987_654_321_012;
    let q1 = s.add_question(question(chat, "first")).await.unwrap();
    tick().await;
    let q2 = s.add_question(question(chat, "second")).await.unwrap();
    s.mark_answered(q2.id, "answer", "expert").await.unwrap();

    let rows = s.export(None).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        [q1.id, q2.id]
    );
    assert_eq!(rows[0].text, "first");
    assert_eq!(rows[0].status, QuestionStatus::Open);
    assert_eq!(rows[0].answered_at, None);
    assert_eq!(rows[1].status, QuestionStatus::Answered);
    assert!(rows[1].answered_at.is_some());
    assert_eq!(
        (rows[0].lang, rows[0].country),
        (Lang::Ru, Some(Country::Ru))
    );
    assert_eq!(rows[0].created_at, q1.created_at);

    let json = serde_json::to_string(&rows).unwrap();
    assert!(!json.contains(&chat.to_string()), "{json}");
    assert!(!json.contains("chat"), "{json}");

    let since = s.export(Some(q2.created_at)).await.unwrap();
    assert_eq!(since.iter().map(|r| r.id).collect::<Vec<_>>(), [q2.id]);
    assert_eq!(
        s.export(Some(Utc::now() + Days::days(1))).await.unwrap(),
        []
    );
}

async fn erase_old_texts(s: S) {
    let answered = s
        .add_question(question(1, "answered long ago"))
        .await
        .unwrap();
    let dismissed = s
        .add_question(question(2, "dismissed long ago"))
        .await
        .unwrap();
    let open = s.add_question(question(3, "still open")).await.unwrap();
    let media = s
        .add_question(NewQuestion {
            kind: QuestionKind::Photo,
            media: Some(MediaRef {
                from_chat_id: 4,
                message_id: 5,
            }),
            ..question(4, "photo caption")
        })
        .await
        .unwrap();
    s.mark_answered(answered.id, "the answer", "expert")
        .await
        .unwrap();
    s.set_status(dismissed.id, QuestionStatus::Dismissed)
        .await
        .unwrap();
    s.mark_answered(media.id, "the answer", "expert")
        .await
        .unwrap();

    let now = Utc::now();
    assert_eq!(
        s.erase_old_texts(now, storage::ANSWERED_KEEP_DAYS)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.erase_old_texts(now + Days::days(89), 90).await.unwrap(),
        0
    );
    assert_eq!(
        s.erase_old_texts(now + Days::days(91), 90).await.unwrap(),
        3
    );
    assert_eq!(
        s.erase_old_texts(now + Days::days(200), 90).await.unwrap(),
        0,
        "once only"
    );

    for id in [answered.id, dismissed.id, media.id] {
        let q = s.question(id).await.unwrap().unwrap();
        assert_eq!(
            (q.text.as_str(), q.group_key.as_str(), q.media),
            ("", "", None)
        );
    }
    let kept = s.question(answered.id).await.unwrap().unwrap();
    assert_eq!(
        kept.answer, None,
        "the expert's answer is erased with the question"
    );
    assert_eq!(
        kept.status,
        QuestionStatus::Answered,
        "the row stays for the statistics"
    );
    assert_eq!(
        s.question(open.id).await.unwrap().unwrap().text,
        "still open"
    );
    let texts: Vec<String> = s
        .export(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.text)
        .collect();
    assert_eq!(texts, ["", "", "still open", ""]);
}

async fn inactive_chats_are_found_for_the_clean_up(s: S) {
    s.save_profile(1, Some(Lang::Ru), None).await.unwrap();
    // A question without a profile (the profile's write failed, say) counts by its own time.
    s.add_question(question(2, "no profile")).await.unwrap();
    let now = Utc::now();
    assert!(
        s.inactive_chats(now - Days::days(1), 10)
            .await
            .unwrap()
            .is_empty(),
        "both were here today"
    );
    let mut later = s.inactive_chats(now + Days::days(1), 10).await.unwrap();
    later.sort_unstable();
    assert_eq!(later, [1, 2]);
    assert_eq!(
        s.inactive_chats(now + Days::days(1), 1)
            .await
            .unwrap()
            .len(),
        1
    );
    s.forget(2).await.unwrap();
    s.touch(1).await.unwrap();
    assert_eq!(
        s.inactive_chats(now + Days::days(1), 10).await.unwrap(),
        [1]
    );
    // Someone waiting for a reminder is kept, however long away; once it is sent, no more.
    let day = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    let r = s
        .add_reminder(storage::NewReminder {
            chat_id: 1,
            entry: "stay.ban-duration".into(),
            lang: Lang::Ru,
            due_on: day,
            remind_on: day,
            send_at: now,
        })
        .await
        .unwrap();
    assert!(
        s.inactive_chats(now + Days::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.finish_reminder(r.id, true).await.unwrap();
    assert_eq!(
        s.inactive_chats(now + Days::days(1), 10).await.unwrap(),
        [1]
    );
}

async fn open_posts_of_a_chat(s: S) {
    let a = s.add_question(question(1, "first")).await.unwrap();
    let b = s.add_question(question(1, "second")).await.unwrap();
    let c = s.add_question(question(1, "third")).await.unwrap();
    let u = s.add_question(urgent(1, "urgent")).await.unwrap();
    let other = s.add_question(question(2, "another person")).await.unwrap();
    assert!(
        s.open_posts_of(1, 10).await.unwrap().is_empty(),
        "none posted yet"
    );
    s.set_expert_message(a.id, -100, 10).await.unwrap();
    s.set_expert_message(b.id, -100, 10).await.unwrap();
    s.set_expert_message(c.id, -100, 11).await.unwrap();
    s.set_expert_message(u.id, -100, 12).await.unwrap();
    s.set_expert_message(other.id, -100, 13).await.unwrap();
    assert_eq!(
        s.open_posts_of(1, 10).await.unwrap(),
        [(-100, 11), (-100, 10)],
        "newest first, one row per post, urgent ones not counted"
    );
    assert_eq!(s.open_posts_of(1, 1).await.unwrap(), [(-100, 11)]);
    s.set_status(c.id, QuestionStatus::Dismissed).await.unwrap();
    assert_eq!(s.open_posts_of(1, 10).await.unwrap(), [(-100, 10)]);
}

async fn webhook_inbox_stores_once_and_hands_out_each_stale_update_once(s: S) {
    let lease = Duration::from_secs(30);
    assert!(
        s.inbox_put(1, "{\"update_id\":1}", "a", lease)
            .await
            .unwrap()
    );
    assert!(
        !s.inbox_put(1, "{\"update_id\":1}", "b", lease)
            .await
            .unwrap(),
        "a redelivery is recognised"
    );
    for id in 2..52 {
        // Instance "dead" stored these and stopped renewing.
        assert!(
            s.inbox_put(id, &format!("u{id}"), "dead", Duration::ZERO)
                .await
                .unwrap()
        );
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Two instances take up the dead one's updates at once: each update goes to one of them.
    let (x, y) = tokio::join!(
        s.inbox_claim_stale("b", lease, 100),
        s.inbox_claim_stale("c", lease, 100)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    let mut all: Vec<i64> = x.iter().chain(&y).map(|r| r.0).collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (2..52).collect::<Vec<_>>(),
        "each once, none of the live one's"
    );
    assert!(
        x.iter()
            .chain(&y)
            .all(|(id, body)| *body == format!("u{id}"))
    );
    assert!(
        s.inbox_claim_stale("d", lease, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // Done ones are never handed out again; a released one is, at once.
    for id in 2..52 {
        s.inbox_done(id).await.unwrap();
    }
    s.inbox_release(1).await.unwrap();
    assert_eq!(
        s.inbox_claim_stale("d", lease, 100).await.unwrap(),
        [(1, "{\"update_id\":1}".to_string())]
    );
    assert_eq!(s.inbox_renew("d", lease).await.unwrap(), 1);
    assert_eq!(
        s.inbox_renew("b", lease).await.unwrap(),
        0,
        "b's are all done"
    );
    s.inbox_done(1).await.unwrap();
    assert_eq!(s.inbox_prune(Utc::now() - Days::hours(1)).await.unwrap(), 0);
    assert_eq!(
        s.inbox_prune(Utc::now() + Days::hours(1)).await.unwrap(),
        51
    );
}

// ---- backend-specific ----

#[tokio::test]
async fn unknown_scheme_is_refused() {
    let err = storage::connect("mysql://user:secret@host/db")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, storage::Error::UnsupportedUrl), "{err:?}");
    assert!(!err.to_string().contains("secret"));
}

async fn a_keeping_time_beyond_the_calendar_is_refused(s: S) {
    let err = s.erase_old_texts(Utc::now(), i64::MAX).await.unwrap_err();
    assert!(
        matches!(
            err,
            storage::Error::OutOfRange {
                what: "answered_keep_days"
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "answered_keep_days is out of range");
}

// ---- rows the program cannot read back ----

/// A profile and a question of this chat, to be corrupted behind the storage's back.
const CORRUPTED_CHAT: i64 = 4242;
const CORRUPTION: [&str; 2] = [
    "UPDATE questions SET lang = 'xx' WHERE chat_id = 4242",
    "UPDATE profiles SET country = 'zz' WHERE chat_id = 4242",
];

async fn store_rows_to_corrupt(s: &S) -> i64 {
    s.save_profile(CORRUPTED_CHAT, Some(Lang::En), Some(Country::Kz))
        .await
        .unwrap();
    s.add_question(question(CORRUPTED_CHAT, "to be corrupted"))
        .await
        .unwrap()
        .id
}

/// Reading the corrupted rows fails, naming the question by its number and the profile
/// without its chat id (the message goes to the log).
async fn corrupted_rows_are_named(s: &S, id: i64) {
    let err = s.question(id).await.unwrap_err();
    assert!(
        matches!(
            &err,
            storage::Error::Malformed {
                row: storage::Row::Question(n),
                source: storage::BadValue::Language(_),
            } if *n == id
        ),
        "{err:?}"
    );
    assert_eq!(
        format!("{:#}", anyhow::Error::from(err)),
        format!(
            "question {id} in the database is malformed: unknown language 'xx'; use ky, ru, uz or en"
        )
    );
    let err = s.export(None).await.unwrap_err();
    assert!(
        matches!(&err, storage::Error::Malformed { row: storage::Row::Question(n), .. } if *n == id),
        "{err:?}"
    );
    for err in [
        s.get_profile(CORRUPTED_CHAT).await.unwrap_err(),
        s.chat(CORRUPTED_CHAT, Utc::now()).await.unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                storage::Error::Malformed {
                    row: storage::Row::Profile,
                    source: storage::BadValue::Country(_),
                }
            ),
            "{err:?}"
        );
        let shown = format!("{:#}", anyhow::Error::from(err));
        assert!(
            shown.starts_with("a profile in the database is malformed: unknown country 'zz'"),
            "{shown}"
        );
        assert!(!shown.contains(&CORRUPTED_CHAT.to_string()), "{shown}");
    }
    // The other chats' rows are still read.
    s.save_profile(1, Some(Lang::Ru), None).await.unwrap();
    assert!(s.get_profile(1).await.unwrap().is_some());
}

#[tokio::test]
async fn sqlite_names_the_rows_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jardam.db").display());
    let s = storage::connect(&url).await.unwrap();
    let id = store_rows_to_corrupt(&s).await;
    let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for sql in CORRUPTION {
        raw.execute(sql).await.unwrap();
    }
    raw.close().await.unwrap();
    corrupted_rows_are_named(&s, id).await;
}

#[tokio::test]
async fn postgres_names_the_rows_it_cannot_read() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let s = storage::connect(&db.url).await.unwrap();
    let id = store_rows_to_corrupt(&s).await;
    let mut raw = PgConnection::connect(&db.url).await.unwrap();
    for sql in CORRUPTION {
        raw.execute(sql).await.unwrap();
    }
    raw.close().await.unwrap();
    // As a task, so that a failing check still gets the database dropped.
    let outcome = tokio::spawn(async move { corrupted_rows_are_named(&s, id).await }).await;
    db.drop().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn sqlite_file_keeps_data_across_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("sub.db").display());
    let id = {
        let s = storage::connect(&url).await.unwrap();
        s.save_profile(1, Some(Lang::En), None).await.unwrap();
        s.add_question(question(1, "persist")).await.unwrap().id
    };
    let s = storage::connect(&url).await.unwrap();
    assert_eq!(s.question(id).await.unwrap().unwrap().text, "persist");
    assert_eq!(
        s.get_profile(1).await.unwrap().unwrap().lang,
        Some(Lang::En)
    );
}

#[tokio::test]
async fn postgres_migrates_once_and_reconnects() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let first = storage::connect(&db.url).await.unwrap();
    let id = first.add_question(question(1, "persist")).await.unwrap().id;
    let second = storage::connect(&db.url).await.unwrap();
    let text = second.question(id).await.unwrap().map(|q| q.text);
    drop((first, second));
    db.drop().await;
    assert_eq!(text.as_deref(), Some("persist"));
}

async fn faq_texts_are_erased_after_their_time(s: S) {
    s.keep_faq_text(1, "как получить патент", "work.patent", Lang::Ru)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    assert_eq!(
        s.erase_faq_texts(now - chrono::Duration::days(1))
            .await
            .unwrap(),
        0,
        "younger than a day: kept"
    );
    assert_eq!(s.faq_texts().await.unwrap().len(), 1);
    assert_eq!(
        s.erase_faq_texts(now + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.faq_texts().await.unwrap(), []);
}

async fn a_message_delivered_twice_stores_one_question(s: S) {
    let first = NewQuestion {
        source_message: Some(41),
        ..question(7, "как вернуть деньги за патент")
    };
    let a = s.add_question(first.clone()).await.unwrap();
    // The same message again (a crash before its update was confirmed, a retried webhook).
    let again = s.add_question(first.clone()).await.unwrap();
    assert_eq!(again, a);
    // Another message of the chat, the same message id in another chat, and questions with no
    // source message are all new.
    let next = s
        .add_question(NewQuestion {
            source_message: Some(42),
            ..first.clone()
        })
        .await
        .unwrap();
    let other_chat = s
        .add_question(NewQuestion {
            source_message: Some(41),
            ..question(8, "как вернуть деньги за патент")
        })
        .await
        .unwrap();
    let no_source_1 = s.add_question(question(7, "x")).await.unwrap();
    let no_source_2 = s.add_question(question(7, "x")).await.unwrap();
    let ids = [a.id, next.id, other_chat.id, no_source_1.id, no_source_2.id];
    let distinct: std::collections::HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), 5, "{ids:?}");
    assert_eq!(s.count_open().await.unwrap(), 5);
}

// ---- a full disk and a deleted file (SQLite) ----

/// A 2 MB tmpfs of the test's own; `None` where the test may not mount one (not root).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("cannot mount a tmpfs here: skipping the full-disk test");
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills what is left with a file of its own.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn sqlite_on_a_full_disk_acknowledges_only_stored_questions_and_never_repeats_a_number() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let url = format!("sqlite://{}", disk.path().join("jardam.db").display());
    let s = storage::connect(&url).await.unwrap();
    let before = s
        .add_question(question(1, "before the disk fills"))
        .await
        .unwrap();
    disk.fill();
    let text = "вопрос ".repeat(400);
    let mut acknowledged = vec![before.id];
    let mut refused = 0;
    for chat in 2..8 {
        match s.add_question(question(chat, &text)).await {
            Ok(q) => acknowledged.push(q.id),
            Err(e) => {
                eprintln!("refused: {e:#}");
                refused += 1
            }
        }
    }
    assert!(refused > 0, "a full disk must refuse some writes");
    assert!(
        s.ping().await.is_err(),
        "not ready while nothing can be written"
    );
    disk.free();
    assert!(s.ping().await.is_ok(), "ready again once there is room");
    let after = s.add_question(question(9, "after")).await.unwrap();
    assert!(
        !acknowledged.contains(&after.id),
        "number {} given twice",
        after.id
    );
    acknowledged.push(after.id);
    s.close().await;
    // Everything acknowledged survives a restart.
    let s = storage::connect(&url).await.unwrap();
    for id in &acknowledged {
        assert!(
            s.question(*id).await.unwrap().is_some(),
            "question {id} lost"
        );
    }
    s.close().await;
}

/// A SQLite file in a fresh directory, holding one question.
async fn sqlite_file_with_one_question() -> (tempfile::TempDir, std::path::PathBuf, S) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jardam.db");
    let s = storage::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    s.add_question(question(1, "stored")).await.unwrap();
    (dir, path, s)
}

#[tokio::test]
async fn sqlite_refuses_questions_once_its_file_is_deleted() {
    let (_dir, path, s) = sqlite_file_with_one_question().await;
    assert!(s.ping().await.is_ok());
    std::fs::remove_file(&path).unwrap();
    let err = s
        .add_question(question(2, "into a deleted file"))
        .await
        .expect_err("a question written into a deleted file is lost at the next restart");
    assert!(
        matches!(&err, storage::Error::FileGone { path: p, source }
            if *p == path && source.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert!(
        format!("{:#}", anyhow::Error::from(err)).starts_with(&format!(
            "the SQLite file {} is gone or unreadable: ",
            path.display()
        ))
    );
    assert!(matches!(
        s.ping().await,
        Err(storage::Error::FileGone { .. })
    ));
}

#[tokio::test]
async fn sqlite_refuses_questions_once_its_file_is_replaced() {
    let (dir, path, s) = sqlite_file_with_one_question().await;
    // A restored backup, say: another file under the same name.
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    std::fs::rename(&copy, &path).unwrap();
    let err = s
        .add_question(question(2, "into the old file"))
        .await
        .expect_err("a question written into the replaced file is lost at the next restart");
    assert!(
        matches!(&err, storage::Error::FileReplaced { path: p } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the SQLite file {} was replaced while the bot was running",
            path.display()
        )
    );
    assert!(matches!(
        s.ping().await,
        Err(storage::Error::FileReplaced { .. })
    ));
    assert!(matches!(
        s.inbox_put(1, "{}", "test", Duration::from_secs(60)).await,
        Err(storage::Error::FileReplaced { .. })
    ));
}

async fn chat_states_are_per_chat_replaced_expire_and_are_forgotten(s: S) {
    let before = Utc::now() - chrono::TimeDelta::seconds(60);
    assert_eq!(s.chat_state(1, before).await.unwrap(), None);
    let hostile = "{\"text\":\"'); DROP TABLE chat_states; --\\u0000 \u{1F600} \u{0}\"}";
    s.set_chat_state(1, Some(hostile)).await.unwrap();
    s.set_chat_state(2, Some("two")).await.unwrap();
    assert_eq!(
        s.chat_state(1, before).await.unwrap().as_deref(),
        Some(hostile.replace('\0', "").as_str())
    );
    s.set_chat_state(1, Some("one, later")).await.unwrap();
    assert_eq!(
        s.chat_state(1, before).await.unwrap().as_deref(),
        Some("one, later")
    );
    assert_eq!(
        s.chat_state(2, before).await.unwrap().as_deref(),
        Some("two")
    );
    // Written before `since`: as good as none.
    tick().await;
    let after = Utc::now();
    assert_eq!(s.chat_state(1, after).await.unwrap(), None);
    s.set_chat_state(2, None).await.unwrap();
    assert_eq!(s.chat_state(2, before).await.unwrap(), None);
    s.set_chat_state(2, None).await.unwrap();
    // The clean-up erases the old ones only.
    s.set_chat_state(3, Some("new")).await.unwrap();
    assert_eq!(s.erase_chat_states(after).await.unwrap(), 1);
    assert_eq!(s.chat_state(1, before).await.unwrap(), None);
    assert_eq!(
        s.chat_state(3, before).await.unwrap().as_deref(),
        Some("new")
    );
}

async fn a_groups_post_is_its_oldest_open_questions(s: S) {
    assert_eq!(
        s.group_post("patent price?", GROUP_CHAT).await.unwrap(),
        None
    );
    let urgent_one = s.add_question(urgent(9, "Patent price?")).await.unwrap();
    s.set_expert_message(urgent_one.id, GROUP_CHAT, 10)
        .await
        .unwrap();
    let a = s.add_question(question(1, "Patent price?")).await.unwrap();
    // Not posted yet: no post to join.
    assert_eq!(
        s.group_post("patent price?", GROUP_CHAT).await.unwrap(),
        None
    );
    s.set_expert_message(a.id, GROUP_CHAT, 11).await.unwrap();
    let b = s.add_question(question(2, "patent price?")).await.unwrap();
    s.set_expert_message(b.id, GROUP_CHAT, 11).await.unwrap();
    assert_eq!(
        s.group_post("patent price?", GROUP_CHAT).await.unwrap(),
        Some(11),
        "the urgent post is never joined"
    );
    assert_eq!(s.group_post("patent price?", -5).await.unwrap(), None);
    assert_eq!(s.group_post("", GROUP_CHAT).await.unwrap(), None);
    // The lead answered: the next open one's post.
    s.mark_answered(a.id, "x", "e").await.unwrap();
    let c = s.add_question(question(3, "patent price?")).await.unwrap();
    s.set_expert_message(c.id, GROUP_CHAT, 12).await.unwrap();
    assert_eq!(
        s.group_post("patent price?", GROUP_CHAT).await.unwrap(),
        Some(11)
    );
    s.mark_answered(b.id, "x", "e").await.unwrap();
    assert_eq!(
        s.group_post("patent price?", GROUP_CHAT).await.unwrap(),
        Some(12)
    );
}

async fn a_new_asker_joins_the_groups_post_as_it_is_stored(s: S) {
    let joining = |chat, text: &str| NewQuestion {
        join_post_in: Some(GROUP_CHAT),
        ..question(chat, text)
    };
    // No post yet: stored unposted, to be posted.
    let a = s.add_question(joining(1, "Patent price?")).await.unwrap();
    assert_eq!((a.expert_chat_id, a.expert_message_id), (None, None));
    s.set_expert_message(a.id, GROUP_CHAT, 11).await.unwrap();
    // The next asker is in the post at once, and so in the database.
    let b = s.add_question(joining(2, "patent price?")).await.unwrap();
    assert_eq!(
        (b.expert_chat_id, b.expert_message_id),
        (Some(GROUP_CHAT), Some(11))
    );
    assert!(b.posted_at.is_some());
    assert_eq!(
        ids(&s.posted_as(GROUP_CHAT, 11).await.unwrap()),
        vec![a.id, b.id]
    );
    assert!(
        s.unposted_questions(10).await.unwrap().is_empty(),
        "a joined question is not posted again"
    );
    // Not asked to join, urgent, or another expert chat: not joined.
    let c = s.add_question(question(3, "patent price?")).await.unwrap();
    let d = s
        .add_question(NewQuestion {
            urgent: true,
            ..joining(4, "patent price?")
        })
        .await
        .unwrap();
    let e = s
        .add_question(NewQuestion {
            join_post_in: Some(-5),
            ..question(5, "patent price?")
        })
        .await
        .unwrap();
    for q in [&c, &d, &e] {
        assert_eq!(q.expert_message_id, None, "question {} joined", q.id);
    }
    // A message stored before comes back as it was.
    let once = NewQuestion {
        source_message: Some(77),
        ..joining(6, "patent price?")
    };
    let first = s.add_question(once.clone()).await.unwrap();
    assert_eq!(s.add_question(once).await.unwrap(), first);
    // Once the post's questions are answered, a new asker is not put in it.
    for q in [&a, &b, &first] {
        s.mark_answered(q.id, "x", "e").await.unwrap();
    }
    let f = s.add_question(joining(7, "patent price?")).await.unwrap();
    assert_eq!(f.expert_message_id, None);
}

async fn a_post_refresh_is_taken_once_per_interval(s: S) {
    let every = Duration::from_millis(300);
    assert!(s.claim_post_refresh(GROUP_CHAT, 5, every).await.unwrap());
    assert!(!s.claim_post_refresh(GROUP_CHAT, 5, every).await.unwrap());
    // Another post is its own.
    assert!(s.claim_post_refresh(GROUP_CHAT, 6, every).await.unwrap());
    tokio::time::sleep(every + Duration::from_millis(50)).await;
    assert!(s.claim_post_refresh(GROUP_CHAT, 5, every).await.unwrap());
    // Many claimants at once, on a new post and on one refreshed long ago: one wins each.
    // (An interval far longer than the claims can take, however loaded the machine.)
    let long = Duration::from_secs(600);
    for post in [7, 5] {
        if post == 5 {
            s.erase_chat_states(Utc::now() + chrono::TimeDelta::seconds(1))
                .await
                .unwrap();
        }
        let claims =
            futures::future::join_all((0..8).map(|_| s.claim_post_refresh(GROUP_CHAT, post, long)))
                .await;
        let won = claims.into_iter().filter(|c| *c.as_ref().unwrap()).count();
        assert_eq!(won, 1, "post {post}");
    }
}

async fn a_chats_profile_and_state_come_in_one_read(s: S) {
    let before = Utc::now() - chrono::TimeDelta::seconds(60);
    assert_eq!(s.chat(1, before).await.unwrap(), (None, None));
    s.set_chat_state(1, Some("state of 1")).await.unwrap();
    assert_eq!(
        s.chat(1, before).await.unwrap(),
        (None, Some("state of 1".to_string())),
        "a state without a profile"
    );
    s.save_profile(1, Some(Lang::Ky), Some(Country::Kz))
        .await
        .unwrap();
    s.save_profile(2, Some(Lang::Uz), None).await.unwrap();
    let (profile, state) = s.chat(1, before).await.unwrap();
    assert_eq!(profile, s.get_profile(1).await.unwrap());
    assert_eq!(state.as_deref(), Some("state of 1"));
    let (profile, state) = s.chat(2, before).await.unwrap();
    assert_eq!(profile, s.get_profile(2).await.unwrap());
    assert!(profile.is_some());
    assert_eq!(state, None, "another chat's state is not theirs");
    tick().await;
    let (profile, state) = s.chat(1, Utc::now()).await.unwrap();
    assert!(profile.is_some());
    assert_eq!(state, None, "a state older than `since`");
}

async fn reminders_are_stored_once_claimed_once_and_forgotten(s: S) {
    use jardam::storage::NewReminder;
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let at = |y, m, d| day(y, m, d).and_hms_opt(6, 0, 0).unwrap().and_utc();
    let new = |chat_id, entry: &str, due_on, remind_on: NaiveDate| NewReminder {
        chat_id,
        entry: entry.to_string(),
        lang: Lang::Ky,
        due_on,
        remind_on,
        send_at: remind_on.and_hms_opt(6, 0, 0).unwrap().and_utc(),
    };
    let lease = Duration::from_secs(60);
    let ban = s
        .add_reminder(new(
            1,
            "stay.ban-duration",
            day(2028, 3, 15),
            day(2028, 2, 15),
        ))
        .await
        .unwrap();
    let again = s
        .add_reminder(new(
            1,
            "stay.ban-duration",
            day(2028, 3, 15),
            day(2028, 2, 14),
        ))
        .await
        .unwrap();
    assert_eq!(again, ban, "asked for twice, stored once");
    assert_eq!(
        (ban.lang, ban.remind_on, ban.send_at),
        (Lang::Ky, day(2028, 2, 15), at(2028, 2, 15))
    );
    let reg = s
        .add_reminder(new(
            1,
            "stay.registration",
            day(2026, 12, 20),
            day(2026, 12, 17),
        ))
        .await
        .unwrap();
    let other = s
        .add_reminder(new(2, "stay.term", day(2026, 12, 5), day(2026, 12, 1)))
        .await
        .unwrap();
    assert_eq!(
        s.reminders_of(1).await.unwrap(),
        vec![reg.clone(), ban.clone()]
    );
    // Only the chat's own can be cancelled.
    assert!(!s.cancel_reminder(2, ban.id).await.unwrap());
    assert!(s.cancel_reminder(1, reg.id).await.unwrap());
    assert!(!s.cancel_reminder(1, reg.id).await.unwrap());
    assert_eq!(s.reminders_of(1).await.unwrap(), vec![ban.clone()]);
    // Due ones only (by the time given, not the database's), each to one claimant at a time,
    // even claimed side by side.
    let now = at(2026, 12, 2);
    assert!(
        s.claim_due_reminders(at(2026, 11, 30), "a", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let (a, b) = tokio::join!(
        s.claim_due_reminders(now, "a", lease, 10),
        s.claim_due_reminders(now, "b", lease, 10)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
    let (holder, free) = if a.is_empty() { ("b", "a") } else { ("a", "b") };
    assert_eq!(
        a.into_iter().chain(b).collect::<Vec<_>>(),
        vec![other.clone()]
    );
    assert!(
        s.claim_due_reminders(now, free, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Put off (night where the person lives): only its holder can, and it comes back due
    // from the new time, for any instance.
    let morning = at(2026, 12, 3);
    s.postpone_reminder(other.id, free, morning).await.unwrap();
    assert!(
        s.claim_due_reminders(now, free, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.postpone_reminder(other.id, holder, morning)
        .await
        .unwrap();
    assert!(
        s.claim_due_reminders(now, free, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "not before the new time"
    );
    let put_off = Reminder {
        send_at: morning,
        ..other.clone()
    };
    assert_eq!(
        s.claim_due_reminders(morning, free, lease, 10)
            .await
            .unwrap(),
        vec![put_off.clone()]
    );
    // Sent or undeliverable: never again, and erased once old.
    s.finish_reminder(other.id, false).await.unwrap();
    s.postpone_reminder(other.id, free, now).await.unwrap();
    assert!(s.reminders_of(2).await.unwrap().is_empty());
    assert!(
        s.claim_due_reminders(at(2030, 1, 1), "c", lease, 10)
            .await
            .unwrap()
            .iter()
            .all(|r| r.id != other.id)
    );
    let after = Utc::now() + Days::minutes(1);
    assert_eq!(
        s.erase_finished_reminders(Utc::now() - Days::minutes(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.erase_finished_reminders(after).await.unwrap(), 1);
    assert_eq!(s.erase_finished_reminders(after).await.unwrap(), 0);
    assert_eq!(
        s.reminders_of(1).await.unwrap(),
        vec![ban.clone()],
        "pending ones stay"
    );
    // A lease that runs out lets another instance take the reminder.
    let late = s
        .add_reminder(new(3, "stay.term", day(2026, 11, 30), day(2026, 11, 29)))
        .await
        .unwrap();
    let short = Duration::from_millis(1);
    assert_eq!(
        s.claim_due_reminders(now, "a", short, 10).await.unwrap(),
        vec![late.clone()]
    );
    tick().await;
    assert_eq!(
        s.claim_due_reminders(now, "b", lease, 10).await.unwrap(),
        [late]
    );
    // Forgetting a chat forgets its reminders.
    s.forget(1).await.unwrap();
    assert!(s.reminders_of(1).await.unwrap().is_empty());
}

async fn followers_get_each_change_note_once_and_are_forgotten(s: S) {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let ban = "stay.ban-duration";
    // Chat 1 follows before any note; chat 2 after the note of 1 November.
    assert!(s.follow(1, ban, Lang::Ky, None).await.unwrap());
    assert!(
        s.follow(2, ban, Lang::Ru, Some(day(2026, 11, 1)))
            .await
            .unwrap()
    );
    assert!(s.follow(2, "stay.term", Lang::Ru, None).await.unwrap());
    // Again, in another language: still one, in the new language.
    assert!(!s.follow(1, ban, Lang::Uz, None).await.unwrap());
    assert_eq!(
        s.follower_counts().await.unwrap(),
        [(ban.to_string(), 2), ("stay.term".to_string(), 1)]
    );
    // The note of 1 November: chat 1 only, once, even taken side by side.
    let (a, b) = tokio::join!(
        s.take_change_followers(ban, day(2026, 11, 1), 10),
        s.take_change_followers(ban, day(2026, 11, 1), 10)
    );
    let mut taken = a.unwrap();
    taken.extend(b.unwrap());
    assert_eq!(taken, [(1, Lang::Uz)]);
    // A newer note: both, at most `limit` at a time.
    let first = s
        .take_change_followers(ban, day(2026, 12, 1), 1)
        .await
        .unwrap();
    let second = s
        .take_change_followers(ban, day(2026, 12, 1), 10)
        .await
        .unwrap();
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_ne!(first, second);
    assert!(
        s.take_change_followers(ban, day(2026, 12, 1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Unfollowed, or forgotten: no more notes, not counted.
    assert!(s.unfollow(1, ban).await.unwrap());
    assert!(!s.unfollow(1, ban).await.unwrap());
    s.forget(2).await.unwrap();
    assert!(s.follower_counts().await.unwrap().is_empty());
    assert!(
        s.take_change_followers(ban, day(2027, 1, 1), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

mod workbench;
