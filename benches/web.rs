//! Dashboard benchmark: a store of 100,000 carried patches (10,000 packages), served by
//! `forkdebt web` (the release binary, its own process), then 20 concurrent clients asking
//! one route at a time for a sixth of the run each: the overview, the overview filtered
//! differently every time (so never from its cache), package pages, release pages,
//! `/api/report` and `/metrics`. Prints p50/p99/max latency and throughput per route.
//! Target: p99 < 100 ms for the HTML pages.
//!
//! Run with `cargo bench --bench web`. `FORKDEBT_BENCH_PACKAGES` changes the size,
//! `FORKDEBT_BENCH_SECS` the whole run (30 s), `FORKDEBT_BENCH_CLIENTS` the clients (20).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "big_store.rs"]
mod big_store;
#[path = "measure.rs"]
mod measure;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `forkdebt web`, stopped when dropped.
struct Web(Child);

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let packages: usize = env_or("FORKDEBT_BENCH_PACKAGES", 10_000);
    let secs: f64 = env_or("FORKDEBT_BENCH_SECS", 30.0);
    let clients: usize = env_or("FORKDEBT_BENCH_CLIENTS", 20);
    let temp = tempfile::tempdir().expect("tempdir");
    let root = temp.path();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = runtime.block_on(big_store::build(root, packages));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let listen = format!("127.0.0.1:{port}");
    let _web = Web(Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--database", &url, "web", "--listen", &listen])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("forkdebt web"));
    let base = format!("http://{listen}");
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .build()
            .expect("client");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(Instant::now() < deadline, "forkdebt web did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        type Route = fn(usize, usize) -> String;
        // The overview is built at most once per 2 s per filter (a micro-cache); a different
        // filter on every request builds it every time: the uncached cost.
        let routes: [(&str, Route); 6] = [
            ("/", |_, _| "/".to_string()),
            ("/?q={name} (uncached)", |i, n| {
                format!("/?q=pkg{}", (i * 7919) % n)
            }),
            ("/package/{name}", |i, n| {
                format!("/package/pkg{}", (i * 7919) % n)
            }),
            // Every tenth package's first patch is first in v1.0 of its own project.
            ("/release/{project}/1.0", |i, n| {
                format!("/release/org{}%2Fproj/1.0", ((i * 7919) % n) / 10 * 10)
            }),
            ("/api/report", |_, _| "/api/report".to_string()),
            ("/metrics", |_, _| "/metrics".to_string()),
        ];
        println!(
            "{clients} clients, {:.0} s per route; {:18} {:>9} {:>9} {:>9} {:>9} {:>10}",
            secs / 6.0,
            "route",
            "p50",
            "p99",
            "max",
            "req/s",
            "bytes"
        );
        for (name, path) in routes {
            let until = Instant::now() + Duration::from_secs_f64(secs / 6.0);
            let started = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for c in 0..clients {
                let (http, base) = (http.clone(), base.clone());
                tasks.spawn(async move {
                    let mut times = Vec::new();
                    let mut bytes = 0usize;
                    let mut i = c;
                    while Instant::now() < until {
                        let t = Instant::now();
                        let response = http
                            .get(format!("{base}{}", path(i, packages)))
                            .send()
                            .await
                            .expect("request");
                        assert!(response.status().is_success(), "{}", response.status());
                        bytes = response.bytes().await.expect("body").len();
                        times.push(t.elapsed());
                        i += clients;
                    }
                    (times, bytes)
                });
            }
            let mut times = Vec::new();
            let mut bytes = 0;
            while let Some(done) = tasks.join_next().await {
                let (t, b) = done.expect("client");
                times.extend(t);
                bytes = bytes.max(b);
            }
            let wall = started.elapsed();
            times.sort();
            println!(
                "{:>52} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>9.1} {:>10}",
                name,
                percentile(&times, 0.5).as_secs_f64() * 1e3,
                percentile(&times, 0.99).as_secs_f64() * 1e3,
                times[times.len() - 1].as_secs_f64() * 1e3,
                times.len() as f64 / wall.as_secs_f64(),
                bytes
            );
        }
    });
}
