//! What experts see of the questions: the posts in the expert chat, the queue, statistics,
//! exports and learned phrasings. Plain text for the terminal, HTML and buttons for the expert
//! chat (sent by the Telegram adapter), CSV and JSON for researchers.

use crate::bot::Button;
use crate::kb::KnowledgeBase;
use crate::kb::html::escape;
use crate::lang::Lang;
use crate::model::{ExportRow, Question, QuestionKind};
use crate::storage::Storage;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::fmt::Write as _;

mod post;

pub use post::{MAX_WORDINGS_SHOWN, Post, PostView, hhmm, render_post};

/// Questions per page of `/queue`.
pub const QUEUE_PAGE: u32 = 10;

/// Callback data of the expert chat's buttons; `x:` keeps them apart from the users' buttons.
/// Entry ids, not indexes, so the buttons stay right after the knowledge base is reloaded.
pub mod data {
    pub fn dismiss(question: i64) -> String {
        format!("x:D:{question}")
    }
    pub fn answer_with(question: i64, entry: &str) -> String {
        format!("x:A:{question}:{entry}")
    }
    pub fn send_again(question: i64, reply_message: i32) -> String {
        format!("x:S:{question}:{reply_message}")
    }
    pub fn queue(offset: u32) -> String {
        format!("x:Q:{offset}")
    }
    pub fn take(question: i64) -> String {
        format!("x:C:{question}")
    }
    pub fn templates(question: i64) -> String {
        format!("x:L:{question}")
    }
    pub fn template(question: i64, name: &str) -> String {
        format!("x:T:{question}:{name}")
    }
}

/// A pressed expert button, parsed; anything else (forged, truncated) is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpertAction {
    /// A page of `/queue`, from this offset.
    Queue(u32),
    /// A button under a question's post (or under "already answered, send again?").
    Question(i64, OnQuestion),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnQuestion {
    Dismiss,
    AnswerWith(String),
    /// Send the expert's reply message with this id to the person again.
    SendAgain(i32),
    /// "✋ I'll answer".
    Take,
    /// "Answer with template…": the list of templates.
    Templates,
    /// One template, by name.
    Template(String),
}

impl ExpertAction {
    pub fn parse(data: &str) -> Option<ExpertAction> {
        let rest = data.strip_prefix("x:")?;
        let parts: Vec<&str> = rest.split(':').collect();
        let on = |q: &str, on| Some(ExpertAction::Question(q.parse().ok()?, on));
        match parts.as_slice() {
            ["Q", offset] => Some(ExpertAction::Queue(offset.parse().ok()?)),
            ["D", q] => on(q, OnQuestion::Dismiss),
            ["A", q, entry] if !entry.is_empty() => {
                on(q, OnQuestion::AnswerWith((*entry).to_string()))
            }
            ["S", q, m] => on(q, OnQuestion::SendAgain(m.parse().ok()?)),
            ["C", q] => on(q, OnQuestion::Take),
            ["L", q] => on(q, OnQuestion::Templates),
            ["T", q, name] if !name.is_empty() => on(q, OnQuestion::Template((*name).to_string())),
            _ => None,
        }
    }
}

