//! The message bus, end to end: `forkdebt serve` consuming a real RabbitMQ (TLS, EXTERNAL
//! login), a real ngircd, Koji and Jira served locally.
//!
//! 1. Throughput: 10,000 Koji tag messages, 1% about a tracked package (each of those a
//!    focused sync), the rest about packages nobody tracks. Prints messages per second
//!    (first publish to the last one counted by the consumer) and `serve`'s CPU per message.
//! 2. Latency: 20 messages, each making a different package's patch droppable; the time
//!    from publishing to the IRC notice, p50/p99/max.
//!
//! Run with `cargo bench --bench bus` (needs rabbitmq-server, ngircd, openssl).

#[path = "../tests/httpd.rs"]
#[allow(dead_code)]
mod httpd;
#[path = "../tests/ircd.rs"]
#[allow(dead_code)]
mod ircd;
#[path = "../tests/rabbit.rs"]
#[allow(dead_code)]
mod rabbit;

use httpd::{Reply, Request, Server};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TRACKED: usize = 20;
const MESSAGES: usize = 10_000;
const RELEVANT_EVERY: usize = 100;

fn xml(v: &Value) -> String {
    match v {
        Value::Null => "<value><nil/></value>".into(),
        Value::Bool(b) => format!("<value><boolean>{}</boolean></value>", u8::from(*b)),
        Value::Number(n) if n.is_i64() => format!("<value><int>{n}</int></value>"),
        Value::Number(n) => format!("<value><double>{n}</double></value>"),
        Value::String(s) => format!(
            "<value><string>{}</string></value>",
            s.replace('&', "&amp;").replace('<', "&lt;")
        ),
        Value::Array(a) => format!(
            "<value><array><data>{}</data></array></value>",
            a.iter().map(xml).collect::<String>()
        ),
        Value::Object(o) => format!(
            "<value><struct>{}</struct></value>",
            o.iter()
                .map(|(k, v)| format!("<member><name>{k}</name>{}</member>", xml(v)))
                .collect::<String>()
        ),
    }
}

/// `serve`'s CPU time so far (user + system), from /proc.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Duration::from_secs_f64(ticks as f64 / hz)
}

