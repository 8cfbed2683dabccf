//! Fork benchmark: a generated upstream of 20,000 commits (a release tag every 200) and a fork
//! branch off v50 carrying 1,000 commits (500 cherry-picks with their trailer, 200 the same
//! change without one, 100 on a renamed path, 200 local-only). Scanned by the real binary into
//! a fresh SQLite store, then rescanned after one new fork commit; `git cherry` on the same
//! repository is the yardstick. Targets: first scan <= 10x `git cherry`, rescan < 1 s.
//!
//! Run with `cargo bench --bench forks`. `FORKDEBT_BENCH_DIR` keeps the repositories there.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "measure.rs"]
mod measure;

const UPSTREAM: usize = 20_000;
const TAG_EVERY: usize = 200;
const FORK_BASE_TAG: usize = 50; // v50 = upstream commit 10,000
const CARRIED: usize = 1_000;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn fast_import(dir: &Path, stream: &str, marks: &Path) {
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .arg(format!("--export-marks={}", marks.display()))
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stream.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success(), "fast-import failed");
}

fn file_body(i: usize) -> String {
    (0..6)
        .map(|l| format!("/* change {i} line {l} */\n"))
        .collect()
}

fn commit(
    stream: &mut String,
    branch: &str,
    mark: usize,
    from: &str,
    msg: &str,
    path: &str,
    body: &str,
) {
    use std::fmt::Write as _;
    let _ = write!(
        stream,
        "commit refs/heads/{branch}\nmark :{mark}\nauthor Dev <dev@example.org> {t} +0000\ncommitter Dev <dev@example.org> {t} +0000\ndata {}\n{msg}\n",
        msg.len(),
        t = 1_600_000_000 + mark * 60
    );
    if !from.is_empty() {
        let _ = writeln!(stream, "from {from}");
    }
    let _ = write!(
        stream,
        "M 100644 inline {path}\ndata {}\n{body}\n",
        body.len()
    );
}

fn marks(path: &Path) -> std::collections::HashMap<usize, String> {
    std::fs::read_to_string(path)
        .expect("marks")
        .lines()
        .filter_map(|l| {
            let (m, sha) = l.split_once(' ')?;
            Some((m.trim_start_matches(':').parse().ok()?, sha.to_string()))
        })
        .collect()
}

fn generate(repo: &Path) {
    git(repo, &["init", "-q", "--bare", "-b", "main"]);
    let mut s = String::new();
    for i in 1..=UPSTREAM {
        let from = if i == 1 {
            String::new()
        } else {
            format!(":{}", i - 1)
        };
        let msg = format!("area{}: change {i}", i % 97);
        commit(
            &mut s,
            "main",
            i,
            &from,
            &msg,
            &format!("src/d{}/f{i}.c", i % 100),
            &file_body(i),
        );
        if i % TAG_EVERY == 0 {
            s.push_str(&format!(
                "reset refs/tags/v{}\nfrom :{i}\n\n",
                i / TAG_EVERY
            ));
        }
    }
    let marks_file = repo.join("upstream.marks");
    fast_import(repo, &s, &marks_file);
    let sha = marks(&marks_file);

    // The fork: off v50, picking from what came after.
    let base = FORK_BASE_TAG * TAG_EVERY;
    let mut s = String::new();
    for k in 0..CARRIED {
        let mark = UPSTREAM + 1 + k;
        let from = if k == 0 {
            sha[&base].clone()
        } else {
            format!(":{}", mark - 1)
        };
        let j = base + 1 + k * 9; // an upstream commit after the fork point
        let (msg, path, body) = match k % 10 {
            0..=4 => (
                format!(
                    "area{}: change {j}\n\n(cherry picked from commit {})",
                    j % 97,
                    sha[&j]
                ),
                format!("src/d{}/f{j}.c", j % 100),
                file_body(j),
            ),
            5 | 6 => (
                format!("Backport change {j}"),
                format!("src/d{}/f{j}.c", j % 100),
                file_body(j),
            ),
            7 => (
                format!("Backport change {j} (old layout)"),
                format!("old/f{j}.c"),
                file_body(j),
            ),
            _ => (
                format!("hs: local change {k}\n\nLink: https://github.com/example/proj/pull/{k}"),
                format!("hs/local{k}.conf"),
                format!("local = {k}\n"),
            ),
        };
        commit(&mut s, "hs-v50", mark, &from, &msg, &path, &body);
    }
    fast_import(repo, &s, &repo.join("fork.marks"));
    git(repo, &["gc", "--quiet"]);
}

