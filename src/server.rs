//! Serving the bot: receiving updates (long polling or webhooks), the HTTP server with its
//! health checks, and stopping gracefully on SIGINT and SIGTERM.
//!
//! Stopping: the first signal stops taking updates (polling makes one last `getUpdates` that
//! confirms only what was handed to the handlers; the webhook answers 503, so Telegram
//! delivers again later, to another instance or to this one after its restart), lets running
//! handlers finish for up to [`GRACE`], then returns so that the database can be closed. A
//! second signal stops waiting.

use crate::bot::Conversation;
use crate::config::Webhook;
use crate::telegram::inbox::Inbox;
use crate::telegram::polling::{self, Polling, Running};
use axum::{
    Router,
    extract::{Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use teloxide::dispatching::Dispatcher;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::requests::Requester;
use teloxide::types::{AllowedUpdate, Update};
use teloxide::update_listeners::{AsUpdateStream, UpdateListener};
use tokio::net::TcpListener;

mod guard;

pub use crate::stop::{Stop, StopHandle};
use guard::guard_webhook;
pub use guard::{REFUSALS, Refusal, Refusals};

/// Updates are a few kilobytes; the limit only keeps a hostile client from filling memory.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// How long running handlers may take to finish after a stop signal. Below systemd's default
/// `TimeoutStopSec` (90 s), so the process exits on its own rather than being killed.
pub const GRACE: Duration = Duration::from_secs(10);

/// A database that does not answer within this is as good as down for a load balancer.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a client may take to send a request's headers; a connection that sends none is
/// closed then (half-open connections would otherwise pile up).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may take from its headers to the response, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs the dispatcher on `listener` until the listener ends or a stop is requested, then
/// lets the running handlers finish (at most [`GRACE`], or until a second signal).
///
/// # Errors
/// When the dispatcher cannot start (`getMe` fails, e.g. a revoked token).
pub async fn dispatch<R, Err, Key, L>(
    dispatcher: &mut Dispatcher<R, Err, Key>,
    listener: L,
    stop: &Stop,
) -> anyhow::Result<()>
where
    R: Requester + Clone + Send + Sync + 'static,
    R::Err: std::error::Error + Send + Sync + 'static,
    Err: Send + Sync + 'static,
    Key: Hash + Eq + Clone + Send,
    L: UpdateListener + Send,
    L::Err: Debug,
{
    let token = dispatcher.shutdown_token();
    let dispatching = dispatcher.try_dispatch_with_listener(
        listener,
        LoggingErrorHandler::with_custom_text("receiving updates failed"),
    );
    let stopping = async {
        stop.requested().await;
        // The dispatcher refuses a shutdown before it runs (during `getMe`), so keep asking
        // until it takes it; `select!` drops this once dispatching returns anyway.
        while token.shutdown().is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(GRACE) => {
                log::warn!("handlers still running {GRACE:?} after the stop; not waiting longer");
            }
            _ = stop.now() => {}
        }
    };
    tokio::select! {
        result = dispatching => {
            result?;
            log::info!("stopped taking updates; every handler has finished");
        }
        () = stopping => {}
    }
    Ok(())
}

// ---- health ----

/// What `/readyz` reports: ready once the knowledge base is loaded and while the database
/// answers; not ready while starting or stopping.
#[derive(Clone, Default)]
pub struct Health(Arc<HealthState>);

#[derive(Default)]
struct HealthState {
    conversation: OnceLock<Arc<Conversation>>,
    stopping: AtomicBool,
}

impl Health {
    pub fn new() -> Health {
        Health::default()
    }

    /// The knowledge base is loaded and the database open.
    pub fn set_ready(&self, conversation: Arc<Conversation>) {
        let _ = self.0.conversation.set(conversation);
    }

    /// A load balancer should send new work elsewhere.
    pub fn set_stopping(&self) {
        self.0.stopping.store(true, Ordering::Relaxed);
    }

    /// `Ok` when ready, else a short reason.
    pub async fn check(&self) -> Result<(), &'static str> {
        if self.0.stopping.load(Ordering::Relaxed) {
            return Err("stopping");
        }
        let Some(conversation) = self.0.conversation.get() else {
            return Err("starting: knowledge base not loaded yet");
        };
        if conversation.knowledge().kb.entries.is_empty() {
            return Err("knowledge base is empty");
        }
        match tokio::time::timeout(PING_TIMEOUT, conversation.store().ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                log::warn!("readiness: the database does not answer: {e:#}");
                Err("database not answering")
            }
            Err(_) => {
                log::warn!("readiness: the database did not answer within {PING_TIMEOUT:?}");
                Err("database not answering")
            }
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(health): State<Health>) -> Response {
    match health.check().await {
        Ok(()) => "ready\n".into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

// ---- the HTTP server ----

/// `/healthz` and `/readyz`, and, in webhook mode, the webhook (teloxide's router, from
/// `axum_no_setup`) behind the secret and body checks.
pub fn router(
    health: Health,
    webhook: Option<(Router, &Webhook)>,
    running: &Running,
    inbox: &Inbox,
) -> Router {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(health);
    let app = match webhook {
        Some((hook, settings)) => app.merge(guard_webhook(hook, &settings.secret, running, inbox)),
        None => app,
    };
    app.layer(middleware::from_fn(time_limit))
}

/// Answers 408 to a request that takes longer than [`REQUEST_TIMEOUT`] (a body sent slowly on
/// purpose, say).
async fn time_limit(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "request took too long\n").into_response(),
    }
}

/// The bot for the configured token and Bot API server (`TELOXIDE_API_URL`), with teloxide's
/// HTTP client settings from the environment (`TELOXIDE_PROXY`).
pub fn bot(config: &crate::config::Config) -> anyhow::Result<teloxide::Bot> {
    let Some(token) = &config.token else {
        anyhow::bail!(
            "TELOXIDE_TOKEN is not set: get a token from @BotFather (or use `jardam chat`)"
        );
    };
    let bot = teloxide::Bot::with_client(token.expose(), teloxide::net::client_from_env());
    Ok(match &config.api_url {
        Some(url) => bot.set_api_url(url.clone()),
        None => bot,
    })
}

/// Tells Telegram where to post updates, with the secret and the kinds the handlers take.
///
/// Nothing undoes this at shutdown: other instances behind the same URL keep receiving, and
/// Telegram holds updates for a stopped one until it is back. Long polling deletes the webhook
/// when it starts.
pub async fn set_webhook<B: Requester>(
    bot: &B,
    webhook: &Webhook,
    allowed: Vec<AllowedUpdate>,
) -> anyhow::Result<()>
where
    B::Err: std::error::Error + Send + Sync + 'static,
{
    use teloxide::payloads::SetWebhookSetters;
    bot.set_webhook(webhook.url.clone())
        .secret_token(webhook.secret.expose().to_string())
        .allowed_updates(allowed)
        .await
        .map_err(|e| anyhow::anyhow!("setWebhook failed: {e}"))?;
    log::info!("webhook set to {}", webhook.url);
    Ok(())
}

/// Runs the dispatcher on the webhook's updates (calling setWebhook once the dispatcher runs),
/// or on long polling without them (our listener, tracking updates in `running`, which the
/// handler tree finishes; what is done is confirmed to Telegram once the dispatcher stops).
pub async fn receive<R, Err, Key, L>(
    dispatcher: &mut Dispatcher<R, Err, Key>,
    bot: R,
    running: &Running,
    webhook: Option<(L, &Webhook)>,
    replay: Option<tokio::sync::mpsc::Receiver<Update>>,
    stop: &Stop,
) -> anyhow::Result<()>
where
    R: Requester<Err = teloxide::RequestError> + Clone + Send + Sync + 'static,
    R::GetUpdates: Send,
    Err: Send + Sync + 'static,
    Key: Hash + Eq + Clone + Send,
    L: UpdateListener + Send + 'static,
    L::Err: Debug + Send,
    for<'b> <L as AsUpdateStream<'b>>::Stream: Send,
{
    match webhook {
        Some((updates, settings)) => {
            log::info!("receiving updates by webhook");
            let (hint, hinted) = tokio::sync::oneshot::channel();
            let updates = Hinted {
                inner: updates,
                hint: Some(hint),
                replay,
            };
            let dispatching = dispatch(dispatcher, updates, stop);
            tokio::pin!(dispatching);
            let set_up = async {
                // The kinds the handlers take are known only to the dispatcher, which tells
                // its listener once it runs.
                match hinted.await {
                    Ok(allowed) => set_webhook(&bot, settings, allowed).await,
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                result = &mut dispatching => return result,
                result = set_up => result?,
            }
            dispatching.await
        }
        None => {
            log::info!("polling for updates");
            // A webhook left by an earlier run in webhook mode would refuse getUpdates.
            if let Err(e) = bot.delete_webhook().await {
                log::warn!("deleteWebhook failed: {e}");
            }
            let updates = Polling::new(bot.clone(), running.clone());
            let result = dispatch(dispatcher, updates, stop).await;
            polling::confirm(&bot, running).await;
            result
        }
    }
}

/// A listener that passes on the dispatcher's hint of the update kinds it handles, and mixes
/// in the updates taken up from the inbox (`replay`); it ends when `inner` ends.
struct Hinted<L> {
    inner: L,
    hint: Option<tokio::sync::oneshot::Sender<Vec<AllowedUpdate>>>,
    replay: Option<tokio::sync::mpsc::Receiver<Update>>,
}

impl<L> UpdateListener for Hinted<L>
where
    L: UpdateListener + 'static,
    L::Err: Send,
    for<'b> <L as AsUpdateStream<'b>>::Stream: Send,
{
    type Err = L::Err;

    fn stop_token(&mut self) -> teloxide::stop::StopToken {
        self.inner.stop_token()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        let allowed: Vec<AllowedUpdate> = hint.collect();
        self.inner
            .hint_allowed_updates(&mut allowed.iter().copied());
        if let Some(tx) = self.hint.take() {
            let _ = tx.send(allowed);
        }
    }
}

impl<'a, L> AsUpdateStream<'a> for Hinted<L>
where
    L: UpdateListener + 'static,
    L::Err: Send,
    for<'b> <L as AsUpdateStream<'b>>::Stream: Send,
{
    type StreamErr = L::Err;
    type Stream = futures::stream::BoxStream<'a, Result<Update, L::Err>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        use futures::StreamExt;
        let inner = self.inner.as_stream();
        let Some(rx) = self.replay.take() else {
            return inner.boxed();
        };
        let inner = inner.map(Some).chain(futures::stream::once(async { None }));
        let replayed = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|u| (Some(Ok(u)), rx))
        });
        futures::stream::select(inner, replayed)
            .take_while(|item| std::future::ready(item.is_some()))
            .filter_map(std::future::ready)
            .boxed()
    }
}

