//! A question's post in the expert chat: who asked, in which language and from where, the
//! text, the nearest FAQ entries, who holds it, the experts' notes, and how it ended.

use super::data;
use crate::bot::Button;
use crate::kb::KnowledgeBase;
use crate::kb::html::{MESSAGE_LIMIT, escape, split_for_telegram, utf16_len};
use crate::lang::Lang;
use crate::model::{Note, Question, QuestionKind, QuestionStatus};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::fmt::Write as _;

/// Questions longer than this are sent to the expert chat in full first, as plain text, and
/// the post (the message experts reply to) shows only their beginning.
const POST_TEXT_LIMIT: usize = 3000;
const PREVIEW_CHARS: usize = 300;

/// A question as posted to the expert chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Post {
    /// Long question texts, in full, as plain text: sent before the post.
    pub preface: Vec<String>,
    /// HTML: a caption when the post is a copied voice message or photo.
    pub text: String,
    pub buttons: Vec<Vec<Button>>,
}

/// What a post shows besides its questions: the time (for claims that lapse), the experts'
/// notes on its questions, and whether there are templates to offer.
#[derive(Clone, Debug, Default)]
pub struct PostView {
    pub now: DateTime<Utc>,
    pub notes: Vec<Note>,
    pub templates: bool,
}

