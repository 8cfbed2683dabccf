//! First match on an upstream with big generated commits (issue 30, §5: cups's translation
//! commits made its scan take two minutes): a generated upstream of 3,000 commits in which
//! one commit in ten rewrites 2 MB of generated files, and a package carrying five upstream
//! commits as patch files whose headers name shas upstream never had (a PR branch), so only
//! their content can find them. The real binary scans it with the upstream as its
//! `[[upstream]]` mirror into a fresh SQLite store. Target: first match <= 10 s, <= 200 MB.
//!
//! Run with `cargo bench --bench big_commits`. `FORKDEBT_BENCH_DIR` keeps the files there.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

#[path = "measure.rs"]
mod measure;

const COMMITS: usize = 3_000;
const GENERATED_EVERY: usize = 10;
const GENERATED_FILES: usize = 20;
const GENERATED_BYTES: usize = 100 * 1024;
const TAG_EVERY: usize = 1_000;
/// The upstream commits the package carries (all after its version's tag, v1); the last one
/// fixes one line of a generated file, so every big commit after v1 touches its file too.
const CARRIED: [usize; 6] = [1_203, 1_507, 1_811, 2_105, 2_409, TRANSLATION_FIX];
const TRANSLATION_FIX: usize = 2_222;

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
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A source file as commit `i` leaves it: 40 lines, one of them naming the commit.
fn source(i: usize) -> String {
    (0..40)
        .map(|l| {
            if l == i % 40 {
                format!("int changed_by_{i}(void) {{ return {i}; }}\n")
            } else {
                format!("int line_{l}(void) {{ return {l}; }}\n")
            }
        })
        .collect()
}

/// A generated file (a translation catalogue) as commit `i` rewrites it.
fn generated(i: usize, k: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(GENERATED_BYTES + 64);
    let mut n = 0usize;
    while out.len() < GENERATED_BYTES {
        let _ = writeln!(
            out,
            "msgid \"message {k}-{n}\"\nmsgstr \"traduction {i}-{k}-{n} {:x}\"\n",
            (i * 2_654_435_761 + n * 40_503) % 1_000_003
        );
        n += 1;
    }
    out
}

/// Writes the upstream through `git fast-import`, streamed (about 600 MB of blobs).
fn generate_upstream(repo: &Path) {
    git(repo, &["init", "-q", "--bare", "-b", "main"]);
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(repo)
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import");
    let mut w = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
    for i in 1..=COMMITS {
        let msg = format!("area{}: change {i}", i % 37);
        write!(
            w,
            "commit refs/heads/main\nmark :{i}\nauthor Dev <dev@example.org> {t} +0000\ncommitter Dev <dev@example.org> {t} +0000\ndata {}\n{msg}\n",
            msg.len(),
            t = 1_600_000_000 + i * 60
        )
        .expect("write");
        if i > 1 {
            writeln!(w, "from :{}", i - 1).expect("write");
        }
        if i == TRANSLATION_FIX {
            // One line of the catalogue the last big commit wrote, fixed by hand.
            let before = String::from_utf8(generated(i - i % GENERATED_EVERY, 3)).expect("utf-8");
            let body = before.replacen("traduction", "translation fixed", 1);
            write!(
                w,
                "M 100644 inline po/lang3.po\ndata {}\n{body}\n",
                body.len()
            )
            .expect("write");
        } else if i % GENERATED_EVERY == 0 {
            for k in 0..GENERATED_FILES {
                let body = generated(i, k);
                write!(w, "M 100644 inline po/lang{k}.po\ndata {}\n", body.len()).expect("write");
                w.write_all(&body).expect("write");
                w.write_all(b"\n").expect("write");
            }
        } else {
            let body = source(i);
            write!(
                w,
                "M 100644 inline src/f{}.c\ndata {}\n{body}\n",
                i % 50,
                body.len()
            )
            .expect("write");
        }
        if i % TAG_EVERY == 0 {
            write!(w, "reset refs/tags/v{}\nfrom :{i}\n\n", i / TAG_EVERY).expect("write");
        }
    }
    drop(w);
    assert!(child.wait().expect("wait").success(), "fast-import failed");
}

fn main() {
    let kept = std::env::var_os("FORKDEBT_BENCH_DIR").map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().expect("tempdir");
    let root = kept.unwrap_or_else(|| temp.path().to_path_buf());
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("mkdir");
    let up = root.join("upstream.git");
    std::fs::create_dir_all(&up).expect("mkdir");
    let started = std::time::Instant::now();
    generate_upstream(&up);
    let size = git(&up, &["count-objects", "-vH"]);
    println!(
        "generated {COMMITS} upstream commits ({} with {:.1} MB of generated files) in {:.1?}; {}",
        COMMITS / GENERATED_EVERY,
        (GENERATED_FILES * GENERATED_BYTES) as f64 / (1024.0 * 1024.0),
        started.elapsed(),
        size.lines()
            .find(|l| l.starts_with("size-pack"))
            .unwrap_or_default()
    );

    // The package: version 1 (tag v1), carrying five later upstream commits whose headers
    // name a sha upstream does not have.
    let pkg = root.join("distgit/rpms/proj");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let log = git(&up, &["rev-list", "--reverse", "main"]);
    let shas: Vec<&str> = log.lines().collect();
    let mut spec = String::from(
        "Name: proj\nVersion: 1\nRelease: 1%{?dist}.hs\nSummary: bench\nLicense: MIT\n\
         URL: https://github.com/org/proj\nSource0: https://github.com/org/proj/archive/v%{version}.tar.gz\n",
    );
    for (n, i) in CARRIED.iter().enumerate() {
        let sha = shas[i - 1];
        let text = git(&up, &["format-patch", "-1", "--stdout", sha]);
        let pr_branch = format!("{:040x}", 0xdead_beef_u64 + *i as u64);
        let text = text.replacen(sha, &pr_branch, 1);
        let file = format!("{:04}-change-{i}.patch", n + 1);
        std::fs::write(pkg.join(&file), text).expect("patch");
        spec.push_str(&format!("Patch{n}: {file}\n"));
    }
    spec.push_str("\n%description\nBench.\n\n%prep\n%autosetup -p1\n\n%changelog\n");
    std::fs::write(pkg.join("proj.spec"), spec).expect("spec");
    std::fs::write(
        root.join("forkdebt.toml"),
        format!(
            "database = \"sqlite://bench.db\"\n\
             [[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
             [git]\ncache_dir = \"{cache}\"\n\
             [[upstream]]\nname = \"proj\"\nforge = \"github:org/proj\"\nrepo = \"{up}\"\n",
            cache = root.join("cache").display(),
            up = up.display(),
        ),
    )
    .expect("config");

    let first = measure::run(&["--config", "forkdebt.toml", "scan"], &root);
    first.print("first match (scan, mirror)");
    print!("{}", first.stdout);
    let again = measure::run(&["--config", "forkdebt.toml", "scan"], &root);
    again.print("rescan");
    let matched = first
        .stdout
        .lines()
        .find(|l| l.contains("patch files are upstream commits"))
        .unwrap_or("no content match reported");
    println!(
        "first match: {:.2} s, {:.0} MB (targets <= 10 s, <= 200 MB); {} carried; {}",
        first.wall.as_secs_f64(),
        first.max_rss_kib as f64 / 1024.0,
        CARRIED.len(),
        matched.trim()
    );
}
