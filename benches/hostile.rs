//! Crafted input (issue 11, defects 2-8): each case is run by the real binary and measured
//! (wall time and peak RSS of that process). Target: every case under 2 s and 200 MB.
//!
//! Run with `cargo bench --bench hostile`.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

#[path = "../src/httpd.rs"]
#[allow(dead_code)]
mod httpd;
#[path = "measure.rs"]
#[allow(dead_code)]
mod measure;

const WALL_LIMIT_SECS: f64 = 2.0;
const RSS_LIMIT_MB: f64 = 200.0;

fn package(root: &Path, name: &str, spec: &str) {
    let dir = root.join("distgit/rpms").join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(format!("{name}.spec")), spec).expect("spec");
}

/// 2: 10,000 nested `%if`s on macros nobody defines, a Patch inside each level.
fn nested_unknown_ifs(root: &Path) {
    let mut s = String::from("Name: nested\nVersion: 1\nRelease: 1\n");
    for i in 0..10_000 {
        let _ = writeln!(s, "%if 0%{{?undefined_macro_{i}}}\nPatch{i}: p{i}.patch");
    }
    for _ in 0..10_000 {
        s.push_str("%endif\n");
    }
    package(root, "nested", &s);
}

/// 3: `%global`s of 300 KB each, 5,000 of them in a small spec.
fn exploding_globals(root: &Path) {
    let mut s = String::from("Name: globals\nVersion: 1\nRelease: 1\n");
    let _ = writeln!(s, "%global a0 {}", "x".repeat(1000));
    let _ = writeln!(s, "%global a1 {}", "%{a0}".repeat(10));
    let _ = writeln!(s, "%global a2 {}", "%{a1}".repeat(30));
    for i in 0..5000 {
        let _ = writeln!(s, "%global b{i} %{{a2}}");
    }
    s.push_str("Patch0: p.patch\n");
    package(root, "globals", &s);
}

/// 4: many macros and many `%if` lines.
fn macros_times_ifs(root: &Path) {
    let mut s = String::from("Name: manyifs\nVersion: 1\nRelease: 1\n");
    for i in 0..2000 {
        let _ = writeln!(s, "%global m{i} {i}");
    }
    for i in 0..3000 {
        let _ = writeln!(s, "%if %{{m{}}}\n%endif", i % 2000);
    }
    package(root, "manyifs", &s);
}

/// 5: a 500 MB (sparse) forkdebt-inventory.toml.
fn huge_inventory(root: &Path) {
    std::fs::create_dir_all(root.join("distgit")).expect("mkdir");
    let f = std::fs::File::create(root.join("distgit/forkdebt-inventory.toml")).expect("toml");
    f.set_len(500 * 1024 * 1024).expect("sparse");
}

/// 6: a 60 MiB patch of header-like lines.
fn header_patch(root: &Path) {
    package(
        root,
        "header",
        "Name: header\nVersion: 1\nRelease: 1\nPatch0: a.patch\n",
    );
    let mut s = String::with_capacity(61 << 20);
    let mut i = 0u64;
    while s.len() < 60 << 20 {
        let _ = match i % 4 {
            0 => writeln!(s, "Fixes: #{i}"),
            1 => writeln!(s, "Link: https://github.com/o/r/pull/{i}"),
            2 => writeln!(s, " continued text {i}"),
            _ => writeln!(s, "Subject: change {i}"),
        };
        i += 1;
    }
    std::fs::write(root.join("distgit/rpms/header/a.patch"), s).expect("patch");
}

fn scan_case(name: &str, build: fn(&Path)) -> (String, measure::Run) {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path());
    let (run, _) = measure::run_any(
        &["--database", "sqlite://bench.db", "scan", "distgit"],
        dir.path(),
    );
    (name.to_string(), run)
}

