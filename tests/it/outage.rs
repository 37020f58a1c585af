//! PostgreSQL unreachable for a while: FAQ answers keep coming from memory, unmet questions are
//! refused with "try again" (never acknowledged without being stored), and everything works
//! again when the database is back, without a restart.

use crate::storage::PgTestDb;
use jardam::bot::{Conversation, Event, Knowledge};
use jardam::kb::{self, CheckOptions};
use jardam::lang::Lang;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// A TCP relay to PostgreSQL that can be cut: while down it drops every open connection and
/// closes new ones at once, as a restarting or unreachable server would.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let flag = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if !flag.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                let flag = flag.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let pipe = async {
                        tokio::select! {
                            _ = tokio::io::copy(&mut cr, &mut sw) => {}
                            _ = tokio::io::copy(&mut sr, &mut cw) => {}
                        }
                    };
                    let cut = async {
                        while flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = pipe => {}
                        _ = cut => {}
                    }
                });
            }
        });
        Relay { port, up }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

fn text(t: &str) -> Event {
    Event::Text {
        text: t.to_string(),
        language_code: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faq_answers_go_on_and_unmet_questions_wait_while_postgres_is_down() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let relay = Relay::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.port)).unwrap();
    let store = jardam::storage::connect(url.as_str()).await.unwrap();
    let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
    let c = Conversation::new(Knowledge::new(kb, &[]), store.clone());
    store.save_profile(1, Some(Lang::En), None).await.unwrap();
    let k = c.knowledge();
    let remittances =
        k.kb.entry("money.remittances")
            .unwrap()
            .title
            .get(Lang::En)
            .clone();
    let faq = "how to send money home cheaply";
    let unmet = "where can I buy cheap plane tickets to Istanbul";

    relay.set_up(false);
    // Open connections notice the cut within 20 ms.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = c.handle(1, text(faq)).await;
    assert!(
        out.replies[0].text.contains(&remittances),
        "answered from memory: {:?}",
        out.replies
    );
    let out = c.handle(1, text(unmet)).await;
    // "Please send it again", in the language of the text: the profile cannot be read either.
    assert_eq!(out.replies[0].text, k.kb.t("save_failed", Lang::En));
    assert!(out.new_questions.is_empty(), "nothing acknowledged");

    relay.set_up(true);
    // Within the pause after a failure the bot leaves the database alone; after it, all works.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let out = c.handle(1, text(unmet)).await;
    assert_eq!(out.new_questions.len(), 1, "{:?}", out.replies);
    let q = store.question(out.new_questions[0]).await.unwrap().unwrap();
    assert_eq!(q.text, unmet);
    store.close().await;
    db.drop().await;
}
