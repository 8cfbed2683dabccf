//! The web dashboard: pages, security headers, `/api/report` equal to `report --format json`,
//! `/metrics` read by a Prometheus text-format parser, `/healthz`; and in a real browser
//! (Debian chromium driven over WebDriver): the filter works, a hostile patch name is text.

use crate::util::{copy_tree, forkdebt_ok, sample_distgit};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HOSTILE: &str = "<img src=x onerror=alert(1)>.patch";

/// The sample dist-git plus a package whose patch file name is an HTML injection attempt.
fn scanned(dir: &Path) -> String {
    let tree = dir.join("distgit");
    copy_tree(&sample_distgit(), &tree);
    let pkg = tree.join("rpms/evil");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    std::fs::write(
        pkg.join("evil.spec"),
        format!(
            "Name: evil\nVersion: 1\nRelease: 1.hs\n# https://github.com/o/r/pull/1\nPatch1: {HOSTILE}\n"
        ),
    )
    .expect("spec");
    std::fs::write(pkg.join(HOSTILE), "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n").expect("patch");
    let db = format!("sqlite://{}", dir.join("w.db").display());
    forkdebt_ok(dir, &["--database", &db, "scan", "distgit"]);
    db
}

struct Web {
    child: Child,
    url: String,
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn web(dir: &Path, db: &str) -> Web {
    let port = crate::util::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args([
            "--database",
            db,
            "web",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(dir)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("forkdebt web");
    crate::util::wait_for_port(port, "forkdebt web", Duration::from_secs(20));
    Web {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = reqwest::get(url).await.expect("get");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.expect("body"))
}

/// "What does upstream release X unblock": a patch whose pull request was merged and first
/// released in systemd v253 is listed under `/release/systemd/253`, not under another.
#[tokio::test(flavor = "multi_thread")]
async fn a_release_page_lists_what_it_unblocks() {
    use forkdebt_core::source::Dataset;
    use forkdebt_core::store::{ItemOutcome, Store};
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let db = scanned(&dir);
    let store = Store::open(&db).await.expect("open");
    let observed = |v: Value| ItemOutcome::Observed {
        data: v.to_string(),
        upstream_changed_at: None,
    };
    let sha = "5a1e5a1e5a1e5a1e5a1e5a1e5a1e5a1e5a1e5a1e";
    store
        .record_outcomes(
            Dataset::Github,
            &[(
                "systemd/systemd#23456".into(),
                observed(
                    serde_json::json!({"number": 23456, "state": "closed", "merged": true,
                    "merged_at": "2023-01-01T00:00:00Z", "merge_commit_sha": sha}),
                ),
            )],
            chrono::Utc::now(),
        )
        .await
        .expect("pr");
    store
        .record_outcomes(
            Dataset::GithubRelease,
            &[(
                format!("systemd/systemd@{sha}"),
                observed(serde_json::json!({"tag": "v253", "tags_checked": 3})),
            )],
            chrono::Utc::now(),
        )
        .await
        .expect("release");
    store.close().await;
    let w = web(&dir, &db);
    for path in ["/release/systemd/253", "/release/systemd%2Fsystemd/v253"] {
        let (status, _, page) = get(&format!("{}{path}", w.url)).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains("23456.patch"), "{path}: {page}");
    }
    let (status, _, other) = get(&format!("{}/release/systemd/254", w.url)).await;
    assert_eq!(status, 200);
    assert!(!other.contains("23456.patch"), "{other}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_api_and_metrics() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let db = scanned(&dir);
    let w = web(&dir, &db);

    let (status, headers, body) = get(&format!("{}/", w.url)).await;
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(body.contains("<h1>Fork debt</h1>") && body.contains("NetworkManager"));
    assert!(!body.contains("<script>"), "no inline script");
    // The filter without JavaScript: a plain GET.
    let (_, _, filtered) = get(&format!("{}/?q=bash", w.url)).await;
    assert!(filtered.contains(">bash</a>") && !filtered.contains(">systemd</a>"));
    // A filter of 40,000 `_` (LIKE wildcards) matches nothing, without an error.
    let (status, _, long) = get(&format!("{}/?q={}", w.url, "_".repeat(40_000))).await;
    assert_eq!(status, 200, "{long}");
    assert!(!long.contains(">bash</a>"));

    // Dist-git strings are escaped.
    let (status, _, evil) = get(&format!("{}/package/evil", w.url)).await;
    assert_eq!(status, 200);
    assert!(
        evil.contains("&#60;img src=x onerror=alert(1)&#62;.patch")
            || evil.contains("&lt;img src=x onerror=alert(1)&gt;.patch"),
        "{evil}"
    );
    assert!(!evil.contains("<img src=x"), "{evil}");
    let (status, _, _) = get(&format!("{}/package/no-such-package", w.url)).await;
    assert_eq!(status, 404);

    // /api/report is `report --format json`.
    let (_, headers, api) = get(&format!("{}/api/report", w.url)).await;
    assert_eq!(headers["content-type"], "application/json");
    let cli = forkdebt_ok(&dir, &["--database", &db, "report", "--format", "json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&api).expect("api json"),
        serde_json::from_str::<Value>(&cli).expect("cli json")
    );

    // /metrics in the Prometheus text format.
    let (_, headers, text) = get(&format!("{}/metrics", w.url)).await;
    assert!(
        headers["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/plain")
    );
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    // forkdebt_patches{downstream,state} is the report's carried patches of ours by state.
    let mut metric: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for s in scrape
        .samples
        .iter()
        .filter(|s| s.metric == "forkdebt_patches")
    {
        if let prometheus_parse::Value::Gauge(v) = s.value {
            let key = (
                s.labels.get("downstream").unwrap_or_default().to_string(),
                s.labels.get("state").unwrap_or_default().to_string(),
            );
            metric.insert(key, v as usize);
        }
    }
    let report: Value = serde_json::from_str(&cli).expect("json");
    let mut reported: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for p in report["packages"].as_array().expect("packages") {
        if !p["removed_at"].is_null() {
            continue;
        }
        for x in p["patches"].as_array().cloned().unwrap_or_default() {
            if x["dropped_at"].is_null() && x["origin"] == "ours" {
                let key = (
                    p["downstream"].as_str().unwrap_or_default().to_string(),
                    x["state"].as_str().unwrap_or_default().to_string(),
                );
                *reported.entry(key).or_default() += 1;
            }
        }
    }
    assert!(!reported.is_empty());
    assert_eq!(metric, reported, "{text}");

    // The overview's debt per downstream (read from the engine's per-package debt) is the
    // report's: carried patches of ours and their lines.
    let totals = body
        .split("<tbody>")
        .nth(1)
        .and_then(|t| t.split("</tbody>").next())
        .expect("the downstream table");
    for row in totals.split("<tr>").skip(1) {
        let cells: Vec<&str> = row
            .split("<td")
            .skip(1)
            .filter_map(|c| c.split('>').nth(1)?.split('<').next())
            .collect();
        let downstream = cells[0];
        let ours = report["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .filter(|p| p["downstream"] == downstream && p["removed_at"].is_null())
            .flat_map(|p| p["patches"].as_array().cloned().unwrap_or_default())
            .filter(|x| x["dropped_at"].is_null() && x["origin"] == "ours")
            .collect::<Vec<_>>();
        let lines: u64 = ours
            .iter()
            .map(|x| {
                x["lines_added"].as_u64().unwrap_or(0) + x["lines_removed"].as_u64().unwrap_or(0)
            })
            .sum();
        assert_eq!(cells[1], ours.len().to_string(), "carried in {downstream}");
        assert_eq!(cells[7], lines.to_string(), "lines in {downstream}");
    }
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric.starts_with("forkdebt_sync_duration_seconds"))
    );

    let (status, _, _) = get(&format!("{}/healthz", w.url)).await;
    assert_eq!(status, 200);
    let (status, headers, feed) = get(&format!("{}/feed.atom?package=evil", w.url)).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("application/atom+xml")
    );
    assert!(
        feed.starts_with("<?xml") && feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">")
    );
    let (status, _, changes) = get(&format!("{}/changes", w.url)).await;
    assert_eq!(status, 200);
    assert!(changes.contains("Fedora Changes we follow"));
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_fails_when_the_store_is_unreachable() {
    let url = crate::util::postgres_database().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    forkdebt_ok(&dir, &["--database", &url, "init"]);
    let w = web(&dir, &url);
    let (status, _, _) = get(&format!("{}/healthz", w.url)).await;
    assert_eq!(status, 200);
    // The database goes away under the running dashboard.
    let name = url.rsplit('/').next().expect("name").to_string();
    let server = crate::util::postgres_server();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(server)
        .await
        .expect("connect");
    sqlx::Executor::execute(
        &mut conn,
        sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")),
    )
    .await
    .expect("drop");
    let (status, _, body) = get(&format!("{}/healthz", w.url)).await;
    assert_eq!(status, 503, "{body}");
}

/// chromedriver on a free port (Debian's `chromium-driver`).
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> Driver {
    let port = crate::util::free_port();
    let bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect(
            "chromedriver is installed (apt-get install chromium chromium-driver; .ci/run does it)",
        );
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver");
    crate::util::wait_for_port(port, "chromedriver", Duration::from_secs(20));
    Driver(child, port)
}

fn screenshots() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn in_a_real_browser_the_filter_works_and_names_stay_text() {
    use fantoccini::{ClientBuilder, Locator};
    // Two rustls backends are compiled in; the WebDriver client needs one chosen.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let db = scanned(&dir);
    let w = web(&dir, &db);
    let driver = chromedriver();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1400"]}),
    );
    let c = ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("connect to chromedriver");

    c.goto(&format!("{}/", w.url)).await.expect("overview");
    let rows = c
        .find_all(Locator::Css("#packages tr.package"))
        .await
        .expect("rows");
    assert!(rows.len() >= 10, "{} rows", rows.len());
    let shot = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join("overview.png"), shot).expect("write");
    // Typing in the filter: htmx replaces the table without a page load.
    let search = c
        .find(Locator::Css("input[name=q]"))
        .await
        .expect("search box");
    search.send_keys("util").await.expect("type");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = c
            .find_all(Locator::Css("#packages tr.package"))
            .await
            .expect("rows");
        let mut names = Vec::new();
        for r in &rows {
            // A row replaced while we read it (htmx swapping the table) is read next round.
            match r.text().await {
                Ok(t) => names.push(t),
                Err(_) => names.push(String::new()),
            }
        }
        if !names.is_empty() && names.iter().all(|n| n.contains("util-linux")) {
            break;
        }
        if Instant::now() >= deadline {
            let src = c.source().await.unwrap_or_default();
            panic!("the filter did not apply: {names:?}\n{src}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        c.current_url()
            .await
            .expect("url")
            .as_str()
            .contains("q=util")
    );

    // The hostile name is shown as text; no dialog opens.
    c.goto(&format!("{}/package/evil", w.url))
        .await
        .expect("package page");
    let name = c
        .find(Locator::Css("tr.patch .name"))
        .await
        .expect("name cell");
    assert_eq!(name.text().await.expect("text"), HOSTILE);
    assert!(
        c.find_all(Locator::Css("td img"))
            .await
            .expect("imgs")
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        c.get_alert_text().await.is_err(),
        "an alert dialog opened: the name ran as HTML"
    );
    c.goto(&format!("{}/package/systemd", w.url))
        .await
        .expect("package");
    let shot = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join("package.png"), shot).expect("write");
    c.close().await.expect("close");
}

