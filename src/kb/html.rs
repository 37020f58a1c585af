//! Validation of the HTML subset that Telegram's `HTML` parse mode accepts.
//!
//! Telegram rejects a whole message when one tag is unknown, unbalanced or when a bare `<` or `&`
//! appears, so the check has to be as strict as Telegram itself: a curator's typo must fail
//! `jardam check`, not a user's request at run time.

/// Telegram refuses messages longer than 4,096 characters (UTF-16 units, after the HTML is
/// parsed) and captions longer than 1,024.
pub const MESSAGE_LIMIT: usize = 4096;
pub const CAPTION_LIMIT: usize = 1024;

/// Tags Telegram accepts (https://core.telegram.org/bots/api#html-style).
pub const TELEGRAM_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "blockquote",
    "a",
    "tg-spoiler",
    "span",
    "tg-emoji",
];

/// `text` as plain text inside HTML: the three characters Telegram's HTML gives a meaning
/// (`&`, `<`, `>`) written as entities, so that a person's or an expert's words are shown as
/// they were typed and can never break or inject markup.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Returns the first problem with `text` as Telegram HTML, if any.
pub fn validate(text: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find(['<', '&', '>']) {
        let (c, after) = (rest.as_bytes()[pos], &rest[pos + 1..]);
        match c {
            b'>' => return Err("bare '>' (write &gt;)".into()),
            b'&' => {
                let end = after
                    .find(';')
                    .filter(|&e| e <= 10)
                    .ok_or("bare '&' (write &amp;)")?;
                let name = &after[..end];
                let ok = matches!(name, "lt" | "gt" | "amp" | "quot")
                    || name.strip_prefix('#').is_some_and(valid_numeric_entity);
                if !ok {
                    return Err(format!(
                        "unknown entity '&{name};' (use &lt; &gt; &amp; &quot;)"
                    ));
                }
                rest = &after[end + 1..];
            }
            _ => {
                let end = after.find('>').ok_or("'<' without '>' (write &lt;)")?;
                let tag = &after[..end];
                if let Some(name) = tag.strip_prefix('/') {
                    let name = name.trim();
                    match stack.pop() {
                        Some(open) if open == name => {}
                        Some(open) => {
                            return Err(format!("</{name}> closes <{open}>"));
                        }
                        None => return Err(format!("</{name}> without an opening tag")),
                    }
                } else {
                    let name = tag
                        .split(|c: char| c.is_whitespace())
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    if !TELEGRAM_TAGS.contains(&name.as_str()) {
                        return Err(format!(
                            "tag <{name}> is not allowed by Telegram (use b, i, u, s, code, pre, blockquote, a)"
                        ));
                    }
                    if name == "a" && !tag.contains("href=") {
                        return Err("<a> needs href=\"…\"".into());
                    }
                    stack.push(name);
                }
                rest = &after[end + 1..];
            }
        }
    }
    match stack.pop() {
        Some(open) => Err(format!("<{open}> is never closed")),
        None => Ok(()),
    }
}

fn valid_numeric_entity(n: &str) -> bool {
    match n.strip_prefix(['x', 'X']) {
        Some(hex) => !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
        None => !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()),
    }
}

/// Length of the text as Telegram counts it for the 4096 limit: characters after entity parsing
/// (tags removed, entities one character), measured in UTF-16 code units.
pub fn visible_len(text: &str) -> usize {
    let mut len = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '<' => {
                for c in chars.by_ref() {
                    if c == '>' {
                        break;
                    }
                }
            }
            '&' => {
                for c in chars.by_ref() {
                    if c == ';' {
                        break;
                    }
                }
                len += 1;
            }
            c => len += c.len_utf16(),
        }
    }
    len
}

/// Length of plain text as Telegram counts it (UTF-16 code units).
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Splits plain text into pieces Telegram accepts, preferring line breaks, never splitting a
/// character.
pub fn split_for_telegram(text: &str, limit: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut len = 0;
    for line in text.split_inclusive('\n') {
        for ch in line.chars() {
            let w = ch.len_utf16();
            if len + w > limit {
                parts.push(std::mem::take(&mut current));
                len = 0;
            }
            current.push(ch);
            len += w;
        }
        // Start a new piece at a line break when the next line would likely not fit.
        if len > limit * 3 / 4 {
            parts.push(std::mem::take(&mut current));
            len = 0;
        }
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_telegram_subset() {
        assert!(validate("<b>30</b> days &amp; <i>more</i> &lt;3 &#128512;").is_ok());
        assert!(validate("<a href=\"https://x.kg\">x</a> <blockquote>q</blockquote>").is_ok());
    }

    #[test]
    fn rejects_what_telegram_rejects() {
        assert_eq!(validate("a & b").unwrap_err(), "bare '&' (write &amp;)");
        assert!(validate("<b>x").unwrap_err().contains("never closed"));
        assert!(validate("<b>x</i>").unwrap_err().contains("closes <b>"));
        assert!(validate("<h1>x</h1>").unwrap_err().contains("not allowed"));
        assert!(validate("1 < 2").unwrap_err().contains("without '>'"));
        assert!(validate("2 > 1").unwrap_err().contains("bare '>'"));
        assert!(validate("&nbsp;").unwrap_err().contains("unknown entity"));
        assert!(validate("<a>x</a>").unwrap_err().contains("href"));
    }

    #[test]
    fn visible_length_counts_entities_once_and_skips_tags() {
        assert_eq!(visible_len("<b>ab</b> &amp;"), 4);
        assert_eq!(visible_len("ө"), 1);
        assert_eq!(visible_len("😀"), 2);
    }
}
