//! The conversation's own tests: each screen and path, on SQLite in memory.
use super::*;
use crate::kb::{self, CheckOptions};
use crate::lang::Variant;

async fn conversation() -> Conversation {
    let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
    let store = crate::storage::connect("sqlite::memory:").await.unwrap();
    Conversation::new(Knowledge::new(kb, &[]), store)
}

fn press(reply: &Reply, label_part: &str) -> Event {
    for b in reply.buttons.iter().flatten() {
        if b.label.contains(label_part) {
            if let Action::Callback(d) = &b.action {
                return Event::Button(d.clone());
            }
        }
    }
    panic!("no button {label_part:?} in {:?}", reply.buttons);
}

fn text(t: &str) -> Event {
    Event::Text {
        text: t.to_string(),
        language_code: None,
    }
}

#[tokio::test]
async fn faq_answered_texts_are_kept_only_when_configured() {
    let question = "how do I register my address in Moscow";
    let c = conversation().await;
    c.handle(1, text(question)).await;
    assert_eq!(
        c.store.faq_texts().await.unwrap(),
        [],
        "not kept by default"
    );

    let c = conversation().await.keeping_faq_texts(true);
    c.handle(1, text(question)).await;
    assert_eq!(
        c.store.faq_texts().await.unwrap(),
        [("stay.registration".to_string(), question.to_string())]
    );
}

#[tokio::test]
async fn onboarding_language_country_welcome_menu() {
    let c = conversation().await;
    let out = c
        .handle(
            7,
            Event::Start {
                entry: None,
                language_code: Some("ky".into()),
            },
        )
        .await;
    let picker = &out.replies[0];
    // Telegram's language pre-selects Kyrgyz: its button comes first.
    assert_eq!(picker.buttons[0][0].label, "Кыргызча");
    let out = c.handle(7, press(picker, "Кыргызча")).await;
    assert!(
        out.replies[0]
            .text
            .contains(c.knowledge().kb.t("choose_country", Lang::Ky))
    );
    let out = c.handle(7, press(&out.replies[0], "Россия")).await;
    let menu = &out.replies[0];
    let kb = &c.knowledge().kb;
    assert!(menu.text.contains(kb.t("welcome", Lang::Ky)));
    assert!(menu.text.contains(kb.t("disclaimer", Lang::Ky)));
    assert_eq!(menu.buttons.len(), kb.topics.len());
    let p = c.store.get_profile(7).await.unwrap().unwrap();
    assert_eq!((p.lang, p.country), (Some(Lang::Ky), Some(Country::Ru)));
}

#[tokio::test]
async fn menu_navigation_edits_in_place_and_shows_the_answer() {
    let c = conversation().await;
    c.store
        .save_profile(1, Some(Lang::En), Some(Country::Kz))
        .await
        .unwrap();
    let menu = c.handle(1, Event::Menu).await.replies.remove(0);
    let topic = c.handle(1, press(&menu, "Work")).await.replies.remove(0);
    assert!(topic.edit);
    let kb = &c.knowledge().kb;
    let permit = kb.entry("work.permit").unwrap();
    let answer = c
        .handle(1, press(&topic, permit.title.get(Lang::En)))
        .await
        .replies
        .remove(0);
    assert!(answer.edit);
    // The profile's country picks the Kazakhstan variant.
    assert!(
        answer
            .text
            .contains(permit.answer(Variant::Kz, Lang::En).trim()),
        "{}",
        answer.text
    );
    for label in [
        "👍",
        "👎",
        kb.t("btn_share", Lang::En),
        kb.t("btn_menu", Lang::En),
    ] {
        assert!(
            answer.buttons.iter().flatten().any(|b| b.label == label),
            "{label}"
        );
    }
}

#[tokio::test]
async fn free_text_in_another_language_is_answered_in_the_users_language() {
    let c = conversation().await;
    c.store.save_profile(2, Some(Lang::En), None).await.unwrap();
    let out = c.handle(2, text("Москвада каттоодон кантип өтөм?")).await;
    let reply = &out.replies[0];
    let kb = &c.knowledge().kb;
    let e = kb.entry("stay.registration").unwrap();
    // The city names the country, so the Russian variant is chosen without asking.
    assert!(
        reply.text.contains(e.answer(Variant::Ru, Lang::En).trim()),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("Кыргызча"),
        "language note: {}",
        reply.text
    );
}

#[tokio::test]
async fn variant_entry_without_country_asks_once() {
    let c = conversation().await;
    c.store.save_profile(3, Some(Lang::Ru), None).await.unwrap();
    let kb = c.knowledge();
    let i = kb.kb.entry_index("stay.term").unwrap();
    let out = c
        .handle(3, Event::Button(format!("{:x}:E:{i}", kb.kb.version)))
        .await;
    let ask = &out.replies[0];
    assert_eq!(ask.text, kb.kb.t("choose_variant", Lang::Ru));
    let out = c.handle(3, press(ask, "Казахстан")).await;
    let e = kb.kb.entry("stay.term").unwrap();
    assert!(
        out.replies[0]
            .text
            .contains(e.answer(Variant::Kz, Lang::Ru).trim())
    );
    // Asked once: the country is now in the profile.
    let p = c.store.get_profile(3).await.unwrap().unwrap();
    assert_eq!(p.country, Some(Country::Kz));
}

