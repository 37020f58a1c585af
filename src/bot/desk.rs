//! The expert workflow, transport-free: where a new question goes (a post of its own, a
//! group's post, or its asker's own post), who an answer reaches and what is stored when it
//! is sent, dismissing, and teaching the matcher from an answer. The Telegram adapter
//! (`telegram::desk`) sends and edits; this decides and records.

use super::Conversation;
use crate::kb::KnowledgeBase;
use crate::kb::html::escape;
use crate::lang::Lang;
use crate::model::{Question, QuestionKind, QuestionStatus, joins_posts};
use std::collections::HashSet;
use std::time::Duration;

/// Open posts one person may have in the expert chat before their further text questions
/// join the newest of them.
pub const MAX_OPEN_POSTS_PER_PERSON: usize = 3;

/// Where a stored question goes in the expert chat.
#[derive(Debug)]
pub enum Placement {
    /// Nothing to do: posted or resolved already, or another instance is posting it.
    Nothing,
    /// Joined the post of the same question asked by others (mapped already): the post's
    /// "asked by N people" is to be refreshed.
    JoinedGroup { message: i32 },
    /// Joined its asker's newest own post (mapped already); `group` is the post's questions
    /// with it, `edit` whether the post is to be re-rendered now (while each wording shows,
    /// then ever more rarely: a flood of questions is not a flood of edits).
    JoinedOwn {
        message: i32,
        group: Vec<Question>,
        edit: bool,
    },
    /// A post of its own: the adapter sends it, then records it with
    /// [`Conversation::posted`], or gives the claim up with [`Conversation::post_failed`].
    New(Box<Question>),
}

/// How one send of an answer to a person went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The person blocked the bot or deleted the chat.
    Blocked,
    /// Failed in passing (network, Telegram's trouble): not recorded as delivered.
    Failed,
}

/// What happened to an answer, counted per person.
#[derive(Default, Debug)]
pub struct Sent {
    pub delivered: usize,
    pub blocked: usize,
    pub failed: usize,
}

impl Sent {
    /// The confirmation for the expert chat (HTML).
    pub fn report(&self, kb: &KnowledgeBase, l: Lang) -> String {
        let mut lines = Vec::new();
        let count = |key: &str, n: usize| kb.interface.fill(key, l, &[("count", &n.to_string())]);
        if self.delivered > 0 || (self.blocked == 0 && self.failed == 0) {
            lines.push(count("expert_delivered", self.delivered));
        }
        if self.blocked > 0 {
            lines.push(count("expert_not_delivered", self.blocked));
        }
        if self.failed > 0 {
            lines.push(count("expert_send_failed", self.failed));
        }
        escape(&lines.join("\n"))
    }
}

/// One person an answer goes to, with the questions it answers.
pub struct Person {
    pub chat: i64,
    pub lang: Lang,
    pub ids: Vec<i64>,
}

/// The questions of a post that an answer should reach: those not answered yet.
pub fn unanswered(questions: Vec<Question>) -> Vec<Question> {
    questions
        .into_iter()
        .filter(|q| matches!(q.status, QuestionStatus::Open | QuestionStatus::Dismissed))
        .collect()
}

/// `questions` grouped by person (someone who asked twice gets one answer), in order.
fn by_person(questions: &[Question]) -> Vec<(i64, Vec<&Question>)> {
    let mut out: Vec<(i64, Vec<&Question>)> = Vec::new();
    for q in questions {
        match out.iter_mut().find(|(chat, _)| *chat == q.chat_id) {
            Some((_, qs)) => qs.push(q),
            None => out.push((q.chat_id, vec![q])),
        }
    }
    out
}

impl Conversation {
    /// Decides where stored question `id` goes in `expert_chat`, taking the right to post it
    /// for `lease` as `instance`. A text question like one already posted and open joins
    /// that post; a person with [`MAX_OPEN_POSTS_PER_PERSON`] open posts joins their own
    /// newest. A new asker of a grouped question costs a constant number of database calls,
    /// however many asked before.
    pub async fn place_question(
        &self,
        id: i64,
        expert_chat: i64,
        instance: &str,
        lease: Duration,
    ) -> anyhow::Result<Placement> {
        let store = self.store();
        // Only an open question not posted yet is taken.
        let Some(q) = store.claim_for_posting(id, instance, lease).await? else {
            return Ok(Placement::Nothing);
        };
        if joins_posts(q.kind, q.urgent) {
            if let Some(message) = store.group_post(&q.group_key, expert_chat).await? {
                store.set_expert_message(q.id, expert_chat, message).await?;
                return Ok(Placement::JoinedGroup { message });
            }
            if let Some((message, mut group)) = self.own_post_to_join(&q, expert_chat).await? {
                store.set_expert_message(q.id, expert_chat, message).await?;
                group.push(q);
                let held = group.len();
                let edit = held <= crate::experts::MAX_WORDINGS_SHOWN + 1 || held.is_power_of_two();
                return Ok(Placement::JoinedOwn {
                    message,
                    group,
                    edit,
                });
            }
        }
        Ok(Placement::New(Box::new(q)))
    }

