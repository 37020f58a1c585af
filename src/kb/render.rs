//! How an answer looks in a message: heading, text, checked date and sources.
//! `jardam check` measures exactly this rendering against Telegram's 4096-character limit.

use super::{Entry, KnowledgeBase};
use crate::kb::html::escape;
use crate::lang::{Lang, Variant};

/// How many sources the footer under an answer lists; the rest are a tap or `ask --json` away.
pub const MAX_SOURCES_SHOWN: usize = 3;

const MONTHS: [[&str; 12]; 4] = [
    [
        "январь",
        "февраль",
        "март",
        "апрель",
        "май",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
    ],
    [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ],
    [
        "yanvar", "fevral", "mart", "aprel", "may", "iyun", "iyul", "avgust", "sentabr", "oktabr",
        "noyabr", "dekabr",
    ],
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
];

/// A date as people write it in `lang`: «24-ноябрь, 2026-ж.», «24 ноября 2026», «2026-yil
/// 24-noyabr», «24 November 2026».
pub fn human_date(date: chrono::NaiveDate, lang: Lang) -> String {
    use chrono::Datelike;
    let (y, m, d) = (
        date.year(),
        MONTHS[lang.index()][date.month0() as usize],
        date.day(),
    );
    match lang {
        Lang::Ky => format!("{d}-{m}, {y}-ж."),
        Lang::Ru | Lang::En => format!("{d} {m} {y}"),
        Lang::Uz => format!("{y}-yil {d}-{m}"),
    }
}

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
        let date = human_date(entry.checked, lang);
        out.push_str(&escape(&self.interface.fill(
            "checked_on",
            lang,
            &[("date", &date)],
        )));
        out.push('\n');
        out.push_str(&escape(self.t("sources", lang)));
        out.push(' ');
        let sources: Vec<String> = entry
            .sources_for(variant)
            .take(MAX_SOURCES_SHOWN)
            .map(|s| format!("{} ({})", s.title_in(lang), s.date))
            .collect();
        out.push_str(&escape(&sources.join("; ")));
        out.push_str("</i>");
        out
    }
}
