//! Chat answers benchmark: a store of 100,000 carried patches (10,000 packages), a tenth of
//! them decided droppable by the engine, then the router's answers to `debt`, `debt
//! PACKAGE`, `droppable`, `why` and `whereis`, 1,000 calls each: p50 and p99 latency.
//! Target: p99 < 50 ms for every command.
//!
//! Run with `cargo bench --bench chat_answers`; `FORKDEBT_BENCH_PACKAGES` changes the size.

use forkdebt_bot::router::{Asked, Router};
use forkdebt_core::config::Config;
use forkdebt_core::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "big_store.rs"]
mod big_store;
#[path = "measure.rs"]
mod measure;

const CALLS: usize = 1000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let packages: usize = std::env::var("FORKDEBT_BENCH_PACKAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let temp = tempfile::tempdir().expect("tempdir");
    let root = temp.path();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let url = big_store::build(root, packages).await;
        let store = Store::open(&url).await.expect("open");

        let router = Router::new(store.clone(), Arc::new(Config::default()), None);
        let asked = Asked {
            sender: "bench".into(),
            in_channel: false,
            destination: "irc:bench".into(),
        };
        type Question = Box<dyn Fn(usize) -> String>;
        let commands: Vec<(&str, Question)> = vec![
            ("debt", Box::new(|_| "!debt".to_string())),
            (
                "debt PACKAGE",
                Box::new(move |i| format!("!debt pkg{}", (i * 7) % packages)),
            ),
            ("droppable", Box::new(|_| "!droppable".to_string())),
            (
                "why",
                Box::new(move |i| format!("!why pkg{} {}", (i * 13) % packages, i % 10)),
            ),
            (
                "whereis",
                Box::new(move |i| format!("!whereis org{}/proj#100", ((i * 10) % packages))),
            ),
        ];
        println!(
            "{:14} {:>10} {:>10} {:>10}  (over {CALLS} calls, private replies)",
            "command", "p50", "p99", "max"
        );
        for (name, text) in &commands {
            let mut times = Vec::with_capacity(CALLS);
            let mut lines = 0;
            for i in 0..CALLS {
                let t = Instant::now();
                let reply = router.handle(&asked, &text(i)).await.expect("a reply");
                times.push(t.elapsed());
                lines += reply.len();
            }
            times.sort();
            println!(
                "{name:14} {:>8.2}ms {:>8.2}ms {:>8.2}ms  ({:.1} lines per reply)",
                percentile(&times, 0.5).as_secs_f64() * 1e3,
                percentile(&times, 0.99).as_secs_f64() * 1e3,
                times[times.len() - 1].as_secs_f64() * 1e3,
                lines as f64 / CALLS as f64
            );
        }
        store.close().await;
    });
}
