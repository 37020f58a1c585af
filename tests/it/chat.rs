//! The `jardam chat` console, driven through stdin as a person would use it.

use std::io::Write;
use std::process::{Command, Stdio};

fn chat(db_dir: &std::path::Path, args: &[&str], input: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jardam"))
        .arg("chat")
        .args(args)
        .env(
            "DATABASE_URL",
            format!("sqlite:{}?mode=rwc", db_dir.join("chat.db").display()),
        )
        .env("JARDAM_DIALOGUES", "dialogues")
        .env("RUST_LOG", "warn")
        .env_remove("TELOXIDE_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jardam chat starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_newcomer_session_in_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // English, Russia, then a topic by number, then a typed question, then an unmet one.
    let out = chat(
        dir.path(),
        &[],
        "4\n1\n1\nhow do I register my address\nwhere can I buy cheap plane tickets to Istanbul\n/quit\n",
    );
    assert!(out.contains("Choose your language"), "{out}");
    assert!(out.contains("[4] English"), "{out}");
    assert!(out.contains("Which country are you in now?"), "{out}");
    assert!(
        out.contains("Living abroad legally: choose a question"),
        "{out}"
    );
    assert!(
        out.contains("Migration registration") || out.contains("registration"),
        "{out}"
    );
    assert!(
        out.contains("No. 1"),
        "the unmet question got a number: {out}"
    );
    // No HTML reaches the terminal.
    assert!(!out.contains("<b>") && !out.contains("&amp;"), "{out}");

    // The profile survives: a second session starts in English without asking.
    let out = chat(dir.path(), &["--lang", "en"], "/help\n");
    assert!(out.contains("Choose a topic"), "{out}");
    assert!(out.contains("/forget"), "{out}");
}
