//! The conversation's own tests: each screen and path, on SQLite in memory.
use super::*;
use crate::kb::{self, CheckOptions};
use crate::lang::Variant;

pub(super) async fn conversation() -> Conversation {
    let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
    let store = crate::storage::connect("sqlite::memory:").await.unwrap();
    Conversation::new(Knowledge::new(kb, &[]), store)
}

pub(super) fn press(reply: &Reply, label_part: &str) -> Event {
    for b in reply.buttons.iter().flatten() {
        if b.label.contains(label_part) {
            if let Action::Callback(d) = &b.action {
                return Event::Button(d.clone());
            }
        }
    }
    panic!("no button {label_part:?} in {:?}", reply.buttons);
}

pub(super) fn text(t: &str) -> Event {
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

/// Opens the ban entry's answer from the menu in Russian and presses "work out my dates".
async fn ban_flow(c: &Conversation, chat: i64) -> Reply {
    c.store
        .save_profile(chat, Some(Lang::Ru), Some(Country::Ru))
        .await
        .unwrap();
    let kb = &c.knowledge().kb;
    let i = kb.entry_index("stay.ban-duration").unwrap();
    let data = Callback::Entry(i).data(kb.version);
    let answer = c.handle(chat, Event::Button(data)).await.replies.remove(0);
    c.handle(chat, press(&answer, "Рассчитать мои сроки"))
        .await
        .replies
        .remove(0)
}

async fn flow_node(c: &Conversation, chat: i64) -> Option<String> {
    c.chat(chat).await.1.flow.map(|f| f.node)
}

#[tokio::test]
async fn the_ban_flow_asks_the_cause_and_the_date_and_answers_with_the_end_of_the_ban() {
    let c = conversation().await;
    let cause = ban_flow(&c, 1).await;
    assert!(cause.text.contains("запрет"), "{}", cause.text);
    assert_eq!(flow_node(&c, 1).await.as_deref(), Some("cause"));
    let when = c
        .handle(1, press(&cause, "один раз"))
        .await
        .replies
        .remove(0);
    assert!(when.text.contains("15.03.2023"), "{}", when.text);
    assert_eq!(flow_node(&c, 1).await.as_deref(), Some("left"));
    // Not a date, and a date to come: asked again, the flow kept.
    let again = c.handle(1, text("давно уже")).await.replies.remove(0);
    let kb = &c.knowledge().kb;
    assert_eq!(again.text, kb.t("flow_bad_date", Lang::Ru));
    let again = c.handle(1, text("01.01.2099")).await.replies.remove(0);
    assert_eq!(again.text, kb.t("flow_future_date", Lang::Ru));
    assert_eq!(flow_node(&c, 1).await.as_deref(), Some("left"));
    let out = c.handle(1, text("15 марта 2023")).await.replies.remove(0);
    assert!(
        out.text.contains("<b>15.03.2028</b>")
            && out.text.contains("срок 5 г., считая с 15.03.2023"),
        "{}",
        out.text
    );
    assert_eq!(flow_node(&c, 1).await, None, "the flow ends at its outcome");
    // Start again, overstayed by more than 270 days, left in a month only.
    let cause = c
        .handle(1, press(&out, "Рассчитать мои сроки"))
        .await
        .replies
        .remove(0);
    let by = c
        .handle(1, press(&cause, "Просрочил"))
        .await
        .replies
        .remove(0);
    let when = c
        .handle(1, press(&by, "Больше 270"))
        .await
        .replies
        .remove(0);
    let out = c.handle(1, text("март 2023")).await.replies.remove(0);
    assert!(out.text.contains("<b>03.2033</b>"), "{}", when.text);
}

#[tokio::test]
async fn a_question_a_command_or_another_button_leaves_the_flow() {
    let c = conversation().await;
    let cause = ban_flow(&c, 2).await;
    c.handle(2, press(&cause, "один раз")).await;
    // A question of its own, typed where a date is asked: answered, the flow left.
    let out = c
        .handle(2, text("как встать на миграционный учёт в Москве"))
        .await;
    let kb = &c.knowledge().kb;
    let registration = kb.entry("stay.registration").unwrap();
    assert!(
        out.replies[0]
            .text
            .contains(registration.title.get(Lang::Ru).as_str()),
        "{}",
        out.replies[0].text
    );
    assert_eq!(flow_node(&c, 2).await, None);
    // /menu leaves it.
    ban_flow(&c, 2).await;
    assert!(flow_node(&c, 2).await.is_some());
    c.handle(2, Event::Menu).await;
    assert_eq!(flow_node(&c, 2).await, None);
    // So does another button; and a step's button pressed after the flow moved on is stale.
    let menu = c.handle(2, Event::Menu).await.replies.remove(0);
    let cause = ban_flow(&c, 2).await;
    assert!(flow_node(&c, 2).await.is_some());
    c.handle(2, press(&menu, "пребывание")).await;
    assert_eq!(flow_node(&c, 2).await, None);
    let late = c
        .handle(2, press(&cause, "один раз"))
        .await
        .replies
        .remove(0);
    assert!(late.text.contains(kb.t("out_of_date", Lang::Ru)));
    assert_eq!(flow_node(&c, 2).await, None);
}

#[tokio::test]
async fn a_flow_carries_on_after_a_restart_and_a_state_a_reload_broke_starts_afresh() {
    let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
    let store = crate::storage::connect("sqlite::memory:").await.unwrap();
    let first = Conversation::new(Knowledge::new(kb.clone(), &[]), store.clone());
    let cause = ban_flow(&first, 3).await;
    first.handle(3, press(&cause, "не в первый раз")).await;
    drop(first);
    // Another instance (or the same after a restart) on the same database.
    let second = Conversation::new(Knowledge::new(kb, &[]), store.clone());
    let out = second.handle(3, text("2024-06-01")).await.replies.remove(0);
    assert!(out.text.contains("<b>01.06.2034</b>"), "{}", out.text);
    // A state whose step is gone (a reload renamed it): a fresh menu, no panic.
    for stale in [
        r#"{"v":"1","flow":{"entry":"stay.ban-duration","node":"gone","values":{}}}"#,
        r#"{"v":"1","flow":{"entry":"stay.gone","node":"left","values":{}}}"#,
        r#"{"v":"1","flow":{"entry":"stay.ban-duration","node":"estimate","values":{}}}"#,
    ] {
        store.set_chat_state(3, Some(stale)).await.unwrap();
        let out = second.handle(3, text("15.03.2023")).await.replies.remove(0);
        assert!(
            out.text
                .contains(second.knowledge().kb.t("out_of_date", Lang::Ru)),
            "{stale}: {}",
            out.text
        );
        assert_eq!(flow_node(&second, 3).await, None, "{stale}");
    }
    // A step that lost a field it needs (the date step reached without the years): the
    // outcome cannot be computed, and the person gets a fresh menu rather than a wrong date.
    store
        .set_chat_state(
            3,
            Some(r#"{"v":"1","flow":{"entry":"stay.ban-duration","node":"left","values":{}}}"#),
        )
        .await
        .unwrap();
    let out = second.handle(3, text("15.03.2023")).await.replies.remove(0);
    assert!(
        out.text
            .contains(second.knowledge().kb.t("out_of_date", Lang::Ru))
    );
}

/// Opens entry `id`'s answer in Russian and starts its guided answer.
pub(super) async fn start_flow(c: &Conversation, chat: i64, id: &str) -> Reply {
    c.store
        .save_profile(chat, Some(Lang::Ru), Some(Country::Ru))
        .await
        .unwrap();
    let kb = &c.knowledge().kb;
    let data = Callback::Entry(kb.entry_index(id).unwrap()).data(kb.version);
    let answer = c.handle(chat, Event::Button(data)).await.replies.remove(0);
    c.handle(chat, press(&answer, "Рассчитать мои сроки"))
        .await
        .replies
        .remove(0)
}

#[tokio::test]
async fn deadlines_need_the_day_and_a_number_step_takes_only_numbers_in_range() {
    let c = conversation().await;
    let kb = &c.knowledge().kb;
    let country = start_flow(&c, 4, "stay.registration").await;
    c.handle(4, press(&country, "Россия")).await;
    let again = c.handle(4, text("март 2026")).await.replies.remove(0);
    assert_eq!(again.text, kb.t("flow_need_day", Lang::Ru));
    let out = c.handle(4, text("01.03.2026")).await.replies.remove(0);
    assert!(out.text.contains("до <b>30.03.2026</b>"), "{}", out.text);

    let term = start_flow(&c, 5, "stay.term").await;
    let earlier = c
        .handle(5, press(&term, "без договора"))
        .await
        .replies
        .remove(0);
    c.handle(5, press(&earlier, "меньше 90")).await;
    for bad in ["сорок", "0", "90", "-5", "4.5"] {
        let again = c.handle(5, text(bad)).await.replies.remove(0);
        assert!(again.text.contains("от 1 до 89"), "{bad}: {}", again.text);
    }
    c.handle(5, text("40")).await;
    let out = c.handle(5, text("01.03.2026")).await.replies.remove(0);
    // 1 March to 19 April is 50 days; with the 40 spent before, 90.
    assert!(out.text.contains("<b>19.04.2026</b>"), "{}", out.text);
}

#[tokio::test]
async fn a_date_can_be_picked_with_buttons() {
    let c = conversation().await;
    let kb = &c.knowledge().kb;
    for lang in Lang::ALL {
        assert_eq!(kb.t("month_names", lang).split(',').count(), 12, "{lang}");
    }
    let cause = ban_flow(&c, 6).await;
    let when = c
        .handle(6, press(&cause, "один раз"))
        .await
        .replies
        .remove(0);
    let year = (chrono::Utc::now().date_naive() - chrono::Days::new(3 * 366))
        .format("%Y")
        .to_string();
    let months = c.handle(6, press(&when, &year)).await.replies.remove(0);
    assert_eq!(months.text, kb.t("flow_pick_month", Lang::Ru));
    assert_eq!(
        months.buttons.iter().flatten().count(),
        12 + 1,
        "a past year: 12 months and the menu"
    );
    let out = c
        .handle(6, press(&months, &format!("Март {year}")))
        .await
        .replies
        .remove(0);
    let end = year.parse::<i32>().unwrap() + 5;
    assert!(
        out.text.contains(&format!("<b>03.{end}</b>")),
        "{}",
        out.text
    );
    // "A week ago" is a day.
    let cause = c
        .handle(6, press(&out, "Рассчитать мои сроки"))
        .await
        .replies
        .remove(0);
    let when = c
        .handle(6, press(&cause, "один раз"))
        .await
        .replies
        .remove(0);
    let out = c
        .handle(6, press(&when, "Неделю назад"))
        .await
        .replies
        .remove(0);
    let left = chrono::Utc::now().date_naive() - chrono::Days::new(7);
    assert!(
        out.text.contains(&left.format("%d.%m.%Y").to_string()),
        "{}",
        out.text
    );
    // A deadline needs the day: no year buttons there.
    let country = start_flow(&c, 7, "stay.registration").await;
    let arrived = c
        .handle(7, press(&country, "Россия"))
        .await
        .replies
        .remove(0);
    assert!(!arrived.buttons.iter().flatten().any(|b| b.label == year));
    assert!(
        arrived
            .buttons
            .iter()
            .flatten()
            .any(|b| b.label == "Сегодня")
    );
}

#[tokio::test]
async fn a_question_with_the_persons_own_date_leads_into_the_flow() {
    let c = conversation().await;
    c.store
        .save_profile(8, Some(Lang::Ru), Some(Country::Ru))
        .await
        .unwrap();
    let out = c
        .handle(
            8,
            text("меня депортировали в 2023 году, через сколько лет можно снова въехать?"),
        )
        .await;
    let kb = &c.knowledge().kb;
    let ban = kb.entry("stay.ban-duration").unwrap();
    assert!(
        out.replies[0]
            .text
            .contains(ban.title.get(Lang::Ru).as_str())
    );
    assert_eq!(
        out.replies.len(),
        2,
        "the answer, then the flow's first step"
    );
    assert_eq!(flow_node(&c, 8).await.as_deref(), Some("cause"));
    // Without a date or number of their own, the answer offers the flow but does not start it.
    let out = c
        .handle(
            8,
            text("на сколько лет дают запрет на въезд после депортации"),
        )
        .await;
    assert_eq!(out.replies.len(), 1);
    press(&out.replies[0], "Рассчитать мои сроки");
    assert_eq!(flow_node(&c, 8).await, None);
}

#[tokio::test]
async fn a_step_button_pressed_twice_asks_the_current_step_again() {
    let c = conversation().await;
    let cause = ban_flow(&c, 9).await;
    let when = c
        .handle(9, press(&cause, "один раз"))
        .await
        .replies
        .remove(0);
    let again = c
        .handle(9, press(&cause, "Просрочил"))
        .await
        .replies
        .remove(0);
    assert_eq!(again.text, when.text, "the date is still what is asked");
    assert_eq!(flow_node(&c, 9).await.as_deref(), Some("left"));
}
