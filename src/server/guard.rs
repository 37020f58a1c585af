//! The checks in front of teloxide's webhook handler (the secret token, the body must be an
//! update, a flooding chat's updates dropped, the update stored in the inbox first), and the
//! count of the requests they refuse.

use super::MAX_BODY_BYTES;
use crate::config::Secret;
use crate::telegram::desk::instance_id;
use crate::telegram::inbox::Inbox;
use crate::telegram::polling::Running;
use axum::{
    Router,
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, Request, State},
    http::{StatusCode, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use teloxide::types::{Update, UpdateKind};

const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Refused webhook requests, counted; logged at most once a minute, not one by one (a hostile
/// client would otherwise fill the log).
pub struct Refusals {
    secret: AtomicU64,
    body: AtomicU64,
    flood: AtomicU64,
    last_logged: Mutex<Option<Instant>>,
}

/// The process's count of refused webhook requests.
pub static REFUSALS: Refusals = Refusals {
    secret: AtomicU64::new(0),
    body: AtomicU64::new(0),
    flood: AtomicU64::new(0),
    last_logged: Mutex::new(None),
};

/// Why a webhook request was refused or dropped.
#[derive(Clone, Copy, Debug)]
pub enum Refusal {
    /// Without the right secret token.
    Secret,
    /// Not an update.
    Body,
    /// An update of a chat that has its share of updates running.
    Flood,
}

impl Refusals {
    pub fn note(&self, why: Refusal) {
        match why {
            Refusal::Secret => &self.secret,
            Refusal::Body => &self.body,
            Refusal::Flood => &self.flood,
        }
        .fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_logged.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            *last = Some(Instant::now());
            let (s, b, f) = self.counts();
            log::warn!(
                "webhook: refused so far: {s} without the secret token, {b} not updates, {f} \
                 dropped of flooding chats (logged at most once a minute)"
            );
        }
    }

    /// Refused so far: (without the secret, not updates, dropped of flooding chats).
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.secret.load(Ordering::Relaxed),
            self.body.load(Ordering::Relaxed),
            self.flood.load(Ordering::Relaxed),
        )
    }
}

/// Checks in front of teloxide's webhook handler, outermost first: the body limit, the secret
/// (before the body is read), then the body must be an update.
pub(super) fn guard_webhook(
    hook: Router,
    secret: &Secret,
    running: &Running,
    inbox: &Inbox,
) -> Router {
    let secret: Arc<[u8]> = secret.expose().as_bytes().into();
    // `route_layer`, so that unknown paths still get 404 rather than 401.
    hook.route_layer(middleware::from_fn_with_state(
        (running.clone(), inbox.clone()),
        check_update,
    ))
    .route_layer(middleware::from_fn_with_state(secret, check_secret))
    .route_layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn check_secret(State(secret): State<Arc<[u8]>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq(given, &secret) {
        REFUSALS.note(Refusal::Secret);
        return (StatusCode::UNAUTHORIZED, "wrong or missing secret token\n").into_response();
    }
    next.run(req).await
}

/// Comparing secrets byte by byte with an early exit would tell an attacker, through the
/// response time, how much of a guess is right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Rejects bodies that are not updates with 400 (teloxide would answer 200, and log the body,
/// which may hold a user's message), and answers updates of kinds this version cannot read with
/// 200 without handing them on, since redelivery would not help.
async fn check_update(
    State((running, inbox)): State<(Running, Inbox)>,
    parts: Parts,
    body: Bytes,
    next: Next,
) -> Response {
    // From the bytes, not through a `Value`: teloxide's update parser needs borrowed keys.
    let update: Update = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            // The error's kind and position only: its text may quote a user's message.
            log::debug!(
                "webhook: refused a body that is not an update ({} bytes, {:?} error at line {} \
                 column {})",
                body.len(),
                e.classify(),
                e.line(),
                e.column()
            );
            REFUSALS.note(Refusal::Body);
            return (StatusCode::BAD_REQUEST, "not a Telegram update\n").into_response();
        }
    };
    if matches!(update.kind, UpdateKind::Error(_)) {
        let value: Value = serde_json::from_slice(&body).unwrap_or_default();
        let kind = value
            .as_object()
            .and_then(|o| o.keys().find(|k| *k != "update_id"))
            .map_or("(none)", String::as_str);
        log::warn!(
            "webhook: ignored update {} of kind {kind}: unknown to this version or unreadable",
            update.id.0
        );
        return StatusCode::OK.into_response();
    }
    // A chat with its share of updates running has the rest dropped (answered 200, so that
    // Telegram does not send them again): its per-chat queue would otherwise fill and hold up
    // the dispatcher, and with it every chat. The person has been told to slow down.
    let id = update.id.0;
    if !running.admit(id, update.chat().map(|c| c.id.0)) {
        REFUSALS.note(Refusal::Flood);
        return StatusCode::OK.into_response();
    }
    // Stored before Telegram hears "received": a crash from here on loses nothing.
    let store = match store_in_inbox(&inbox, id, &body).await {
        Ok(store) => store,
        Err(answer) => {
            running.finish(id);
            return answer;
        }
    };
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    if !response.status().is_success() {
        // Not taken (stopping): the next instance takes it up from the inbox.
        running.finish(id);
        if let Err(e) = store.inbox_release(i64::from(id)).await {
            log::warn!("webhook: update {id} not released in the inbox: {e:#}");
        }
    }
    response
}

/// Commits update `id` to the inbox; otherwise the answer for Telegram: 503 while the
/// database is not open or the write fails (Telegram sends it again), 200 for an update stored
/// before (a redelivery: handled, or being handled, already).
async fn store_in_inbox<'a>(
    inbox: &'a Inbox,
    id: u32,
    body: &[u8],
) -> Result<&'a Arc<dyn crate::storage::Storage>, Response> {
    let Some(store) = inbox.store() else {
        return Err((StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response());
    };
    let text = String::from_utf8_lossy(body);
    let lease = crate::telegram::inbox::LEASE;
    match store
        .inbox_put(i64::from(id), &text, instance_id(), lease)
        .await
    {
        Ok(true) => Ok(store),
        Ok(false) => Err(StatusCode::OK.into_response()),
        Err(e) => {
            log::warn!("webhook: update {id} not stored, Telegram will send it again: {e:#}");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot store the update now\n",
            )
                .into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
