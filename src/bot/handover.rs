//! Handing a message to the experts: stored first, then the person is told honestly what
//! happens next (passed on, only saved, or not saved at all).

use super::reply::{Output, Reply};
use super::state::ChatState;
use super::{Conversation, Knowledge, screens};
use crate::lang::Lang;
use crate::model::NewQuestion;

impl Conversation {
    /// A message with a danger signal: the safety answer first, then the message `q` is stored
    /// and posted to experts as urgent, and the person is told so (or, when it could not be
    /// stored, that the answer is all they have for now).
    pub(super) async fn danger_to_experts(
        &self,
        k: &Knowledge,
        ui: Lang,
        q: NewQuestion,
        answer: Reply,
        state: &mut ChatState,
    ) -> Output {
        // One open urgent post per person: a further message joins the queue as an ordinary
        // question, and the person is told the first is with the experts.
        if let Some(open) = self.open_urgent(q.chat_id).await {
            let mut out = self.to_experts(k, ui, q, state).await;
            let notice =
                k.kb.interface
                    .fill("urgent_already_open", ui, &[("number", &open.to_string())]);
            out.replies = vec![answer, Reply::text(notice)];
            return out;
        }
        let q = NewQuestion { urgent: true, ..q };
        let mut out = self.to_experts(k, ui, q, state).await;
        let notice = if out.urgent.is_empty() {
            k.kb.t("save_failed", ui)
        } else {
            k.kb.t(self.notice("urgent_sent", "urgent_no_experts"), ui)
        };
        out.replies = vec![answer, Reply::text(notice.to_string())];
        out
    }

    /// Stores a question for experts and tells the person honestly what happens next; once
    /// it is stored, the chat's last question is cleared.
    pub(super) async fn to_experts(
        &self,
        k: &Knowledge,
        ui: Lang,
        q: NewQuestion,
        state: &mut ChatState,
    ) -> Output {
        let urgent = q.urgent;
        let q = NewQuestion {
            join_post_in: self.join_in,
            ..q
        };
        match self.store.add_question(q).await {
            Ok(q) => {
                state.last_question = None;
                let text = k.kb.interface.fill(
                    self.notice("unmet_saved", "saved_no_experts"),
                    ui,
                    &[("number", &q.id.to_string())],
                );
                let mut out = Output::one(screens::with_menu(&k.kb, ui, text));
                if urgent {
                    out.urgent.push(q.id);
                } else if let (Some(chat), Some(message)) = (q.expert_chat_id, q.expert_message_id)
                {
                    out.joined_posts.push((chat, message));
                } else {
                    out.new_questions.push(q.id);
                }
                out
            }
            Err(e) => {
                // Nothing is acknowledged that was not committed.
                log::error!("a question could not be stored: {e:#}");
                Output::one(Reply::text(k.kb.t("save_failed", ui).to_string()))
            }
        }
    }
}
