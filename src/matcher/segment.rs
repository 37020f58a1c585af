//! Long messages: a greeting, a story, then the question. The message is cut into sentences
//! (and a long run of words without punctuation into overlapping windows), so that each part
//! can be weighed on its own and the question part found.

/// One part of a message.
#[derive(Clone, Debug)]
pub(crate) struct Part {
    /// Word range in the whole message's skeleton words.
    pub(crate) words: std::ops::Range<usize>,
    /// Ends with a question mark or holds a question word.
    pub(crate) question: bool,
    /// Byte range of its sentence in the message.
    pub(crate) text: std::ops::Range<usize>,
}

impl Part {
    /// Its sentence, trimmed.
    pub(crate) fn text_of<'a>(&self, message: &'a str) -> &'a str {
        message.get(self.text.clone()).unwrap_or("").trim()
    }
}

/// Runs of more words than this without punctuation are also read as windows.
const LONG_RUN: usize = 18;
const WINDOW: usize = 12;
const STRIDE: usize = 6;

/// Splits `text` into sentences: returns the skeleton words of the whole text and its parts.
pub(crate) fn split(text: &str) -> (Vec<String>, Vec<Part>) {
    let mut words: Vec<String> = Vec::new();
    let mut parts = Vec::new();
    for (at, chunk, mark) in sentences(text) {
        let span = at..at + chunk.len();
        let sk = crate::text::skeleton(&crate::text::normalize(chunk));
        let start = words.len();
        words.extend(sk.split(' ').filter(|w| !w.is_empty()).map(str::to_string));
        let end = words.len();
        if end == start {
            continue;
        }
        let question = mark || words[start..end].iter().any(|w| is_question_word(w));
        parts.push(Part {
            words: start..end,
            question,
            text: span.clone(),
        });
        if end - start > LONG_RUN {
            let mut s = start;
            while s + WINDOW < end {
                let e = s + WINDOW;
                parts.push(Part {
                    words: s..e,
                    question: words[s..e].iter().any(|w| is_question_word(w)),
                    text: span.clone(),
                });
                s += STRIDE;
            }
            parts.push(Part {
                words: end - WINDOW..end,
                question: words[end - WINDOW..end].iter().any(|w| is_question_word(w)),
                text: span.clone(),
            });
        }
    }
    (words, parts)
}

/// The sentences of `text`, each with whether it ended in a question mark.
fn sentences(text: &str) -> Vec<(usize, &str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end_mark = matches!(c, '.' | '!' | '?' | '\n' | ';' | '…' | '؟' | '。');
        if !end_mark {
            continue;
        }
        // A dot between digits (1.5, 01.09.2025) does not end a sentence.
        if c == '.'
            && text[..i]
                .chars()
                .next_back()
                .is_some_and(|p| p.is_ascii_digit())
            && chars.peek().is_some_and(|(_, n)| n.is_ascii_digit())
        {
            continue;
        }
        let mut question = c == '?' || c == '؟';
        let mut end = i + c.len_utf8();
        // "?!", "...", "??" belong to the same end.
        while let Some(&(j, n)) = chars.peek() {
            if matches!(n, '.' | '!' | '?' | '\n' | ';' | '…' | ' ' | '؟') {
                question |= n == '?' || n == '؟';
                end = j + n.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        out.push((start, &text[start..i], question));
        start = end;
    }
    if start < text.len() {
        out.push((start, &text[start..], false));
    }
    out
}

/// Question words and particles of our four languages, as skeletons.
fn is_question_word(w: &str) -> bool {
    const WORDS: &[&str] = &[
        // Kyrgyz
        "kantip", "kandai", "kanday", "kancha", "kachan", "emne", "emnege", "emneden", "kaisi",
        "kaysi", "kaida", "kaidan", "kimge", "kim", "kantsek", "kantse", // Russian
        "kak", "kogda", "skolko", "skoko", "mojno", "nujno", "nado", "chto", "gde", "kuda",
        "pochemu", "zachem", "kakoi", "kakaya", "kakie", "kakoe", "kto", "chei", "li", "razve",
        "che", "shto", "kakim", // Uzbek
        "nima", "nega", "kachon", "kaerda", "kaerga", "kaerdan", "kanaka", "nechta", "necha",
        "mumkinmi", // English
        "how", "what", "when", "where", "why", "can", "could", "should", "do", "does", "is", "are",
        "which", "who", "will", "must", "need",
    ];
    if WORDS.contains(&w) {
        return true;
    }
    // Kyrgyz -бы/-би/-бу/-пы/-пи/-пу/-мы/-ми and Uzbek -mi question particles on a longer
    // word (керекпи, болобу, kerakmi, bo'ladimi).
    w.chars().count() > 4
        && ["pi", "bi", "bu", "pu", "mi", "mu"]
            .iter()
            .any(|p| w.ends_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_and_questions() {
        let (words, parts) =
            split("Салам агайлар! Москвада 3 жумадан бери жүрөм. Каттоо керекпи?? Рахмат");
        assert_eq!(parts.len(), 4, "{parts:?}");
        assert!(!parts[0].question && !parts[1].question);
        assert!(parts[2].question);
        let want = crate::text::skeleton(&crate::text::normalize("Каттоо керекпи"));
        assert_eq!(words[parts[2].words.clone()].join(" "), want);
        // Dates and decimals stay whole.
        let (_, parts) = split("с 01.09.2025 нужно 1.5 года");
        assert_eq!(parts.len(), 1);
    }

    #[test]
    fn long_runs_get_windows() {
        let text = "a ".repeat(40);
        let (words, parts) = split(&text);
        assert_eq!(words.len(), 40);
        assert!(parts.len() > 2);
        assert!(parts.iter().all(|p| p.words.end <= 40));
    }
}
