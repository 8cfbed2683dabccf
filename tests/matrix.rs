//! The bot on a real Matrix homeserver (Synapse): a command round trip with an HTML body
//! that escapes what it quotes, replies in the thread they were asked in, notices ignored,
//! and a notification posted exactly once although the bot is SIGKILLed after posting it and
//! before recording the delivery.

use crate::bot_setup::{MERGED_16838, Serve, merge_16838, scan_with_lab};
use crate::synapse::{Person, Synapse};
use forkdebt_core::store::Store;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BOT: &str = "@forkdebt:localhost";
const WAIT: Duration = Duration::from_secs(20);
const QUIET: Duration = Duration::from_millis(800);

async fn setup() -> (Synapse, tempfile::TempDir, Person, String) {
    let synapse = Synapse::start();
    synapse.register("forkdebt", "bot-password");
    synapse.register("alice", "alice-password");
    let alice = Person::login(&synapse.url, "alice", "alice-password").await;
    let room = alice.create_room("hs").await;
    let dir = tempfile::tempdir().expect("tempdir");
    scan_with_lab(
        dir.path(),
        &format!(
            "[chat]\nprefix = \"!\"\npoll_secs = 1\n\
             [chat.matrix]\nhomeserver = \"{}\"\nuser = \"{BOT}\"\npassword_env = \"FORKDEBT_TEST_MATRIX_PASSWORD\"\nrooms = [\"#hs:localhost\"]\nsession_file = \"session.json\"\n",
            synapse.url
        ),
    )
    .await;
    (synapse, dir, alice, room)
}

fn serve(dir: &Path, failpoint: Option<&str>) -> Serve {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .expect("log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forkdebt"));
    cmd.args(["--config", "forkdebt.toml", "-v", "serve"])
        .current_dir(dir)
        .env_remove("FORKDEBT_DATABASE")
        .env_remove("FORKDEBT_FAILPOINT")
        .env("FORKDEBT_TEST_MATRIX_PASSWORD", "bot-password")
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    if let Some(f) = failpoint {
        cmd.env("FORKDEBT_FAILPOINT", f);
    }
    Serve::new(cmd.spawn().expect("start forkdebt serve"))
}

