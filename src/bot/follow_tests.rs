//! "This answer changed" in the conversation: following from an answer, a change note a
//! curator adds (the knowledge base reloaded), each follower told once, stopping.

use super::tests::press;
use super::*;
use crate::kb::{self, CheckOptions};

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn add_change(dir: &Path, date: &str, ru: &str) {
    let file = dir.join("stay/ban-duration.toml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!(
        "\n[[change]]\ndate = \"{date}\"\ntext.ky = \"ky {date}\"\ntext.ru = \"{ru}\"\n\
         text.uz = \"uz {date}\"\ntext.en = \"en {date}\"\n"
    ));
    std::fs::write(file, text).unwrap();
}

/// Chat `chat` opens the ban entry's answer in `lang` and presses "Tell me if this changes".
async fn follow(c: &Conversation, chat: i64, lang: Lang) -> Reply {
    c.store
        .save_profile(chat, Some(lang), Some(Country::Ru))
        .await
        .unwrap();
    let k = c.knowledge();
    let i = k.kb.entry_index("stay.ban-duration").unwrap();
    let answer = c
        .handle(chat, Event::Button(Callback::Entry(i).data(k.kb.version)))
        .await
        .replies
        .remove(0);
    let label = k.kb.t("btn_follow", lang);
    c.handle(chat, press(&answer, label))
        .await
        .replies
        .remove(0)
}

#[tokio::test]
async fn followers_get_a_new_change_note_once_in_their_language() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("dialogues"), dir.path());
    let (kb, _) = kb::load(dir.path(), &CheckOptions::default()).unwrap();
    let store = crate::storage::connect("sqlite::memory:").await.unwrap();
    let c = Conversation::new(Knowledge::new(kb, &[]), store);
    let set = follow(&c, 1, Lang::Ru).await;
    assert_eq!(set.text, c.knowledge().kb.t("follow_set", Lang::Ru));
    follow(&c, 2, Lang::En).await;
    assert!(
        c.change_notices(100).await.unwrap().is_empty(),
        "no note yet"
    );

    // A curator adds a note; on reload both followers get it, once.
    add_change(
        dir.path(),
        "2026-11-30",
        "Срок запрета теперь <b>другой</b>.",
    );
    c.reload(dir.path()).await.unwrap();
    let mut notes = c.change_notices(100).await.unwrap();
    notes.sort_by_key(|n| n.chat);
    assert_eq!(notes.len(), 2, "{notes:?}");
    let ru = &notes[0].reply;
    assert!(
        ru.text.contains("Ответ изменился")
            && ru.text.contains("30.11.2026")
            && ru.text.contains("Срок запрета теперь <b>другой</b>."),
        "{}",
        ru.text
    );
    assert!(notes[1].reply.text.contains("en 2026-11-30"), "in English");
    assert!(c.change_notices(100).await.unwrap().is_empty(), "once");
    // Someone following after the note does not get it; the button to the answer works.
    follow(&c, 3, Lang::Ru).await;
    assert!(c.change_notices(100).await.unwrap().is_empty());
    let answer = c
        .handle(1, press(ru, "Открыть ответ"))
        .await
        .replies
        .remove(0);
    assert!(answer.text.contains("запрет"), "{}", answer.text);

    // Chat 1 stops; the next note reaches chats 2 and 3 only, within the limit per round.
    let stopped = c
        .handle(1, press(ru, "Не сообщать"))
        .await
        .replies
        .remove(0);
    assert_eq!(stopped.text, c.knowledge().kb.t("follow_stopped", Lang::Ru));
    add_change(dir.path(), "2026-12-01", "Ещё одно изменение.");
    c.reload(dir.path()).await.unwrap();
    let first = c.change_notices(1).await.unwrap();
    let second = c.change_notices(1).await.unwrap();
    let mut chats: Vec<i64> = first.iter().chain(&second).map(|n| n.chat).collect();
    chats.sort_unstable();
    assert_eq!(chats, [2, 3]);
    assert!(second[0].reply.text.contains("01.12.2026"));
    // A follower whose chat is gone is dropped; the counts show who follows.
    c.follower_gone(3, "stay.ban-duration").await.unwrap();
    assert_eq!(
        c.store.follower_counts().await.unwrap(),
        [("stay.ban-duration".to_string(), 1)]
    );
}
