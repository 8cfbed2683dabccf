//! IRC: TLS, SASL PLAIN, reconnect with backoff, alternative nicks on collisions, NOTICE for
//! every line the bot says, lines split at 400 bytes on UTF-8 boundaries, outgoing flood
//! control, keepalive PINGs, and outbox notifications to the configured channels.
//!
//! The connection and its framing are ours ([`wire`]); `irc-proto` parses and writes the
//! messages.

mod wire;

use crate::notify;
use crate::router::{Asked, Router};
use crate::text::{one_line, split_bytes};
use base64::Engine as _;
use forkdebt_core::config::Secret;
use forkdebt_core::store::Store;
use futures_util::{SinkExt as _, StreamExt as _};
use irc_proto::{CapSubCommand, Command, Message, Response};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

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

/// A quiet connection is PINGed after this long ...
const PING_EVERY: Duration = Duration::from_secs(120);
/// ... and given up on when nothing at all comes within this long after.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);
/// Messages read but not yet handled. Reading waits when the session is this far behind, so
/// a flooding server fills its own socket buffers, not our memory.
const INCOMING_QUEUE: usize = 1024;

/// One connection: returns `Ok` on shutdown, `Err` when the connection is lost.
async fn session(
    settings: &IrcSettings,
    router: &Arc<Router>,
    store: &Store,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + settings.register_timeout;
    let connecting = wire::connect(
        &settings.server,
        settings.port,
        settings.tls,
        settings.ca_file.as_deref(),
    );
    // Shutdown is heard while connecting too: a server that stalls the TLS handshake must
    // not hold up SIGTERM.
    let transport = tokio::select! {
        connected = tokio::time::timeout_at(deadline, connecting) => connected.map_err(|_| {
            anyhow::anyhow!(
                "no connection within {:?}; trying again",
                settings.register_timeout
            )
        })??,
        _ = shutdown.changed() => return Ok(()),
    };
    let (sink, stream) = transport.split();
    let (queue, queued) = mpsc::channel(OUTGOING_QUEUE);
    let sender = Sender(queue);
    // Questions answered at once: more wait for a place (or are told to ask again).
    let answering = Arc::new(tokio::sync::Semaphore::new(ANSWERING));
    let pace = Pace::new(settings.burst, settings.burst_window);
    let _writer = AbortOnDrop(tokio::spawn(write(sink, queued, pace.clone())));
    // The connection is read on its own task, so a delivery round can wait for a PONG
    // (below) while PINGs keep being answered.
    let acks = Acks::default();
    let (to_session, mut incoming) = mpsc::channel(INCOMING_QUEUE);
    let _reader = AbortOnDrop(tokio::spawn(read(
        stream,
        sender.clone(),
        acks.clone(),
        to_session,
    )));
    register(&sender, settings)?;

    let mut me = settings.nick.clone();
    let mut nicks_tried = 0;
    let mut registered = false;
    let mut poll = tokio::time::interval(settings.poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Channels we are in: a NOTICE to a channel not joined yet would be refused (mode +n)
    // and the notification lost, so only joined channels get them.
    let mut joined: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            message = incoming.recv() => {
                let message = match message {
                    Some(m) => m?,
                    None => anyhow::bail!("the server closed the connection"),
                };
                if let Some(sasl) = &settings.sasl_password {
                    sasl_step(&sender, &settings.nick, sasl, &message)?;
                }
                let from_me = message.source_nickname() == Some(me.as_str());
                match &message.command {
                    Command::Response(Response::RPL_WELCOME, args) => {
                        registered = true;
                        // The server says which nick we have.
                        if let Some(nick) = args.first() {
                            me.clone_from(nick);
                        }
                        tracing::info!("irc: connected to {} as {me}", settings.server);
                    }
                    Command::Response(Response::RPL_ENDOFMOTD | Response::ERR_NOMOTD, _) => {
                        for channel in &settings.channels {
                            sender.send(Command::JOIN(channel.clone(), None, None))?;
                        }
                    }
                    Command::Response(
                        Response::ERR_NICKNAMEINUSE | Response::ERR_ERRONEOUSNICKNAME,
                        _,
                    ) if !registered => {
                        nicks_tried += 1;
                        if nicks_tried > 2 {
                            return super::reconnect::fatal(format!(
                                "the nicks {0}, {0}_ and {0}__ are all taken (or refused); \
                                 set [chat.irc] nick",
                                settings.nick
                            ));
                        }
                        me = format!("{}{}", settings.nick, "_".repeat(nicks_tried));
                        sender.send(Command::NICK(me.clone()))?;
                    }
                    Command::NICK(new) if from_me => me.clone_from(new),
                    Command::PRIVMSG(target, text) => {
                        answer(&sender, router, &answering, &me, &message, target, text);
                    }
                    Command::JOIN(channel, _, _) if from_me => {
                        joined.insert(channel.to_lowercase());
                    }
                    Command::PART(channel, _) if from_me => {
                        joined.remove(&channel.to_lowercase());
                    }
                    Command::KICK(channel, who, _) if *who == me => {
                        joined.remove(&channel.to_lowercase());
                    }
                    Command::ERROR(why) => {
                        anyhow::bail!("the server ended the connection: {}", one_line(why));
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
            _ = crate::notify::next_round(&mut poll), if registered => {
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
                    // A NOTICE and its PING leave at once once recorded as sending.
                    let pace = pace.clone();
                    let ready = move || {
                        let pace = pace.clone();
                        Box::pin(async move { pace.room_for(2).await })
                            as futures_util::future::BoxFuture<'static, ()>
                    };
                    let outlet = notify::Outlet { post: &post, idempotent: false, ready: Some(&ready) };
                    let round = notify::deliver(store, &dest, settings.posts_per_hour, &outlet).await?;
                    if round != notify::Round::default() {
                        tracing::info!("irc: {dest}: {round:?}");
                    }
                }
            }
            _ = shutdown.changed() => {
                let _ = sender.send(Command::QUIT(Some("forkdebt is shutting down".into())));
                // Wait (3 s at most) for the server to close the connection after our QUIT,
                // so the QUIT is sent before the writer is stopped.
                let _ = tokio::time::timeout(Duration::from_secs(3), async {
                    while let Some(Ok(_)) = incoming.recv().await {}
                })
                .await;
                return Ok(());
            }
        }
    }
}

/// Introduces the bot. With a SASL password, registration waits for the SASL exchange
/// ([`sasl_step`]) to end it with CAP END.
fn register(sender: &Sender, settings: &IrcSettings) -> anyhow::Result<()> {
    if settings.sasl_password.is_some() {
        sender.send(Command::CAP(
            None,
            CapSubCommand::REQ,
            None,
            Some("sasl".into()),
        ))?;
    }
    sender.send(Command::NICK(settings.nick.clone()))?;
    sender.send(Command::USER(
        settings.nick.clone(),
        "0".into(),
        "forkdebt: the patches we carry and where upstream stands".into(),
    ))
}

/// Lines queued for the writer at most. The writer is paced by flood control (a few lines a
/// second), so a longer queue would only be memory and answers arriving minutes late: beyond
/// it a line is refused (a notification is then retried from the outbox).
const OUTGOING_QUEUE: usize = 256;
/// Questions being answered at once per connection.
const ANSWERING: usize = 8;

/// What the session sends: queued for the writer task, which paces it.
#[derive(Clone)]
struct Sender(mpsc::Sender<Message>);

impl Sender {
    fn send(&self, command: Command) -> anyhow::Result<()> {
        self.0
            .try_send(Message::from(command))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    anyhow::anyhow!("the outgoing queue is full (the server is slow to take lines)")
                }
                mpsc::error::TrySendError::Closed(_) => anyhow::anyhow!("the connection is closed"),
            })
    }
}

