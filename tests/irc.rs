//! The bot on a real IRC server (ngircd): commands in a channel and in private, bounded
//! replies, long lines split on UTF-8 boundaries, names that try to inject IRC commands,
//! and reconnecting after the server restarts.

use crate::bot_setup::{MERGED_16838, Serve, merge_16838, scan_with_lab};
use crate::ircd::{Line, Ngircd, User};
use forkdebt_core::store::Store;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BOT: &str = "forkdebt";
const WAIT: Duration = Duration::from_secs(15);
const QUIET: Duration = Duration::from_millis(700);

/// `forkdebt serve` in `dir`, logging to `serve.log` there.
pub fn serve(dir: &Path) -> Serve {
    serve_with_env(dir, &[])
}

/// [`serve`] with `env` set (the secrets a configuration names).
pub fn serve_with_env(dir: &Path, env: &[(&str, &str)]) -> Serve {
    let log = std::fs::File::create(dir.join("serve.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", "forkdebt.toml", "-v", "serve"])
        .current_dir(dir)
        .env_remove("FORKDEBT_DATABASE")
        .env("HOME", dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start forkdebt serve");
    Serve::new(child)
}

/// A configuration pointing the bot at the IRC server on `port`, and the store.
pub async fn downstream(dir: &Path, port: u16) {
    scan_with_lab(
        dir,
        &format!(
            "[chat]\nprefix = \"!\"\nadmins = [\"boss\"]\npoll_secs = 1\n\
             [chat.irc]\nserver = \"127.0.0.1\"\nport = {port}\ntls = false\nnick = \"{BOT}\"\nchannels = [\"#hs\"]\nflood_lines = 200\nflood_window_secs = 1\n"
        ),
    )
    .await;
}

/// Joins `#hs` and waits until the bot is there too.
pub async fn join_with_bot(user: &mut User) {
    user.send("JOIN #hs").await;
    let seen = user
        .wait_for(Duration::from_secs(30), |l| {
            (l.command == "JOIN" && l.from == BOT)
                || (l.command == "353"
                    && l.params
                        .last()
                        .is_some_and(|n| n.split(' ').any(|x| x.trim_start_matches('@') == BOT)))
        })
        .await;
    assert!(seen.is_some(), "the bot never joined #hs");
}

fn texts(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.params.last().cloned().unwrap_or_default())
        .collect()
}

