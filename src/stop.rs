//! Stopping: a request to stop, from SIGINT, SIGTERM or a handle, that everything which must
//! wind down observes; a second request means "now".

use std::sync::Arc;
use tokio::sync::watch;

const RUNNING: u8 = 0;
const GRACEFUL: u8 = 1;
const NOW: u8 = 2;

/// A request to stop, observed by everything that must wind down (the dispatcher, the HTTP
/// server, background tasks).
#[derive(Clone)]
pub struct Stop(watch::Receiver<u8>);

/// Asks for a stop; see [`Stop::new`].
#[derive(Clone)]
pub struct StopHandle(Arc<watch::Sender<u8>>);

impl StopHandle {
    /// Stop taking work and let running work finish.
    pub fn stop(&self) {
        self.0.send_if_modified(|s| {
            let changed = *s < GRACEFUL;
            *s = (*s).max(GRACEFUL);
            changed
        });
    }

    /// Stop without waiting for running work.
    pub fn stop_now(&self) {
        self.0.send_replace(NOW);
    }
}

impl Stop {
    /// A stop that happens when the handle says so (tests, embedding).
    pub fn new() -> (StopHandle, Stop) {
        let (tx, rx) = watch::channel(RUNNING);
        (StopHandle(Arc::new(tx)), Stop(rx))
    }

    /// A stop on SIGINT or SIGTERM; a second signal means "now". Must be called inside the
    /// runtime. Installing the handlers replaces the default of dying at once, so call it
    /// early: a signal during start-up (migrations) then stops gracefully too.
    pub fn on_signals() -> std::io::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let (handle, stop) = Stop::new();
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                if handle.0.borrow().eq(&RUNNING) {
                    log::info!(
                        "{name}: stopping; running handlers may finish (a second signal stops at once)"
                    );
                    handle.stop();
                } else {
                    log::warn!("{name} again: stopping without waiting for running handlers");
                    handle.stop_now();
                }
            }
        });
        Ok(stop)
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow() >= GRACEFUL
    }

    /// Resolves once a stop is requested.
    pub async fn requested(&self) {
        self.reached(GRACEFUL).await
    }

    /// Resolves once a stop without waiting is requested.
    pub async fn now(&self) {
        self.reached(NOW).await
    }

    async fn reached(&self, level: u8) {
        let mut rx = self.0.clone();
        if rx.wait_for(|s| *s >= level).await.is_err() {
            // The handle is gone, so nobody can ask any more.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_stop_is_now() {
        let (handle, stop) = Stop::new();
        assert!(!stop.is_requested());
        handle.stop();
        stop.requested().await;
        assert!(stop.is_requested());
        assert_eq!(*stop.0.borrow(), GRACEFUL);
        handle.stop_now();
        stop.now().await;
    }
}