/// 7: a 1 MB repodata download that inflates to one huge text node.
fn repodata_case(runtime: &tokio::runtime::Runtime) -> (String, measure::Run) {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write as _;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(b"<?xml version=\"1.0\"?><metadata><package><name>")
        .expect("gz");
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&chunk).expect("gz");
    }
    gz.write_all(b"</name></package></metadata>").expect("gz");
    let primary = gz.finish().expect("gz");
    let repomd = br#"<?xml version="1.0"?><repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision><data type="primary"><location href="repodata/primary.xml.gz"/></data></repomd>"#.to_vec();
    let primary = Arc::new(primary);
    let server = runtime.block_on(httpd::Server::start(Arc::new(
        move |req: &httpd::Request| {
            if req.path.ends_with("repomd.xml") {
                httpd::Reply::Send {
                    status: 200,
                    headers: vec![],
                    body: repomd.clone(),
                }
            } else {
                httpd::Reply::Send {
                    status: 200,
                    headers: vec![],
                    body: primary.as_ref().clone(),
                }
            }
        },
    )));
    let dir = tempfile::tempdir().expect("tempdir");
    package(dir.path(), "demo", "Name: demo\nVersion: 1\nRelease: 1\n");
    std::fs::write(
        dir.path().join("forkdebt.toml"),
        format!(
            "database = \"sqlite://bench.db\"\n[[downstream]]\nname = \"d\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n\
             [[distro]]\nname = \"c9s\"\nrepodata_url = \"{}/\"\n",
            server.url
        ),
    )
    .expect("config");
    measure::run(&["--config", "forkdebt.toml", "scan"], dir.path());
    let (run, _) = measure::run_any(
        &["--config", "forkdebt.toml", "sync", "--source", "repodata"],
        dir.path(),
    );
    drop(server);
    (
        "7 repodata: 1 MB that inflates to a 1 GiB text node".to_string(),
        run,
    )
}

/// 8: an IRC server that sends 256 MiB without a newline, then a command. Measured: from the
/// first byte to the bot's answer, and the bot's peak RSS (`serve` runs on).
fn irc_case(runtime: &tokio::runtime::Runtime) -> (String, measure::Run) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    package(dir.path(), "demo", "Name: demo\nVersion: 1\nRelease: 1\n");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::fs::write(
        dir.path().join("forkdebt.toml"),
        format!(
            "database = \"sqlite://bench.db\"\n[[downstream]]\nname = \"d\"\npaths = [\"distgit\"]\n\
             [chat]\nprefix = \"!\"\n[chat.irc]\nserver = \"127.0.0.1\"\nport = {port}\ntls = false\nchannels = [\"#hs\"]\n"
        ),
    )
    .expect("config");
    measure::run(&["--config", "forkdebt.toml", "scan"], dir.path());
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", "forkdebt.toml", "serve"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let wall = runtime.block_on(async {
        let (socket, _) = listener.accept().await.expect("accept");
        let (r, mut w) = socket.into_split();
        let mut lines = BufReader::new(r).lines();
        w.write_all(b":irc.test 001 forkdebt :Welcome\r\n")
            .await
            .expect("write");
        let started = std::time::Instant::now();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..256 {
            w.write_all(&chunk).await.expect("write");
        }
        w.write_all(b"\r\n:alice!a@h PRIVMSG forkdebt :!help\r\n")
            .await
            .expect("write");
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("NOTICE alice") {
                break;
            }
        }
        started.elapsed()
    });
    let status = std::fs::read_to_string(format!("/proc/{}/status", serve.id())).expect("status");
    let max_rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    let _ = serve.kill();
    let _ = serve.wait();
    (
        "8 IRC: a 256 MiB line without end, then !help".to_string(),
        measure::Run {
            wall,
            max_rss_kib,
            stdout: String::new(),
        },
    )
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let cases: Vec<(String, measure::Run)> = vec![
        scan_case("2 10,000 nested unknown %if (277 KB)", nested_unknown_ifs),
        scan_case("3 5,000 %global of 300 KB each", exploding_globals),
        scan_case("4 2,000 macros x 3,000 %if", macros_times_ifs),
        scan_case("5 500 MB sparse inventory TOML", huge_inventory),
        scan_case("6 60 MiB patch of header lines", header_patch),
        repodata_case(&runtime),
        irc_case(&runtime),
    ];
    let mut over = 0;
    for (name, run) in &cases {
        let mb = run.max_rss_kib as f64 / 1024.0;
        let secs = run.wall.as_secs_f64();
        let verdict = if secs < WALL_LIMIT_SECS && mb < RSS_LIMIT_MB {
            "ok"
        } else {
            over += 1;
            "OVER"
        };
        println!("{name:52} wall {secs:>7.3} s   peak RSS {mb:>7.1} MB   {verdict}");
    }
    println!(
        "{} of {} cases within {WALL_LIMIT_SECS} s and {RSS_LIMIT_MB} MB",
        cases.len() - over,
        cases.len()
    );
}
