//! Coherence checks shared between concurrent requests, group-commit style.
//!
//! A request that must read what other instances changed (see `coherence.rs`) adds the keys it
//! needs to the next round and waits for that round to finish. One round runs at a time; the
//! requests that arrive while it runs all join the round after it, which then reads their keys
//! in one query. A round that started before a request arrived never serves that request: the
//! round's query is sent after the request's keys were added, so every write acknowledged before
//! the request arrived (committed before its acknowledgement) is in what the query reads. Eight
//! concurrent requests thus share one or two round trips instead of making eight.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// The rounds of one store.
pub(super) struct Rounds {
    state: Mutex<State>,
    /// The number of rounds finished (rounds finish in order: one runs at a time).
    finished: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    /// Keys asked for the next round.
    pending: Vec<String>,
    /// The number of rounds started; the next round to start is this one (0-based).
    started: u64,
    /// Whether a runner is at work (it starts rounds until nothing is pending).
    running: bool,
}

impl Default for Rounds {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::default()),
            finished: watch::Sender::new(0),
        }
    }
}

impl Rounds {
    /// Adds `keys` to the next round, starting a runner when none is at work, and waits until
    /// that round finished. `run` reads and applies one round's keys; the runner is a task of
    /// its own, so a request that goes away does not stop the rounds others wait for.
    pub(super) async fn join<F, Fut>(self: &Arc<Self>, keys: Vec<String>, run: F)
    where
        F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if keys.is_empty() {
            return;
        }
        let mut finished = self.finished.subscribe();
        let (round, start) = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            for k in keys {
                if !st.pending.contains(&k) {
                    st.pending.push(k);
                }
            }
            let start = !st.running;
            st.running = true;
            (st.started, start)
        };
        if start {
            let rounds = Arc::clone(self);
            tokio::spawn(async move { rounds.run(run).await });
        }
        // Round `round` is finished once `round + 1` rounds are. The sender lives as long as
        // `self`, so the wait ends.
        let _ = finished.wait_for(|n| *n > round).await;
    }

    /// Starts rounds until none is asked for.
    async fn run<F, Fut>(&self, run: F)
    where
        F: Fn(Vec<String>) -> Fut,
        Fut: Future<Output = ()>,
    {
        loop {
            let keys = {
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                if st.pending.is_empty() {
                    st.running = false;
                    return;
                }
                st.started += 1;
                std::mem::take(&mut st.pending)
            };
            run(keys).await;
            self.finished.send_modify(|n| *n += 1);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;

    /// A runner recording each round's keys and how many rounds started, taking `pause`.
    fn recorder(
        log: Arc<Mutex<Vec<Vec<String>>>>,
        starts: Arc<AtomicU64>,
        pause: Duration,
    ) -> impl Fn(Vec<String>) -> futures::future::BoxFuture<'static, ()> + Send + Sync + 'static
    {
        move |keys| {
            let log = Arc::clone(&log);
            let starts = Arc::clone(&starts);
            Box::pin(async move {
                starts.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(pause).await;
                log.lock().unwrap().push(keys);
            })
        }
    }

    #[tokio::test]
    async fn concurrent_requests_share_rounds() {
        let rounds = Arc::new(Rounds::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let starts = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let rounds = Arc::clone(&rounds);
            let run = recorder(
                Arc::clone(&log),
                Arc::clone(&starts),
                Duration::from_millis(50),
            );
            tasks.push(tokio::spawn(async move {
                rounds
                    .join(vec![String::new(), format!("shr_{}", i % 2)], run)
                    .await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let log = log.lock().unwrap();
        assert!(log.len() <= 2, "8 requests made {} rounds", log.len());
        // Every key asked was read, each once per round.
        let all: Vec<&String> = log.iter().flatten().collect();
        for k in ["", "shr_0", "shr_1"] {
            assert!(all.iter().any(|x| *x == k), "{k:?} never read: {log:?}");
        }
        for round in log.iter() {
            let mut r = round.clone();
            r.sort();
            r.dedup();
            assert_eq!(r.len(), round.len(), "a key twice in one round: {round:?}");
        }
    }

    #[tokio::test]
    async fn a_round_in_flight_does_not_serve_a_later_request() {
        let rounds = Arc::new(Rounds::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let starts = Arc::new(AtomicU64::new(0));
        let first = {
            let rounds = Arc::clone(&rounds);
            let run = recorder(
                Arc::clone(&log),
                Arc::clone(&starts),
                Duration::from_millis(100),
            );
            tokio::spawn(async move { rounds.join(vec!["shr_a".into()], run).await })
        };
        // Wait until the first round is under way, then ask.
        while starts.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let run = recorder(
            Arc::clone(&log),
            Arc::clone(&starts),
            Duration::from_millis(100),
        );
        rounds.join(vec!["shr_a".into()], run).await;
        // Served by a round started after it asked: the second one, finished.
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        assert_eq!(log.lock().unwrap().len(), 2);
        first.await.unwrap();
        // Nothing left running: the next request starts a runner again.
        let run = recorder(Arc::clone(&log), Arc::clone(&starts), Duration::ZERO);
        rounds.join(vec!["shr_b".into()], run).await;
        assert_eq!(
            log.lock().unwrap().last().unwrap(),
            &vec!["shr_b".to_owned()]
        );
    }
}
