//! Chat load: 20 IRC clients send 200 commands (10 each, in private, one at a time per
//! client as a person would) to `forkdebt serve` on a real ngircd. Prints p50/p99/max reply
//! latency and how many replies were lost (must be 0).
//!
//! The bot's outgoing flood control is raised for this run (the local server has flood
//! penalties off); with the default 5 lines per 4 s, 200 replies would take 160 s by design.
//! Run with `cargo bench --bench chat_load` (needs /usr/sbin/ngircd).

#[path = "../tests/ircd.rs"]
#[allow(dead_code)]
mod ircd;

use ircd::{Ngircd, User};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CLIENTS: usize = 20;
const PER_CLIENT: usize = 10;
const COMMANDS: [&str; 5] = [
    "debt systemd",
    "debt",
    "why nosuch 1",
    "help",
    "bug 1984567",
];

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let ircd = Ngircd::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    std::fs::write(
        dir.path().join("forkdebt.toml"),
        format!(
            "database = \"{db}\"\n[chat]\npoll_secs = 1\n\
             [chat.irc]\nserver = \"127.0.0.1\"\nport = {}\ntls = false\nnick = \"forkdebt\"\nchannels = [\"#hs\"]\nflood_lines = 1000\nflood_window_secs = 1\n",
            ircd.port
        ),
    )
    .expect("config");
    let bin = env!("CARGO_BIN_EXE_forkdebt");
    let scan = Command::new(bin)
        .args(["--config", "forkdebt.toml", "scan"])
        .arg(root.join("sample/distgit"))
        .current_dir(dir.path())
        .output()
        .expect("scan");
    assert!(scan.status.success(), "scan failed");
    let mut serve = Command::new(bin)
        .args(["--config", "forkdebt.toml", "serve"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    // Wait for the bot to be on the server.
    let mut probe = User::connect(ircd.port, "probe").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        probe.say("forkdebt", "help").await;
        if !probe
            .notices(
                "forkdebt",
                Duration::from_millis(500),
                Duration::from_millis(100),
            )
            .await
            .is_empty()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the bot never answered");
    }

    let started = Instant::now();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let port = ircd.port;
        clients.push(tokio::spawn(async move {
            let mut user = User::connect(port, &format!("load{c}")).await;
            let mut latencies = Vec::new();
            let mut lost = 0;
            for i in 0..PER_CLIENT {
                let command = COMMANDS[(c + i) % COMMANDS.len()];
                let sent = Instant::now();
                user.say("forkdebt", command).await;
                let first = user
                    .wait_for(Duration::from_secs(30), |l| {
                        l.command == "NOTICE" && l.from == "forkdebt"
                    })
                    .await;
                match first {
                    Some(_) => latencies.push(sent.elapsed()),
                    None => lost += 1,
                }
                // The rest of a multi-line answer, before the next question.
                user.notices(
                    "forkdebt",
                    Duration::from_millis(30),
                    Duration::from_millis(30),
                )
                .await;
            }
            (latencies, lost)
        }));
    }
    let mut latencies = Vec::new();
    let mut lost = 0;
    for c in clients {
        let (l, n) = c.await.expect("client");
        latencies.extend(l);
        lost += n;
    }
    let wall = started.elapsed();
    let _ = serve.kill();
    let _ = serve.wait();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "chat load: {} commands from {CLIENTS} clients in {:.2} s; replies {}, lost {lost}",
        CLIENTS * PER_CLIENT,
        wall.as_secs_f64(),
        latencies.len()
    );
    println!(
        "first-line reply latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (each client also waits 30 ms for trailing lines)",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    assert_eq!(lost, 0, "replies were lost");
}
