//! Several `serve` instances on one PostgreSQL: the scheduler lease elects one to sync; when
//! it is SIGKILLed, another takes over once the lease expires. Each instance's contact (in the
//! User-Agent) tells the local GitHub server who asked.

use crate::builder::{DistGit, Package, patch_text};
use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{copy_tree, forkdebt_ok, sample_distgit};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn serve(dir: &Path, config: &str, db: &str) -> Child {
    serve_logging(dir, config, db, &format!("{config}.log"))
}

/// `serve` with `config`, whose leases last 2 s (`[serve] lease_secs`) so a takeover is quick.
fn serve_logging(dir: &Path, config: &str, db: &str, log: &str) -> Child {
    let path = dir.join(config);
    let text = std::fs::read_to_string(&path).expect("config");
    if !text.contains("[serve]") {
        std::fs::write(&path, format!("{text}\n[serve]\nlease_secs = 2\n")).expect("config");
    }
    Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", config, "--database", db, "-v", "serve"])
        .current_dir(dir)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(log)).expect("log"))
        .spawn()
        .expect("serve")
}

/// Scans `dir/distgit` into `db` with `config` (written as `scan.toml`).
async fn scan(dir: &Path, config: &str, db: &str) {
    std::fs::write(dir.join("scan.toml"), config).expect("config");
    let (d, db) = (dir.to_path_buf(), db.to_string());
    tokio::task::spawn_blocking(move || {
        forkdebt_ok(
            &d,
            &[
                "--config",
                "scan.toml",
                "--database",
                &db,
                "scan",
                "distgit",
            ],
        )
    })
    .await
    .expect("scan");
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
async fn one_instance_syncs_and_another_takes_over_after_a_kill_or_a_pause() {
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
    scan(&dir, &base, &db).await;
    let mut children = Vec::new();
    for name in ["a", "b", "c"] {
        std::fs::write(
            dir.join(format!("{name}.toml")),
            format!(
                "contact = \"mailto:{name}@example.org\"\n{base}[web]\nlisten = \"127.0.0.1:{}\"\n\
                 [sources]\nsync_every_mins = 0.01\nmin_interval_ms = 0\nmax_retries = 0\n\
                 [sources.github]\nurl = \"{}\"\n",
                crate::util::free_port(),
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

    // Pause the new leader (a stopped VM) past its lease: the last instance takes over. When
    // the paused one wakes up it has lost the lease and does not sync: still one asker.
    let second = who[0].split('@').next().expect("name").to_string();
    let paused = children
        .iter()
        .find(|(n, _)| *n == second)
        .map(|(_, c)| c.id())
        .expect("the second leader is one of ours");
    let signal = |sig: libc::c_int| {
        // SAFETY: kill(2) on a child process of this test.
        let r = unsafe { libc::kill(paused as libc::pid_t, sig) };
        assert_eq!(r, 0, "kill({paused}, {sig})");
    };
    signal(libc::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let who = askers(&server, from);
    assert_eq!(who.len(), 1, "{who:?}");
    assert_ne!(who[0].split('@').next(), Some(second.as_str()), "paused");
    signal(libc::SIGCONT);
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let who = askers(&server, from);
    assert_eq!(
        who.len(),
        1,
        "after waking up, still one: {who:?}\n{}",
        logs()
    );
    assert_ne!(
        who[0].split('@').next(),
        Some(second.as_str()),
        "the woken one lost"
    );
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

/// A small dist-git: package `demo` carrying ten patches, patch N sent upstream as
/// github.com/o/r pull request N.
fn ten_pr_distgit(dir: &Path) {
    let mut demo = Package::new("demo");
    for n in 1..=PRS {
        demo = demo.patch(
            &format!("{n:04}-fix-{n}.patch"),
            &patch_text(
                &format!("f{n}"),
                1,
                &format!("fix {n}"),
                &format!("Forwarded: https://github.com/o/r/pull/{n}"),
            ),
        );
    }
    DistGit::new(dir).package(demo);
}

const PRS: u32 = 10;

/// A tiny xorshift: the kill points differ each run, and the seed printed on failure (or set
/// with FORKDEBT_TEST_SEED) replays them.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// The process id in a lease holder (`host:pid:nonce`).
fn holder_pid(holder: &str) -> Option<u32> {
    holder.rsplit(':').nth(1)?.parse().ok()
}

/// The acceptance run: three `serve` processes on one PostgreSQL, ngircd and aiosmtpd; 50
/// transitions upstream while the holder of the scheduler or of the IRC network is SIGKILLed
/// ten times at random points (and started again). Every transition is announced in the
/// channel exactly once, the sync ran once per interval, the digest went once per recipient.
#[tokio::test(flavor = "multi_thread")]
async fn fifty_transitions_survive_ten_leader_kills() {
    use forkdebt_core::store::Store;
    use std::sync::Mutex;
    let seed = std::env::var("FORKDEBT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    let mut dice = Dice(seed);
    let ircd = crate::ircd::Ngircd::start();
    let smtpd = crate::smtpd::Smtpd::start();
    let db = crate::util::postgres_database().await;
    // Pull request N is open while `open[N-1]`.
    let open = Arc::new(Mutex::new(vec![true; PRS as usize]));
    let handler: Handler = {
        let open = Arc::clone(&open);
        Arc::new(move |r: &Request| {
            let n: Option<usize> = r
                .path
                .strip_prefix("/repos/o/r/pulls/")
                .and_then(|n| n.parse().ok());
            let Some(n) = n.filter(|n| (1..=PRS as usize).contains(n)) else {
                return Reply::status(404, &[], r#"{"message":"Not Found"}"#);
            };
            let is_open = open.lock().expect("lock")[n - 1];
            Reply::json(
                serde_json::json!({
                    "number": n,
                    "state": if is_open { "open" } else { "closed" },
                    "merged": false,
                    "merged_at": null,
                    "closed_at": if is_open { None } else { Some("2026-11-27T00:00:00Z") },
                    "merge_commit_sha": null,
                })
                .to_string(),
            )
        })
    };
    let server = Server::start(handler).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    ten_pr_distgit(&dir);
    let downstream = "[[downstream]]\nname = \"hs\"\n";
    scan(&dir, downstream, &db).await;

    let sync_every = Duration::from_secs(2);
    let names = ["a", "b", "c"];
    for name in names {
        std::fs::write(
            dir.join(format!("{name}.toml")),
            format!(
                "contact = \"mailto:{name}@example.org\"\n{downstream}\
                 [sources]\nsync_every_mins = {}\nmin_interval_ms = 0\nmax_retries = 0\n\
                 [sources.github]\nurl = \"{}\"\n\
                 [chat]\npoll_secs = 1\nposts_per_hour = 1000\n\
                 [chat.irc]\nserver = \"127.0.0.1\"\nport = {}\ntls = false\nnick = \"forkdebt\"\nchannels = [\"#hs\"]\n\
                 [email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nfrom = \"forkdebt <forkdebt@example.org>\"\nschedule = \"Mon 00:00 UTC\"\n\
                 [[email.recipient]]\naddress = \"team@example.org\"\n\
                 [[email.recipient]]\naddress = \"lead@example.org\"\npackages = [\"demo\"]\n",
                sync_every.as_secs_f64() / 60.0,
                server.url,
                ircd.port,
                smtpd.port,
            ),
        )
        .expect("config");
    }
    // Someone in the channel, hearing every notice from the first one on.
    let mut watcher = crate::ircd::User::connect(ircd.port, "watcher").await;
    watcher.send("JOIN #hs").await;
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    let listening = {
        let heard = Arc::clone(&heard);
        tokio::spawn(async move {
            while let Some(l) = watcher.next(Duration::from_secs(3600)).await {
                if l.command == "NOTICE"
                    && l.from.starts_with("forkdebt")
                    && l.params.first().map(String::as_str) == Some("#hs")
                {
                    heard
                        .lock()
                        .expect("lock")
                        .push(l.params.last().cloned().unwrap_or_default());
                }
            }
        })
    };
    let mut incarnation = 0;
    let start = |name: &str, incarnation: &mut u32| {
        *incarnation += 1;
        serve_logging(
            &dir,
            &format!("{name}.toml"),
            &db,
            &format!("{name}.{incarnation}.log"),
        )
    };
    let mut children: Vec<(String, Child)> = names
        .iter()
        .map(|n| (n.to_string(), start(n, &mut incarnation)))
        .collect();
    let logs = |dir: &Path| {
        let mut all = String::new();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "log"))
        {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            all.push_str(&format!("---- {}\n", f.display()));
            for l in tail.iter().rev() {
                all.push_str(l);
                all.push('\n');
            }
        }
        all
    };
    let store = Store::open(&db).await.expect("store");
    // The baseline sync (silent) before the first transition.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !store
        .source_statuses()
        .await
        .expect("status")
        .iter()
        .any(|s| s.source == "github" && s.last_success.is_some())
    {
        assert!(
            Instant::now() < deadline,
            "no baseline sync\n{}",
            logs(&dir)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    assert!(store.events(None).await.expect("events").is_empty());

    let mut kill_steps: Vec<usize> = Vec::new();
    while kill_steps.len() < 10 {
        let s = dice.roll(50) as usize;
        if !kill_steps.contains(&s) {
            kill_steps.push(s);
        }
    }
    let mut killed = Vec::new();
    for step in 0..50usize {
        let n = step % PRS as usize;
        {
            let mut open = open.lock().expect("lock");
            open[n] = !open[n];
        }
        if kill_steps.contains(&step) {
            tokio::time::sleep(Duration::from_millis(dice.roll(2500))).await;
            let role = if dice.roll(2) == 0 {
                "scheduler"
            } else {
                "network:"
            };
            let holder = store
                .leases()
                .await
                .expect("leases")
                .into_iter()
                .find(|l| l.name.starts_with(role) && l.remaining_ms > 0)
                .and_then(|l| holder_pid(&l.holder));
            if let Some(pos) =
                holder.and_then(|pid| children.iter().position(|(_, c)| c.id() == pid))
            {
                let (name, mut child) = children.remove(pos);
                child.kill().expect("SIGKILL");
                let _ = child.wait();
                killed.push(format!("step {step}: {role} holder {name}"));
                let again = start(&name, &mut incarnation);
                children.push((name, again));
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while store.events(None).await.expect("events").len() < step + 1 {
            assert!(
                Instant::now() < deadline,
                "step {step} (seed {seed}): the transition was never recorded; killed {killed:?}\n{}",
                logs(&dir)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let elapsed = started.elapsed();
    let events = store.events(None).await.expect("events");
    assert_eq!(
        events.len(),
        50,
        "each transition recorded once (seed {seed})"
    );
    let mut expected: Vec<String> = events
        .iter()
        .map(forkdebt_bot::notify::event_text)
        .collect();
    expected.sort();
    // Every transition in the channel...
    let deadline = Instant::now() + Duration::from_secs(90);
    while heard.lock().expect("lock").len() < 50 {
        assert!(
            Instant::now() < deadline,
            "seed {seed}: only {} of 50 announced; killed {killed:?}\n{}",
            heard.lock().expect("lock").len(),
            logs(&dir)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ...and, a while later, still exactly once.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut got = heard.lock().expect("lock").clone();
    got.sort();
    assert_eq!(
        got, expected,
        "seed {seed}: every transition announced exactly once; killed {killed:?}"
    );
    assert!(killed.len() >= 8, "the leaders were killed: {killed:?}");

    // The sync ran once per interval, whichever instance led: pull request 1 was asked at
    // most once per interval (slack for the time a sync takes to reach it on a busy machine;
    // two instances syncing in one interval would ask within milliseconds of each other).
    let asked: Vec<Instant> = server
        .requests()
        .iter()
        .filter(|r| r.path == "/repos/o/r/pulls/1" && r.at >= started)
        .map(|r| r.at)
        .collect();
    let closest = asked
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .unwrap_or(sync_every);
    assert!(
        closest >= sync_every.mul_f64(0.5),
        "seed {seed}: two syncs {closest:?} apart (interval {sync_every:?})"
    );
    assert!(
        asked.len() as f64 <= elapsed.as_secs_f64() / sync_every.as_secs_f64() + 2.0,
        "{} syncs in {elapsed:?}",
        asked.len()
    );

    // One digest per recipient this week.
    let mut to: Vec<String> = smtpd
        .messages()
        .iter()
        .filter_map(|m| {
            String::from_utf8_lossy(m)
                .lines()
                .find_map(|l| l.strip_prefix("To: ").map(str::to_string))
        })
        .collect();
    to.sort();
    assert_eq!(
        to,
        vec!["lead@example.org", "team@example.org"],
        "seed {seed}"
    );

    listening.abort();
    for (_, mut c) in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    store.close().await;
}
