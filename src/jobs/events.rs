//! Live job events for followers (Server-Sent Events): one `LISTEN fox_job_events` per server
//! process fans the database's notifications out to every open stream; a stream then reads
//! the new rows of `job_events` itself. Notifications only say "look now": a stream also
//! polls, so nothing is missed while the listener reconnects.

use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

/// The channel the `job_events` trigger notifies on (`<job id> <event id>`).
pub const CHANNEL: &str = "fox_job_events";

/// Fans out "job X has new events".
#[derive(Clone)]
pub struct EventHub {
    tx: broadcast::Sender<Uuid>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new()
    }
}

impl EventHub {
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(1024).0,
        }
    }

    /// Notices of new events (of every job; filter by id).
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.tx.subscribe()
    }

    fn announce(&self, job: Uuid) {
        let _ = self.tx.send(job);
    }

    /// Listens for notifications until the process ends, reconnecting as needed.
    pub async fn listen(self, pool: PgPool) {
        loop {
            match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(CHANNEL).await {
                        tracing::warn!(error = %e, "cannot listen for job events; retrying");
                    } else {
                        loop {
                            match listener.recv().await {
                                Ok(n) => {
                                    let job = n.payload().split(' ').next().unwrap_or("");
                                    if let Ok(id) = job.parse() {
                                        self.announce(id);
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "job event listener lost; reconnecting");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect the job event listener; retrying")
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
