//! Several `serve` instances on one PostgreSQL: the scheduler lease elects one to sync; when
//! it is SIGKILLed, another takes over once the lease expires. Each instance's contact (in the
//! User-Agent) tells the local GitHub server who asked.

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{copy_tree, forkdebt_ok, sample_distgit};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn serve(dir: &Path, config: &str, db: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", config, "--database", db, "-v", "serve"])
        .current_dir(dir)
        .env("HOME", dir)
        .env("FORKDEBT_LEASE_TTL_SECS", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{config}.log"))).expect("log"))
        .spawn()
        .expect("serve")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// Which instances (by contact) asked the server since `from`.
fn askers(server: &Server, from: Instant) -> Vec<String> {
    let mut who: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.at >= from)
        .filter_map(|r| r.header("user-agent").map(str::to_string))
        .map(|ua| {
            ua.split("mailto:")
                .nth(1)
                .unwrap_or_default()
                .trim_end_matches(')')
                .to_string()
        })
        .collect();
    who.sort();
    who.dedup();
    who
}

#[tokio::test(flavor = "multi_thread")]
async fn one_instance_syncs_and_another_takes_over_after_a_kill() {
    let db = crate::util::postgres_database().await;
    let handler: Handler =
        Arc::new(|_: &Request| Reply::status(404, &[], r#"{"message":"Not Found"}"#));
    let server = Server::start(handler).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    copy_tree(&sample_distgit(), &dir.join("distgit"));
    // Based on a distribution whose repodata every sync asks for (a request each time).
    let base = format!(
        "[[downstream]]\nname = \"hs\"\nbase = \"c9s\"\n[[distro]]\nname = \"c9s\"\nrepodata_url = \"{}/repo\"\n",
        server.url
    );
    std::fs::write(dir.join("scan.toml"), &base).expect("config");
    let d = dir.clone();
    let db2 = db.clone();
    tokio::task::spawn_blocking(move || {
        forkdebt_ok(
            &d,
            &[
                "--config",
                "scan.toml",
                "--database",
                &db2,
                "scan",
                "distgit",
            ],
        )
    })
    .await
    .expect("scan");
    let mut children = Vec::new();
    for name in ["a", "b", "c"] {
        std::fs::write(
            dir.join(format!("{name}.toml")),
            format!(
                "contact = \"mailto:{name}@example.org\"\n{base}[web]\nlisten = \"127.0.0.1:{}\"\n\
                 [sources]\nsync_every_mins = 0.01\nmin_interval_ms = 0\nmax_retries = 0\n\
                 [sources.github]\nurl = \"{}\"\n",
                free_port(),
                server.url
            ),
        )
        .expect("config");
        children.push((name, serve(&dir, &format!("{name}.toml"), &db)));
    }
    // Let them start and sync a few times: one instance asks, never two.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let who = askers(&server, from);
    let logs = || {
        ["a", "b", "c"]
            .iter()
            .map(|n| std::fs::read_to_string(dir.join(format!("{n}.toml.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    assert_eq!(who.len(), 1, "{who:?}\n{}", logs());
    let leader = who[0].split('@').next().expect("name").to_string();
    let d = dir.clone();
    let db2 = db.clone();
    let status =
        tokio::task::spawn_blocking(move || forkdebt_ok(&d, &["--database", &db2, "status"]))
            .await
            .expect("status");
    assert!(
        status.contains("lease scheduler:") && status.contains("held for"),
        "{status}"
    );

    // SIGKILL the leader: after its lease expires another one syncs, still only one.
    let pos = children
        .iter()
        .position(|(n, _)| *n == leader)
        .expect("leader is one of ours");
    let (_, mut killed) = children.remove(pos);
    killed.kill().expect("kill");
    let _ = killed.wait();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let who = askers(&server, from);
    assert_eq!(who.len(), 1, "{who:?}");
    assert_ne!(who[0].split('@').next(), Some(leader.as_str()));
    for (_, mut c) in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// The bots of NAMES in `#hs` (nicks starting with `forkdebt`).
async fn bots_in_channel(user: &mut crate::ircd::User) -> Vec<String> {
    user.send("NAMES #hs").await;
    let mut bots = Vec::new();
    while let Some(l) = user.next(Duration::from_secs(2)).await {
        if l.command == "353" {
            bots.extend(
                l.params
                    .last()
                    .cloned()
                    .unwrap_or_default()
                    .split(' ')
                    .map(|n| n.trim_start_matches(['@', '+']).to_string())
                    .filter(|n| n.starts_with("forkdebt")),
            );
        }
        if l.command == "366" {
            break;
        }
    }
    bots
}

/// A chat network has exactly one bot connection however many instances run; when its
/// holder dies, another instance connects.
#[tokio::test(flavor = "multi_thread")]
async fn one_bot_connection_per_network_across_instances() {
    let ircd = crate::ircd::Ngircd::start();
    let db = crate::util::postgres_database().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let mut children = Vec::new();
    for name in ["a", "b"] {
        std::fs::write(
            dir.join(format!("{name}.toml")),
            format!(
                "[chat]\npoll_secs = 1\n[chat.irc]\nserver = \"127.0.0.1\"\nport = {}\ntls = false\nnick = \"forkdebt\"\nchannels = [\"#hs\"]\n",
                ircd.port
            ),
        )
        .expect("config");
        children.push(serve(&dir, &format!("{name}.toml"), &db));
        // The first one takes the lease before the second asks.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let mut alice = crate::ircd::User::connect(ircd.port, "alice").await;
    alice.send("JOIN #hs").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let bots = bots_in_channel(&mut alice).await;
    assert_eq!(bots, vec!["forkdebt".to_string()], "one connection");
    // The first instance held it: SIGKILL it; the second connects once the lease expires.
    let mut first = children.remove(0);
    first.kill().expect("kill");
    let _ = first.wait();
    // Its connection goes away first (the server sees the socket close)...
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut gone = false;
    loop {
        let bots = bots_in_channel(&mut alice).await;
        gone |= bots.is_empty();
        // ...then the other instance's bot joins.
        if gone && bots.len() == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no instance took the network over: {bots:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}
