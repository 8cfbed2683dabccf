//! Matrix with matrix-sdk (unencrypted rooms): login by password or access token, the
//! session and the sync token kept in a file across restarts, configured rooms joined (and
//! retried), replies as `m.notice` with a plain and an HTML body in the thread they were
//! asked in, other bots' notices ignored, and outbox notifications whose transaction id is
//! derived from the outbox key: the homeserver recognises a resend after a crash and does
//! not post it twice.

use crate::notify;
use crate::router::{Asked, Router};
use crate::text::html_escape;
use forkdebt_core::config::Secret;
use forkdebt_core::store::Store;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::events::room::message::{
    AddMentions, MessageType, OriginalSyncRoomMessageEvent, Relation, ReplyWithinThread,
    RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedRoomOrAliasId, OwnedTransactionId};
use matrix_sdk::store::RoomLoadSettings;
use matrix_sdk::{Client, Room, RoomState, SessionMeta, SessionTokens};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};

/// What the adapter needs, resolved from `[chat.matrix]` and `[chat]`.
#[derive(Clone)]
pub struct MatrixSettings {
    pub homeserver: String,
    pub user: String,
    pub password: Option<Secret>,
    pub access_token: Option<Secret>,
    pub rooms: Vec<String>,
    /// Where the session (access token, device) and the sync token are kept (mode 0600).
    pub session_file: PathBuf,
    pub posts_per_hour: u32,
    pub poll: Duration,
}

impl MatrixSettings {
    /// The settings `[chat.matrix]` gives.
    ///
    /// # Errors
    /// The password or token cannot be read.
    pub fn from_config(
        c: &forkdebt_core::config::MatrixConfig,
        pace: super::Pace,
    ) -> anyhow::Result<MatrixSettings> {
        let secret =
            |what, env: &Option<forkdebt_core::config::EnvName>, file: &Option<PathBuf>| {
                super::secret("chat.matrix", what, env.as_deref(), file.as_ref())
            };
        Ok(MatrixSettings {
            homeserver: c.homeserver.clone(),
            user: c.user.clone(),
            password: secret("password", &c.password_env, &c.password_file)?,
            access_token: secret("token", &c.token_env, &c.token_file)?,
            rooms: c.rooms.clone(),
            session_file: c
                .session_file
                .clone()
                .unwrap_or_else(|| "forkdebt-matrix-session.json".into()),
            posts_per_hour: pace.posts_per_hour,
            poll: pace.poll,
        })
    }

    /// The outbox destination of a configured room (as configured: alias or id).
    pub fn destination(room: &str) -> String {
        format!("matrix:{room}")
    }
}

/// The destination of `room` for replies and notifications alike: the name the room is
/// configured by (an alias like `#centos-hyperscale:fedora.im`), so a `subscribe` in a room
/// configured by alias filters that room's notifications; a room not configured (a direct
/// chat) by its id.
async fn destination(rooms: &Mutex<HashMap<String, Room>>, room: &Room) -> String {
    let configured = rooms
        .lock()
        .await
        .iter()
        .find(|(_, r)| r.room_id() == room.room_id())
        .map(|(name, _)| name.clone());
    MatrixSettings::destination(&configured.unwrap_or_else(|| room.room_id().to_string()))
}

/// What survives a restart.
#[derive(Serialize, Deserialize)]
struct Saved {
    session: MatrixSession,
    next_batch: Option<String>,
}

fn load_saved(settings: &MatrixSettings) -> Option<Saved> {
    let text = std::fs::read_to_string(&settings.session_file).ok()?;
    let saved: Saved = serde_json::from_str(&text)
        .inspect_err(|e| {
            tracing::warn!("matrix: ignoring {}: {e}", settings.session_file.display());
        })
        .ok()?;
    (saved.session.meta.user_id.as_str() == settings.user).then_some(saved)
}

/// Written to a temporary file and renamed, readable by the owner only: it holds a token.
fn store_saved(settings: &MatrixSettings, saved: &Saved) -> anyhow::Result<()> {
    let tmp = settings.session_file.with_extension("tmp");
    let json = serde_json::to_vec(saved)?;
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &settings.session_file)?;
    Ok(())
}

/// A login the homeserver refused for good (a wrong password, a token it does not know, a
/// deactivated account) is fatal: trying again changes nothing. Anything else is retried.
fn refused(e: matrix_sdk::Error) -> anyhow::Error {
    match e.client_api_error_kind() {
        Some(kind) if is_refusal(kind) => anyhow::Error::new(super::reconnect::Fatal(format!(
            "the homeserver refused the login: {e}"
        ))),
        _ => e.into(),
    }
}