/// SQLite serves one process: a second `serve` on the same file refuses to start.
#[test]
fn a_second_serve_on_the_same_sqlite_file_refuses_to_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = format!("sqlite://{}", dir.join("one.db").display());
    forkdebt_ok(dir, &["--database", &db, "init"]);
    let port = crate::util::free_port();
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!("[web]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .expect("config");
    let mut first = Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", "forkdebt.toml", "--database", &db, "serve"])
        .current_dir(dir)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    crate::util::wait_for_port(port, "the first serve", Duration::from_secs(20));
    let second = crate::util::forkdebt(
        dir,
        &["--config", "forkdebt.toml", "--database", &db, "serve"],
    );
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success());
    let err = crate::util::stderr(&second);
    assert!(err.contains("another `forkdebt serve` is running"), "{err}");
}

/// `forkdebt web` under `ulimit -n 1024` with `config` (a `[web]` section).
fn web_limited(dir: &Path, db: &str, config: &str) -> Web {
    use std::os::unix::process::CommandExt as _;
    let port = crate::util::free_port();
    std::fs::write(
        dir.join("web.toml"),
        format!("[web]\nlisten = \"127.0.0.1:{port}\"\n{config}"),
    )
    .expect("config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forkdebt"));
    cmd.args(["--config", "web.toml", "--database", db, "web"])
        .current_dir(dir)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setrlimit only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1024,
                rlim_max: 1024,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("forkdebt web");
    crate::util::wait_for_port(port, "forkdebt web", Duration::from_secs(20));
    Web {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// `GET /healthz` over a fresh connection, answered within a second: its status.
fn healthz_within_a_second(url: &str) -> Result<u16, String> {
    use std::io::{Read as _, Write as _};
    let addr = url.trim_start_matches("http://");
    let started = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .map_err(|e| format!("{e} after {:?}", started.elapsed()))?;
    if started.elapsed() > Duration::from_secs(1) {
        return Err(format!("took {:?}", started.elapsed()));
    }
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not HTTP: {text:?}"))
}

/// 2,000 connections that never send a byte and 50 slowloris senders against a server with
/// 1,024 descriptors: `/healthz` answers within a second throughout, the server holds at
/// most its connection cap, and a silent connection is closed after the header timeout.
#[test]
fn silent_and_slow_clients_cannot_starve_the_server() {
    use std::io::{Read as _, Write as _};
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let db = scanned(&dir);
    let w = web_limited(
        &dir,
        &db,
        "max_connections = 200\nheader_timeout_secs = 2\n",
    );
    let addr = w.url.trim_start_matches("http://").to_string();
    let mut silent = Vec::new();
    for i in 0..2000 {
        match std::net::TcpStream::connect(&addr) {
            Ok(s) => silent.push(s),
            Err(e) => panic!("connection {i}: {e}"),
        }
        if i % 250 == 0 {
            assert_eq!(healthz_within_a_second(&w.url), Ok(200), "after {i} silent");
        }
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow: Vec<std::thread::JoinHandle<()>> = (0..50)
        .map(|_| {
            let (addr, stop) = (addr.clone(), stop.clone());
            std::thread::spawn(move || {
                let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
                    return;
                };
                let _ = s.write_all(b"GET / HTTP/1.1\r\nX-Slow: ");
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    if s.write_all(b"a").is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            })
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        assert_eq!(healthz_within_a_second(&w.url), Ok(200));
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in slow {
        let _ = t.join();
    }
    // The server's descriptors: at most the cap plus its own handful.
    let fds = std::fs::read_dir(format!("/proc/{}/fd", w.child.id()))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(fds < 200 + 64, "{fds} descriptors open");
    // A new silent connection is closed by the server once the header timeout passes.
    let mut late = std::net::TcpStream::connect(&addr).expect("connect");
    late.set_read_timeout(Some(Duration::from_secs(6)))
        .expect("timeout");
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = late.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    assert!(
        started.elapsed() >= Duration::from_millis(1500)
            && started.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        started.elapsed()
    );
    drop(silent);
}

/// The server's resident memory (VmRSS), in MB.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// 100 clients ask for `/api/report` and never read it: the report's bytes are shared, not
/// copied per client, and only a few large responses are in flight at once (the others
/// wait, then hear 503); `/healthz` still answers.
#[test]
fn clients_that_do_not_read_the_report_share_one_copy() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    // 800 packages of 10 patches: a report JSON of several MB.
    for pkg in 0..800 {
        let p = dir.join(format!("distgit/rpms/pkg{pkg}"));
        std::fs::create_dir_all(&p).expect("mkdir");
        let mut spec = format!("Name: pkg{pkg}\nVersion: 1.0\nRelease: 1.hs\n");
        for i in 0..10 {
            spec.push_str(&format!(
                "# https://github.com/org{pkg}/proj/pull/{}\nPatch{i}: {i:04}-a-rather-long-name-of-change-{i}.patch\n",
                100 + i
            ));
            std::fs::write(
                p.join(format!("{i:04}-a-rather-long-name-of-change-{i}.patch")),
                format!("Subject: change {i}\n\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"),
            )
            .expect("patch");
        }
        std::fs::write(p.join(format!("pkg{pkg}.spec")), spec).expect("spec");
    }
    let db = format!("sqlite://{}", dir.join("w.db").display());
    forkdebt_ok(&dir, &["--database", &db, "scan", "distgit"]);
    let w = web(&dir, &db);
    let addr = w.url.trim_start_matches("http://").to_string();
    // One client reads it whole: its size, and the cache is built.
    let size = {
        use std::io::Read as _;
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        s.write_all(b"GET /api/report HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("write");
        let mut all = Vec::new();
        s.read_to_end(&mut all).expect("read");
        all.len()
    };
    assert!(size > 3_000_000, "{size} bytes");
    let before = rss_mb(w.child.id());
    let mut readers_that_never_read = Vec::new();
    for _ in 0..100 {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        s.write_all(b"GET /api/report HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        readers_that_never_read.push(s);
    }
    std::thread::sleep(Duration::from_secs(3));
    let after = rss_mb(w.child.id());
    println!("report {size} bytes; server RSS {before:.0} MB before, {after:.0} MB after");
    assert!(
        after - before < 100.0,
        "{before:.0} MB before, {after:.0} MB with 100 clients of a {:.1} MB report",
        size as f64 / 1e6
    );
    assert_eq!(healthz_within_a_second(&w.url), Ok(200));
    drop(readers_that_never_read);
}

/// The dashboard as people read it (issue 27): at 1400 px and 400 px wide no word of a short
/// column breaks inside itself (only the evidence and references wrap anywhere); a phone
/// scrolls the table sideways. Screenshots of both widths go to the test artefacts.
#[tokio::test(flavor = "multi_thread")]
async fn no_table_cell_breaks_a_word_on_a_laptop_or_a_phone() {
    use fantoccini::ClientBuilder;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let db = scanned(&dir);
    let w = web(&dir, &db);
    let driver = chromedriver();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"]}),
    );
    let c = ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("connect to chromedriver");
    // Every word (2+ characters) of a cell outside the wrapping columns must sit on one line.
    const BROKEN_WORDS: &str = r#"
        const bad = [];
        for (const cell of document.querySelectorAll('td, th')) {
            if (cell.closest("td.chain, td.refs, td.wrap")) continue;
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            let node;
            while ((node = walker.nextNode())) {
                const re = /\S{2,}/g;
                let m;
                while ((m = re.exec(node.textContent))) {
                    const r = document.createRange();
                    r.setStart(node, m.index);
                    r.setEnd(node, m.index + m[0].length);
                    const lines = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
                    if (lines.size > 1) bad.push(m[0]);
                }
            }
        }
        return bad;
    "#;
    for (width, height) in [(1400u32, 1000u32), (400, 900)] {
        c.set_window_size(width, height).await.expect("window size");
        for (page, path) in [("overview", "/"), ("package", "/package/systemd")] {
            c.goto(&format!("{}{path}", w.url)).await.expect("page");
            let broken = c.execute(BROKEN_WORDS, vec![]).await.expect("script");
            assert_eq!(
                broken,
                serde_json::json!([]),
                "{page} at {width} px breaks these words"
            );
            let shot = c.screenshot().await.expect("screenshot");
            std::fs::write(screenshots().join(format!("{page}-{width}.png")), shot).expect("write");
        }
    }
    c.close().await.expect("close");
}