/// The running HTTP server.
pub struct HttpServer {
    task: Option<tokio::task::JoinHandle<()>>,
    stop: StopHandle,
}

impl HttpServer {
    /// Stops taking connections and waits for the requests in progress, at most [`GRACE`].
    pub async fn finish(mut self) {
        self.stop.stop();
        let Some(mut task) = self.task.take() else {
            return;
        };
        if tokio::time::timeout(GRACE, &mut task).await.is_err() {
            log::warn!("HTTP requests still open {GRACE:?} after the stop; closing them");
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for HttpServer {
    /// A start that fails half-way must not leave the port served.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts the HTTP server on `listener`, if there is one: the health checks, and in webhook
/// mode the webhook, whose updates are returned for the dispatcher. It stops on `stop` or
/// [`HttpServer::finish`]; in webhook mode that also ends the updates.
#[allow(clippy::type_complexity)]
pub fn start_http(
    listener: Option<TcpListener>,
    webhook: Option<&Webhook>,
    health: &Health,
    running: &Running,
    inbox: &Inbox,
    stop: &Stop,
) -> anyhow::Result<(
    Option<impl UpdateListener<Err = std::convert::Infallible> + Send + use<>>,
    Option<HttpServer>,
)> {
    let Some(listener) = listener else {
        if webhook.is_some() {
            anyhow::bail!("webhook mode needs an address to listen on (JARDAM_LISTEN)");
        }
        return Ok((None, None));
    };
    let (updates, hook) = match webhook {
        Some(w) => {
            use teloxide::update_listeners::webhooks;
            let addr = listener.local_addr()?;
            let options =
                webhooks::Options::new(addr, w.url.clone()).secret_token(w.secret.expose().into());
            // Not `axum_to_router`: it deletes the webhook on stop, which would cut off the
            // other instances behind the same URL.
            let (updates, _stopped, hook) = webhooks::axum_no_setup(options);
            (Some(updates), Some((hook, w)))
        }
        None => (None, None),
    };
    let app = router(health.clone(), hook, running, inbox);
    let (handle, own) = Stop::new();
    let outer = stop.clone();
    let until = async move {
        tokio::select! {
            () = outer.requested() => {}
            () = own.requested() => {}
        }
    };
    let task = tokio::spawn(serve_http(listener, app, until));
    Ok((
        updates,
        Some(HttpServer {
            task: Some(task),
            stop: handle,
        }),
    ))
}

/// Serves `app` on `listener` until `until`, then waits for the open connections (the caller
/// bounds that wait). Unlike `axum::serve`, a connection that sends no complete headers within
/// [`HEADER_TIMEOUT`] is closed.
async fn serve_http(listener: TcpListener, app: Router, until: impl Future<Output = ()>) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(until);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    log::warn!("HTTP server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut until => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::debug!("HTTP connection ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Binds the HTTP server's address, so that a taken port fails the start before anything else.
pub async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("JARDAM_LISTEN: cannot listen on {addr}: {e}"))?;
    if let Ok(local) = listener.local_addr() {
        log::info!("HTTP server on {local}");
    }
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn not_ready_while_starting_or_stopping() {
        let health = Health::new();
        assert_eq!(
            health.check().await,
            Err("starting: knowledge base not loaded yet")
        );
        health.set_stopping();
        assert_eq!(health.check().await, Err("stopping"));
    }
}