/// A time as experts see it on a post and on a button's notice.
pub fn hhmm(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

/// Notes a post shows (the newest), and characters of each.
const NOTES_SHOWN: usize = 3;
const NOTE_CHARS: usize = 200;

/// How many other wordings of a group's question its post quotes.
pub const MAX_WORDINGS_SHOWN: usize = 4;

/// The post of a group of open questions with the same text; `group[0]` is the first asked.
/// Shows the number, language, country, how many people asked, the escaped text and the
/// nearest FAQ entries with their scores; buttons "Dismiss" and "Answer with <entry>".
pub fn render_post(kb: &KnowledgeBase, lang: Lang, group: &[Question], view: &PostView) -> Post {
    let lead = &group[0];
    let mut text = String::new();
    if lead.urgent {
        let _ = writeln!(text, "<b>{}</b>", escape(kb.t("expert_urgent", lang)));
    }
    let country = match lead.country {
        Some(c) => kb.t(&format!("country_{}", c.code()), lang).to_string(),
        None => "—".to_string(),
    };
    let _ = writeln!(
        text,
        "<b>{}</b>",
        escape(&kb.interface.fill(
            "expert_question",
            lang,
            &[
                ("number", &lead.id.to_string()),
                ("language", kb.t("language_name", lead.lang)),
                ("country", &country),
            ],
        ))
    );
    let people: HashSet<i64> = group.iter().map(|q| q.chat_id).collect();
    let mut langs: Vec<Lang> = group.iter().map(|q| q.lang).collect();
    langs.sort_by_key(|l| l.index());
    langs.dedup();
    if langs.len() > 1 {
        let names: Vec<&str> = langs.iter().map(|&l| kb.t("language_name", l)).collect();
        let _ = writeln!(text, "🌐 {}", escape(&names.join(", ")));
    }
    if people.len() > 1 {
        let _ = writeln!(
            text,
            "👥 {}",
            escape(&kb.interface.fill(
                "expert_asked_by",
                lang,
                &[("count", &people.len().to_string())]
            ))
        );
    }
    let mut preface = Vec::new();
    match lead.kind {
        QuestionKind::Voice => {
            let _ = writeln!(text, "{}", escape(kb.t("expert_kind_voice", lang)));
        }
        QuestionKind::Photo => {
            let _ = writeln!(text, "{}", escape(kb.t("expert_kind_photo", lang)));
        }
        QuestionKind::Text if utf16_len(&lead.text) > POST_TEXT_LIMIT => {
            preface = split_for_telegram(&lead.text, MESSAGE_LIMIT);
            let start: String = lead.text.chars().take(PREVIEW_CHARS).collect();
            let _ = writeln!(
                text,
                "<blockquote>{}…</blockquote>\n<i>{}</i>",
                escape(&start),
                escape(kb.t("expert_full_text_above", lang))
            );
        }
        QuestionKind::Text => {
            let _ = writeln!(text, "<blockquote>{}</blockquote>", escape(&lead.text));
        }
    }
    // The others' own wordings, so the expert sees what each person wrote.
    let mut seen: HashSet<&str> = HashSet::from([lead.text.trim()]);
    let others: Vec<&str> = group[1..]
        .iter()
        .filter(|q| q.kind == QuestionKind::Text)
        .map(|q| q.text.trim())
        .filter(|t| seen.insert(t))
        .collect();
    for t in others.iter().take(MAX_WORDINGS_SHOWN) {
        let short: String = t.chars().take(PREVIEW_CHARS).collect();
        let more = if short.len() < t.len() { "…" } else { "" };
        let _ = writeln!(text, "<blockquote>{}{more}</blockquote>", escape(&short));
    }
    if others.len() > MAX_WORDINGS_SHOWN {
        let _ = writeln!(text, "+{}", others.len() - MAX_WORDINGS_SHOWN);
    }
    let nearest: Vec<(&crate::kb::Entry, f32)> = lead
        .candidates
        .iter()
        .filter_map(|(id, score)| kb.entry(id).map(|e| (e, *score)))
        .take(3)
        .collect();
    if !nearest.is_empty() {
        let _ = writeln!(text, "\n{}", escape(kb.t("expert_nearest", lang)));
        for (e, score) in &nearest {
            let _ = writeln!(
                text,
                "• <code>{}</code> {} ({score:.2})",
                escape(&e.id),
                escape(e.title.get(lang))
            );
        }
    }
    status_lines(&mut text, kb, lang, group, view);
    let open = group.iter().any(|q| q.status == QuestionStatus::Open);
    if !open {
        return Post {
            preface,
            text: text.trim_end().to_string(),
            buttons: Vec::new(),
        };
    }
    let mut first = vec![Button::cb(
        kb.t("expert_btn_take", lang),
        data::take(lead.id),
    )];
    if view.templates && lead.kind == QuestionKind::Text {
        first.push(Button::cb(
            kb.t("expert_btn_templates", lang),
            data::templates(lead.id),
        ));
    }
    let mut buttons = vec![
        first,
        vec![Button::cb(
            kb.t("expert_btn_dismiss", lang),
            data::dismiss(lead.id),
        )],
    ];
    // Learning from a voice message or photo is impossible (there is no text), and an urgent
    // case needs a person, not a FAQ answer.
    if lead.kind == QuestionKind::Text && !lead.urgent {
        for (e, _) in &nearest {
            buttons.push(vec![Button::cb(
                kb.interface
                    .fill("expert_btn_answer_with", lang, &[("entry", &e.id)]),
                data::answer_with(lead.id, &e.id),
            )]);
        }
    }
    Post {
        preface,
        text: text.trim_end().to_string(),
        buttons,
    }
}

/// Who holds the post, how it ended (who answered, the person's rating) and the notes.
fn status_lines(
    text: &mut String,
    kb: &KnowledgeBase,
    lang: Lang,
    group: &[Question],
    view: &PostView,
) {
    let i = &kb.interface;
    let answered = group.iter().find(|q| q.status == QuestionStatus::Answered);
    if let Some(q) = answered {
        let by = q.answered_by.as_deref().unwrap_or("—");
        let _ = write!(
            text,
            "\n✅ {}",
            escape(&i.fill("expert_post_answered", lang, &[("expert", by)]))
        );
        let rated: Vec<bool> = group.iter().filter_map(|q| q.rating).collect();
        if !rated.is_empty() {
            let up = rated.iter().filter(|r| **r).count().to_string();
            let down = rated.iter().filter(|r| !**r).count().to_string();
            let _ = write!(
                text,
                "\n{}",
                escape(&i.fill("expert_post_rating", lang, &[("up", &up), ("down", &down)]))
            );
        }
    } else if group.iter().all(|q| q.status == QuestionStatus::Dismissed) {
        let _ = write!(text, "\n✖ {}", escape(kb.t("expert_post_dismissed", lang)));
    } else if let Some((by, until)) = group.iter().find_map(|q| {
        q.taken_at(view.now)
            .map(|by| (by, q.taken.as_ref().map(|t| t.1)))
    }) {
        let until = until.map(hhmm).unwrap_or_default();
        let _ = write!(
            text,
            "\n✋ {}",
            escape(&i.fill(
                "expert_post_taken",
                lang,
                &[("expert", by), ("until", &until)]
            ))
        );
    }
    if view.notes.is_empty() {
        return;
    }
    let _ = write!(text, "\n\n📝 <i>{}</i>", escape(kb.t("expert_notes", lang)));
    let skip = view.notes.len().saturating_sub(NOTES_SHOWN);
    for n in &view.notes[skip..] {
        let short: String = n.text.chars().take(NOTE_CHARS).collect();
        let more = if short.len() < n.text.len() {
            "…"
        } else {
            ""
        };
        let _ = write!(
            text,
            "\n— <b>{}</b>: {}{more}",
            escape(&n.expert),
            escape(&short)
        );
    }
}
