//! The experts' workbench in the core: claims that lapse on the test's clock, notes that stay
//! with the experts, joined posts, one rating per answer, and overdue questions taken once.

use super::tests::{conversation, press};
use super::workbench::{Promise, TAKE_FOR};
use super::*;
use crate::clock::Clock;
use crate::experts::PostView;
use crate::model::{NewQuestion, Question, QuestionStatus};
use chrono::{DateTime, TimeDelta, Utc};

const EXPERTS: i64 = -100_777;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A stored question of `chat`, posted as `message` in the expert chat.
async fn posted(c: &Conversation, chat: i64, text: &str, message: i32) -> Question {
    let q = c
        .store()
        .add_question(NewQuestion::text(chat, text, Lang::Ru))
        .await
        .unwrap();
    c.store()
        .set_expert_message(q.id, EXPERTS, message)
        .await
        .unwrap();
    c.store().question(q.id).await.unwrap().unwrap()
}

async fn post_text(c: &Conversation, message: i32) -> String {
    let group = c.store().posted_as(EXPERTS, message).await.unwrap();
    c.post_for(&group, Lang::En).await.text
}

#[tokio::test]
async fn a_claim_shows_on_the_post_tells_the_next_expert_and_lapses_after_half_an_hour() {
    let clock = Clock::manual(Utc::now());
    let c = conversation().await.with_clock(clock.clone());
    let q = posted(&c, 1, "сколько стоит билет", 10).await;
    let first = c.take(&q, "Aida", Lang::En).await.unwrap();
    assert!(first.text.contains("is yours"), "{}", first.text);
    assert_eq!(first.refresh, [(EXPERTS, 10)]);
    assert!(post_text(&c, 10).await.contains("✋ Aida is answering"));
    let second = c.take(&q, "Bakyt", Lang::En).await.unwrap();
    assert!(
        second.text.starts_with("Aida is answering"),
        "{}",
        second.text
    );
    assert!(second.refresh.is_empty(), "nothing to write again");
    clock.advance(TAKE_FOR + TimeDelta::seconds(1));
    assert!(!post_text(&c, 10).await.contains('✋'), "lapsed");
    let third = c.take(&q, "Bakyt", Lang::En).await.unwrap();
    assert!(third.text.contains("is yours"), "{}", third.text);
    assert!(post_text(&c, 10).await.contains("Bakyt"));
    assert!(
        c.store()
            .mark_answered(q.id, "ответ", "Aida")
            .await
            .unwrap()
    );
    let text = post_text(&c, 10).await;
    assert!(
        text.contains("Answered by Aida") && !text.contains('✋'),
        "{text}"
    );
    let late = c.take(&q, "Bakyt", Lang::En).await.unwrap();
    assert!(late.text.contains("closed already"), "{}", late.text);
    let forged = Question {
        id: 999,
        ..q.clone()
    };
    let gone = c.take(&forged, "Bakyt", Lang::En).await.unwrap();
    assert!(gone.text.starts_with("This is not a question post"));
}

#[tokio::test]
async fn a_note_is_kept_escaped_on_the_post_and_bad_notes_are_refused() {
    let c = conversation().await;
    let q = posted(&c, 1, "вопрос", 10).await;
    let group = vec![q.clone()];
    for bad in ["", "   "] {
        let done = c.note(&group, "Aida", bad, Lang::En).await.unwrap();
        assert!(done.text.starts_with("Write the note"), "{}", done.text);
    }
    let long = "x".repeat(workbench::NOTE_LIMIT + 1);
    let done = c.note(&group, "Aida", &long, Lang::En).await.unwrap();
    assert!(done.text.contains("at most"), "{}", done.text);
    assert!(c.store().notes_of(&[q.id]).await.unwrap().is_empty());
    let done = c
        .note(&group, "Aida", "called <b>them</b> & waiting", Lang::En)
        .await
        .unwrap();
    assert!(done.text.contains("does not see it"), "{}", done.text);
    assert_eq!(done.refresh, [(EXPERTS, 10)]);
    let text = post_text(&c, 10).await;
    assert!(
        text.contains("<b>Aida</b>: called &lt;b&gt;them&lt;/b&gt; &amp; waiting"),
        "{text}"
    );
    // A post gone meanwhile (the person used /forget).
    c.store().forget(1).await.unwrap();
    let done = c.note(&group, "Aida", "late", Lang::En).await.unwrap();
    assert!(
        done.text.starts_with("This is not a question post"),
        "{}",
        done.text
    );
    let done = c.note(&[], "Aida", "nowhere", Lang::En).await.unwrap();
    assert!(
        done.text.starts_with("This is not a question post"),
        "{}",
        done.text
    );
}

