//! Crafted input (issue 11, defects 2-8): each case is run by the real binary and measured
//! (wall time and peak RSS of that process). Target: every case under 2 s and 200 MB.
//!
//! Run with `cargo bench --bench hostile`.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

#[path = "big_store.rs"]
#[allow(dead_code)]
mod big_store;
#[path = "../tests/httpd.rs"]
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
            // A server still running: its CPU is not reaped here, and not what is measured.
            cpu: std::time::Duration::ZERO,
            stdout: String::new(),
        },
    )
}

/// The peak resident memory (VmHWM) of a running process, in KiB.
fn peak_rss_kib(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `forkdebt web` on `db` in `dir` (with `ulimit -n` at `nofile` when given), stopped when
/// dropped.
struct Web {
    child: std::process::Child,
    addr: String,
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn web(dir: &Path, db: &str, nofile: Option<u64>) -> Web {
    use std::os::unix::process::CommandExt as _;
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .to_string();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_forkdebt"));
    cmd.args(["--database", db, "web", "--listen", &addr])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(n) = nofile {
        // SAFETY: setrlimit only, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = cmd.spawn().expect("forkdebt web");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "forkdebt web did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Web { child, addr }
}

/// `GET path` over a fresh connection: the whole answer and how long it took.
fn get(addr: &str, path: &str) -> (Vec<u8>, std::time::Duration) {
    use std::io::{Read as _, Write as _};
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    if let Ok(mut s) = std::net::TcpStream::connect(addr) {
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(30)));
        let _ = write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        let _ = s.read_to_end(&mut answer);
    }
    (answer, started.elapsed())
}

/// 9: 2,000 connections that never send a byte against `forkdebt web` with 1,024
/// descriptors; `/healthz` asked every 100 ms for 10 s over fresh connections.
fn silent_web_case() -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("w.db").display());
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample/distgit");
    measure::run(
        &["--database", &db, "scan", sample.to_str().expect("utf-8")],
        dir.path(),
    );
    let w = web(dir.path(), &db, Some(1024));
    let silent: Vec<std::net::TcpStream> = (0..2000)
        .filter_map(|_| std::net::TcpStream::connect(&w.addr).ok())
        .collect();
    let (mut worst, mut failed, mut asked) = (std::time::Duration::ZERO, 0, 0);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < until {
        let (answer, took) = get(&w.addr, "/healthz");
        asked += 1;
        worst = worst.max(took);
        if !answer.starts_with(b"HTTP/1.1 200") {
            failed += 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mb = peak_rss_kib(w.child.id()) as f64 / 1024.0;
    let ok = failed == 0 && worst < std::time::Duration::from_secs(1);
    format!(
        "{:52} {} silent connected; /healthz {asked} asked, {failed} failed, slowest {:.1} ms; peak RSS {mb:.1} MB   {}",
        "9 web: 2,000 silent connections, ulimit -n 1024",
        silent.len(),
        worst.as_secs_f64() * 1000.0,
        if ok { "ok" } else { "OVER" }
    )
}

/// 10: 100 clients that ask for `/api/report` of a 100,000-patch store and never read it.
fn report_readers_case(runtime: &tokio::runtime::Runtime) -> String {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = runtime.block_on(big_store::build(dir.path(), 10_000));
    let w = web(dir.path(), &db, None);
    let (whole, took) = get(&w.addr, "/api/report");
    let mut idle = Vec::new();
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(&w.addr) {
            let _ = s.write_all(b"GET /api/report HTTP/1.1\r\nHost: x\r\n\r\n");
            idle.push(s);
        }
    }
    std::thread::sleep(std::time::Duration::from_secs(15));
    let (health, _) = get(&w.addr, "/healthz");
    let mb = peak_rss_kib(w.child.id()) as f64 / 1024.0;
    let ok = mb < 300.0 && health.starts_with(b"HTTP/1.1 200");
    format!(
        "{:52} report {:.1} MB built in {:.1} s; {} clients not reading; peak RSS {mb:.1} MB (target < 300)   {}",
        "10 web: 100 non-reading /api/report clients, 100k",
        whole.len() as f64 / 1e6,
        took.as_secs_f64(),
        idle.len(),
        if ok { "ok" } else { "OVER" }
    )
}

/// 11: a forge that answers the merge request `propose --push` opens with 1 GiB.
fn forge_body_case(runtime: &tokio::runtime::Runtime) -> String {
    let server = runtime.block_on(httpd::Server::start(Arc::new(|_: &httpd::Request| {
        httpd::Reply::Stream { total: 1 << 30 }
    })));
    let dir = tempfile::tempdir().expect("tempdir");
    let git = |d: &Path, args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=b",
                "-c",
                "user.email=b@x",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(d)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "git {args:?}");
    };
    let repo = dir.path().join("distgit");
    package(
        dir.path(),
        "hello",
        "Name: hello\nVersion: 1\nRelease: 1\nPatch1: a.patch\n%changelog\n",
    );
    std::fs::write(
        repo.join("rpms/hello/a.patch"),
        "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
    )
    .expect("patch");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "hello"]);
    let bare = dir.path().join("forge.git");
    git(
        dir.path(),
        &["init", "-q", "--bare", bare.to_str().expect("utf-8")],
    );
    std::fs::write(
        dir.path().join("forkdebt.toml"),
        format!(
            "database = \"sqlite://bench.db\"\ncontact = \"mailto:b@example.org\"\n\
             [[downstream]]\nname = \"d\"\npaths = [\"distgit\"]\n\
             [sources]\nmax_retries = 0\n\
             [propose]\nforge = \"gitlab\"\nurl = \"{}\"\nproject = \"rpms/{{package}}\"\npush_url = \"{}\"\n",
            server.url,
            bare.display()
        ),
    )
    .expect("config");
    measure::run(&["--config", "forkdebt.toml", "scan"], dir.path());
    let (run, ok) = measure::run_any(
        &[
            "--config",
            "forkdebt.toml",
            "propose",
            "hello",
            "a.patch",
            "--force",
            "--push",
        ],
        dir.path(),
    );
    let mb = run.max_rss_kib as f64 / 1024.0;
    let good = !ok && mb < 100.0;
    format!(
        "{:52} wall {:>7.3} s   peak RSS {mb:>7.1} MB (target < 100, a clear error)   {}",
        "11 forge: a 1 GiB answer to propose --push",
        run.wall.as_secs_f64(),
        if good { "ok" } else { "OVER" }
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
    // Servers and forges, each with its own target.
    println!("{}", silent_web_case());
    println!("{}", forge_body_case(&runtime));
    println!("{}", report_readers_case(&runtime));
}