/// Outgoing flood control: at most `burst` lines per `window` (servers disconnect a client
/// that floods them). Shared by the writer and the notifier, which waits for room before it
/// records a post as sending.
#[derive(Clone)]
struct Pace {
    written: Arc<std::sync::Mutex<VecDeque<tokio::time::Instant>>>,
    burst: usize,
    window: Duration,
}

impl Pace {
    fn new(burst: u32, window: Duration) -> Pace {
        Pace {
            written: Arc::default(),
            burst: usize::try_from(burst.max(1)).unwrap_or(usize::MAX),
            window,
        }
    }

    /// When `lines` more lines may be written (`None`: now).
    fn free_at(&self, lines: usize) -> Option<tokio::time::Instant> {
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = tokio::time::Instant::now();
        while written.front().is_some_and(|t| *t + self.window <= now) {
            written.pop_front();
        }
        let over = (written.len() + lines.min(self.burst)).saturating_sub(self.burst);
        if over == 0 {
            return None;
        }
        written.get(over - 1).map(|t| *t + self.window)
    }

    /// Waits until `lines` lines may be written at once.
    async fn room_for(&self, lines: usize) {
        while let Some(at) = self.free_at(lines) {
            tokio::time::sleep_until(at).await;
        }
    }

    fn wrote(&self) {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back(tokio::time::Instant::now());
    }
}

/// Writes what is queued, paced by `pace`.
async fn write(
    mut sink: futures_util::stream::SplitSink<wire::Transport, Message>,
    mut queued: mpsc::Receiver<Message>,
    pace: Pace,
) {
    while let Some(message) = queued.recv().await {
        pace.room_for(1).await;
        if let Err(e) = sink.send(message).await {
            tracing::debug!("irc: writing: {e}");
            return;
        }
        pace.wrote();
    }
}