/// One more fork commit, written with plumbing (the repository is bare).
fn add_fork_commit(repo: &Path) {
    let blob = {
        let mut c = Command::new("git")
            .args(["hash-object", "-w", "--stdin"])
            .current_dir(repo)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("hash-object");
        c.stdin
            .take()
            .expect("stdin")
            .write_all(b"one more\n")
            .expect("write");
        let out = c.wait_with_output().expect("wait");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(repo, &["read-tree", "hs-v50"]);
    let env_index = repo.join("index");
    let _ = env_index;
    git(
        repo,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("100644,{blob},hs/one-more.conf"),
        ],
    );
    let tree = git(repo, &["write-tree"]);
    let parent = git(repo, &["rev-parse", "hs-v50"]);
    let c = git(
        repo,
        &["commit-tree", &tree, "-p", &parent, "-m", "hs: one more"],
    );
    git(repo, &["update-ref", "refs/heads/hs-v50", &c]);
}

/// Wall time and peak RSS of a git command (wait4).
fn time_git(args: &[&str], dir: &Path) -> (Duration, i64, usize) {
    let start = Instant::now();
    #[allow(clippy::zombie_processes)]
    let child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("git");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    let lines = reader.join().expect("reader").lines().count();
    (start.elapsed(), usage.ru_maxrss, lines)
}

fn main() {
    let kept = std::env::var_os("FORKDEBT_BENCH_DIR").map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().expect("tempdir");
    let root = kept.unwrap_or_else(|| temp.path().to_path_buf());
    let repo = root.join("systemd.git");
    let _ = std::fs::remove_dir_all(&repo);
    let _ = std::fs::remove_dir_all(root.join("cache"));
    let _ = std::fs::remove_file(root.join("forks.db"));
    std::fs::create_dir_all(&repo).expect("mkdir");
    let t = Instant::now();
    generate(&repo);
    println!(
        "generated an upstream of {UPSTREAM} commits and a fork of {CARRIED} carried commits in {:.1?}",
        t.elapsed()
    );
    std::fs::write(
        root.join("forks.toml"),
        format!(
            "[git]\ncache_dir = \"{cache}\"\n\n[[fork]]\nname = \"bench\"\npackage = \"systemd\"\nrepo = \"{repo}\"\nbranches = [\"hs-v*\"]\nupstream = \"{repo}\"\nupstream_branch = \"main\"\nrelease_tags = '^v(\\d+)$'\n",
            cache = root.join("cache").display(),
            repo = repo.display()
        ),
    )
    .expect("config");
    let (cherry, cherry_rss, cherry_lines) = time_git(&["cherry", "main", "hs-v50"], &repo);
    let args = [
        "--config",
        "forks.toml",
        "--database",
        "sqlite://forks.db",
        "scan",
    ];
    let first = measure::run(&args, &root);
    let second = measure::run(&args, &root);
    add_fork_commit(&repo);
    let third = measure::run(&args, &root);
    println!(
        "{:28} wall {:>7.3} s   peak RSS {:>6.1} MB   ({cherry_lines} commits listed)",
        "git cherry main hs-v50",
        cherry.as_secs_f64(),
        cherry_rss as f64 / 1024.0
    );
    first.print("first scan (empty store)");
    second.print("rescan (nothing new)");
    third.print("rescan (one new commit)");
    println!(
        "first scan / git cherry: {:.1}x (target <= 10x); rescan after one commit {:.3} s (target < 1 s)",
        first.wall.as_secs_f64() / cherry.as_secs_f64(),
        third.wall.as_secs_f64()
    );
    print!("first scan said: {}", first.stdout);
    print!("last rescan said: {}", third.stdout);
    content_match(&root, &repo);
    base_fork(&root, &repo);
}

/// Patch FILES against the same upstream (a package at v50 carrying 36 patches: 30 upstream
/// commits after v50 as `format-patch` wrote them, 3 reverts of upstream commits, 3 local),
/// through `[[upstream]]`: the first content match compares them with the 10,000 commits after
/// v50; the rescan has every commit's facts cached.
fn content_match(root: &Path, repo: &Path) {
    let pkg = root.join("distgit/systemd");
    let _ = std::fs::remove_dir_all(root.join("distgit"));
    let _ = std::fs::remove_file(root.join("files.db"));
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let after = git(repo, &["rev-list", "--reverse", "v50..main"]);
    let after: Vec<&str> = after.lines().collect();
    let mut spec = String::from(
        "Name: systemd\nVersion: 50\nRelease: 1.hs\nSummary: s\nLicense: MIT\nURL: https://github.com/systemd/systemd\n",
    );
    for n in 0..36 {
        let text = match n {
            0..30 => git(
                repo,
                &["format-patch", "-1", "--stdout", after[n * 300 + 7]],
            ),
            30..33 => {
                let sha = after[n * 200 + 3];
                git(repo, &["diff", sha, &format!("{sha}^")])
            }
            _ => format!("--- a/local{n}\n+++ b/local{n}\n@@ -1 +1 @@\n-a\n+b"),
        };
        std::fs::write(pkg.join(format!("{n:04}.patch")), text + "\n").expect("patch");
        spec.push_str(&format!("Patch{n}: {n:04}.patch\n"));
    }
    std::fs::write(pkg.join("systemd.spec"), spec).expect("spec");
    std::fs::write(
        root.join("files.toml"),
        format!(
            "[git]\ncache_dir = \"{cache}\"\n\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\n\
             [[upstream]]\nname = \"systemd\"\nforge = \"github:systemd/systemd\"\nrepo = \"{repo}\"\nrelease_tags = '^v(\\d+)$'\n",
            cache = root.join("cache").display(),
            repo = repo.display()
        ),
    )
    .expect("config");
    let args = [
        "--config",
        "files.toml",
        "--database",
        "sqlite://files.db",
        "scan",
    ];
    let first = measure::run(&args, root);
    let second = measure::run(&args, root);
    first.print("patch files: first match");
    second.print("patch files: rescan");
    println!(
        "patch files against 10,000 upstream commits: first match {:.2} s (target <= 10 s, <= 200 MB), rescan {:.2} s (target <= 2 s)",
        first.wall.as_secs_f64(),
        second.wall.as_secs_f64()
    );
    print!("patch files said: {}", first.stdout);
}