/// A page of `/queue` for the expert chat: urgent first, then oldest; "Back" and "Next"
/// buttons when there is more.
pub async fn queue_page(
    store: &dyn Storage,
    kb: &KnowledgeBase,
    lang: Lang,
    offset: u32,
) -> anyhow::Result<(String, Vec<Vec<Button>>)> {
    let total = store.count_open().await?;
    if total == 0 {
        return Ok((escape(kb.t("expert_queue_empty", lang)), Vec::new()));
    }
    let questions = store.open_questions(QUEUE_PAGE, offset).await?;
    let mut text = format!(
        "<b>{}</b>\n",
        escape(
            &kb.interface
                .fill("expert_queue_title", lang, &[("count", &total.to_string())])
        )
    );
    for q in &questions {
        let what = match q.kind {
            QuestionKind::Voice => kb.t("expert_kind_voice", lang).to_string(),
            QuestionKind::Photo => kb.t("expert_kind_photo", lang).to_string(),
            QuestionKind::Text => one_line(&q.text),
        };
        let _ = write!(
            text,
            "\n{}<b>№ {}</b> · {} · {} · {}",
            if q.urgent { "🆘 " } else { "" },
            q.id,
            q.created_at.format("%Y-%m-%d %H:%M"),
            q.lang,
            q.country.map(|c| c.code()).unwrap_or("—"),
        );
        if let (Some(chat), Some(message)) = (q.expert_chat_id, q.expert_message_id) {
            if let Some(link) = message_link(chat, message) {
                let _ = write!(text, " · <a href=\"{link}\">→</a>");
            }
        }
        let _ = writeln!(text, "\n{}", escape(&what));
    }
    let mut row = Vec::new();
    if offset > 0 {
        row.push(Button::cb(
            kb.t("expert_btn_prev", lang),
            data::queue(offset.saturating_sub(QUEUE_PAGE)),
        ));
    }
    if i64::from(offset) + i64::from(QUEUE_PAGE) < total {
        row.push(Button::cb(
            kb.t("expert_btn_next", lang),
            data::queue(offset + QUEUE_PAGE),
        ));
    }
    let buttons = if row.is_empty() {
        Vec::new()
    } else {
        vec![row]
    };
    Ok((text.trim_end().to_string(), buttons))
}

/// A link to a message of a supergroup (`-100…` ids); other chats have none.
pub(crate) fn message_link(chat: i64, message: i32) -> Option<String> {
    let internal = chat.to_string().strip_prefix("-100")?.to_string();
    Some(format!("https://t.me/c/{internal}/{message}"))
}

/// The open questions, urgent first, then oldest, one line each.
pub async fn queue(store: &dyn Storage, limit: u32, offset: u32) -> anyhow::Result<String> {
    let total = store.count_open().await?;
    let questions = store.open_questions(limit, offset).await?;
    let mut out = format!("open questions: {total}\n");
    for q in questions {
        out.push_str(&queue_line(&q));
    }
    Ok(out)
}

/// The open questions past the promised time at `now` (urgent ones after their shorter
/// time), urgent first, then oldest, one line each.
pub async fn overdue(
    store: &dyn Storage,
    promise: crate::bot::workbench::Promise,
    now: chrono::DateTime<chrono::Utc>,
    limit: u32,
) -> anyhow::Result<String> {
    let (before, urgent_before) = promise.cutoffs(now);
    let questions = store.overdue(before, urgent_before, limit).await?;
    let mut out = format!(
        "open past the promised time ({} h, urgent {} h): {}\n",
        promise.hours,
        promise.urgent_hours,
        questions.len()
    );
    for q in questions {
        out.push_str(&queue_line(&q));
    }
    Ok(out)
}

/// One question of `jardam queue`: number, urgency, time, language, country, nearest entries,
/// who holds it, and its text on one line.
fn queue_line(q: &Question) -> String {
    let country = q.country.map(|c| c.code()).unwrap_or("-");
    let nearest: Vec<String> = q
        .candidates
        .iter()
        .map(|(e, s)| format!("{e} {s:.2}"))
        .collect();
    let taken = q
        .taken
        .as_ref()
        .map(|(by, until)| format!(" (taken by {by} until {})", until.format("%H:%M")))
        .unwrap_or_default();
    format!(
        "#{} {}{} {} {} [{}]{taken}: {}\n",
        q.id,
        if q.urgent { "URGENT " } else { "" },
        q.created_at.format("%Y-%m-%d %H:%M"),
        q.lang,
        country,
        nearest.join(", "),
        one_line(&q.text)
    )
}