    /// Records that question `q` was posted as `message`: the mapping lets a reply find the
    /// question, and keeps it from being posted again. Retried a few times.
    pub async fn posted(&self, q: &Question, chat: i64, message: i32) -> anyhow::Result<()> {
        let mut tries = 0;
        loop {
            match self.store().set_expert_message(q.id, chat, message).await {
                Ok(()) => return Ok(()),
                Err(e) if tries < 3 => {
                    tries += 1;
                    log::warn!("question {} posted, mapping not stored yet: {e:#}", q.id);
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Gives up the claim on question `id` after its post failed, so that any instance may
    /// retry at once.
    pub async fn post_failed(&self, id: i64, instance: &str) {
        if let Err(e) = self.store().release_claim(id, instance).await {
            log::warn!("claim on question {id} not released: {e:#}");
        }
    }

    /// The post `q` should join instead of getting its own: the newest of its asker's posts
    /// that holds only their open, not urgent questions, once they have
    /// [`MAX_OPEN_POSTS_PER_PERSON`] open posts. A post shared with other people is never
    /// joined: an expert's reply to it goes to everyone in it.
    async fn own_post_to_join(
        &self,
        q: &Question,
        chat: i64,
    ) -> anyhow::Result<Option<(i32, Vec<Question>)>> {
        let store = self.store();
        let posts: Vec<i32> = store
            .open_posts_of(q.chat_id, 2 * MAX_OPEN_POSTS_PER_PERSON as u32)
            .await?
            .into_iter()
            .filter(|&(c, _)| c == chat)
            .map(|(_, m)| m)
            .collect();
        if posts.len() < MAX_OPEN_POSTS_PER_PERSON {
            return Ok(None);
        }
        for message in posts {
            let held = store.posted_as(chat, message).await?;
            let own = held
                .iter()
                .all(|h| h.chat_id == q.chat_id && !h.urgent && h.status == QuestionStatus::Open);
            if own && !held.is_empty() {
                return Ok(Some((message, held)));
            }
        }
        Ok(None)
    }

    /// The open questions posted as `message`; `None` (logged) when they cannot be read.
    pub async fn open_in_post(&self, chat: i64, message: i32) -> Option<Vec<Question>> {
        match self.store().posted_as(chat, message).await {
            Ok(g) => Some(
                g.into_iter()
                    .filter(|q| q.status == QuestionStatus::Open)
                    .collect(),
            ),
            Err(e) => {
                log::warn!("post not read: {e:#}");
                None
            }
        }
    }

    /// The people of `questions`, each once however often they asked. With `stored` (answer,
    /// expert), each question is first marked answered, and a person whose questions another
    /// expert answered at the same moment is left out (only one answer goes out); without,
    /// the questions are already answered (sending again).
    pub async fn answer_to(
        &self,
        questions: &[Question],
        stored: Option<(&str, &str)>,
    ) -> anyhow::Result<Vec<Person>> {
        let mut out = Vec::new();
        for (chat, qs) in by_person(questions) {
            let mut ids = Vec::new();
            for q in &qs {
                match stored {
                    Some((answer, expert)) => {
                        if self.store().mark_answered(q.id, answer, expert).await? {
                            ids.push(q.id);
                        }
                    }
                    None => ids.push(q.id),
                }
            }
            if !ids.is_empty() {
                out.push(Person {
                    chat,
                    lang: qs[0].lang,
                    ids,
                });
            }
        }
        Ok(out)
    }

    /// Records one send's outcome for every question of that person.
    pub async fn record_delivery(
        &self,
        sent: &mut Sent,
        ids: &[i64],
        delivery: Delivery,
    ) -> anyhow::Result<()> {
        let delivered = match delivery {
            Delivery::Delivered => {
                sent.delivered += 1;
                true
            }
            Delivery::Blocked => {
                sent.blocked += 1;
                false
            }
            Delivery::Failed => {
                sent.failed += 1;
                return Ok(());
            }
        };
        for &id in ids {
            self.store().set_delivery(id, delivered).await?;
        }
        Ok(())
    }

    /// Dismisses the open questions of a post. False when none was open (answered already).
    pub async fn dismiss(&self, posted: Vec<Question>) -> anyhow::Result<bool> {
        let open: Vec<Question> = posted
            .into_iter()
            .filter(|q| q.status == QuestionStatus::Open)
            .collect();
        for o in &open {
            self.store()
                .set_status(o.id, QuestionStatus::Dismissed)
                .await?;
        }
        Ok(!open.is_empty())
    }

    /// Teaches the matcher the questions' texts as phrasings of `entry`, on this instance
    /// now and on the others at their next refresh. Voice messages, photos and urgent cases
    /// teach nothing; phones, document numbers, names and addresses are stripped first.
    pub async fn learn(
        &self,
        questions: &[Question],
        entry: &str,
        expert: &str,
    ) -> anyhow::Result<bool> {
        let k = self.knowledge();
        let mut taught = HashSet::new();
        for q in questions {
            if q.kind != QuestionKind::Text || q.urgent {
                continue;
            }
            let text = crate::text::strip_personal(&q.text, |w| k.matcher.knows_word(w));
            if text.trim().is_empty() {
                continue;
            }
            if taught.insert(text.clone()) {
                self.store()
                    .add_learned(&text, entry, expert, Some(q.chat_id))
                    .await?;
            }
        }
        if taught.is_empty() {
            return Ok(false);
        }
        self.refresh_learned().await?;
        Ok(true)
    }
}