fn refused_http(e: matrix_sdk::HttpError) -> anyhow::Error {
    match e.client_api_error_kind() {
        Some(kind) if is_refusal(kind) => anyhow::Error::new(super::reconnect::Fatal(format!(
            "the homeserver refused the access token: {e}"
        ))),
        _ => e.into(),
    }
}

fn is_refusal(kind: &matrix_sdk::ruma::api::error::ErrorKind) -> bool {
    use matrix_sdk::ruma::api::error::ErrorKind;
    matches!(
        kind,
        ErrorKind::Forbidden | ErrorKind::UnknownToken { .. } | ErrorKind::UserDeactivated
    )
}

/// Runs the Matrix side until `shutdown` turns true, reconnecting with backoff.
///
/// # Errors
/// Only a store error at start (registering the rooms as outbox destinations).
pub async fn run(
    settings: MatrixSettings,
    router: Arc<Router>,
    store: Store,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    for r in &settings.rooms {
        store
            .register_destination(&MatrixSettings::destination(r))
            .await?;
    }
    let what = format!("matrix {}", settings.homeserver);
    super::reconnect::with_backoff(&what, shutdown, |mut stop| {
        let (settings, router, store) = (&settings, &router, &store);
        async move { session(settings, router, store, &mut stop).await }
    })
    .await
}

async fn client(settings: &MatrixSettings) -> anyhow::Result<(Client, Option<String>)> {
    let build = || async {
        Client::builder()
            .homeserver_url(&settings.homeserver)
            .build()
            .await
    };
    let client = build().await?;
    if let Some(saved) = load_saved(settings) {
        client
            .matrix_auth()
            .restore_session(saved.session, RoomLoadSettings::default())
            .await?;
        tracing::info!(
            "matrix: restored the saved session from {}",
            settings.session_file.display()
        );
        return Ok((client, saved.next_batch));
    }
    if let Some(password) = &settings.password {
        client
            .matrix_auth()
            .login_username(&settings.user, password.expose())
            .initial_device_display_name("forkdebt")
            .await
            .map_err(refused)?;
        tracing::info!("matrix: logged in with the password (new device)");
    } else if let Some(token) = &settings.access_token {
        // An access token alone: ask the homeserver which device it belongs to.
        let session = |device: &str| -> anyhow::Result<MatrixSession> {
            Ok(MatrixSession {
                meta: SessionMeta {
                    user_id: settings.user.as_str().try_into()?,
                    device_id: device.into(),
                },
                tokens: SessionTokens {
                    access_token: token.expose().to_string(),
                    refresh_token: None,
                },
            })
        };
        client
            .matrix_auth()
            .restore_session(session("FORKDEBT")?, RoomLoadSettings::default())
            .await?;
        if let Some(device) = client.whoami().await.map_err(refused_http)?.device_id {
            let client = build().await?;
            client
                .matrix_auth()
                .restore_session(session(device.as_str())?, RoomLoadSettings::default())
                .await?;
            return Ok((client, None));
        }
    } else {
        anyhow::bail!("[chat.matrix] needs password_env/password_file or token_env/token_file");
    }
    Ok((client, None))
}

async fn session(
    settings: &MatrixSettings,
    router: &Arc<Router>,
    store: &Store,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (client, mut next_batch) = client(settings).await?;
    let save = |next_batch: &Option<String>| -> anyhow::Result<()> {
        let session = client
            .matrix_auth()
            .session()
            .ok_or_else(|| anyhow::anyhow!("logged out"))?;
        store_saved(
            settings,
            &Saved {
                session,
                next_batch: next_batch.clone(),
            },
        )
    };
    if next_batch.is_none() {
        // The first sync only learns where "now" is: old messages are not commands to us.
        let first = client.sync_once(SyncSettings::default()).await?;
        next_batch = Some(first.next_batch);
    }
    save(&next_batch)?;
    tracing::info!("matrix: logged in as {}", settings.user);

    let rooms: Arc<Mutex<HashMap<String, Room>>> = Arc::default();
    join_rooms(&client, settings, &rooms).await;

    let handler_router = Arc::clone(router);
    let handler_rooms = Arc::clone(&rooms);
    client.add_event_handler(move |ev: OriginalSyncRoomMessageEvent, room: Room| {
        let router = Arc::clone(&handler_router);
        let rooms = Arc::clone(&handler_rooms);
        async move { answer(&router, &rooms, ev, room).await }
    });

    // Notifications on their own task, so a long sync poll never delays them.
    let notifier = {
        let (settings, store, rooms) = (settings.clone(), store.clone(), Arc::clone(&rooms));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(settings.poll);
            loop {
                crate::notify::next_round(&mut tick).await;
                let joined: Vec<(String, Room)> = rooms
                    .lock()
                    .await
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                for (name, room) in joined {
                    if let Err(e) = notify_room(&store, &settings, &name, &room).await {
                        tracing::warn!("matrix: notifying {name}: {e}");
                    }
                }
            }
        })
    };
    let result = loop {
        let settings_now = SyncSettings::default()
            .timeout(Duration::from_secs(10))
            .token(next_batch.clone().unwrap_or_default());
        tokio::select! {
            synced = client.sync_once(settings_now) => {
                match synced {
                    Ok(r) => {
                        next_batch = Some(r.next_batch);
                        if let Err(e) = save(&next_batch) {
                            tracing::warn!("matrix: saving the sync token: {e}");
                        }
                        if rooms.lock().await.len() < settings.rooms.len() {
                            join_rooms(&client, settings, &rooms).await;
                        }
                    }
                    Err(e) => break Err(anyhow::Error::from(e)),
                }
            }
            _ = shutdown.changed() => break Ok(()),
        }
    };
    notifier.abort();
    result
}

