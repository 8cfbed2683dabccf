//! The command router: one set of commands for every network. An adapter turns a chat
//! message into an [`Asked`], the router answers with lines, and the adapter sends them in
//! its own way (IRC NOTICEs, Matrix `m.notice`, Discord messages).

use crate::command::{self, Command, Refused};
use crate::text::one_line;
use forkdebt_core::answers::{self, AnswerError};
use forkdebt_core::config::Config;
use forkdebt_core::store::Store;
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// At most this many lines go to a channel; the rest is offered in a private message.
pub const CHANNEL_LINES: usize = 4;
/// At most this many lines go to a private message.
pub const PRIVATE_LINES: usize = 60;

/// Who asked, and where.
#[derive(Debug, Clone)]
pub struct Asked {
    /// The sender as the network names them (IRC nick, Matrix user id, Discord user id).
    pub sender: String,
    /// Whether it was asked in a channel or room (replies are bounded) or privately.
    pub in_channel: bool,
    /// The outbox destination subscriptions made here apply to (`irc:#centos-hyperscale`).
    pub destination: String,
}

/// Runs a sync when an admin asks for one and says how it went (one line). The serving
/// binary provides it, so the bot does not depend on the scrapers.
pub type SyncHook = Arc<dyn Fn() -> BoxFuture<'static, String> + Send + Sync>;

/// Proposes dropping a patch (`package`, `patch`) and says how it went, as lines. The serving
/// binary provides it (it makes the branch and opens the merge request).
pub type ProposeHook = Arc<dyn Fn(String, String) -> BoxFuture<'static, Vec<String>> + Send + Sync>;

pub struct Router {
    store: Store,
    prefix: String,
    admins: Vec<String>,
    sync: Option<SyncHook>,
    propose: Option<ProposeHook>,
    /// `[propose] open`: anyone may propose, not only admins.
    propose_open: bool,
}

impl Router {
    pub fn new(store: Store, config: Arc<Config>, sync: Option<SyncHook>) -> Router {
        let chat = config.chat.clone().unwrap_or_default();
        Router {
            store,
            prefix: chat.prefix.unwrap_or_else(|| "!".into()),
            admins: chat.admins,
            sync,
            propose: None,
            propose_open: config.propose.as_ref().is_some_and(|p| p.open),
        }
    }

