//! The command router: one set of commands for every network. An adapter turns a chat
//! message into an [`Asked`], the router answers with lines, and the adapter sends them in
//! its own way (IRC NOTICEs, Matrix `m.notice`, Discord messages).

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

pub struct Router {
    store: Store,
    config: Arc<Config>,
    prefix: String,
    admins: Vec<String>,
    sync: Option<SyncHook>,
}

const HELP: &str = "commands: debt [PACKAGE] | show PACKAGE | droppable | whereis REF | why PACKAGE PATCH | changes [RELEASE] | bug ID | subscribe TARGET | unsubscribe TARGET | subscriptions | snooze TARGET DURATION | sync (admins)";

impl Router {
    pub fn new(store: Store, config: Arc<Config>, sync: Option<SyncHook>) -> Router {
        let chat = config.chat.clone().unwrap_or_default();
        Router {
            store,
            prefix: chat.prefix.unwrap_or_else(|| "!".into()),
            admins: chat.admins,
            config,
            sync,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
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
        let lines = self.run(asked, &name.to_ascii_lowercase(), args).await;
        // Blank lines say nothing in chat and would count against the bound.
        let lines: Vec<String> = lines
            .into_iter()
            .map(|l| one_line(&l))
            .filter(|l| !l.trim().is_empty())
            .collect();
        Some(self.bound(asked, command, lines))
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

    async fn run(&self, asked: &Asked, name: &str, args: &[&str]) -> Vec<String> {
        let p = &self.prefix;
        let usage = |u: &str| vec![format!("usage: {p}{u}")];
        let answer = match (name, args) {
            ("help", _) => return vec![HELP.replace("| ", &format!("| {p}"))],
            ("debt", [] | [_]) => {
                answers::debt(&self.store, &self.config, args.first().copied()).await
            }
            ("debt", _) => return usage("debt [PACKAGE]"),
            ("show", [package]) => answers::show(&self.store, package, None).await,
            ("show", _) => return usage("show PACKAGE"),
            ("droppable", []) => answers::droppable(&self.store, &self.config).await,
            ("droppable", _) => return usage("droppable"),
            ("whereis", [reference]) => {
                answers::whereis(&self.store, &self.config, reference).await
            }
            ("whereis", _) => return usage("whereis REF (a PR/MR URL, owner/repo#N, rhbz#N)"),
            ("why", [package, patch]) => {
                answers::why(&self.store, &self.config, package, patch).await
            }
            ("why", _) => return usage("why PACKAGE PATCH"),
            ("changes", []) => answers::changes(&self.store, None, None).await,
            ("changes", [release]) => match release.trim_start_matches(['f', 'F']).parse::<u32>() {
                Ok(n) => answers::changes(&self.store, Some(n), None).await,
                Err(_) => return usage("changes [RELEASE] (a number like 43)"),
            },
            ("changes", _) => return usage("changes [RELEASE]"),
            ("bug", [id]) => answers::bug(&self.store, id).await,
            ("bug", _) => return usage("bug ID"),
            ("subscribe", [target]) => self.subscribe(asked, target, true).await,
            ("subscribe", _) => {
                return usage(
                    "subscribe TARGET (a package, Changes/Name, or a state like droppable)",
                );
            }
            ("unsubscribe", [target]) => self.subscribe(asked, target, false).await,
            ("unsubscribe", _) => return usage("unsubscribe TARGET"),
            ("subscriptions", []) => self.subscriptions(asked).await,
            ("subscriptions", _) => return usage("subscriptions"),
            ("snooze", [target, duration]) => match parse_duration(duration) {
                Some(d) => self.snooze(asked, target, d).await,
                None => return usage("snooze TARGET DURATION (30m, 12h, 3d, 2w)"),
            },
            ("snooze", _) => return usage("snooze TARGET DURATION (30m, 12h, 3d, 2w)"),
            ("sync", []) => return self.sync(asked).await,
            ("sync", _) => return usage("sync"),
            _ => {
                return vec![format!(
                    "unknown command `{}`: {p}help lists them",
                    name.chars().take(40).collect::<String>()
                )];
            }
        };
        match answer {
            Ok(lines) => lines,
            Err(AnswerError::NotFound(why)) => vec![why],
            Err(AnswerError::Store(e)) => {
                tracing::error!("answering `{name}`: {e}");
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

    async fn sync(&self, asked: &Asked) -> Vec<String> {
        // An admin is named as the network names them (`alice`, `@alice:fedora.im`), or with
        // the network in front when names could collide (`irc:alice`, `discord:1234`).
        let network = asked.destination.split(':').next().unwrap_or_default();
        let qualified = format!("{network}:{}", asked.sender);
        if !self.admins.contains(&asked.sender) && !self.admins.contains(&qualified) {
            return vec!["only admins can start a sync".into()];
        }
        match &self.sync {
            Some(hook) => vec![hook().await],
            None => vec!["sync is not available here".into()],
        }
    }
}

/// `30m`, `12h`, `3d`, `2w` (at most a year).
pub fn parse_duration(s: &str) -> Option<chrono::Duration> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let d = match unit {
        'm' => chrono::Duration::minutes(n),
        'h' => chrono::Duration::hours(n),
        'd' => chrono::Duration::days(n),
        'w' => chrono::Duration::weeks(n),
        _ => return None,
    };
    (n > 0 && d <= chrono::Duration::days(366)).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Some(chrono::Duration::minutes(30)));
        assert_eq!(parse_duration("2w"), Some(chrono::Duration::weeks(2)));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("400d"), None);
        assert_eq!(parse_duration("5é"), None);
        assert_eq!(parse_duration("h"), None);
    }
}
