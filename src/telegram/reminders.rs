//! Sending the reminders that are due and the change notes to followers: the core picks them
//! (claimed for this instance; reminders never at night where the person lives) and says what
//! to send; this sends it and reports back.

use super::{Deps, TgBot, desk, send_reply};
use crate::bot::desk::Delivery;
use teloxide::types::ChatId;

/// How many reminders one round sends at most; the next round takes the rest.
const BATCH: u32 = 100;

/// One round: the due reminders sent, each recorded as sent, undeliverable (blocked bot, chat
/// gone) or to be tried again. Returns how many were sent.
pub async fn send_due(bot: &TgBot, deps: &Deps) -> anyhow::Result<usize> {
    let c = &deps.conversation;
    let instance = desk::instance_id();
    let mut sent = 0;
    for due in c.due_reminders(instance, BATCH).await? {
        let delivery = desk::delivery(send_reply(bot, ChatId(due.chat), &due.reply).await);
        if delivery == Delivery::Delivered {
            sent += 1;
        }
        c.reminder_sent(due.id, instance, delivery).await?;
    }
    Ok(sent)
}

/// One round of change notes: at most [`BATCH`] followers taken and told. Returns how many
/// got it.
pub async fn send_change_notes(bot: &TgBot, deps: &Deps) -> anyhow::Result<usize> {
    let c = &deps.conversation;
    let mut sent = 0;
    for n in c.change_notices(BATCH).await? {
        match desk::delivery(send_reply(bot, ChatId(n.chat), &n.reply).await) {
            Delivery::Delivered => sent += 1,
            Delivery::Blocked => c.follower_gone(n.chat, &n.entry).await?,
            // Taken already: not sent again (the failure is logged).
            Delivery::Failed => {}
        }
    }
    Ok(sent)
}