async fn ask(user: &mut User, target: &str, text: &str) -> Vec<String> {
    user.say(target, text).await;
    texts(&user.notices(BOT, WAIT, QUIET).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_round_trip_in_a_channel_and_in_private() {
    let ircd = Ngircd::start();
    let dir = tempfile::tempdir().expect("tempdir");
    downstream(dir.path(), ircd.port).await;
    let _serve = serve(dir.path());
    let mut alice = User::connect(ircd.port, "alice").await;
    join_with_bot(&mut alice).await;

    // In the channel, as NOTICEs to the channel.
    alice.say("#hs", "!debt").await;
    let got = alice.notices(BOT, WAIT, QUIET).await;
    assert!(got.iter().all(|l| l.params[0] == "#hs"), "{got:?}");
    let said = texts(&got);
    assert!(
        said.iter()
            .any(|t| t.starts_with("default: 63 carried patches in 12 packages:")),
        "{said:?}"
    );

    // In private, the whole answer; in the channel, four lines and where to find the rest.
    let private = ask(&mut alice, BOT, "show systemd").await;
    assert!(
        private[0].starts_with("systemd 252.23-2.hs (default)"),
        "{private:?}"
    );
    assert!(private.len() > 4, "{private:?}");
    let public = ask(&mut alice, "#hs", "!show systemd").await;
    assert_eq!(public.len(), 4, "{public:?}");
    assert_eq!(public[..3], private[..3]);
    // Private answers are bounded too (60 lines), at a larger size.
    let total = match private.last().and_then(|l| l.strip_prefix("... and ")) {
        Some(rest) => {
            assert!(rest.ends_with("more lines: the CLI shows everything (`forkdebt report`)"));
            assert_eq!(private.len(), 60, "{private:#?}");
            let more: usize = rest
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("count");
            59 + more
        }
        None => private.len(),
    };
    assert_eq!(
        public[3],
        format!(
            "... and {} more lines: send me `!show systemd` in a private message",
            total - 3
        )
    );

    // A reply longer than 400 bytes arrives in pieces cut between characters.
    let target = "ß".repeat(200);
    let pieces = ask(&mut alice, "#hs", &format!("!subscribe {target}")).await;
    assert_eq!(pieces.len(), 2, "{pieces:?}");
    assert!(pieces.iter().all(|p| p.len() <= 400), "{pieces:?}");
    assert_eq!(
        pieces.concat(),
        format!("subscribed: events about {target} are posted here")
    );
    let subs = ask(&mut alice, "#hs", "!subscriptions").await;
    assert_eq!(subs.concat(), format!("subscribed to: {target}"));

    // A patch name with CR LF and an IRC command in it is shown inline, nothing more.
    let lab = ask(&mut alice, "#hs", "!why lab 1").await;
    assert!(
        lab[0].starts_with("lab evil.patch\\r\\nQUIT :pwned (lab): "),
        "{lab:?}"
    );
    let show = ask(&mut alice, BOT, "show lab").await;
    assert!(
        show.iter()
            .any(|l| l.contains("Patch1: evil.patch\\r\\nQUIT :pwned  [not-sent]")),
        "{show:?}"
    );
    assert!(
        show.iter()
            .any(|l| l.contains("subject: <b>bold</b> \\u{1}ACTION waves\\u{1}")),
        "{show:?}"
    );
    let after = ask(&mut alice, "#hs", "!debt lab").await;
    assert!(
        after[0].starts_with("lab 1-1.hs (lab): 2 carried patches"),
        "{after:?}"
    );

    // Wrong usage, unknown commands, admin-only commands: one line each.
    assert_eq!(
        ask(&mut alice, "#hs", "!why systemd").await,
        ["usage: !why PACKAGE PATCH"]
    );
    assert_eq!(
        ask(&mut alice, "#hs", "!frobnicate now").await,
        ["unknown command `frobnicate`: !help lists them"]
    );
    assert_eq!(
        ask(&mut alice, "#hs", "!sync").await,
        ["only admins can start a sync"]
    );
    // `propose`: admins only; an admin's goes to `serve`'s proposal, which refuses a patch
    // that is not droppable (and says where it stands).
    assert_eq!(
        ask(&mut alice, "#hs", "!propose bash 1").await,
        ["only admins can propose changes ([propose] open lets anyone)"]
    );
    let mut boss = User::connect(ircd.port, "boss").await;
    let proposed = ask(&mut boss, BOT, "propose bash nosuch.patch").await;
    assert_eq!(
        proposed,
        ["could not propose: `bash` carries no patch `nosuch.patch` (see `forkdebt show bash`)"]
    );
    assert_eq!(
        ask(&mut alice, "#hs", "!why nosuch 1").await,
        ["no package named `nosuch` has been scanned (see `forkdebt report`)"]
    );
    // Chatter without the prefix is not a command.
    alice.say("#hs", "debt is fun").await;
    assert!(alice.notices(BOT, QUIET, QUIET).await.is_empty());

    // A transition recorded by a sync is announced in the channel, once.
    {
        let store = Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()))
            .await
            .expect("open");
        store
            .unsubscribe("irc:#hs", &target)
            .await
            .expect("unsubscribe");
        store.close().await;
    }
    merge_16838(dir.path()).await;
    let told = texts(&alice.notices(BOT, WAIT, Duration::from_secs(3)).await);
    assert_eq!(told, [MERGED_16838]);

    // The bot is still there: it never sent a QUIT.
    alice.send("NAMES #hs").await;
    let names = alice
        .wait_for(WAIT, |l| l.command == "353")
        .await
        .expect("names");
    assert!(names.raw.contains(BOT), "{names:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_reconnects_after_the_server_restarts() {
    let mut ircd = Ngircd::start();
    let dir = tempfile::tempdir().expect("tempdir");
    downstream(dir.path(), ircd.port).await;
    let _serve = serve(dir.path());
    let mut alice = User::connect(ircd.port, "alice").await;
    join_with_bot(&mut alice).await;
    assert!(!ask(&mut alice, "#hs", "!debt").await.is_empty());

    ircd.restart();
    let mut bob = User::connect(ircd.port, "bob").await;
    // A transition recorded while the bot may still be away is posted once it is back in the
    // channel (a NOTICE before its JOIN would be refused and lost).
    merge_16838(dir.path()).await;
    join_with_bot(&mut bob).await;
    let told = texts(&bob.notices(BOT, WAIT, Duration::from_secs(2)).await);
    assert_eq!(told, [MERGED_16838]);
    let said = ask(&mut bob, "#hs", "!debt").await;
    assert!(
        said.iter()
            .any(|t| t.starts_with("default: 63 carried patches")),
        "{said:?}"
    );
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(log.contains("reconnecting"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_nick_gets_an_alternative_and_sigterm_says_goodbye() {
    let ircd = Ngircd::start();
    let dir = tempfile::tempdir().expect("tempdir");
    downstream(dir.path(), ircd.port).await;
    // Someone already has the bot's nick.
    let mut squatter = User::connect(ircd.port, BOT).await;
    squatter.send("JOIN #hs").await;
    let mut serve = serve(dir.path());
    let mut alice = User::connect(ircd.port, "alice").await;
    alice.send("JOIN #hs").await;
    let alt = format!("{BOT}_");
    let joined = alice
        .wait_for(Duration::from_secs(30), |l| {
            (l.command == "JOIN" && l.from == alt)
                || (l.command == "353"
                    && l.params
                        .last()
                        .is_some_and(|n| n.split(' ').any(|x| x == alt)))
        })
        .await;
    assert!(joined.is_some(), "the bot did not join as {alt}");
    alice.say("#hs", "!debt systemd").await;
    let said = texts(&alice.notices(&alt, WAIT, QUIET).await);
    assert!(
        said[0].starts_with("systemd 252.23-2.hs (default): 9 carried patches"),
        "{said:?}"
    );
    squatter.say("#hs", "I am not the bot").await;
    assert!(alice.notices(&alt, QUIET, QUIET).await.is_empty());

    // SIGTERM: the bot quits the network and the process exits cleanly.
    let status = serve.terminate();
    assert!(status.success(), "{status:?}");
    let quit = alice
        .wait_for(WAIT, |l| l.command == "QUIT" && l.from == alt)
        .await
        .expect("a QUIT");
    assert!(
        quit.raw.contains("forkdebt is shutting down"),
        "{}",
        quit.raw
    );
}

/// A scripted IRC server for what ngircd cannot do (SASL): it expects each line the bot
/// must send and answers as Libera.Chat would.
#[tokio::test(flavor = "multi_thread")]
async fn sasl_plain_is_negotiated_before_registration_and_the_password_is_not_logged() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    scan_with_lab(
        dir.path(),
        &format!(
            "[chat.irc]\nserver = \"127.0.0.1\"\nport = {port}\ntls = false\nnick = \"{BOT}\"\nsasl_password_env = \"FORKDEBT_TEST_SASL\"\nchannels = [\"#hs\"]\n"
        ),
    )
    .await;
    let log = std::fs::File::create(dir.path().join("serve.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", "forkdebt.toml", "-vv", "serve"])
        .current_dir(dir.path())
        .env_remove("FORKDEBT_DATABASE")
        .env("FORKDEBT_TEST_SASL", "s3cret-pass")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve");
    let _serve = Serve::new(child);

    let (socket, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the bot connects")
        .expect("accept");
    let (r, mut w) = socket.into_split();
    let mut lines = BufReader::new(r).lines();
    let mut next = async || {
        tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("a line in time")
            .expect("read")
            .expect("not closed")
    };
    let mut said = Vec::new();
    // Registration waits for SASL: CAP REQ first, then NICK and USER, no CAP END yet.
    for _ in 0..3 {
        said.push(next().await);
    }
    assert_eq!(said[0], "CAP REQ sasl", "{said:?}");
    assert!(
        said[1].starts_with("NICK forkdebt") && said[2].starts_with("USER forkdebt"),
        "{said:?}"
    );
    w.write_all(b":irc.test CAP * ACK :sasl\r\n")
        .await
        .expect("write");
    assert_eq!(next().await, "AUTHENTICATE PLAIN");
    w.write_all(b"AUTHENTICATE +\r\n").await.expect("write");
    let auth = next().await;
    let b64 = auth.strip_prefix("AUTHENTICATE ").expect("credentials");
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert_eq!(decoded, b"forkdebt\0forkdebt\0s3cret-pass");
    w.write_all(b":irc.test 903 forkdebt :SASL authentication successful\r\n")
        .await
        .expect("write");
    assert_eq!(next().await, "CAP END");
    w.write_all(b":irc.test 001 forkdebt :Welcome\r\n:irc.test 376 forkdebt :End of MOTD\r\n")
        .await
        .expect("write");
    assert_eq!(next().await, "JOIN #hs");
    drop(w);
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(
        !log.contains("s3cret-pass"),
        "the password is in the log:\n{log}"
    );
    assert!(!log.contains(b64), "the credentials are in the log:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_connects_over_tls_and_trusts_only_what_it_is_told() {
    let ircd = Ngircd::start_tls();
    let dir = tempfile::tempdir().expect("tempdir");
    let chat = |ca: &str| {
        format!(
            "[chat]\npoll_secs = 1\n[chat.irc]\nserver = \"127.0.0.1\"\nport = {}\ntls = true\nnick = \"{BOT}\"\nchannels = [\"#hs\"]\n{ca}",
            ircd.tls_port
        )
    };
    // Without the server's CA, the self-signed certificate is refused: the bot never arrives.
    scan_with_lab(dir.path(), &chat("")).await;
    let untrusting = serve(dir.path());
    let mut alice = User::connect(ircd.port, "alice").await;
    alice.send("JOIN #hs").await;
    let arrived = alice
        .wait_for(Duration::from_secs(4), |l| {
            l.command == "JOIN" && l.from == BOT
        })
        .await;
    assert!(
        arrived.is_none(),
        "connected without trusting the certificate"
    );
    drop(untrusting);
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(log.to_lowercase().contains("certificate"), "{log}");

    // With it (`ca_file`), over TLS: joins and answers.
    let dir = tempfile::tempdir().expect("tempdir");
    scan_with_lab(
        dir.path(),
        &chat(&format!("ca_file = \"{}\"\n", ircd.ca().display())),
    )
    .await;
    let _serve = serve(dir.path());
    join_with_bot(&mut alice).await;
    let said = ask(&mut alice, "#hs", "!debt systemd").await;
    assert!(
        said[0].starts_with("systemd 252.23-2.hs (default): 9 carried patches"),
        "{said:?}"
    );
}

/// Starts `serve` against a scripted server on a free port; returns the listener.
async fn scripted(dir: &Path, extra: &str) -> (tokio::net::TcpListener, Serve) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    scan_with_lab(
        dir,
        &format!(
            "[chat]\nprefix = \"!\"\npoll_secs = 1\n[chat.irc]\nserver = \"127.0.0.1\"\nport = {port}\ntls = false\nnick = \"{BOT}\"\nchannels = [\"#hs\"]\n{extra}"
        ),
    )
    .await;
    (listener, serve(dir))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_server_is_left_and_reconnected_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (listener, _serve) = scripted(dir.path(), "register_timeout_secs = 2\n").await;
    let started = std::time::Instant::now();
    // Accept and say nothing, twice: the bot gives up on the first and comes back.
    let (_first, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the bot connects")
        .expect("accept");
    let (_second, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the bot reconnects after the registration timeout")
        .expect("accept");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(
        log.contains("did not complete registration within 2s"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_latin1_message_does_not_disconnect_the_bot() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let (listener, _serve) = scripted(dir.path(), "").await;
    let (socket, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the bot connects")
        .expect("accept");
    let (r, mut w) = socket.into_split();
    let mut lines = BufReader::new(r).split(b'\n');
    let mut next = async || {
        let line = tokio::time::timeout(WAIT, lines.next_segment())
            .await
            .expect("a line in time")
            .expect("read")
            .expect("not closed");
        String::from_utf8_lossy(&line).trim_end().to_string()
    };
    // NICK, USER (no SASL): then welcome it.
    let mut said = vec![next().await, next().await];
    assert!(said.iter().any(|l| l.starts_with("NICK")), "{said:?}");
    w.write_all(b":irc.test 001 forkdebt :Welcome\r\n:irc.test 376 forkdebt :End of MOTD\r\n")
        .await
        .expect("write");
    // A Latin-1 message (0xE9 is not UTF-8 alone), then a command.
    w.write_all(
        b":alice!a@h PRIVMSG forkdebt :caf\xe9 au lait\r\n:alice!a@h PRIVMSG forkdebt :!help\r\n",
    )
    .await
    .expect("write");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let line = next().await;
        said.push(line.clone());
        if line.starts_with("NOTICE alice :commands:") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no answer: {said:?}");
    }
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(!log.contains("Failed to decode"), "{log}");
}

/// Defect 8 of the hardening issue: a server sending a line without end grew the bot by
/// hundreds of MB. The line is dropped as it arrives and the bot keeps answering.
#[tokio::test(flavor = "multi_thread")]
async fn an_unterminated_line_from_the_server_is_dropped_as_it_arrives() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let (listener, serve) = scripted(dir.path(), "").await;
    let (socket, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the bot connects")
        .expect("accept");
    let (r, mut w) = socket.into_split();
    let mut lines = BufReader::new(r).lines();
    let mut next = async || {
        tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("a line in time")
            .expect("read")
            .expect("not closed")
    };
    let mut said = vec![next().await, next().await];
    w.write_all(b":irc.test 001 forkdebt :Welcome\r\n:irc.test 376 forkdebt :End of MOTD\r\n")
        .await
        .expect("write");
    let before = serve.peak_rss_mib();
    // 256 MiB without a newline, then a command on the next line.
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..256 {
        w.write_all(&chunk).await.expect("write");
    }
    w.write_all(b"\r\n:alice!a@h PRIVMSG forkdebt :!help\r\n")
        .await
        .expect("write");
    loop {
        let line = next().await;
        said.push(line.clone());
        if line.starts_with("NOTICE alice :commands:") {
            break;
        }
        assert!(said.len() < 50, "no answer: {said:?}");
    }
    let peak = serve.peak_rss_mib();
    assert!(
        peak < before + 50,
        "the bot grew from {before} MiB to {peak} MiB reading one line"
    );
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(log.contains("a line of over 8703 bytes; dropped"), "{log}");
}

/// Defect 21: with TLS, SIGTERM took 10 s while a server held the handshake open.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_stalled_tls_handshake_ends_the_bot_at_once() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    scan_with_lab(
        dir.path(),
        &format!(
            "[chat.irc]\nserver = \"127.0.0.1\"\nport = {port}\ntls = true\nnick = \"{BOT}\"\nchannels = [\"#hs\"]\nregister_timeout_secs = 120\n"
        ),
    )
    .await;
    let mut serve = serve(dir.path());
    // Accept, read the ClientHello, never answer.
    let (_socket, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the bot connects")
        .expect("accept");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = std::time::Instant::now();
    let status = serve.terminate();
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(5),
        "SIGTERM took {took:?} while the handshake was pending"
    );
}

/// A refused SASL login is not a network hiccup: the bot says why and does not try again
/// (every retry would present the same wrong password), while `serve` goes on.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_sasl_login_stops_reconnecting() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("sasl"), "wrong-pass\n").expect("password");
    let (listener, mut serve) = scripted(dir.path(), "sasl_password_file = \"sasl\"\n").await;
    let (socket, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the bot connects")
        .expect("accept");
    let (r, mut w) = socket.into_split();
    let mut lines = BufReader::new(r).lines();
    while let Ok(Ok(Some(line))) = tokio::time::timeout(WAIT, lines.next_line()).await {
        if line == "CAP REQ sasl" {
            w.write_all(b":irc.test CAP * ACK :sasl\r\n")
                .await
                .expect("write");
        } else if line == "AUTHENTICATE PLAIN" {
            w.write_all(b"AUTHENTICATE +\r\n").await.expect("write");
        } else if line.starts_with("AUTHENTICATE ") {
            w.write_all(b":irc.test 904 forkdebt :SASL authentication failed\r\n")
                .await
                .expect("write");
            break;
        }
    }
    // A network error would be retried within a second or two; this is not retried.
    let again = tokio::time::timeout(Duration::from_secs(6), listener.accept()).await;
    assert!(again.is_err(), "the bot came back with the same password");
    assert!(serve.running(), "serve goes on without that network");
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(
        log.contains("SASL authentication failed") && log.contains("not trying again"),
        "{log}"
    );
    assert!(!log.contains("wrong-pass"), "{log}");
}

/// `propose` from chat does its git work off the runtime: while its push hangs for 5 s on a
/// forge that does not answer, another person's question is answered at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_proposal_does_not_hold_up_other_answers() {
    use crate::httpd::{Reply, Request, Server};
    use forkdebt_core::source::Dataset;
    use forkdebt_core::store::ItemOutcome;
    use std::sync::Arc;
    let ircd = Ngircd::start();
    // The forge's git: every request waits 5 s, then the connection closes.
    let forge = Server::start(Arc::new(|_: &Request| Reply::Hang(Duration::from_secs(5)))).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = crate::propose::hello_distgit(dir.path());
    let spec = repo.join("rpms/hello/hello.spec");
    let text = std::fs::read_to_string(&spec).expect("spec");
    std::fs::write(
        &spec,
        text.replace(
            "Patch2: 0002-three.patch",
            "# https://github.com/o/x/pull/1\nPatch2: 0002-three.patch",
        ),
    )
    .expect("spec");
    crate::util::git(&repo, &["commit", "-qam", "reference"]);
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    std::fs::write(
        dir.path().join("forkdebt.toml"),
        format!(
            "database = \"{db}\"\ncontact = \"mailto:t@example.org\"\n\
             [[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n\
             [[distro]]\nname = \"c9s\"\n\
             [chat]\nprefix = \"!\"\nadmins = [\"boss\"]\npoll_secs = 1\n\
             [chat.irc]\nserver = \"127.0.0.1\"\nport = {}\ntls = false\nnick = \"{BOT}\"\nchannels = [\"#hs\"]\nflood_lines = 200\nflood_window_secs = 1\n\
             [propose]\nforge = \"gitlab\"\nurl = \"{url}\"\nproject = \"hs/rpms/{{package}}\"\npush_url = \"{url}/{{package}}.git\"\n",
            ircd.port,
            url = forge.url
        ),
    )
    .expect("config");
    crate::util::forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "scan"]);
    // Droppable: the PR merged, first in v2.0, and c9s ships 2.0.
    let store = Store::open(&db).await.expect("open");
    let observed = |v: serde_json::Value| ItemOutcome::Observed {
        data: v.to_string(),
        upstream_changed_at: None,
    };
    for (dataset, item, data) in [
        (
            Dataset::Github,
            "o/x#1",
            serde_json::json!({"number": 1, "state": "closed", "merged": true,
                "merge_commit_sha": "abc1234", "merged_at": "2026-01-01T00:00:00Z"}),
        ),
        (
            Dataset::GithubRelease,
            "o/x@abc1234",
            serde_json::json!({"tag": "v2.0", "tags_checked": 1}),
        ),
        (
            Dataset::Repodata,
            "c9s/hello",
            serde_json::json!({"evr": "2.0-1.el9", "nvr": "hello-2.0-1.el9"}),
        ),
    ] {
        store
            .record_outcomes(
                dataset,
                &[(item.to_string(), observed(data))],
                chrono::Utc::now(),
            )
            .await
            .expect("observed");
    }
    store.close().await;
    let _serve = serve(dir.path());
    let mut boss = User::connect(ircd.port, "boss").await;
    join_with_bot(&mut boss).await;
    let mut alice = User::connect(ircd.port, "alice").await;
    alice.send("JOIN #hs").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    boss.say("#hs", "!propose hello 0002-three.patch").await;
    // Let the proposal reach its push.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let asked = std::time::Instant::now();
    alice.say("#hs", "!debt hello").await;
    let first = alice
        .wait_for(Duration::from_secs(10), |l| {
            l.command == "NOTICE" && l.from == BOT
        })
        .await
        .expect("an answer");
    let took = asked.elapsed();
    assert!(
        first.params.last().is_some_and(|t| t.starts_with("hello ")),
        "{first:?}"
    );
    assert!(
        took < Duration::from_millis(100),
        "the answer took {took:?}"
    );
    // The proposal ends in its own time (the push gave up after the forge's 5 s), with why.
    let ended = boss
        .wait_for(Duration::from_secs(30), |l| {
            l.command == "NOTICE"
                && l.from == BOT
                && l.params
                    .last()
                    .is_some_and(|t| t.contains("could not propose"))
        })
        .await
        .expect("the proposal's answer");
    assert!(asked.elapsed() >= Duration::from_secs(3), "{ended:?}");
    assert!(
        ended.params.last().is_some_and(|t| t.contains("push")),
        "{ended:?}"
    );
}