/// Commits of the base distribution's own fork ([[fork]] with `distro`), as CentOS Stream's
/// systemd carries on v252: most cherry-picked with their trailer, some without (content
/// only), a few of its own; a build tag every 35 commits.
const BASE_CARRIED: usize = 1_400;

/// The base's fork in its own repository (sharing upstream's objects), read by
/// `sync --source base-fork` twice: the first run computes, the second has it all cached.
fn base_fork(root: &Path, repo: &Path) {
    let base = root.join("base.git");
    let _ = std::fs::remove_dir_all(&base);
    let _ = std::fs::remove_file(root.join("base.db"));
    std::fs::create_dir_all(&base).expect("mkdir");
    git(&base, &["init", "-q", "--bare", "-b", "c9s"]);
    std::fs::write(
        base.join("objects/info/alternates"),
        format!("{}\n", repo.join("objects").display()),
    )
    .expect("alternates");
    let sha = marks(&repo.join("upstream.marks"));
    let start = FORK_BASE_TAG * TAG_EVERY;
    let mut s = String::new();
    for k in 0..BASE_CARRIED {
        let mark = 1 + k;
        let from = if k == 0 {
            sha[&start].clone()
        } else {
            format!(":{}", mark - 1)
        };
        let j = start + 1 + k * 7;
        let (msg, path, body) = match k % 28 {
            0..=24 => (
                format!(
                    "area{}: change {j}\n\n(cherry picked from commit {})\n\nResolves: RHEL-{}",
                    j % 97,
                    sha[&j],
                    10_000 + k
                ),
                format!("src/d{}/f{j}.c", j % 100),
                file_body(j),
            ),
            25 | 26 => (
                format!("Backport change {j}\n\nRelated: RHEL-{}", 10_000 + k),
                format!("src/d{}/f{j}.c", j % 100),
                file_body(j),
            ),
            _ => (
                format!("rhel-only: downstream change {k}"),
                format!("rhel/local{k}.conf"),
                format!("local = {k}\n"),
            ),
        };
        commit(&mut s, "c9s", mark, &from, &msg, &path, &body);
        if (k + 1) % 35 == 0 {
            s.push_str(&format!(
                "reset refs/tags/v50-{}\nfrom :{mark}\n\n",
                (k + 1) / 35
            ));
        }
    }
    fast_import(&base, &s, &base.join("base.marks"));
    std::fs::write(
        root.join("base.toml"),
        format!(
            "[git]\ncache_dir = \"{cache}\"\n\n[[distro]]\nname = \"c9s\"\n\n\
             [[upstream]]\nname = \"proj\"\nforge = \"github:example/proj\"\nrepo = \"{repo}\"\nrelease_tags = '^v(\\d+)$'\n\n\
             [[fork]]\nname = \"c9s-proj\"\ndistro = \"c9s\"\npackage = \"systemd\"\nrepo = \"{base}\"\n\
             branches = [\"c9s\"]\nupstream = \"proj\"\nrelease_tags = '^v50-(\\d+)$'\n",
            cache = root.join("cache").display(),
            repo = repo.display(),
            base = base.display(),
        ),
    )
    .expect("config");
    let args = [
        "--config",
        "base.toml",
        "--database",
        "sqlite://base.db",
        "sync",
        "--source",
        "base-fork",
    ];
    let first = measure::run(&args, root);
    let second = measure::run(&args, root);
    first.print("base fork: first read");
    second.print("base fork: again");
    println!(
        "base fork of {BASE_CARRIED} commits against {UPSTREAM} upstream commits: first {:.2} s (target <= 10 s), again {:.2} s (target <= 1 s)",
        first.wall.as_secs_f64(),
        second.wall.as_secs_f64()
    );
    print!("base fork said: {}", first.stdout);
}