async fn wait_for_bot(alice: &Person, room: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !alice.members(room).await.iter().any(|m| m == BOT) {
        assert!(Instant::now() < deadline, "the bot never joined the room");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (up to a minute) until the room's outbox has nothing pending.
async fn all_delivered(store: &Store, dir: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !store
        .pending("matrix:#hs:localhost")
        .await
        .expect("pending")
        .is_empty()
    {
        assert!(Instant::now() < deadline, "{what}: {}", log(dir));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_round_trip_with_escaped_html_and_threads() {
    let (_synapse, dir, mut alice, room) = setup().await;
    let _serve = serve(dir.path(), None);
    wait_for_bot(&alice, &room).await;
    alice.new_messages(&room, Duration::ZERO).await; // set the mark

    alice.say(&room, "!why lab 2").await;
    let got = alice.messages_from(&room, BOT, WAIT, QUIET).await;
    assert_eq!(got.len(), 1, "{got:?}\n{}", log(dir.path()));
    let c = &got[0]["content"];
    assert_eq!(c["msgtype"], "m.notice");
    let body = c["body"].as_str().expect("body");
    assert!(
        body.starts_with("lab <script>alert(1)</script>.patch (lab): "),
        "{body}"
    );
    assert_eq!(c["format"], "org.matrix.custom.html");
    let html = c["formatted_body"].as_str().expect("html");
    assert!(
        html.starts_with("lab &lt;script&gt;alert(1)&lt;/script&gt;.patch (lab): "),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");

    // Asked in a thread, answered in that thread.
    let root = alice.say(&room, "a thread about fork debt").await;
    alice
        .send(
            &room,
            json!({"msgtype": "m.text", "body": "!debt systemd", "m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": true, "m.in_reply_to": {"event_id": root}}}),
        )
        .await;
    let got = alice.messages_from(&room, BOT, WAIT, QUIET).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let c = &got[0]["content"];
    assert!(
        c["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("systemd 252.23-2.hs (default): 9 carried patches")),
        "{c}"
    );
    assert_eq!(c["m.relates_to"]["rel_type"], "m.thread", "{c}");
    assert_eq!(c["m.relates_to"]["event_id"], Value::String(root), "{c}");

    // Notices are what bots say: not commands.
    alice
        .send(&room, json!({"msgtype": "m.notice", "body": "!debt"}))
        .await;
    assert!(
        alice
            .messages_from(&room, BOT, Duration::from_secs(2), QUIET)
            .await
            .is_empty()
    );
    // Unknown commands get a one-line usage answer.
    alice.say(&room, "!frobnicate").await;
    let got = alice.messages_from(&room, BOT, WAIT, QUIET).await;
    assert_eq!(
        got[0]["content"]["body"],
        "unknown command `frobnicate`: !help lists them"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notification_is_posted_once_across_a_kill_after_sending() {
    let (_synapse, dir, mut alice, room) = setup().await;
    let mut first = serve(dir.path(), Some("hang-after-post"));
    wait_for_bot(&alice, &room).await;
    alice.new_messages(&room, Duration::ZERO).await;
    merge_16838(dir.path()).await;

    // The notification arrives; the bot has not recorded it when it is killed.
    let got = alice.messages_from(&room, BOT, WAIT, QUIET).await;
    assert_eq!(got.len(), 1, "{got:?}\n{}", log(dir.path()));
    assert_eq!(got[0]["content"]["body"], MERGED_16838);
    let deadline = Instant::now() + WAIT;
    while !log(dir.path()).contains("posted, not recording it") {
        assert!(Instant::now() < deadline, "{}", log(dir.path()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill(); // SIGKILL
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = Store::open(&url).await.expect("open");
    assert_eq!(
        store
            .pending("matrix:#hs:localhost")
            .await
            .expect("pending")
            .len(),
        1,
        "the delivery is not recorded"
    );

    // Restarted: the resend carries the same transaction id, so the room gets nothing new.
    let _second = serve(dir.path(), None);
    all_delivered(&store, dir.path(), "never delivered").await;
    store.close().await;
    let again = alice
        .messages_from(&room, BOT, Duration::from_secs(3), QUIET)
        .await;
    assert!(again.is_empty(), "posted twice: {again:?}");
    // The restart reused the saved session (same device, same transaction ids) instead of
    // logging in again.
    let log = log(dir.path());
    assert_eq!(
        log.matches("matrix: logged in with the password").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("matrix: restored the saved session").count(),
        1,
        "{log}"
    );
    assert!(
        std::fs::metadata(dir.path().join("session.json")).is_ok_and(|m| {
            use std::os::unix::fs::PermissionsExt;
            m.permissions().mode() & 0o077 == 0
        }),
        "the session file is readable by its owner only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_access_token_is_enough_to_log_in() {
    let synapse = Synapse::start();
    synapse.register("forkdebt", "bot-password");
    synapse.register("alice", "alice-password");
    // The operator made a token for the bot (another login); the bot never sees a password.
    let token = Person::login(&synapse.url, "forkdebt", "bot-password")
        .await
        .token;
    let mut alice = Person::login(&synapse.url, "alice", "alice-password").await;
    let room = alice.create_room("hs").await;
    let dir = tempfile::tempdir().expect("tempdir");
    scan_with_lab(
        dir.path(),
        &format!(
            "[chat]\npoll_secs = 1\n[chat.matrix]\nhomeserver = \"{}\"\nuser = \"{BOT}\"\ntoken_env = \"FORKDEBT_TEST_MATRIX_TOKEN\"\nrooms = [\"#hs:localhost\"]\nsession_file = \"session.json\"\n",
            synapse.url
        ),
    )
    .await;
    let child = Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", "forkdebt.toml", "-v", "serve"])
        .current_dir(dir.path())
        .env_remove("FORKDEBT_DATABASE")
        .env("FORKDEBT_TEST_MATRIX_TOKEN", &token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("serve.log")).expect("log"))
        .spawn()
        .expect("serve");
    let _serve = Serve::new(child);
    wait_for_bot(&alice, &room).await;
    alice.new_messages(&room, Duration::ZERO).await;
    alice.say(&room, "!debt systemd").await;
    let got = alice.messages_from(&room, BOT, WAIT, QUIET).await;
    assert_eq!(got.len(), 1, "{got:?}\n{}", log(dir.path()));
    assert!(
        got[0]["content"]["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("systemd 252.23-2.hs (default): 9 carried patches")),
        "{got:?}"
    );
    assert!(!log(dir.path()).contains(&token), "the token is in the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_in_a_room_configured_by_alias_filters_its_notifications() {
    let (_synapse, dir, mut alice, room) = setup().await;
    let _serve = serve(dir.path(), None);
    wait_for_bot(&alice, &room).await;
    alice.new_messages(&room, Duration::ZERO).await;

    alice.say(&room, "!subscribe lab").await;
    let got = alice.messages_from(&room, BOT, WAIT, QUIET).await;
    assert_eq!(
        got[0]["content"]["body"],
        "subscribed: events about lab are posted here",
        "{}",
        log(dir.path())
    );
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = Store::open(&url).await.expect("open");
    // Kept under the room's configured name, where its notifications are delivered from.
    assert_eq!(
        store
            .subscriptions("matrix:#hs:localhost")
            .await
            .expect("subscriptions"),
        ["lab"]
    );

    // A systemd transition: this room follows lab only, so nothing is posted here.
    merge_16838(dir.path()).await;
    all_delivered(&store, dir.path(), "never handled").await;
    let got = alice
        .messages_from(&room, BOT, Duration::from_secs(3), QUIET)
        .await;
    assert!(got.is_empty(), "filtered, yet posted: {got:?}");
    store.close().await;
}
