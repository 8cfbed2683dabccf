//! Measuring a run of the forkdebt binary: wall time and that process's peak RSS (wait4).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Run {
    pub wall: Duration,
    pub max_rss_kib: i64,
    /// User and system CPU time of the process.
    pub cpu: Duration,
    pub stdout: String,
}

impl Run {
    pub fn print(&self, name: &str) {
        println!(
            "{name:28} wall {:>7.3} s   peak RSS {:>6.1} MB   CPU {:>7.3} s",
            self.wall.as_secs_f64(),
            self.max_rss_kib as f64 / 1024.0,
            self.cpu.as_secs_f64()
        );
    }
}

/// Runs the binary and measures it with wait4(2): wall time and that child's peak RSS.
/// Panics unless it exits 0.
pub fn run(args: &[&str], dir: &Path) -> Run {
    let (run, ok) = run_any(args, dir);
    assert!(ok, "forkdebt {args:?} failed");
    run
}

/// [`run`], also for a run that fails (crafted input may rightly fail): `(run, exited 0)`.
#[allow(dead_code)]
pub fn run_any(args: &[&str], dir: &Path) -> (Run, bool) {
    run_any_env(args, dir, &[])
}

/// [`run_any`] with `env` set for the child.
#[allow(dead_code)]
pub fn run_any_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> (Run, bool) {
    let start = Instant::now();
    // Reaped below with wait4(2), which also gives its resource usage.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn forkdebt");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(r, pid, "wait4");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let cpu = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    let run = Run {
        wall,
        max_rss_kib: usage.ru_maxrss,
        cpu: cpu(usage.ru_utime) + cpu(usage.ru_stime),
        stdout: reader.join().expect("reader").expect("stdout"),
    };
    (run, ok)
}
