//! IRC with the `irc` crate: TLS, SASL PLAIN (negotiated here: the crate only has the
//! primitives), reconnect with backoff, alternative nicks on collisions, NOTICE for every
//! line the bot says, lines split at 400 bytes on UTF-8 boundaries, the crate's burst limit
//! as outgoing flood control, and outbox notifications to the configured channels.

use crate::notify;
use crate::router::{Asked, Router};
use crate::text::{one_line, split_bytes};
use base64::Engine as _;
use forkdebt_core::config::Secret;
use forkdebt_core::store::Store;
use futures_util::StreamExt;
use irc::client::prelude::{Capability, Client, Command, Config, Message, Response};
use irc::proto::CapSubCommand;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// A NOTICE's text stays under this many bytes, leaving room for the prefix the server adds
/// (`:nick!user@host NOTICE #channel :`) within IRC's 512-byte line.
pub const MAX_TEXT_BYTES: usize = 400;

/// What the adapter needs, resolved from `[chat.irc]` and `[chat]`.
#[derive(Clone)]
pub struct IrcSettings {
    pub server: String,
    pub port: u16,
    pub tls: bool,
    pub nick: String,
    pub sasl_password: Option<Secret>,
    pub channels: Vec<String>,
    /// Notification posts per channel and hour.
    pub posts_per_hour: u32,
    /// How often the outbox is looked at.
    pub poll: Duration,
    /// Outgoing flood control: at most `burst` lines per `burst_window`.
    pub burst: u32,
    pub burst_window: Duration,
    /// Extra CA certificates (PEM) to trust.
    pub ca_file: Option<std::path::PathBuf>,
    /// Connecting and registering must finish within this; a silent server is left.
    pub register_timeout: Duration,
}

impl IrcSettings {
    /// The settings `[chat.irc]` gives.
    ///
    /// # Errors
    /// The SASL password cannot be read.
    pub fn from_config(
        c: &forkdebt_core::config::IrcConfig,
        pace: super::Pace,
    ) -> anyhow::Result<IrcSettings> {
        let tls = c.tls.unwrap_or(true);
        Ok(IrcSettings {
            server: c.server.clone(),
            port: c.port.unwrap_or(if tls { 6697 } else { 6667 }),
            tls,
            nick: c.nick.clone().unwrap_or_else(|| "forkdebt".into()),
            sasl_password: super::secret(
                "chat.irc",
                "SASL password",
                c.sasl_password_env.as_deref(),
                c.sasl_password_file.as_ref(),
            )?,
            channels: c.channels.clone(),
            posts_per_hour: pace.posts_per_hour,
            poll: pace.poll,
            burst: c.flood_lines.unwrap_or(5).max(1),
            burst_window: Duration::from_secs(c.flood_window_secs.unwrap_or(4)),
            ca_file: c.ca_file.clone(),
            register_timeout: Duration::from_secs(c.register_timeout_secs.unwrap_or(30).max(1)),
        })
    }

    /// The outbox destination of a channel.
    pub fn destination(channel: &str) -> String {
        format!("irc:{channel}")
    }

    fn client_config(&self) -> Config {
        let window = u32::try_from(self.burst_window.as_secs().max(1)).unwrap_or(u32::MAX);
        Config {
            nickname: Some(self.nick.clone()),
            alt_nicks: vec![format!("{}_", self.nick), format!("{}__", self.nick)],
            username: Some(self.nick.clone()),
            realname: Some("forkdebt: the patches we carry and where upstream stands".into()),
            server: Some(self.server.clone()),
            port: Some(self.port),
            use_tls: Some(self.tls),
            cert_path: self
                .ca_file
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            channels: self.channels.clone(),
            burst_window_length: Some(window),
            max_messages_in_burst: Some(self.burst),
            ping_time: Some(120),
            ping_timeout: Some(30),
            version: Some(format!("forkdebt {}", env!("CARGO_PKG_VERSION"))),
            ..Config::default()
        }
    }
}

/// Runs the IRC side until `shutdown` turns true: connects, answers, notifies, and
/// reconnects with backoff (1 s doubling to 60 s) whenever the connection is lost.
///
/// # Errors
/// Only a store error at start (registering the channels as outbox destinations).
pub async fn run(
    settings: IrcSettings,
    router: Arc<Router>,
    store: Store,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    for c in &settings.channels {
        store
            .register_destination(&IrcSettings::destination(c))
            .await?;
    }
    let what = format!("irc {}:{}", settings.server, settings.port);
    super::reconnect::with_backoff(&what, shutdown, |mut stop| {
        let (settings, router, store) = (&settings, &router, &store);
        async move { session(settings, router, store, &mut stop).await }
    })
    .await
}