    /// The router with `propose` answered by `hook`.
    #[must_use]
    pub fn with_propose(mut self, hook: ProposeHook) -> Router {
        self.propose = Some(hook);
        self
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `text` would be taken as a command (in a channel, it starts with the prefix).
    pub fn is_command(&self, asked: &Asked, text: &str) -> bool {
        !asked.in_channel || text.trim().starts_with(self.prefix.as_str())
    }

    /// The reply to `text`, or `None` when it is not a command (in a channel, commands start
    /// with the prefix; in private, the prefix is optional). Every line is one line: control
    /// characters from names and subjects are gone.
    pub async fn handle(&self, asked: &Asked, text: &str) -> Option<Vec<String>> {
        let text = text.trim();
        let command = match text.strip_prefix(self.prefix.as_str()) {
            Some(c) => c,
            None if !asked.in_channel => text,
            None => return None,
        };
        let words: Vec<&str> = command.split_whitespace().collect();
        let (&name, args) = words.split_first()?;
        Some(
            self.answer(asked, Command::parse(name, args), command)
                .await,
        )
    }

    /// The reply to a parsed command (`shown`: the command as the person wrote it, for the
    /// "ask me privately" hint). Every line is one line, bounded for where it goes.
    pub async fn answer(
        &self,
        asked: &Asked,
        parsed: Result<Command, Refused>,
        shown: &str,
    ) -> Vec<String> {
        let p = &self.prefix;
        let lines = match parsed {
            Ok(command) => self.run(asked, command).await,
            Err(Refused::Usage(spec)) => vec![format!("usage: {p}{}", spec.usage())],
            Err(Refused::Unknown(name)) => {
                vec![format!("unknown command `{name}`: {p}help lists them")]
            }
        };
        // Blank lines say nothing in chat and would count against the bound.
        let lines: Vec<String> = lines
            .into_iter()
            .map(|l| one_line(&l))
            .filter(|l| !l.trim().is_empty())
            .collect();
        self.bound(asked, shown, lines)
    }

    fn bound(&self, asked: &Asked, command: &str, mut lines: Vec<String>) -> Vec<String> {
        let max = if asked.in_channel {
            CHANNEL_LINES
        } else {
            PRIVATE_LINES
        };
        if lines.len() > max {
            let more = lines.len() - (max - 1);
            lines.truncate(max - 1);
            lines.push(if asked.in_channel {
                format!(
                    "... and {more} more lines: send me `{}{}` in a private message",
                    self.prefix,
                    one_line(command.trim())
                )
            } else {
                format!("... and {more} more lines: the CLI shows everything (`forkdebt report`)")
            });
        }
        lines
    }

    async fn run(&self, asked: &Asked, command: Command) -> Vec<String> {
        let store = &self.store;
        let answer = match &command {
            Command::Help => return vec![command::help(&self.prefix)],
            Command::Debt(package) => answers::debt(store, package.as_deref()).await,
            Command::Show(package) => answers::show(store, package, None).await,
            Command::Droppable => answers::droppable(store).await,
            Command::Whereis(reference) => answers::whereis(store, reference).await,
            Command::Why { package, patch } => answers::why(store, package, patch).await,
            Command::Changes(release) => answers::changes(store, *release, None).await,
            Command::Bug(id) => answers::bug(store, id).await,
            Command::Subscribe(target) => self.subscribe(asked, target, true).await,
            Command::Unsubscribe(target) => self.subscribe(asked, target, false).await,
            Command::Subscriptions => self.subscriptions(asked).await,
            Command::Snooze { target, duration } => self.snooze(asked, target, *duration).await,
            Command::Sync => return self.sync(asked).await,
            Command::Propose { package, patch } => {
                return self.propose(asked, package, patch).await;
            }
        };
        match answer {
            Ok(lines) => lines,
            Err(AnswerError::NotFound(why)) => vec![why],
            Err(AnswerError::Store(e)) => {
                tracing::error!("answering {command:?}: {e}");
                vec!["sorry: the store could not answer that just now".into()]
            }
        }
    }

    async fn subscribe(&self, asked: &Asked, target: &str, on: bool) -> answers::Answer {
        let dest = &asked.destination;
        Ok(vec![if on {
            if self.store.subscribe(dest, target, &asked.sender).await? {
                format!("subscribed: events about {target} are posted here")
            } else {
                format!("already subscribed to {target}")
            }
        } else if self.store.unsubscribe(dest, target).await? {
            format!("unsubscribed from {target}")
        } else {
            format!("there was no subscription to {target} here")
        }])
    }

    async fn subscriptions(&self, asked: &Asked) -> answers::Answer {
        let subs = self.store.subscriptions(&asked.destination).await?;
        let snoozes = self
            .store
            .snoozes(&asked.destination, chrono::Utc::now())
            .await?;
        let mut out = vec![if subs.is_empty() {
            "no subscriptions here: every event is posted".to_string()
        } else {
            format!("subscribed to: {}", subs.join(", "))
        }];
        for (target, until) in snoozes {
            out.push(format!("{target} snoozed until {until}"));
        }
        Ok(out)
    }

    async fn snooze(
        &self,
        asked: &Asked,
        target: &str,
        duration: chrono::Duration,
    ) -> answers::Answer {
        let until = chrono::Utc::now() + duration;
        self.store.snooze(&asked.destination, target, until).await?;
        Ok(vec![format!(
            "{target} snoozed here until {}",
            until.format("%Y-%m-%d %H:%M UTC")
        )])
    }

    /// An admin is named as the network names them (`alice`, `@alice:fedora.im`), or with
    /// the network in front when names could collide (`irc:alice`, `discord:1234`).
    fn is_admin(&self, asked: &Asked) -> bool {
        let network = asked.destination.split(':').next().unwrap_or_default();
        let qualified = format!("{network}:{}", asked.sender);
        self.admins.contains(&asked.sender) || self.admins.contains(&qualified)
    }

    async fn propose(&self, asked: &Asked, package: &str, patch: &str) -> Vec<String> {
        if !self.propose_open && !self.is_admin(asked) {
            return vec!["only admins can propose changes ([propose] open lets anyone)".into()];
        }
        match &self.propose {
            Some(hook) => hook(package.to_string(), patch.to_string()).await,
            None => vec!["propose is not available here".into()],
        }
    }

    async fn sync(&self, asked: &Asked) -> Vec<String> {
        if !self.is_admin(asked) {
            return vec!["only admins can start a sync".into()];
        }
        match &self.sync {
            Some(hook) => vec![hook().await],
            None => vec!["sync is not available here".into()],
        }
    }
}

pub use crate::command::parse_duration;
