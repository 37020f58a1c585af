//! The screens a person sees: the language and country pickers, the menu, a topic's entries,
//! an answer with its buttons. Pure: knowledge base in, [`Reply`] out.

use super::callback::Callback;
use super::reply::{Action, Button, Reply};
use crate::kb::html::escape;
use crate::kb::{Entry, KnowledgeBase};
use crate::lang::{Country, Lang, Variant};

/// The language picker, shown before the language is known: the prompt in all four
/// languages, the likely one first.
pub fn language_picker(kb: &KnowledgeBase, onboarding: bool, preselect: Option<Lang>) -> Reply {
    let mut order: Vec<Lang> = Lang::ALL.to_vec();
    if let Some(p) = preselect {
        order.retain(|&l| l != p);
        order.insert(0, p);
    }
    let text = order
        .iter()
        .map(|&l| kb.t("choose_language", l).to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let buttons = order
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .map(|&lang| {
                    let cb = Callback::Language { lang, onboarding };
                    Button::to(kb.t("language_name", lang), kb, cb)
                })
                .collect()
        })
        .collect();
    Reply {
        text,
        buttons,
        edit: false,
    }
}

/// The country picker; in onboarding (`edit`) it replaces the language picker.
pub fn country_picker(kb: &KnowledgeBase, ui: Lang, edit: bool) -> Reply {
    let b = |key: &str, country: Option<Country>| {
        let cb = Callback::Country {
            country,
            onboarding: edit,
        };
        Button::to(kb.t(key, ui), kb, cb)
    };
    Reply {
        text: kb.t("choose_country", ui).to_string(),
        buttons: vec![
            vec![
                b("country_ru", Some(Country::Ru)),
                b("country_kz", Some(Country::Kz)),
            ],
            vec![
                b("country_kg", Some(Country::Kg)),
                b("country_other", Some(Country::Other)),
            ],
            vec![b("country_skip", None)],
        ],
        edit,
    }
}

pub fn menu(kb: &KnowledgeBase, ui: Lang, edit: bool) -> Reply {
    let buttons = kb
        .topics
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let label = format!("{} {}", t.emoji, t.title.get(ui));
            vec![Button::to(label.trim(), kb, Callback::Topic(i))]
        })
        .collect();
    Reply {
        text: kb.t("menu", ui).to_string(),
        buttons,
        edit,
    }
}

/// The menu under "this button is out of date" (a button of an older knowledge base, or
/// data that is no button of ours).
pub fn stale(kb: &KnowledgeBase, ui: Lang) -> Reply {
    let mut r = menu(kb, ui, false);
    r.text = format!("{}\n\n{}", kb.t("out_of_date", ui), r.text);
    r
}

pub fn topic(kb: &KnowledgeBase, topic: &str, ui: Lang, edit: bool) -> Reply {
    let title = kb
        .topic(topic)
        .map(|t| t.title.get(ui).clone())
        .unwrap_or_default();
    let indexes = (0..kb.entries.len()).filter(|&i| kb.entries[i].topic == topic);
    let mut buttons = entry_buttons(kb, indexes, ui);
    buttons.push(vec![Button::to(kb.t("btn_back", ui), kb, Callback::Menu)]);
    Reply {
        text: kb
            .interface
            .fill("topic_pick", ui, &[("topic", &escape(&title))]),
        buttons,
        edit,
    }
}

/// The answer, or — for an entry whose answer depends on the country when the country is
/// not known — the question "which country?" first.
pub fn answer_or_ask_variant(
    kb: &KnowledgeBase,
    e: &Entry,
    ui: Lang,
    country: Option<Country>,
    variant: Option<Variant>,
    edit: bool,
) -> Reply {
    match variant.or(country.map(Country::variant)) {
        Some(v) => answer(kb, e, ui, v, edit),
        None if !e.has_variants() => answer(kb, e, ui, Variant::Any, edit),
        None => {
            let i = kb.entry_index(&e.id).unwrap_or_default();
            let b = |key: &str, c: Country| {
                Button::to(kb.t(key, ui), kb, Callback::EntryForCountry(i, c))
            };
            Reply {
                text: kb.t("choose_variant", ui).to_string(),
                buttons: vec![
                    vec![b("country_ru", Country::Ru), b("country_kz", Country::Kz)],
                    vec![
                        b("country_kg", Country::Kg),
                        b("country_other", Country::Other),
                    ],
                ],
                edit,
            }
        }
    }
}

/// An entry's answer in one variant, with 👍/👎, "talk to a person now" for urgent entries,
/// related questions, share, ask an expert and the menu.
pub fn answer(kb: &KnowledgeBase, e: &Entry, ui: Lang, variant: Variant, edit: bool) -> Reply {
    let i = kb.entry_index(&e.id).unwrap_or_default();
    let b = |key: &str, cb: Callback| Button::to(kb.t(key, ui), kb, cb);
    let feedback = |helpful| Callback::Feedback { entry: i, helpful };
    let mut buttons = vec![vec![
        b("btn_helpful", feedback(true)),
        b("btn_not_helpful", feedback(false)),
    ]];
    if e.urgent {
        buttons.push(vec![b("btn_talk_now", Callback::Urgent(i))]);
    }
    if e.flow.is_some() {
        buttons.push(vec![b("btn_flow", Callback::FlowStart(i))]);
    }
    buttons.push(vec![b("btn_follow", Callback::Follow(i))]);
    let mut row = Vec::new();
    if !e.see_also.is_empty() {
        row.push(b("btn_related", Callback::Related(i)));
    }
    row.push(Button {
        label: kb.t("btn_share", ui).to_string(),
        action: Action::SwitchInline(e.id.clone()),
    });
    buttons.push(row);
    buttons.push(vec![
        b("btn_ask_expert", Callback::AskExpert(i)),
        b("btn_menu", Callback::Menu),
    ]);
    Reply {
        text: kb.render_answer(e, e.resolve_variant(variant), ui),
        buttons,
        edit,
    }
}

/// One button per entry, each opening its answer; one entry a row (titles are long).
pub fn entry_buttons(
    kb: &KnowledgeBase,
    indexes: impl Iterator<Item = usize>,
    ui: Lang,
) -> Vec<Vec<Button>> {
    indexes
        .map(|i| {
            let title = kb.entries[i].title.get(ui).clone();
            vec![Button::to(title, kb, Callback::Entry(i))]
        })
        .collect()
}

/// A text with a menu button under it.
pub fn with_menu(kb: &KnowledgeBase, ui: Lang, text: String) -> Reply {
    Reply {
        text,
        buttons: vec![vec![Button::to(kb.t("btn_menu", ui), kb, Callback::Menu)]],
        edit: false,
    }
}