/// One connection: returns `Ok` on shutdown, `Err` when the connection is lost.
async fn session(
    settings: &IrcSettings,
    router: &Arc<Router>,
    store: &Store,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + settings.register_timeout;
    let mut client =
        tokio::time::timeout_at(deadline, Client::from_config(settings.client_config()))
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "no connection within {:?}; trying again",
                    settings.register_timeout
                )
            })??;
    match &settings.sasl_password {
        Some(_) => {
            // SASL PLAIN: ask for the capability before registering, finish after 903.
            client.send_cap_req(&[Capability::Sasl])?;
            client.send(Command::NICK(settings.nick.clone()))?;
            client.send(Command::USER(
                settings.nick.clone(),
                "0".into(),
                "forkdebt".into(),
            ))?;
        }
        None => client.identify()?,
    }
    // The stream is read on its own task, so a delivery round can wait for a PONG (below)
    // while messages keep flowing.
    let acks = Acks::default();
    let (to_session, mut incoming) = tokio::sync::mpsc::unbounded_channel();
    let _pump = AbortOnDrop(tokio::spawn(pump(
        client.stream()?,
        acks.clone(),
        to_session,
    )));
    let sender = client.sender();
    let mut poll = tokio::time::interval(settings.poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut registered = false;
    // Channels we are in: a NOTICE to a channel not joined yet would be refused (mode +n)
    // and the notification lost, so only joined channels get them.
    let mut joined: std::collections::HashSet<String> = std::collections::HashSet::new();
    loop {
        tokio::select! {
            message = incoming.recv() => {
                let message = match message {
                    Some(m) => m?,
                    None => anyhow::bail!("the server closed the connection"),
                };
                if matches!(message.command, Command::Response(Response::RPL_WELCOME, _)) {
                    registered = true;
                    tracing::info!("irc: connected to {} as {}", settings.server, client.current_nickname());
                }
                if let Some(sasl) = &settings.sasl_password {
                    sasl_step(&client, &settings.nick, sasl, &message)?;
                }
                let me = client.current_nickname().to_string();
                match &message.command {
                    Command::PRIVMSG(target, text) => answer(&client, router, &message, target, text),
                    Command::JOIN(channel, _, _) if message.source_nickname() == Some(me.as_str()) => {
                        joined.insert(channel.to_lowercase());
                    }
                    Command::PART(channel, _) if message.source_nickname() == Some(me.as_str()) => {
                        joined.remove(&channel.to_lowercase());
                    }
                    Command::KICK(channel, who, _) if *who == me => {
                        joined.remove(&channel.to_lowercase());
                    }
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(deadline), if !registered => {
                anyhow::bail!(
                    "the server did not complete registration within {:?}; reconnecting",
                    settings.register_timeout
                );
            }
            _ = poll.tick(), if registered => {
                for channel in settings.channels.iter().filter(|c| joined.contains(&c.to_lowercase())) {
                    let dest = IrcSettings::destination(channel);
                    let (s, acks) = (sender.clone(), acks.clone());
                    let channel = channel.clone();
                    let post = move |_key: String, text: String| {
                        let (s, acks, channel) = (s.clone(), acks.clone(), channel.clone());
                        Box::pin(async move {
                            send_lines(&s, &channel, &[text])?;
                            acks.confirm(&s).await
                        }) as futures_util::future::BoxFuture<'static, anyhow::Result<()>>
                    };
                    let round = notify::deliver(store, &dest, settings.posts_per_hour, &post).await?;
                    if round != notify::Round::default() {
                        tracing::info!("irc: {dest}: {round:?}");
                    }
                }
            }
            _ = shutdown.changed() => {
                let _ = client.send_quit("forkdebt is shutting down");
                // The stream drives the outgoing queue: keep polling it until the server
                // closes the connection after our QUIT (or 3 s pass).
                let _ = tokio::time::timeout(Duration::from_secs(3), async {
                    while let Some(Ok(_)) = incoming.recv().await {}
                })
                .await;
                return Ok(());
            }
        }
    }
}

type Incoming = Result<Message, irc::error::Error>;

/// PINGs waiting for their PONG. IRC has no acknowledgement, but a server answers a PING only
/// after everything sent before it: its PONG says a NOTICE reached the server, and only then
/// is the outbox row marked delivered.
#[derive(Clone, Default)]
struct Acks(Arc<std::sync::Mutex<HashMap<String, oneshot::Sender<()>>>>);

impl Acks {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<()>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends a PING and waits (30 s at most) for its PONG.
    async fn confirm(&self, sender: &irc::client::Sender) -> anyhow::Result<()> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let token = format!("forkdebt-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.waiting().insert(token.clone(), tx);
        sender.send(Command::PING(token.clone(), None))?;
        let answered = tokio::time::timeout(Duration::from_secs(30), rx).await;
        self.waiting().remove(&token);
        match answered {
            Ok(Ok(())) => Ok(()),
            _ => anyhow::bail!("no PONG from the server: the message may not have arrived"),
        }
    }

    fn answered(&self, m: &Message) {
        if let Command::PONG(a, b) = &m.command {
            let mut waiting = self.waiting();
            for token in std::iter::once(a).chain(b) {
                if let Some(tx) = waiting.remove(token) {
                    let _ = tx.send(());
                }
            }
        }
    }
}

/// Reads the connection (which also drives what is sent) and hands every message on.
async fn pump(
    mut stream: irc::client::ClientStream,
    acks: Acks,
    to_session: tokio::sync::mpsc::UnboundedSender<Incoming>,
) {
    while let Some(m) = stream.next().await {
        if let Ok(m) = &m {
            acks.answered(m);
        }
        if to_session.send(m).is_err() {
            return;
        }
    }
}

/// Stops the reading task with the session, however the session ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The SASL PLAIN exchange, driven by what the server says.
fn sasl_step(client: &Client, nick: &str, password: &Secret, m: &Message) -> anyhow::Result<()> {
    match &m.command {
        Command::CAP(_, CapSubCommand::ACK, _, _) => client.send_sasl_plain()?,
        Command::CAP(_, CapSubCommand::NAK, _, _) => {
            anyhow::bail!("the server does not offer SASL, and a SASL password is configured")
        }
        Command::AUTHENTICATE(data) if data == "+" => {
            let token = format!("{nick}\0{nick}\0{}", password.expose());
            client.send_sasl(base64::engine::general_purpose::STANDARD.encode(token))?;
        }
        Command::Response(Response::RPL_SASLSUCCESS, _) => {
            client.send(Command::CAP(None, CapSubCommand::END, None, None))?;
        }
        Command::Response(
            Response::ERR_SASLFAIL | Response::ERR_SASLTOOLONG | Response::ERR_SASLABORT,
            _,
        ) => anyhow::bail!("SASL authentication failed for {nick} (check the password)"),
        _ => {}
    }
    Ok(())
}

/// Answers a PRIVMSG in the background, so one slow question does not hold up the others.
fn answer(client: &Client, router: &Arc<Router>, m: &Message, target: &str, text: &str) {
    let Some(nick) = m.source_nickname() else {
        return;
    };
    let me = client.current_nickname();
    if nick == me {
        return;
    }
    let in_channel = target.starts_with(['#', '&', '+', '!']);
    let reply_to = if in_channel { target } else { nick }.to_string();
    let asked = Asked {
        sender: nick.to_string(),
        in_channel,
        destination: IrcSettings::destination(&reply_to),
    };
    let router = Arc::clone(router);
    let sender = client.sender();
    let text = text.to_string();
    tokio::spawn(async move {
        if let Some(lines) = router.handle(&asked, &text).await
            && let Err(e) = send_lines(&sender, &reply_to, &lines)
        {
            tracing::warn!("irc: replying to {reply_to}: {e}");
        }
    });
}

/// Sends `lines` as NOTICEs to `target`, each cleaned of control characters and split at
/// [`MAX_TEXT_BYTES`].
fn send_lines(sender: &irc::client::Sender, target: &str, lines: &[String]) -> anyhow::Result<()> {
    for line in lines {
        for piece in split_bytes(&one_line(line), MAX_TEXT_BYTES) {
            if !piece.is_empty() {
                sender.send_notice(target, piece)?;
            }
        }
    }
    Ok(())
}
