//! Discord with serenity: the router's commands as slash commands, answers as interaction
//! responses, and outbox notifications to the configured channels. Discord renders Markdown
//! and pings on `@everyone`, so every text is escaped and mentions are switched off.
//! Notifications carry a nonce derived from the outbox key with `enforce_nonce`, so Discord
//! drops a resend after a crash (within its nonce window of a few minutes).

use crate::command::{self as chat, COMMANDS, Refused};
use crate::notify;
use crate::router::{Asked, Router};
use forkdebt_core::config::Secret;
use forkdebt_core::store::Store;
use serenity::all::{
    ChannelId, Command, CommandDataOption, CommandDataOptionValue, CommandOptionType, Context,
    CreateAllowedMentions, CreateCommand, CreateCommandOption, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateMessage, EventHandler, GatewayIntents, Interaction,
    Nonce, Ready,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Discord's limit on a message's content, in characters.
pub const MAX_CONTENT: usize = 2000;

/// The slash commands to register: one per router command.
pub fn slash_commands() -> Vec<CreateCommand> {
    COMMANDS
        .iter()
        .map(|s| {
            s.args
                .iter()
                .fold(CreateCommand::new(s.name).description(s.about), |c, a| {
                    c.add_option(
                        CreateCommandOption::new(CommandOptionType::String, a.name, a.about)
                            .required(a.required),
                    )
                })
        })
        .collect()
}

/// The value of the option `name`, as text.
fn option_value(options: &[CommandDataOption], name: &str) -> Option<String> {
    options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match &o.value {
            CommandDataOptionValue::String(s) => Some(s.clone()),
            CommandDataOptionValue::Integer(n) => Some(n.to_string()),
            CommandDataOptionValue::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// The command a slash command names, its options taken by name.
///
/// # Errors
/// An unknown command or options that do not fit it.
pub fn command(name: &str, options: &[CommandDataOption]) -> Result<chat::Command, Refused> {
    chat::Command::from_options(name, &|arg| option_value(options, arg))
}

/// A slash command as text, arguments in their declared order (`/why package:systemd
/// patch:2` → `why systemd 2`), for the "ask me privately" hint only: the command itself is
/// taken from the options by name ([`command`]). Spaces inside a value become `_`.
pub fn command_text(name: &str, options: &[CommandDataOption]) -> String {
    let mut words = vec![name.to_string()];
    if let Some(spec) = COMMANDS.iter().find(|s| s.name == name) {
        for a in spec.args {
            if let Some(v) = option_value(options, a.name).filter(|v| !v.trim().is_empty()) {
                words.push(v.split_whitespace().collect::<Vec<_>>().join("_"));
            }
        }
    }
    words.join(" ")
}

/// `s` with Discord Markdown escaped and `@everyone`/`@here` broken up.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*'
                | '_'
                | '~'
                | '`'
                | '|'
                | '>'
                | '#'
                | '['
                | ']'
                | '('
                | ')'
                | '-'
                | ':'
                | '<'
        ) {
            out.push('\\');
        }
        out.push(c);
        if c == '@' {
            out.push('\u{200B}');
        }
    }
    out
}

/// The content of a message of `lines`: escaped, one per line, within Discord's limit.
pub fn content(lines: &[String]) -> String {
    let text = lines
        .iter()
        .map(|l| escape(l))
        .collect::<Vec<_>>()
        .join("\n");
    if text.chars().count() <= MAX_CONTENT {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_CONTENT - 1).collect();
    cut.push('…');
    cut
}

/// The answer to a slash command (`in_guild`: asked in a server channel, else in a DM).
pub async fn answer(
    router: &Router,
    user: &str,
    channel: u64,
    in_guild: bool,
    name: &str,
    options: &[CommandDataOption],
) -> CreateInteractionResponse {
    let asked = Asked {
        sender: user.to_string(),
        in_channel: in_guild,
        destination: destination(channel),
    };
    let lines = router
        .answer(&asked, command(name, options), &command_text(name, options))
        .await;
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(content(&lines))
            .allowed_mentions(CreateAllowedMentions::new()),
    )
}

/// A notification message: escaped, no mentions, and a nonce from the outbox key.
pub fn notification(key: &str, text: &str) -> CreateMessage {
    CreateMessage::new()
        .content(content(&[text.to_string()]))
        .allowed_mentions(CreateAllowedMentions::new())
        .nonce(Nonce::String(nonce(key)))
        .enforce_nonce(true)
}

