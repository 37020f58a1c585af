//! The experts' workbench in the storage suite: claims, notes, merges, ratings, overdue
//! questions, jobs done once and the radar's facts, on every backend.

use super::{GROUP_CHAT, S, ids, on_postgres, on_sqlite_file, on_sqlite_memory, question, urgent};
use chrono::{Duration as Days, Utc};
use jardam::lang::{Country, Lang};
use jardam::storage::{Count, Merged, QuestionStatus, Taken};

suite!(
    of_two_experts_taking_a_question_at_once_one_wins_and_a_claim_lapses,
    notes_stay_with_their_question_and_go_with_it,
    a_post_joins_another_open_post,
    an_expert_answer_is_rated_once_by_its_asker,
    overdue_questions_are_taken_once,
    a_job_is_done_once,
    the_radar_reads_counters_and_facts_of_a_range,
);

async fn of_two_experts_taking_a_question_at_once_one_wins_and_a_claim_lapses(s: S) {
    let q = s.add_question(question(1, "q")).await.unwrap();
    let now = Utc::now();
    let until = now + Days::minutes(30);
    let (a, b) = tokio::join!(
        s.take_question(q.id, "Aigul", now, until),
        s.take_question(q.id, "Bakyt", now, until)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let (winner, loser) = match (&a, &b) {
        (Taken::Yours, Taken::Held { by, .. }) => ("Aigul", by.clone()),
        (Taken::Held { by, .. }, Taken::Yours) => ("Bakyt", by.clone()),
        other => panic!("one must win: {other:?}"),
    };
    assert_eq!(winner, loser, "the loser is told who has it");
    let held = s.question(q.id).await.unwrap().unwrap();
    assert_eq!(held.taken_at(now), Some(winner));
    assert_eq!(held.taken_at(until), None, "lapsed at its end");
    // The holder may press again; another may take it once the claim lapsed.
    assert_eq!(
        s.take_question(q.id, winner, now, until).await.unwrap(),
        Taken::Yours
    );
    let other = if winner == "Aigul" { "Bakyt" } else { "Aigul" };
    let later = until + Days::seconds(1);
    assert_eq!(
        s.take_question(q.id, other, later, later + Days::minutes(30))
            .await
            .unwrap(),
        Taken::Yours
    );
    assert!(s.mark_answered(q.id, "a", other).await.unwrap());
    assert_eq!(
        s.take_question(q.id, winner, later, later).await.unwrap(),
        Taken::Closed
    );
    assert_eq!(
        s.take_question(-1, winner, now, until).await.unwrap(),
        Taken::Gone
    );
}

async fn notes_stay_with_their_question_and_go_with_it(s: S) {
    let a = s.add_question(question(1, "a")).await.unwrap();
    let b = s.add_question(question(2, "b")).await.unwrap();
    assert!(
        s.add_note(a.id, "Aigul", "called the <b>embassy</b>")
            .await
            .unwrap()
    );
    assert!(s.add_note(a.id, "Bakyt", "second").await.unwrap());
    assert!(s.add_note(b.id, "Bakyt", "on b").await.unwrap());
    assert!(!s.add_note(-1, "Bakyt", "nowhere").await.unwrap());
    let notes = s.notes_of(&[a.id]).await.unwrap();
    let texts: Vec<&str> = notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(texts, ["called the <b>embassy</b>", "second"]);
    assert_eq!(notes[0].expert, "Aigul");
    assert_eq!(notes[0].question_id, a.id);
    assert_eq!(s.notes_of(&[a.id, b.id]).await.unwrap().len(), 3);
    assert_eq!(s.notes_of(&[]).await.unwrap(), []);
    s.forget(1).await.unwrap();
    assert_eq!(s.notes_of(&[a.id]).await.unwrap(), []);
    assert_eq!(s.notes_of(&[b.id]).await.unwrap().len(), 1);
    // Erased with the text of a resolved question, after its keeping time.
    let c = s.add_question(question(3, "c")).await.unwrap();
    assert!(s.add_note(c.id, "Aida", "open: kept").await.unwrap());
    assert!(s.mark_answered(b.id, "answer", "Bakyt").await.unwrap());
    s.erase_old_texts(Utc::now() + Days::days(1), 0)
        .await
        .unwrap();
    assert_eq!(s.notes_of(&[b.id]).await.unwrap(), []);
    assert_eq!(s.notes_of(&[c.id]).await.unwrap().len(), 1);
}

async fn a_post_joins_another_open_post(s: S) {
    let a = s.add_question(question(1, "a")).await.unwrap();
    let a2 = s.add_question(question(3, "a")).await.unwrap();
    let b = s.add_question(question(2, "b")).await.unwrap();
    let c = s.add_question(question(4, "c")).await.unwrap();
    s.set_expert_message(a.id, GROUP_CHAT, 10).await.unwrap();
    s.set_expert_message(a2.id, GROUP_CHAT, 10).await.unwrap();
    s.set_expert_message(b.id, GROUP_CHAT, 20).await.unwrap();
    assert_eq!(s.merge_post(a.id, a.id).await.unwrap(), Merged::Same);
    assert_eq!(s.merge_post(a.id, a2.id).await.unwrap(), Merged::Same);
    assert_eq!(s.merge_post(a.id, -1).await.unwrap(), Merged::Gone);
    assert_eq!(
        s.merge_post(a.id, c.id).await.unwrap(),
        Merged::TargetClosed,
        "not posted yet"
    );
    assert_eq!(s.merge_post(a2.id, b.id).await.unwrap(), Merged::Joined(2));
    assert_eq!(
        ids(&s.posted_as(GROUP_CHAT, 20).await.unwrap()),
        [a.id, a2.id, b.id]
    );
    assert_eq!(s.posted_as(GROUP_CHAT, 10).await.unwrap(), []);
    // A question not posted yet joins alone; a closed one neither joins nor takes others.
    assert_eq!(s.merge_post(c.id, b.id).await.unwrap(), Merged::Joined(1));
    let d = s.add_question(question(5, "d")).await.unwrap();
    s.set_expert_message(d.id, GROUP_CHAT, 30).await.unwrap();
    assert!(s.set_status(d.id, QuestionStatus::Dismissed).await.unwrap());
    assert_eq!(s.merge_post(d.id, b.id).await.unwrap(), Merged::Closed);
    assert_eq!(
        s.merge_post(b.id, d.id).await.unwrap(),
        Merged::TargetClosed
    );
    assert_eq!(s.posted_as(GROUP_CHAT, 20).await.unwrap().len(), 4);
}

async fn an_expert_answer_is_rated_once_by_its_asker(s: S) {
    let q = s.add_question(question(1, "q")).await.unwrap();
    assert!(
        !s.rate_answer(q.id, 1, true).await.unwrap(),
        "not answered yet"
    );
    assert!(s.mark_answered(q.id, "a", "Aigul").await.unwrap());
    assert!(!s.rate_answer(q.id, 2, false).await.unwrap(), "not theirs");
    assert!(s.rate_answer(q.id, 1, false).await.unwrap());
    assert!(!s.rate_answer(q.id, 1, true).await.unwrap(), "once");
    assert_eq!(s.question(q.id).await.unwrap().unwrap().rating, Some(false));
    assert!(!s.rate_answer(-1, 1, true).await.unwrap());
}

async fn overdue_questions_are_taken_once(s: S) {
    let old = s.add_question(question(1, "old")).await.unwrap();
    let alarm = s.add_question(urgent(2, "alarm")).await.unwrap();
    let answered = s.add_question(question(3, "answered")).await.unwrap();
    assert!(s.mark_answered(answered.id, "a", "Aigul").await.unwrap());
    let now = Utc::now() + Days::hours(2);
    // Two hours on: only the urgent one is overdue (after one hour); a day on, the other too.
    let normal = now - Days::hours(24);
    let urgent_by = now - Days::hours(1);
    assert_eq!(
        ids(&s.overdue(normal, urgent_by, 10).await.unwrap()),
        [alarm.id]
    );
    let (x, y) = tokio::join!(
        s.take_overdue(now, normal, urgent_by, 10),
        s.take_overdue(now, normal, urgent_by, 10)
    );
    let mut taken = ids(&x.unwrap());
    taken.extend(ids(&y.unwrap()));
    assert_eq!(taken, [alarm.id], "taken once by one of the two");
    let day = now + Days::hours(24);
    let (normal, urgent_by) = (day - Days::hours(24), day - Days::hours(1));
    assert_eq!(
        ids(&s.take_overdue(day, normal, urgent_by, 10).await.unwrap()),
        [old.id]
    );
    assert_eq!(
        s.take_overdue(day, normal, urgent_by, 10).await.unwrap(),
        []
    );
    // Still listed by the read-only query, urgent first.
    assert_eq!(
        ids(&s.overdue(normal, urgent_by, 10).await.unwrap()),
        [alarm.id, old.id]
    );
    assert_eq!(s.overdue(normal, urgent_by, 1).await.unwrap().len(), 1);
}

async fn a_job_is_done_once(s: S) {
    let (a, b) = tokio::join!(
        s.once("digest:2026-W49", "one"),
        s.once("digest:2026-W49", "two")
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one does it");
    assert!(!s.once("digest:2026-W49", "one").await.unwrap());
    assert!(s.once("digest:2026-W50", "one").await.unwrap());
}

async fn the_radar_reads_counters_and_facts_of_a_range(s: S) {
    let today = Utc::now().date_naive();
    let count = |day, topic: &str, lang, outcome: &str| Count {
        day,
        entry: String::new(),
        topic: topic.into(),
        lang,
        country: Some(Country::Ru),
        outcome: outcome.into(),
    };
    let week_ago = today - Days::days(7);
    s.add_counts(&[
        (count(today, "stay", Lang::Ru, "answered"), 3),
        (count(today, "work", Lang::Ky, "unmet"), 2),
        (count(week_ago, "stay", Lang::Ru, "answered"), 5),
    ])
    .await
    .unwrap();
    let rows = s
        .counts_between(today - Days::days(1), today)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.contains(&(count(today, "work", Lang::Ky, "unmet"), 2)));
    assert_eq!(s.counts_between(week_ago, week_ago).await.unwrap().len(), 1);
    assert_eq!(
        s.counts_between(today, week_ago).await.unwrap(),
        [],
        "reversed"
    );

    let q = s.add_question(question(1, "q")).await.unwrap();
    assert!(s.mark_answered(q.id, "a", "Aigul").await.unwrap());
    assert!(s.rate_answer(q.id, 1, true).await.unwrap());
    let start = Utc::now() - Days::hours(1);
    let facts = s
        .question_facts(start, Utc::now() + Days::hours(1))
        .await
        .unwrap();
    assert_eq!(facts.len(), 1);
    let f = &facts[0];
    assert_eq!((f.lang, f.country), (Lang::Ru, Some(Country::Ru)));
    assert_eq!(f.status, QuestionStatus::Answered);
    assert_eq!(f.nearest.as_deref(), Some("patent.price"));
    assert_eq!(f.rating, Some(true));
    assert!(f.answered_at.is_some());
    assert_eq!(
        s.question_facts(start - Days::hours(5), start)
            .await
            .unwrap(),
        []
    );
}