#[tokio::test]
async fn same_as_joins_a_post_to_another_and_refuses_itself_closed_ones_and_nonsense() {
    let c = conversation().await;
    let a = posted(&c, 1, "вопрос один", 10).await;
    let b = posted(&c, 2, "вопрос два", 20).await;
    for bad in ["", "abc", "-", "1 2"] {
        let done = c
            .same_as(std::slice::from_ref(&a), bad, Lang::En)
            .await
            .unwrap();
        assert!(
            done.text.starts_with("Reply to the post with /same"),
            "{bad}: {}",
            done.text
        );
    }
    let done = c
        .same_as(std::slice::from_ref(&a), &a.id.to_string(), Lang::En)
        .await
        .unwrap();
    assert!(
        done.text.starts_with("That is the same post"),
        "{}",
        done.text
    );
    let into = format!("№{}", b.id);
    let done = c
        .same_as(std::slice::from_ref(&a), &into, Lang::En)
        .await
        .unwrap();
    assert!(
        done.text.contains(&format!("joined No. {}", b.id)),
        "{}",
        done.text
    );
    assert_eq!(done.refresh, [(EXPERTS, 20)]);
    assert_eq!(done.merged_away.len(), 1);
    assert_eq!(done.merged_away[0].0, (EXPERTS, 10));
    assert!(done.merged_away[0].1.contains(&b.id.to_string()));
    let group = c.store().posted_as(EXPERTS, 20).await.unwrap();
    assert_eq!(group.len(), 2);
    // Into a closed question: nothing changes.
    let d = posted(&c, 3, "вопрос три", 30).await;
    c.store()
        .set_status(b.id, QuestionStatus::Answered)
        .await
        .unwrap();
    let done = c
        .same_as(std::slice::from_ref(&d), &b.id.to_string(), Lang::En)
        .await
        .unwrap();
    assert!(done.text.contains("is not open"), "{}", done.text);
    assert_eq!(c.store().posted_as(EXPERTS, 30).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_expert_answer_is_rated_once_by_its_asker_and_the_post_shows_it() {
    let c = conversation().await;
    let q = posted(&c, 1, "вопрос", 10).await;
    assert!(
        c.store()
            .mark_answered(q.id, "ответ", "Aida")
            .await
            .unwrap()
    );
    let under = Reply {
        buttons: vec![c.rating_buttons(Lang::Ru, q.id)],
        ..Reply::default()
    };
    // Someone else pressing a copy of the buttons changes nothing.
    let other = c.handle(2, press(&under, "👍")).await;
    assert!(other.refreshed_posts.is_empty());
    let out = c.handle(1, press(&under, "👎")).await;
    assert_eq!(out.refreshed_posts, [(EXPERTS, 10)]);
    assert!(
        out.replies[0].text.contains("Спасибо"),
        "{}",
        out.replies[0].text
    );
    let again = c.handle(1, press(&under, "👍")).await;
    assert!(again.refreshed_posts.is_empty());
    assert!(
        again.replies[0].text.contains("уже"),
        "{}",
        again.replies[0].text
    );
    assert_eq!(
        c.store().question(q.id).await.unwrap().unwrap().rating,
        Some(false)
    );
    assert!(post_text(&c, 10).await.contains("👍 0 · 👎 1"));
}

#[tokio::test]
async fn overdue_questions_are_listed_once_and_their_askers_told_in_their_language() {
    let clock = Clock::manual(Utc::now());
    let c = conversation().await.with_clock(clock.clone());
    let q = posted(&c, 1, "вопрос", 10).await;
    let urgent = c
        .store()
        .add_question(NewQuestion {
            urgent: true,
            ..NewQuestion::text(2, "help", Lang::En)
        })
        .await
        .unwrap();
    let promise = Promise::default();
    assert!(c.overdue_round(promise, Lang::En).await.unwrap().is_none());
    clock.advance(TimeDelta::minutes(61));
    let round = c.overdue_round(promise, Lang::En).await.unwrap().unwrap();
    assert!(
        round.experts.contains(&format!("🆘 № {}", urgent.id)),
        "{}",
        round.experts
    );
    assert_eq!(round.people.len(), 1);
    assert_eq!(round.people[0].0, 2);
    assert!(
        round.people[0].1.text.contains("112"),
        "{}",
        round.people[0].1.text
    );
    assert!(
        c.overdue_round(promise, Lang::En).await.unwrap().is_none(),
        "once"
    );
    clock.advance(TimeDelta::hours(24));
    let round = c.overdue_round(promise, Lang::En).await.unwrap().unwrap();
    assert!(
        round.experts.contains(&format!("№ {}", q.id)),
        "{}",
        round.experts
    );
    assert_eq!(round.people[0].0, 1);
    // The Russian speaker is told in Russian, with no promise the bot cannot keep.
    assert!(round.people[0].1.text.contains(&q.id.to_string()));
    assert!(
        round.people[0].1.text.contains("/contacts"),
        "{}",
        round.people[0].1.text
    );
    assert!(c.overdue_round(promise, Lang::En).await.unwrap().is_none());
}

#[tokio::test]
async fn an_open_post_offers_take_and_templates_and_a_closed_one_no_buttons() {
    let c = conversation().await;
    let q = posted(&c, 1, "вопрос", 10).await;
    let k = c.knowledge();
    let view = PostView {
        now: at("2026-12-03T10:00:00Z"),
        notes: Vec::new(),
        templates: true,
    };
    let post = crate::experts::render_post(&k.kb, Lang::En, std::slice::from_ref(&q), &view);
    let labels: Vec<&str> = post
        .buttons
        .iter()
        .flatten()
        .map(|b| b.label.as_str())
        .collect();
    assert!(labels.contains(&"✋ I'll answer"), "{labels:?}");
    assert!(labels.iter().any(|l| l.contains("Template")), "{labels:?}");
    c.store()
        .set_status(q.id, QuestionStatus::Dismissed)
        .await
        .unwrap();
    let closed = c.store().question(q.id).await.unwrap().unwrap();
    let post = crate::experts::render_post(&k.kb, Lang::En, &[closed], &view);
    assert!(post.buttons.is_empty());
    assert!(post.text.contains("Dismissed"), "{}", post.text);
}
