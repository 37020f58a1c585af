//! The experts' workbench through the Telegram adapter (MockBot): "✋ I'll answer", templates
//! in the person's language, notes that never reach the person, "same as No. N", the
//! person's rating, `/overdue`, `/report` and `/template`, and their bad input.

use crate::desk::{
    EXPERTS, Mock, UNMET, USER, button_data, deps, expert, from_user, in_expert_chat, posts,
    press_as_expert, to_chat, tree,
};
use jardam::lang::Lang;
use jardam::storage::QuestionStatus;
use jardam::telegram::Deps;
use teloxide::prelude::*;
use teloxide::types::{Message, User};
use teloxide_tests::{MockBot, MockCallbackQuery, MockUser};

fn second_expert() -> User {
    MockUser::new()
        .id(4343)
        .first_name("Bakyt")
        .is_bot(false)
        .build()
}

/// The person `chat` asks `text`; returns the bot and the post in the expert chat.
async fn ask(d: &Deps, chat: i64, text: &str) -> (Mock, Message) {
    let mut bot = MockBot::new(from_user(chat, text), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let post = posts(&bot.get_responses()).pop().expect("a post");
    (bot, post)
}

fn notices(bot: &Mock) -> Vec<String> {
    bot.get_responses()
        .answered_callback_queries
        .iter()
        .filter_map(|a| a.text.clone())
        .collect()
}

fn edited(bot: &Mock) -> Vec<String> {
    bot.get_responses()
        .edited_messages_text
        .iter()
        .map(|e| e.bot_request.text.clone())
        .collect()
}

#[tokio::test]
async fn i_will_answer_shows_who_took_it_tells_the_next_expert_and_any_reply_still_goes_out() {
    let (d, _dir) = deps().await;
    let (mut bot, post) = ask(&d, USER, UNMET).await;
    button_data(&post, "I'll answer");
    press_as_expert(&mut bot, post.clone(), "I'll answer").await;
    assert!(notices(&bot)[0].contains("is yours"), "{:?}", notices(&bot));
    let shown = edited(&bot).pop().expect("the post shows who took it");
    assert!(shown.contains("✋ Aida"), "{shown}");

    let data = button_data(&post, "I'll answer");
    bot.update(
        MockCallbackQuery::new()
            .data(data)
            .message(post.clone())
            .from(second_expert()),
    );
    bot.dispatch().await;
    let told = notices(&bot).pop().unwrap();
    assert!(told.starts_with("Aida"), "{told}");
    assert!(edited(&bot).is_empty(), "the post stays as it is");

    // Bakyt replies anyway: nothing is blocked, and the post shows who answered.
    bot.update(
        in_expert_chat("Билеты дешевле заранее.")
            .from(second_expert())
            .reply_to_message(post.clone()),
    );
    bot.dispatch().await;
    let r = bot.get_responses();
    assert!(to_chat(&r, USER).pop().unwrap().contains("Билеты дешевле"));
    let closed = edited(&bot).pop().expect("the post is written again");
    assert!(closed.contains("Answered by Bakyt"), "{closed}");
    assert!(!closed.contains('✋'), "{closed}");
}

#[tokio::test]
async fn a_template_reaches_each_person_in_their_own_language() {
    let (d, _dir) = deps().await;
    let people = [
        (21, Lang::Ky),
        (22, Lang::Ru),
        (23, Lang::Uz),
        (24, Lang::En),
    ];
    for (chat, lang) in people {
        d.conversation
            .store()
            .save_profile(chat, Some(lang), None)
            .await
            .unwrap();
    }
    let (mut bot, post) = ask(&d, 21, UNMET).await;
    for (chat, _) in &people[1..] {
        bot.update(from_user(*chat, UNMET));
        bot.dispatch().await;
    }
    // One post for all four, naming their languages.
    let store = d.conversation.store();
    assert_eq!(store.posted_as(EXPERTS, post.id.0).await.unwrap().len(), 4);
    let group = store.posted_as(EXPERTS, post.id.0).await.unwrap();
    let shown = d.conversation.post_for(&group, Lang::En).await.text;
    assert!(
        shown.contains("🌐 Кыргызча, Русский, Oʻzbekcha, English"),
        "{shown}"
    );
    press_as_expert(&mut bot, post.clone(), "Template").await;
    let list = bot.get_responses().sent_messages.pop().unwrap();
    assert!(list.text().unwrap().contains("Which template"), "{list:?}");
    press_as_expert(&mut bot, list, "need-details").await;
    let r = bot.get_responses();
    let expect = [
        (21, "Адистин жообу", "Так жооп берүү үчүн"),
        (22, "Ответ эксперта", "Чтобы ответить точно"),
        (23, "Mutaxassis javobi", "Aniq javob berish uchun"),
        (24, "Answer from an expert", "To answer exactly"),
    ];
    for (chat, header, start) in expect {
        let got = to_chat(&r, chat).pop().unwrap_or_default();
        assert!(got.contains(start), "{chat}: {got}");
        assert!(got.contains(header), "{chat}: {got}");
        let sent = r
            .sent_messages
            .iter()
            .rev()
            .find(|m| m.chat.id.0 == chat)
            .unwrap();
        button_data(sent, "👍");
    }
    for q in store.posted_as(EXPERTS, post.id.0).await.unwrap() {
        assert_eq!(q.status, QuestionStatus::Answered);
        assert_eq!(q.answer.as_deref(), Some("template: need-details"));
    }
    let closed = edited(&bot)
        .pop()
        .expect("the post itself is written again");
    assert!(closed.contains("Answered by Aida"), "{closed}");
    // Pressed again: nobody gets it twice.
    press_as_expert(&mut bot, post, "Template").await;
    let list = bot.get_responses().sent_messages.pop().unwrap();
    press_as_expert(&mut bot, list, "need-details").await;
    let r = bot.get_responses();
    assert!(
        r.sent_messages.iter().all(|m| m.chat.id.0 == EXPERTS),
        "none to people"
    );
    assert!(notices(&bot).iter().any(|n| n.contains("already answered")));
}

#[tokio::test]
async fn a_note_shows_on_the_post_and_never_reaches_the_person() {
    let (d, _dir) = deps().await;
    let (mut bot, post) = ask(&d, USER, UNMET).await;
    bot.update(in_expert_chat("/note звонила в посольство <ждём>").reply_to_message(post.clone()));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert!(to_chat(&r, USER).is_empty(), "nothing to the person");
    assert!(
        to_chat(&r, EXPERTS)
            .pop()
            .unwrap()
            .contains("does not see it")
    );
    let shown = edited(&bot).pop().expect("the post shows the note");
    assert!(
        shown.contains("звонила в посольство &lt;ждём&gt;"),
        "{shown}"
    );
    let q = d.conversation.store().question(1).await.unwrap().unwrap();
    assert_eq!(q.status, QuestionStatus::Open, "a note answers nothing");

    // Without a post to answer, and empty.
    bot.update(in_expert_chat("/note lost"));
    bot.dispatch().await;
    let said = to_chat(&bot.get_responses(), EXPERTS).pop().unwrap();
    assert!(said.starts_with("Send this as a reply"), "{said}");
    bot.update(in_expert_chat("/note").reply_to_message(post));
    bot.dispatch().await;
    let said = to_chat(&bot.get_responses(), EXPERTS).pop().unwrap();
    assert!(said.starts_with("Write the note"), "{said}");
}

#[tokio::test]
async fn same_as_joins_two_posts_so_one_reply_answers_both_people() {
    let (d, _dir) = deps().await;
    let (mut bot, first) = ask(&d, USER, UNMET).await;
    // The same gap as the first, but a number keeps it apart: a post of its own.
    bot.update(from_user(
        2,
        "сколько стоит авиабилет из Оша в Москву на 2 человек",
    ));
    bot.dispatch().await;
    let second = posts(&bot.get_responses())
        .pop()
        .expect("a post of its own");
    assert_ne!(first.id, second.id);
    bot.update(in_expert_chat("/same 1").reply_to_message(second.clone()));
    bot.dispatch().await;
    let said = to_chat(&bot.get_responses(), EXPERTS).pop().unwrap();
    assert!(said.contains("joined No. 1"), "{said}");
    let emptied = edited(&bot);
    assert!(
        emptied
            .iter()
            .any(|t| t.contains("Joined to question No. 1")),
        "{emptied:?}"
    );
    bot.update(in_expert_chat("/same 2").reply_to_message(second));
    bot.dispatch().await;
    let said = to_chat(&bot.get_responses(), EXPERTS).pop().unwrap();
    assert!(
        said.starts_with("Send this as a reply"),
        "the post is empty now: {said}"
    );

    bot.update(in_expert_chat("Дешевле всего — заранее.").reply_to_message(first.clone()));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert!(to_chat(&r, USER).pop().unwrap().contains("Дешевле"));
    assert!(to_chat(&r, 2).pop().unwrap().contains("Дешевле"));
    bot.update(in_expert_chat("/same 1").reply_to_message(first));
    bot.dispatch().await;
    let said = to_chat(&bot.get_responses(), EXPERTS).pop().unwrap();
    assert!(said.contains("That is the same post"), "{said}");
}

#[tokio::test]
async fn the_person_rates_the_answer_once_and_the_post_shows_it() {
    let (d, _dir) = deps().await;
    let (mut bot, post) = ask(&d, USER, UNMET).await;
    bot.update(in_expert_chat("Ответ.").reply_to_message(post));
    bot.dispatch().await;
    let answer = bot
        .get_responses()
        .sent_messages
        .into_iter()
        .find(|m| m.chat.id.0 == USER)
        .unwrap();
    let up = button_data(&answer, "👍");
    for _ in 0..2 {
        bot.update(
            MockCallbackQuery::new()
                .data(up.clone())
                .message(answer.clone())
                .from(MockUser::new().id(USER as u64).build()),
        );
        bot.dispatch().await;
    }
    let q = d.conversation.store().question(1).await.unwrap().unwrap();
    assert_eq!(q.rating, Some(true));
    let r = bot.get_responses();
    let last = to_chat(&r, USER).pop().unwrap();
    assert!(last.contains("уже"), "the second press: {last}");
    let stats = jardam::experts::stats(
        d.conversation.store().as_ref(),
        chrono::Utc::now().date_naive(),
    )
    .await
    .unwrap();
    assert!(stats.contains("rated by the people 👍 1 / 👎 0"), "{stats}");
}

#[tokio::test]
async fn report_overdue_and_template_commands_answer_clearly() {
    let (d, _dir) = deps().await;
    let (mut bot, _) = ask(&d, USER, UNMET).await;
    let long = format!("/template {}", "y".repeat(100));
    let cut = format!("There is no template '{}'.", "y".repeat(32));
    for (cmd, expect) in [
        ("/report 2026-12-07 2026-12-01", "reversed"),
        ("/report 2026-13-01", "Use /report"),
        ("/report 2020-01-01 2020-01-07", "No questions"),
        ("/report 2020-01-01 2026-01-07", "at most"),
        (
            "/overdue",
            "open past the promised time (24 h, urgent 1 h): 0",
        ),
        ("/template", "need-details"),
        ("/template embassy", "/contacts"),
        (
            "/template <b>x</b>",
            "There is no template '&lt;b&gt;x&lt;/b&gt;'.",
        ),
        (long.as_str(), cut.as_str()),
    ] {
        bot.update(in_expert_chat(cmd));
        bot.dispatch().await;
        let said = to_chat(&bot.get_responses(), EXPERTS)
            .pop()
            .unwrap_or_default();
        assert!(said.contains(expect), "{cmd}: {said}");
    }
    bot.update(in_expert_chat("/report"));
    bot.dispatch().await;
    let photos = bot.get_responses().sent_messages_photo;
    assert_eq!(photos.len(), 1, "the week's radar");
    // Outside the expert chat: the polite refusal.
    bot.update(from_user(USER, "/template"));
    bot.dispatch().await;
    let said = to_chat(&bot.get_responses(), USER).pop().unwrap();
    let k = d.conversation.knowledge();
    assert!(said.contains(k.kb.t("expert_only", Lang::Ru)), "{said}");
    let _ = expert();
}

/// A week of questions: counters per day, topic, language and country, and expert questions
/// answered, rated and open.
async fn seed_week(store: &dyn jardam::storage::Storage, until: chrono::NaiveDate) {
    use jardam::lang::Country;
    use jardam::storage::{Count, NewQuestion};
    let topics = [("stay", 9), ("work", 6), ("money", 3), ("health", 2)];
    let mut counts = Vec::new();
    for back in 0..7u64 {
        let day = until - chrono::Days::new(back);
        for (i, (topic, n)) in topics.iter().enumerate() {
            for (lang, country) in [(Lang::Ru, Some(Country::Ru)), (Lang::Ky, Some(Country::Kz))] {
                let count = Count {
                    day,
                    entry: String::new(),
                    topic: topic.to_string(),
                    lang,
                    country,
                    outcome: "answered".into(),
                };
                counts.push((count, i64::from(*n) + back as i64 % 3 - i as i64 % 2));
            }
        }
        let unmet = Count {
            day,
            entry: String::new(),
            topic: String::new(),
            lang: Lang::Uz,
            country: None,
            outcome: "unmet".into(),
        };
        counts.push((unmet, 4 + back as i64));
    }
    store.add_counts(&counts).await.unwrap();
    for i in 0..30 {
        let mut q = NewQuestion::text(1000 + i, "вопрос", Lang::Ru);
        q.candidates = vec![(
            if i % 3 == 0 {
                "stay.registration"
            } else {
                "work.contract"
            }
            .into(),
            0.3,
        )];
        let q = store.add_question(q).await.unwrap();
        if i % 4 != 0 {
            store.mark_answered(q.id, "ответ", "Aida").await.unwrap();
            store.rate_answer(q.id, 1000 + i, i % 5 != 0).await.unwrap();
        }
    }
}

#[tokio::test]
async fn the_radar_of_a_seeded_week_is_a_png_that_decodes_from_the_core_and_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("radar.db");
    let url = format!("sqlite:{}?mode=rwc", db.display());
    let store = jardam::storage::connect(&url).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    seed_week(store.as_ref(), today).await;
    let (kb, _) = jardam::kb::load("dialogues".as_ref(), &Default::default()).unwrap();
    let since = today - chrono::Days::new(6);
    let radar = jardam::radar::build(store.as_ref(), &kb, Lang::Ru, since, today)
        .await
        .unwrap();
    assert_eq!(radar.per_day.len(), 7);
    assert_eq!((radar.by_experts, radar.open), (22, 8));
    assert_eq!(radar.rated_up + radar.rated_down, 22);
    assert!(
        radar.top_unmet[0].0.starts_with("≈ "),
        "{:?}",
        radar.top_unmet
    );
    let labels = jardam::radar::Labels::of(&kb, Lang::Ru);
    let png = jardam::radar::render::png(&radar, &labels).unwrap();
    assert!(
        (20_000..2_000_000).contains(&png.len()),
        "{} bytes",
        png.len()
    );
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!(img.width(), 1080);
    store.close().await;

    // The same from the command line, and its refusals.
    let out = dir.path().join("week.png");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_jardam"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("JARDAM_EXPERT_LANG", "en")
            .output()
            .unwrap()
    };
    let ok = run(&["report", "-o", out.to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let img = image::load_from_memory(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(img.width(), 1080);
    // To look at it: RADAR_SAMPLE_TO=/tmp/radar.png cargo test --test it the_radar_of_a_seeded
    if let Some(to) = std::env::var_os("RADAR_SAMPLE_TO") {
        std::fs::copy(&out, to).unwrap();
    }
    for (args, says) in [
        (
            vec!["report", "-o", "x.txt"],
            "must end in .png, .svg or .html",
        ),
        (
            vec![
                "report",
                "--since",
                "2026-12-07",
                "--until",
                "2026-12-01",
                "-o",
                "x.png",
            ],
            "reversed",
        ),
        (
            vec![
                "report",
                "--since",
                "2020-01-01",
                "--until",
                "2020-01-07",
                "-o",
                "x.png",
            ],
            "no questions",
        ),
    ] {
        let r = run(&args);
        assert!(!r.status.success());
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let html = dir.path().join("week.html");
    assert!(
        run(&["report", "-o", html.to_str().unwrap()])
            .status
            .success()
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<svg") && !page.contains("вопрос"),
        "no texts of questions"
    );
}

#[tokio::test]
async fn questions_on_one_known_gap_are_one_post_in_any_language() {
    let (d, _dir) = deps().await;
    d.conversation
        .store()
        .save_profile(31, Some(Lang::En), None)
        .await
        .unwrap();
    let k = d.conversation.knowledge();
    let ru = "можно ли в России поменять кыргызские водительские права на российские";
    let en = "can I swap my Kyrgyz driving licence for a Russian one";
    for q in [ru, en] {
        let r = k.matcher.ask(q, None, None);
        assert_eq!(r.gap.as_deref(), Some("gap:driving-licence"), "{q}: {r:?}");
    }
    let (mut bot, post) = ask(&d, USER, ru).await;
    bot.update(from_user(31, en));
    bot.dispatch().await;
    assert!(posts(&bot.get_responses()).is_empty(), "no second post");
    let group = d
        .conversation
        .store()
        .posted_as(EXPERTS, post.id.0)
        .await
        .unwrap();
    assert_eq!(group.len(), 2);
    let shown = d.conversation.post_for(&group, Lang::En).await.text;
    assert!(shown.contains("🌐 Русский, English"), "{shown}");
}