#[tokio::test]
async fn unmet_question_is_stored_before_the_user_is_told() {
    let c = conversation().await;
    c.store.save_profile(4, Some(Lang::Ru), None).await.unwrap();
    let q = "Где в Бишкеке купить дешёвый билет на самолёт до Стамбула <b>&</b>?";
    let out = c.handle(4, text(q)).await;
    assert_eq!(out.new_questions.len(), 1);
    let stored = c
        .store
        .question(out.new_questions[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.text, q);
    assert!(
        out.replies[0].text.contains(&format!("№ {}", stored.id))
            || out.replies[0].text.contains(&stored.id.to_string())
    );
}

#[tokio::test]
async fn clarify_then_none_of_these_sends_the_question_to_experts() {
    let c = conversation().await;
    c.store.save_profile(5, Some(Lang::Ru), None).await.unwrap();
    let kb = c.knowledge();
    // Find a question the matcher is unsure about, from the shipped phrasings mixed.
    let q = "паспорт";
    let r = kb.matcher.ask(q, Some(Lang::Ru), None);
    if r.status != Status::Clarify {
        return assert!(matches!(r.status, Status::Answered | Status::Unmet));
    }
    let out = c.handle(5, text(q)).await;
    let reply = &out.replies[0];
    assert_eq!(reply.text, kb.kb.t("clarify", Lang::Ru));
    let out = c
        .handle(5, press(reply, kb.kb.t("btn_none", Lang::Ru)))
        .await;
    assert_eq!(out.new_questions.len(), 1);
    assert_eq!(
        c.store
            .question(out.new_questions[0])
            .await
            .unwrap()
            .unwrap()
            .text,
        q
    );
}

#[tokio::test]
async fn stale_or_forged_buttons_get_a_fresh_menu() {
    let c = conversation().await;
    c.store.save_profile(6, Some(Lang::Uz), None).await.unwrap();
    let kb = c.knowledge();
    for forged in [
        "0:E:1",
        "nonsense",
        &format!("{:x}:E:99999", kb.kb.version),
        &format!("{:x}:Z", kb.kb.version),
        "",
    ] {
        let out = c.handle(6, Event::Button(forged.to_string())).await;
        assert!(
            out.replies[0]
                .text
                .starts_with(kb.kb.t("out_of_date", Lang::Uz)),
            "{forged}"
        );
        assert_eq!(out.replies[0].buttons.len(), kb.kb.topics.len());
    }
}

#[tokio::test]
async fn deep_link_opens_the_answer() {
    let c = conversation().await;
    let out = c
        .handle(
            8,
            Event::Start {
                entry: Some("birth.registration".into()),
                language_code: Some("uz".into()),
            },
        )
        .await;
    let kb = &c.knowledge().kb;
    let e = kb.entry("birth.registration").unwrap();
    // A variant entry and no country yet: it asks, in the Telegram language.
    assert_eq!(out.replies[0].text, kb.t("choose_variant", Lang::Uz));
    let _ = e;
}

#[tokio::test]
async fn thumbs_down_offers_an_expert_and_forget_deletes_everything() {
    let c = conversation().await;
    c.store
        .save_profile(9, Some(Lang::En), Some(Country::Ru))
        .await
        .unwrap();
    let kb = c.knowledge();
    let answer = c
        .handle(9, text("how do I register my address in Moscow"))
        .await
        .replies
        .remove(0);
    let out = c.handle(9, press(&answer, "👎")).await;
    assert_eq!(out.replies[0].text, kb.kb.t("feedback_missing", Lang::En));
    let out = c
        .handle(9, text("My landlord refuses to register me, what then?"))
        .await;
    assert_eq!(
        out.new_questions.len(),
        1,
        "the next message goes to experts"
    );
    let confirm = c.handle(9, Event::Forget).await.replies.remove(0);
    let out = c
        .handle(9, press(&confirm, kb.kb.t("btn_yes_delete", Lang::En)))
        .await;
    assert_eq!(out.replies[0].text, kb.kb.t("forget_done", Lang::En));
    assert!(c.store.get_profile(9).await.unwrap().is_none());
    assert!(
        c.store
            .question(out.new_questions.first().copied().unwrap_or(1))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn first_contact_uses_telegrams_language_when_the_text_does_not_tell() {
    let c = conversation().await;
    let out = c
        .handle(
            11,
            Event::Text {
                text: "12345".into(),
                language_code: Some("uz-UZ".into()),
            },
        )
        .await;
    assert_eq!(out.new_questions.len(), 1);
    let p = c.store.get_profile(11).await.unwrap().unwrap();
    assert_eq!(p.lang, Some(Lang::Uz));
}

#[tokio::test]
async fn unsupported_messages_and_empty_text() {
    let c = conversation().await;
    c.store
        .save_profile(10, Some(Lang::Ky), None)
        .await
        .unwrap();
    let kb = c.knowledge();
    let out = c.handle(10, Event::Unsupported).await;
    assert_eq!(out.replies[0].text, kb.kb.t("non_text", Lang::Ky));
    let out = c.handle(10, text("🙂🙂 \u{200b} !!!")).await;
    assert!(out.new_questions.is_empty());
    assert_eq!(out.replies[0].text, kb.kb.t("menu", Lang::Ky));
}