/// Discord nonces are at most 25 characters: a stable hash of the key.
pub fn nonce(key: &str) -> String {
    format!("fd{}", forkdebt_core::store::fingerprint(key.as_bytes()))
}

pub fn destination(channel: u64) -> String {
    format!("discord:{channel}")
}

/// What the adapter needs, resolved from `[chat.discord]` and `[chat]`.
#[derive(Clone)]
pub struct DiscordSettings {
    pub token: Secret,
    pub channels: Vec<u64>,
    pub posts_per_hour: u32,
    pub poll: Duration,
}

impl DiscordSettings {
    /// The settings `[chat.discord]` gives.
    ///
    /// # Errors
    /// No token, or it cannot be read.
    pub fn from_config(
        c: &forkdebt_core::config::DiscordConfig,
        pace: super::Pace,
    ) -> anyhow::Result<DiscordSettings> {
        let token = super::secret(
            "chat.discord",
            "token",
            c.token_env.as_deref(),
            c.token_file.as_ref(),
        )?
        .ok_or_else(|| anyhow::anyhow!("[chat.discord] needs token_env or token_file"))?;
        Ok(DiscordSettings {
            token,
            channels: c.channels.clone(),
            posts_per_hour: pace.posts_per_hour,
            poll: pace.poll,
        })
    }
}

struct Handler {
    router: Arc<Router>,
    store: Store,
    settings: DiscordSettings,
    notifying: AtomicBool,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!("discord: connected as {}", ready.user.name);
        if let Err(e) = Command::set_global_commands(&ctx.http, slash_commands()).await {
            tracing::error!("discord: registering slash commands: {e}");
        }
        // Reconnects fire `ready` again; one notification loop is enough.
        if self.notifying.swap(true, Ordering::SeqCst) {
            return;
        }
        let (store, settings, http) = (self.store.clone(), self.settings.clone(), ctx.http.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(settings.poll);
            loop {
                crate::notify::next_round(&mut tick).await;
                for &channel in &settings.channels {
                    let http = http.clone();
                    let post = move |key: String, text: String| {
                        let http = http.clone();
                        Box::pin(async move {
                            ChannelId::new(channel)
                                .send_message(&http, notification(&key, &text))
                                .await?;
                            Ok(())
                        })
                            as futures_util::future::BoxFuture<'static, anyhow::Result<()>>
                    };
                    let dest = destination(channel);
                    // Enforced nonces make a repeated post show once.
                    let outlet = notify::Outlet {
                        post: &post,
                        idempotent: true,
                        ready: None,
                    };
                    match notify::deliver(&store, &dest, settings.posts_per_hour, &outlet).await {
                        Ok(r) if r != notify::Round::default() => {
                            tracing::info!("discord: {dest}: {r:?}");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!("discord: notifying {dest}: {e}"),
                    }
                }
            }
        });
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let Interaction::Command(cmd) = interaction else {
            return;
        };
        let response = answer(
            &self.router,
            &cmd.user.id.to_string(),
            cmd.channel_id.get(),
            cmd.guild_id.is_some(),
            &cmd.data.name,
            &cmd.data.options,
        )
        .await;
        if let Err(e) = cmd.create_response(&ctx.http, response).await {
            tracing::warn!("discord: answering /{}: {e}", cmd.data.name);
        }
    }
}

/// Runs the Discord side until `shutdown` turns true (serenity reconnects by itself).
///
/// # Errors
/// A store error at start, or the gateway refusing the token.
pub async fn run(
    settings: DiscordSettings,
    router: Arc<Router>,
    store: Store,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    for &c in &settings.channels {
        store.register_destination(&destination(c)).await?;
    }
    let handler = Handler {
        router,
        store,
        settings: settings.clone(),
        notifying: AtomicBool::new(false),
    };
    let mut client = serenity::Client::builder(settings.token.expose(), GatewayIntents::GUILDS)
        .event_handler(handler)
        .await?;
    let shards = client.shard_manager.clone();
    tokio::select! {
        r = client.start() => r.map_err(|e| match e {
            // A token Discord does not take is not mended by trying again.
            serenity::Error::Gateway(serenity::gateway::GatewayError::InvalidAuthentication) => {
                anyhow::Error::new(super::reconnect::Fatal(
                    "Discord refused the token ([chat.discord] token_env/token_file)".into(),
                ))
            }
            e => e.into(),
        })?,
        _ = shutdown.changed() => shards.shutdown_all().await,
    }
    Ok(())
}
