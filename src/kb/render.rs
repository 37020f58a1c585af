//! How an answer looks in a message: heading, text, checked date and sources.
//! `jardam check` measures exactly this rendering against Telegram's 4096-character limit.

use super::{Entry, KnowledgeBase};
use crate::lang::{Lang, Variant};
use teloxide::utils::html::escape;

impl KnowledgeBase {
    /// The full HTML message for an entry's answer.
    pub fn render_answer(&self, entry: &Entry, variant: Variant, lang: Lang) -> String {
        let emoji = self
            .topic(&entry.topic)
            .map(|t| t.emoji.as_str())
            .unwrap_or("");
        let mut out = String::with_capacity(1200);
        out.push_str("<b>");
        if !emoji.is_empty() {
            out.push_str(emoji);
            out.push(' ');
        }
        out.push_str(&escape(entry.title.get(lang)));
        out.push_str("</b>\n\n");
        out.push_str(entry.answer(variant, lang).trim());
        out.push_str("\n\n<i>");
        let date = entry.checked.format("%Y-%m-%d").to_string();
        out.push_str(&escape(&self.interface.fill(
            "checked_on",
            lang,
            &[("date", &date)],
        )));
        out.push('\n');
        out.push_str(&escape(self.t("sources", lang)));
        out.push(' ');
        let sources: Vec<String> = entry
            .sources
            .iter()
            .map(|s| format!("{} ({})", s.title, s.date))
            .collect();
        out.push_str(&escape(&sources.join("; ")));
        out.push_str("</i>");
        out
    }
}
