//! The login session: which user, and the user's `session_epoch` at login. Bumping the epoch
//! (password change) ends every session created before.

use crate::db::customers::User;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use uuid::Uuid;

const KEY: &str = "user";

/// What the session remembers about its user.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: Uuid,
    pub epoch: i32,
}

/// Starts a login session: a new session id (against fixation), then the user and epoch.
pub async fn log_in(session: &Session, user: &User) -> anyhow::Result<()> {
    session.cycle_id().await?;
    session
        .insert(
            KEY,
            SessionUser {
                id: user.id,
                epoch: user.session_epoch,
            },
        )
        .await?;
    Ok(())
}

/// The user this session was logged in as, if any.
pub async fn logged_in(session: &Session) -> anyhow::Result<Option<SessionUser>> {
    Ok(session.get::<SessionUser>(KEY).await?)
}

/// Ends the session (the row is deleted and the cookie cleared).
pub async fn log_out(session: &Session) -> anyhow::Result<()> {
    session.flush().await?;
    Ok(())
}