/// Reads the connection: answers the server's PINGs, PINGs a quiet server and gives up on a
/// silent one, and hands every message on to the session.
async fn read(
    mut stream: futures_util::stream::SplitStream<wire::Transport>,
    sender: Sender,
    acks: Acks,
    to_session: mpsc::Sender<anyhow::Result<Message>>,
) {
    let mut pinged = false;
    loop {
        let wait = if pinged { ANSWER_WITHIN } else { PING_EVERY };
        let line = match tokio::time::timeout(wait, stream.next()).await {
            Ok(Some(Ok(line))) => line,
            Ok(Some(Err(e))) => {
                let _ = to_session.send(Err(e.into())).await;
                return;
            }
            Ok(None) => return,
            Err(_) if pinged => {
                let silent = PING_EVERY + ANSWER_WITHIN;
                let _ = to_session
                    .send(Err(anyhow::anyhow!(
                        "nothing from the server for {silent:?}; reconnecting"
                    )))
                    .await;
                return;
            }
            Err(_) => {
                pinged = sender
                    .send(Command::PING("forkdebt-keepalive".into(), None))
                    .is_ok();
                continue;
            }
        };
        pinged = false;
        let message = match line.parse::<Message>() {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!("irc: an unreadable line was skipped: {e}");
                continue;
            }
        };
        match &message.command {
            Command::PING(a, b) => {
                let _ = sender.send(Command::PONG(a.clone(), b.clone()));
            }
            Command::PONG(..) => acks.answered(&message),
            _ => {}
        }
        if to_session.send(Ok(message)).await.is_err() {
            return;
        }
    }
}

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
    async fn confirm(&self, sender: &Sender) -> anyhow::Result<()> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let token = format!("forkdebt-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.waiting().insert(token.clone(), tx);
        sender.send(Command::PING(token.clone(), None))?;
        let answered = tokio::time::timeout(ANSWER_WITHIN, rx).await;
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

/// Stops a connection task with the session, however the session ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The SASL PLAIN exchange, driven by what the server says.
fn sasl_step(sender: &Sender, nick: &str, password: &Secret, m: &Message) -> anyhow::Result<()> {
    match &m.command {
        Command::CAP(_, CapSubCommand::ACK, _, _) => {
            sender.send(Command::AUTHENTICATE("PLAIN".into()))?;
        }
        Command::CAP(_, CapSubCommand::NAK, _, _) => {
            return super::reconnect::fatal(
                "the server does not offer SASL, and a SASL password is configured",
            );
        }
        Command::AUTHENTICATE(data) if data == "+" => {
            let token = format!("{nick}\0{nick}\0{}", password.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(token);
            sender.send(Command::AUTHENTICATE(encoded))?;
        }
        Command::Response(Response::RPL_SASLSUCCESS, _) => {
            sender.send(Command::CAP(None, CapSubCommand::END, None, None))?;
        }
        Command::Response(
            Response::ERR_SASLFAIL | Response::ERR_SASLTOOLONG | Response::ERR_SASLABORT,
            _,
        ) => {
            return super::reconnect::fatal(format!(
                "SASL authentication failed for {nick} (check the password)"
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Answers a PRIVMSG in the background, so one slow question does not hold up the others.
/// A CTCP request is not a command: VERSION is answered, the rest ignored.
fn answer(
    sender: &Sender,
    router: &Arc<Router>,
    answering: &Arc<tokio::sync::Semaphore>,
    me: &str,
    m: &Message,
    target: &str,
    text: &str,
) {
    let Some(nick) = m.source_nickname() else {
        return;
    };
    if nick == me {
        return;
    }
    if let Some(ctcp) = text.strip_prefix('\u{1}') {
        if ctcp
            .trim_end_matches('\u{1}')
            .eq_ignore_ascii_case("VERSION")
        {
            let version = format!("\u{1}VERSION forkdebt {}\u{1}", env!("CARGO_PKG_VERSION"));
            let _ = sender.send(Command::NOTICE(nick.to_string(), version));
        }
        return;
    }
    let in_channel = target.starts_with(['#', '&', '+', '!']);
    let reply_to = if in_channel { target } else { nick }.to_string();
    let asked = Asked {
        sender: nick.to_string(),
        in_channel,
        destination: IrcSettings::destination(&reply_to),
    };
    // A bounded number of questions at a time: a flood of them spawns no more work.
    let Ok(place) = Arc::clone(answering).try_acquire_owned() else {
        if router.is_command(&asked, text) {
            let _ = send_lines(
                sender,
                &reply_to,
                &["busy answering others: ask again in a moment".to_string()],
            );
        }
        return;
    };
    let router = Arc::clone(router);
    let sender = sender.clone();
    let text = text.to_string();
    tokio::spawn(async move {
        let _place = place;
        if let Some(lines) = router.handle(&asked, &text).await
            && let Err(e) = send_lines(&sender, &reply_to, &lines)
        {
            tracing::warn!("irc: replying to {reply_to}: {e}");
        }
    });
}

/// Sends `lines` as NOTICEs to `target`, each cleaned of control characters and split at
/// [`MAX_TEXT_BYTES`].
fn send_lines(sender: &Sender, target: &str, lines: &[String]) -> anyhow::Result<()> {
    for line in lines {
        for piece in split_bytes(&one_line(line), MAX_TEXT_BYTES) {
            if !piece.is_empty() {
                sender.send(Command::NOTICE(target.to_string(), piece))?;
            }
        }
    }
    Ok(())
}