/// Joins the configured rooms not joined yet; a failure is logged and retried after the
/// next sync.
async fn join_rooms(
    client: &Client,
    settings: &MatrixSettings,
    rooms: &Mutex<HashMap<String, Room>>,
) {
    for name in &settings.rooms {
        if rooms.lock().await.contains_key(name) {
            continue;
        }
        let id = match OwnedRoomOrAliasId::try_from(name.as_str()) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!("matrix: `{name}` is not a room id or alias: {e}");
                continue;
            }
        };
        match client.join_room_by_id_or_alias(&id, &[]).await {
            Ok(room) => {
                tracing::info!("matrix: joined {name}");
                rooms.lock().await.insert(name.clone(), room);
            }
            Err(e) => tracing::warn!("matrix: joining {name}: {e} (will retry)"),
        }
    }
}

/// The HTML body of some lines: escaped, one per line.
pub fn html_lines(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| html_escape(l))
        .collect::<Vec<_>>()
        .join("<br>\n")
}

async fn answer(
    router: &Router,
    rooms: &Mutex<HashMap<String, Room>>,
    ev: OriginalSyncRoomMessageEvent,
    room: Room,
) {
    if room.state() != RoomState::Joined || ev.sender == room.own_user_id() {
        return;
    }
    // Only text from people: notices are what bots (this one included) send.
    let MessageType::Text(text) = &ev.content.msgtype else {
        return;
    };
    let asked = Asked {
        sender: ev.sender.to_string(),
        // A room is a channel unless it is a direct chat (where the prefix is optional).
        in_channel: !room.is_direct().await.unwrap_or(false),
        destination: destination(rooms, &room).await,
    };
    let Some(lines) = router.handle(&asked, &text.body).await else {
        return;
    };
    let mut content = RoomMessageEventContent::notice_html(lines.join("\n"), html_lines(&lines));
    if matches!(ev.content.relates_to, Some(Relation::Thread(_))) {
        content = content.make_for_thread(&ev, ReplyWithinThread::Yes, AddMentions::No);
    }
    if let Err(e) = room.send(content).await {
        tracing::warn!("matrix: replying in {}: {e}", room.room_id());
    }
}

/// The transaction id of an outbox row: the same key always gives the same id.
pub fn transaction_id(key: &str) -> OwnedTransactionId {
    let safe: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("forkdebt_{safe}").into()
}

async fn notify_room(
    store: &Store,
    settings: &MatrixSettings,
    name: &str,
    room: &Room,
) -> anyhow::Result<()> {
    let dest = MatrixSettings::destination(name);
    let post = |key: String, text: String| {
        let room = room.clone();
        Box::pin(async move {
            let lines = [text];
            let content =
                RoomMessageEventContent::notice_html(lines.join("\n"), html_lines(&lines));
            room.send(content)
                .with_transaction_id(transaction_id(&key))
                .await?;
            crate::notify::failpoint_after_post().await;
            Ok(())
        }) as futures_util::future::BoxFuture<'_, anyhow::Result<()>>
    };
    // Transaction ids make a repeated post show once.
    let outlet = notify::Outlet {
        post: &post,
        idempotent: true,
        ready: None,
    };
    let round = notify::deliver(store, &dest, settings.posts_per_hour, &outlet).await?;
    if round != notify::Round::default() {
        tracing::info!("matrix: {dest}: {round:?}");
    }
    Ok(())
}
