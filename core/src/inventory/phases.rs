//! CPU time per scan phase, summed over the threads that scan specs in parallel, for the scan
//! benchmark: with `FORKDEBT_SCAN_PHASES=1`, `forkdebt scan` prints where its time went.
//! Off (one relaxed load per call), nothing is timed.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub enum Phase {
    /// Finding the spec files.
    Walk,
    /// Reading spec files.
    ReadSpec,
    /// Parsing specs, macro expansion included.
    Parse,
    /// Expanding macros (also counted in `Parse`).
    Macros,
    /// Finding and reading patch files.
    ReadPatches,
    /// Patch headers, references and claims.
    References,
    /// Writing the store.
    Store,
    /// Deciding the verdicts again (also counted in `Store`).
    Verdicts,
}

const NAMES: [&str; 8] = [
    "walk",
    "read specs",
    "parse",
    "  of which macros",
    "read patches",
    "references",
    "store",
    "  of which verdicts",
];

static NANOS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

thread_local! {
    /// This thread's patch-reading time: a spec is built on one thread, so its references
    /// time is its build time less this.
    static READ_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn on() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FORKDEBT_SCAN_PHASES").is_some_and(|v| v == "1"))
}

/// Runs `f`, counting its time to `phase` when timing is on.
pub fn time<T>(phase: Phase, f: impl FnOnce() -> T) -> T {
    if !on() {
        return f();
    }
    let started = Instant::now();
    let out = f();
    let spent = started.elapsed().as_nanos() as u64;
    NANOS[phase as usize].fetch_add(spent, Ordering::Relaxed);
    if matches!(phase, Phase::ReadPatches) {
        READ_HERE.with(|r| r.set(r.get() + spent));
    }
    out
}

/// Counts `spent`, measured by the caller (an async store write), to `phase`.
pub fn add(phase: Phase, spent: std::time::Duration) {
    if on() {
        NANOS[phase as usize].fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// This thread's patch-reading time so far (to subtract from a span that includes it).
pub fn read_patches_nanos() -> u64 {
    if !on() {
        return 0;
    }
    READ_HERE.with(std::cell::Cell::get)
}

/// Counts `spent` to references, less this thread's patch reading since `read_before`.
pub fn add_references(spent: std::time::Duration, read_before: u64) {
    if !on() {
        return;
    }
    let read = read_patches_nanos().saturating_sub(read_before);
    let own = (spent.as_nanos() as u64).saturating_sub(read);
    NANOS[Phase::References as usize].fetch_add(own, Ordering::Relaxed);
}

/// `walk 0.12 s, read specs 0.30 s, …` (CPU seconds), or `None` when timing is off.
pub fn report() -> Option<String> {
    on().then(|| {
        NAMES
            .iter()
            .zip(&NANOS)
            .map(|(n, v)| format!("{n} {:.3} s", v.load(Ordering::Relaxed) as f64 / 1e9))
            .collect::<Vec<_>>()
            .join(", ")
    })
}
