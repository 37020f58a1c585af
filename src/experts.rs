//! What experts see of the questions: the queue, statistics, exports and learned phrasings.
//! Plain text for the terminal (and later the expert chat); CSV and JSON for researchers.

use crate::kb::KnowledgeBase;
use crate::storage::{ExportRow, Storage};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The open questions, urgent first, then oldest, one line each.
pub async fn queue(store: &dyn Storage, limit: u32, offset: u32) -> anyhow::Result<String> {
    let total = store.count_open().await?;
    let questions = store.open_questions(limit, offset).await?;
    let mut out = format!("open questions: {total}\n");
    for q in questions {
        let country = q.country.map(|c| c.code()).unwrap_or("-");
        let nearest: Vec<String> = q
            .candidates
            .iter()
            .map(|(e, s)| format!("{e} {s:.2}"))
            .collect();
        let _ = writeln!(
            out,
            "#{} {}{} {} {} [{}]: {}",
            q.id,
            if q.urgent { "URGENT " } else { "" },
            q.created_at.format("%Y-%m-%d %H:%M"),
            q.lang,
            country,
            nearest.join(", "),
            one_line(&q.text)
        );
    }
    Ok(out)
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
        let _ = writeln!(out, "most missed:");
        for m in &s.top_missed {
            let _ = writeln!(out, "  {} × {}", m.count, one_line(&m.text));
        }
    }
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
            r.text.clone(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
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

/// The start of `since`'s day, for `export --since DATE`.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
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
    use crate::storage::{NewQuestion, QuestionKind};

    fn question(chat: i64, text: &str, urgent: bool) -> NewQuestion {
        NewQuestion {
            chat_id: chat,
            text: text.into(),
            lang: Lang::Ru,
            country: Some(Country::Ru),
            candidates: vec![("stay.term".into(), 0.31)],
            urgent,
            kind: QuestionKind::Text,
            media: None,
            group_key: crate::text::normalize(text),
        }
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
            .add_learned("прописка кайда", "stay.registration", "expert")
            .await
            .unwrap();
        let (kb, _) = crate::kb::load("dialogues".as_ref(), &Default::default()).unwrap();
        let snippet = learned_snippet(store.as_ref(), &kb).await.unwrap();
        assert!(
            snippet.contains("# stay.registration: add to [questions]"),
            "{snippet}"
        );
        assert!(snippet.contains("\"прописка кайда\","), "{snippet}");

        let s = stats(store.as_ref(), Utc::now().date_naive())
            .await
            .unwrap();
        assert!(
            s.contains("== last 7 days") && s.contains("== last 30 days"),
            "{s}"
        );
    }
}