/// Messages the consumer has counted (from `forkdebt sources`).
fn counted(dir: &Path) -> usize {
    let out = Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", "forkdebt.toml", "sources"])
        .current_dir(dir)
        .output()
        .expect("sources");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("bus fedora: "))
        .and_then(|l| l.split(' ').next()?.parse().ok())
        .unwrap_or(0)
}

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", "forkdebt.toml"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("forkdebt");
    assert!(
        out.status.success(),
        "forkdebt {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rabbit = tokio::task::spawn_blocking(rabbit::Rabbit::start)
        .await
        .expect("rabbit");
    let ircd = ircd::Ngircd::start();
    let latest: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let shipped = latest.clone();
    let recorded: Vec<Value> = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/koji/reserialized/listTagged_f29-build_latest_inherit.json"
        ))
        .expect("fixture"),
    )
    .expect("json");
    let server = Server::start(Arc::new(move |req: &Request| {
        if req.path == "/rest/api/2/search" {
            let issues: Vec<Value> = (0..TRACKED)
                .map(|i| {
                    serde_json::json!({"key": format!("RHEL-{}", 10000 + i), "fields": {
                        "status": {"name": "Closed"}, "resolution": {"name": "Done-Errata"},
                        "fixVersions": [], "updated": "2024-02-01T10:00:00.000+0000",
                        "customfield_12318450": format!("pkg{i:02}-1.1-1.fc31")}})
                })
                .collect();
            return Reply::json(
                serde_json::to_vec(&serde_json::json!({"issues": issues})).expect("json"),
            );
        }
        let body = String::from_utf8_lossy(&req.body);
        let results: Vec<Value> = body
            .split("<name>package</name><value><string>")
            .skip(1)
            .map(|rest| {
                let pkg = rest.split('<').next().unwrap_or_default();
                let found: Vec<Value> = shipped
                    .lock()
                    .expect("lock")
                    .get(pkg)
                    .map(|vr| {
                        let (v, r) = vr.split_once('-').unwrap_or(("1.0", "1.fc31"));
                        let mut b = recorded[0].clone();
                        b["name"] = pkg.into();
                        b["package_name"] = pkg.into();
                        b["version"] = v.into();
                        b["release"] = r.into();
                        b["nvr"] = format!("{pkg}-{vr}").into();
                        b
                    })
                    .into_iter()
                    .collect();
                Value::Array(vec![Value::Array(found)])
            })
            .collect();
        Reply::Send {
            status: 200,
            headers: vec![("Content-Type".into(), "text/xml".into())],
            body: format!(
                "<?xml version='1.0'?><methodResponse><params><param>{}</param></params></methodResponse>",
                xml(&Value::Array(results))
            )
            .into_bytes(),
        }
    }))
    .await;

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for i in 0..TRACKED {
        let name = format!("pkg{i:02}");
        latest
            .lock()
            .expect("lock")
            .insert(name.clone(), "1.0-1.fc31".into());
        let pkg = dir.join("distgit").join(&name);
        std::fs::create_dir_all(&pkg).expect("mkdir");
        std::fs::write(
            pkg.join("0001-fix.patch"),
            "--- a/a.c\n+++ b/a.c\n@@ -1 +1 @@\n-a\n+b\n",
        )
        .expect("patch");
        std::fs::write(
            pkg.join(format!("{name}.spec")),
            format!(
                "Name: {name}\nVersion: 1.0\nRelease: 1.hs\nSummary: s\nLicense: MIT\n\n\
                 # Resolves: RHEL-{}\nPatch1: 0001-fix.patch\n\n%description\nd\n\n%prep\n%autosetup -p1\n",
                10000 + i
            ),
        )
        .expect("spec");
    }
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "database = \"sqlite://{db}\"\ncontact = \"mailto:bench@example.org\"\n\
             [sources]\nmin_interval_ms = 0\nsync_every_mins = 600\n\
             [sources.jira]\nurl = \"{url}\"\n\
             [[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"f31\"\n\
             [[distro]]\nname = \"f31\"\nkoji_url = \"{url}/kojihub\"\nkoji_tag = \"f31\"\n\
             [chat]\npoll_secs = 1\nposts_per_hour = 1000\n\
             [chat.irc]\nserver = \"127.0.0.1\"\nport = {irc}\ntls = false\nnick = \"forkdebt\"\nchannels = [\"#hs\"]\nflood_lines = 1000\nflood_window_secs = 1\n\
             [bus]\nenabled = true\nurl = \"{amqp}\"\nca_file = \"{ca}\"\ncert_file = \"{cert}\"\nkey_file = \"{key}\"\ndatagrepper_url = \"\"\n",
            db = dir.join("f.db").display(),
            url = server.url,
            irc = ircd.port,
            amqp = rabbit.url(),
            ca = rabbit.ca().display(),
            cert = rabbit.cert().display(),
            key = rabbit.key().display(),
        ),
    )
    .expect("config");
    run(dir, &["scan"]);
    run(dir, &["sync", "--source", "jira", "--source", "koji"]);
    let log = std::fs::File::create(dir.join("serve.log")).expect("log");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", "forkdebt.toml", "-v", "serve"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve");
    let mut user = ircd::User::connect(ircd.port, "maintainer").await;
    user.send("JOIN #hs").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(dir.join("serve.log"))
        .unwrap_or_default()
        .contains("listening")
    {
        assert!(Instant::now() < deadline, "the bus never connected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the bot join the channel.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let publisher = rabbit.publisher().await;
    let tag = |name: &str, version: &str| {
        serde_json::json!({"build_id": 1, "name": name, "tag_id": 6446, "instance": "primary",
            "tag": "f31-updates-pending", "user": "bodhi", "version": version, "owner": "o", "release": "1.fc31"})
    };

    // 1. Throughput.
    let cpu_before = cpu_of(serve.id());
    let started = Instant::now();
    for n in 0..MESSAGES {
        let name = if n % RELEVANT_EVERY == 0 {
            format!("pkg{:02}", (n / RELEVANT_EVERY) % TRACKED)
        } else {
            format!("untracked{n}")
        };
        publisher
            .publish(
                &format!("bench-{n}"),
                "org.fedoraproject.prod.buildsys.tag",
                &chrono::Utc::now().to_rfc3339(),
                &tag(&name, "1.0"),
            )
            .await;
    }
    let published = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300);
    while counted(dir) < MESSAGES {
        assert!(Instant::now() < deadline, "the consumer never caught up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let handled = started.elapsed();
    let cpu = cpu_of(serve.id()) - cpu_before;
    println!(
        "bus throughput: {MESSAGES} messages ({} about tracked packages) published in {:.2} s, \
         all handled in {:.2} s (<= 1 s counting delay): {:.0} messages/s; serve CPU {:.2} s, {:.1} µs per message",
        MESSAGES / RELEVANT_EVERY,
        published.as_secs_f64(),
        handled.as_secs_f64(),
        MESSAGES as f64 / handled.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / MESSAGES as f64
    );

    // 2. Latency to the channel.
    let mut latencies = Vec::new();
    for i in 0..TRACKED {
        let name = format!("pkg{i:02}");
        latest
            .lock()
            .expect("lock")
            .insert(name.clone(), "1.1-1.fc31".into());
        let sent = Instant::now();
        publisher
            .publish(
                &format!("latency-{i}"),
                "org.fedoraproject.prod.buildsys.tag",
                &chrono::Utc::now().to_rfc3339(),
                &tag(&name, "1.1"),
            )
            .await;
        let deadline = sent + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = user.next(left).await else {
                let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                let report = Command::new(env!("CARGO_BIN_EXE_forkdebt"))
                    .args(["--config", "forkdebt.toml", "report"])
                    .current_dir(dir)
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                panic!(
                    "no notice for {name} within 30 s:\n{}\n{report}",
                    tail.join("\n")
                );
            };
            let text = line.params.last().cloned().unwrap_or_default();
            if text.contains(&name) && text.contains("droppable") {
                latencies.push(sent.elapsed());
                break;
            }
        }
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "bus latency, message to IRC notice ({} messages): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        latencies.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    let _ = serve.kill();
    let _ = serve.wait();
}
