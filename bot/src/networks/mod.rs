//! The chat networks. Each module turns its `[chat.*]` section into its `Settings`
//! (`from_config`), names its outbox destinations (`destination`), answers commands through the
//! [`Router`] and posts notifications from the outbox. [`configured`] lists the networks a
//! configuration asks for; `forkdebt serve` only runs them.

pub mod discord;
pub mod irc;
pub mod matrix;
pub mod reconnect;

use crate::router::Router;
use forkdebt_core::config::{ChatConfig, Secret};
use forkdebt_core::store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What every network shares from `[chat]`: notification posts per room and hour, and how
/// often the outbox is looked at.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub posts_per_hour: u32,
    pub poll: Duration,
}

impl Pace {
    pub fn from_config(chat: &ChatConfig) -> Pace {
        Pace {
            posts_per_hour: chat.posts_per_hour.unwrap_or(10),
            poll: Duration::from_secs(chat.poll_secs.unwrap_or(30).max(1)),
        }
    }
}

/// A secret named in `section` by `*_env` / `*_file`.
pub(crate) fn secret(
    section: &str,
    what: &str,
    env: Option<&str>,
    file: Option<&PathBuf>,
) -> anyhow::Result<Option<Secret>> {
    Secret::load(env, file.map(PathBuf::as_path))
        .map_err(|e| anyhow::anyhow!("[{section}] {what}: {e}"))
}

/// A configured network, ready to run.
pub enum Network {
    Irc(irc::IrcSettings),
    Matrix(matrix::MatrixSettings),
    Discord(discord::DiscordSettings),
}

impl Network {
    pub fn name(&self) -> &'static str {
        match self {
            Network::Irc(_) => "IRC",
            Network::Matrix(_) => "Matrix",
            Network::Discord(_) => "Discord",
        }
    }

    /// Runs the network until `stopped` turns true.
    ///
    /// # Errors
    /// What the network could not recover from (a store error at start, a refused token).
    pub async fn run(
        self,
        router: Arc<Router>,
        store: Store,
        stopped: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        match self {
            Network::Irc(s) => irc::run(s, router, store, stopped).await,
            Network::Matrix(s) => matrix::run(s, router, store, stopped).await,
            Network::Discord(s) => discord::run(s, router, store, stopped).await,
        }
    }
}

/// The networks `[chat]` configures.
///
/// # Errors
/// A section that cannot be used: a secret that cannot be read, a missing token.
pub fn configured(chat: &ChatConfig) -> anyhow::Result<Vec<Network>> {
    let pace = Pace::from_config(chat);
    let mut out = Vec::new();
    if let Some(c) = &chat.irc {
        out.push(Network::Irc(irc::IrcSettings::from_config(c, pace)?));
    }
    if let Some(c) = &chat.matrix {
        out.push(Network::Matrix(matrix::MatrixSettings::from_config(
            c, pace,
        )?));
    }
    if let Some(c) = &chat.discord {
        out.push(Network::Discord(discord::DiscordSettings::from_config(
            c, pace,
        )?));
    }
    Ok(out)
}
