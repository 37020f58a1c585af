//! The terminal adapter: the same conversation as in Telegram, buttons shown as numbered
//! choices. Type a number to press a button, a command such as /menu, or any question.

use crate::bot::{Action, Conversation, Event, Output};
use std::io::{BufRead, Write};

/// Strips the HTML of a reply for the terminal and turns entities back into characters.
pub fn plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Runs the console on `input` until it ends, writing to `output`.
pub async fn run(
    conv: &Conversation,
    chat: i64,
    start: Vec<Event>,
    input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<()> {
    let mut buttons: Vec<Action> = Vec::new();
    let show =
        |out: Output, buttons: &mut Vec<Action>, output: &mut dyn Write| -> std::io::Result<()> {
            buttons.clear();
            for reply in out.replies {
                writeln!(output, "{}", plain(&reply.text))?;
                for row in reply.buttons {
                    let line: Vec<String> = row
                        .into_iter()
                        .map(|b| {
                            buttons.push(b.action);
                            format!("[{}] {}", buttons.len(), b.label)
                        })
                        .collect();
                    writeln!(output, "  {}", line.join("   "))?;
                }
                writeln!(output)?;
            }
            output.flush()
        };
    for event in start {
        let out = conv.handle(chat, event).await;
        show(out, &mut buttons, &mut output)?;
    }
    write!(output, "> ")?;
    output.flush()?;
    for line in input.lines() {
        let line = line?;
        let text = line.trim();
        if text.is_empty() {
            write!(output, "> ")?;
            output.flush()?;
            continue;
        }
        if matches!(text, "/quit" | "/exit") {
            break;
        }
        let event = match text.parse::<usize>() {
            Ok(n) if n >= 1 && n <= buttons.len() => match &buttons[n - 1] {
                Action::Callback(data) => Event::Button(data.clone()),
                // Sharing needs Telegram's chat picker; here it shows the answer's id.
                Action::SwitchInline(q) => {
                    writeln!(
                        output,
                        "(share: in Telegram this opens a chat picker with \"{q}\")\n"
                    )?;
                    write!(output, "> ")?;
                    output.flush()?;
                    continue;
                }
            },
            _ => command(text),
        };
        let out = conv.handle(chat, event).await;
        show(out, &mut buttons, &mut output)?;
        write!(output, "> ")?;
        output.flush()?;
    }
    writeln!(output)?;
    conv.flush_counters().await;
    Ok(())
}

/// A typed line as an event: one of the bot's commands, or a question.
pub fn command(text: &str) -> Event {
    Event::command(text).unwrap_or_else(|| Event::Text {
        text: text.to_string(),
        language_code: None,
    })
}