/// Questions by topic, language and country; outcome rates; 👍/👎 per entry; the most missed.
pub async fn stats(store: &dyn Storage, today: NaiveDate) -> anyhow::Result<String> {
    let mut out = String::new();
    for days in [7, 30] {
        let since = today - chrono::Duration::days(days - 1);
        let s = store.stats(since).await?;
        let _ = writeln!(out, "== last {days} days (since {since})");
        let asked = s.outcome("answered") + s.outcome("clarify") + s.outcome("unmet");
        let pct = |n: i64| {
            if asked == 0 {
                0.0
            } else {
                100.0 * n as f64 / asked as f64
            }
        };
        let _ = writeln!(
            out,
            "free-text questions: {asked}; answered {:.1}%, clarify {:.1}%, unmet {:.1}%",
            pct(s.outcome("answered")),
            pct(s.outcome("clarify")),
            pct(s.outcome("unmet"))
        );
        let list = |items: Vec<(String, i64)>| {
            items
                .into_iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "by topic: {}", list(s.by_topic.clone()));
        let _ = writeln!(
            out,
            "by language: {}",
            list(s.by_lang.iter().map(|(l, n)| (l.to_string(), *n)).collect())
        );
        let _ = writeln!(
            out,
            "by country: {}",
            list(
                s.by_country
                    .iter()
                    .map(|(c, n)| (c.map(|c| c.code()).unwrap_or("unknown").to_string(), *n))
                    .collect()
            )
        );
        let _ = writeln!(
            out,
            "feedback 👍/👎: {}",
            s.feedback
                .iter()
                .map(|f| format!("{} {}/{}", f.entry, f.up, f.down))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let facts = store
            .question_facts(crate::storage::day_start(since), chrono::Utc::now())
            .await?;
        let answered: Vec<f64> = facts
            .iter()
            .filter_map(|f| {
                f.answered_at
                    .map(|a| (a - f.created_at).num_minutes() as f64)
            })
            .collect();
        let up = facts.iter().filter(|f| f.rating == Some(true)).count();
        let down = facts.iter().filter(|f| f.rating == Some(false)).count();
        let median = crate::radar::median(answered)
            .map_or("—".to_string(), |m| format!("{:.1} h", m / 60.0));
        let _ = writeln!(
            out,
            "expert answers: {}, median time {median}; rated by the people 👍 {up} / 👎 {down}",
            facts.iter().filter(|f| f.answered_at.is_some()).count()
        );
        let _ = writeln!(out, "most missed:");
        for m in &s.top_missed {
            let _ = writeln!(out, "  {} × {}", m.count, one_line(&m.text));
        }
    }
    let followers: Vec<String> = store
        .follower_counts()
        .await?
        .iter()
        .map(|(entry, n)| format!("{entry} {n}"))
        .collect();
    let followers = if followers.is_empty() {
        "none".to_string()
    } else {
        followers.join(", ")
    };
    let _ = writeln!(out, "== following an answer's changes, now: {followers}");
    Ok(out)
}

/// Questions as CSV: id, language, country, status, created, answered, text. No chat ids.
pub fn export_csv(rows: &[ExportRow]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "lang",
        "country",
        "status",
        "created_at",
        "answered_at",
        "text",
    ])?;
    for r in rows {
        w.write_record([
            r.id.to_string(),
            r.lang.to_string(),
            r.country.map(|c| c.code().to_string()).unwrap_or_default(),
            serde_json::to_value(r.status)?
                .as_str()
                .unwrap_or_default()
                .to_string(),
            r.created_at.to_rfc3339(),
            r.answered_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            formula_safe(&r.text),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR first) gets a
/// `'` in front, so that a person's text stays text.
pub fn formula_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// Questions as JSON Lines, one object per question.
pub fn export_json(rows: &[ExportRow]) -> anyhow::Result<String> {
    let mut out = String::new();
    for r in rows {
        out.push_str(&serde_json::to_string(r)?);
        out.push('\n');
    }
    Ok(out)
}

/// Learned phrasings as TOML lines to paste into each entry's `[questions]`.
pub async fn learned_snippet(store: &dyn Storage, kb: &KnowledgeBase) -> anyhow::Result<String> {
    let mut by_entry: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (entry, text) in store.learned().await? {
        by_entry.entry(entry).or_default().push(text);
    }
    let mut out = String::new();
    for (entry, texts) in by_entry {
        let file = kb
            .entry(&entry)
            .map(|e| e.file.display().to_string())
            .unwrap_or_else(|| "(no such entry in this knowledge base)".into());
        let _ = writeln!(
            out,
            "# {entry}: add to [questions] (in its language) in {file}"
        );
        for t in texts {
            let _ = writeln!(out, "{},", toml::Value::String(t));
        }
        out.push('\n');
    }
    Ok(out)
}

fn one_line(text: &str) -> String {
    let t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() > 120 {
        format!("{}…", t.chars().take(120).collect::<String>())
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{Country, Lang};
    use crate::model::NewQuestion;

    fn question(chat: i64, text: &str, urgent: bool) -> NewQuestion {
        NewQuestion {
            country: Some(Country::Ru),
            candidates: vec![("stay.term".into(), 0.31)],
            urgent,
            ..NewQuestion::text(chat, text, Lang::Ru)
        }
    }

    #[test]
    fn formula_cells_are_neutralised() {
        for bad in [
            "=HYPERLINK(\"http://evil.example/x\",\"click me\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(formula_safe(bad), format!("'{bad}"));
        }
        assert_eq!(formula_safe("как = зачем"), "как = зачем");
    }

    #[tokio::test]
    async fn queue_export_and_learned_for_experts() {
        let store = crate::storage::connect("sqlite::memory:").await.unwrap();
        store
            .add_question(question(777_001, "билет, \"дешёвый\"\nв Стамбул", false))
            .await
            .unwrap();
        store
            .add_question(question(777_002, "меня бьют", true))
            .await
            .unwrap();

        let q = queue(store.as_ref(), 10, 0).await.unwrap();
        let lines: Vec<&str> = q.lines().collect();
        assert_eq!(lines[0], "open questions: 2");
        assert!(lines[1].starts_with("#2 URGENT "), "urgent first: {q}");
        assert!(
            lines[2].contains("stay.term 0.31")
                && lines[2].contains("билет, \"дешёвый\" в Стамбул")
        );

        let rows = store.export(None).await.unwrap();
        let csv = export_csv(&rows).unwrap();
        assert!(
            !csv.contains("777001") && !csv.contains("777_001"),
            "no chat ids: {csv}"
        );
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let first = reader.records().next().unwrap().unwrap();
        assert_eq!(
            &first[6], "билет, \"дешёвый\"\nв Стамбул",
            "text round-trips through CSV"
        );
        assert_eq!(export_json(&rows).unwrap().lines().count(), 2);

        store
            .add_learned("прописка кайда", "stay.registration", "expert", None)
            .await
            .unwrap();
        let (kb, _) = crate::kb::load("dialogues".as_ref(), &Default::default()).unwrap();
        let snippet = learned_snippet(store.as_ref(), &kb).await.unwrap();
        assert!(
            snippet.contains("# stay.registration: add to [questions]"),
            "{snippet}"
        );
        assert!(snippet.contains("\"прописка кайда\","), "{snippet}");

        let s = stats(store.as_ref(), chrono::Utc::now().date_naive())
            .await
            .unwrap();
        assert!(
            s.contains("== last 7 days") && s.contains("== last 30 days"),
            "{s}"
        );
    }

    /// A copied voice message or photo carries its post as a caption, which Telegram cuts off
    /// at 1,024 characters: even with the three longest-titled entries as nearest and the
    /// urgent mark, every language's post fits.
    #[tokio::test]
    async fn a_voice_post_fits_in_a_caption() {
        let (kb, _) = crate::kb::load("dialogues".as_ref(), &Default::default()).unwrap();
        let store = crate::storage::connect("sqlite::memory:").await.unwrap();
        for lang in Lang::ALL {
            let mut longest: Vec<&crate::kb::Entry> = kb.entries.iter().collect();
            longest.sort_by_key(|e| std::cmp::Reverse(e.title.get(lang).len()));
            let q = store
                .add_question(NewQuestion {
                    kind: QuestionKind::Voice,
                    media: Some(crate::model::MediaRef {
                        from_chat_id: 777_003,
                        message_id: 5,
                    }),
                    candidates: longest
                        .iter()
                        .take(3)
                        .map(|e| (e.id.clone(), 0.3))
                        .collect(),
                    ..question(777_003, "", true)
                })
                .await
                .unwrap();
            let post = render_post(&kb, lang, &[q], &PostView::default());
            let visible = crate::kb::html::visible_len(&post.text);
            assert!(
                visible <= crate::kb::html::CAPTION_LIMIT,
                "{lang:?}: {visible} characters\n{}",
                post.text
            );
        }
    }
}
