//! Test support: running the binary, temporary folders, and a throwaway PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sample_distgit() -> PathBuf {
    repo_root().join("sample/distgit")
}

/// Runs the `forkdebt` binary in `dir` with `args`.
pub fn forkdebt(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(args)
        .current_dir(dir)
        .env_remove("FORKDEBT_DATABASE")
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .stdin(Stdio::null())
        .output()
        .expect("run forkdebt")
}

/// Runs forkdebt and returns stdout, failing the test (with stderr) on a non-zero exit.
pub fn forkdebt_ok(dir: &Path, args: &[&str]) -> String {
    let out = forkdebt(dir, args);
    assert!(
        out.status.success(),
        "forkdebt {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Copies a folder tree (the sample) so a test can change it.
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir(from) {
        let rel = entry.strip_prefix(from).expect("under root");
        let dest = to.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            std::fs::copy(&entry, &dest).expect("copy");
        }
    }
}

fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            let mut children: Vec<PathBuf> = std::fs::read_dir(&out[i])
                .expect("read_dir")
                .map(|e| e.expect("entry").path())
                .collect();
            children.sort();
            out.extend(children);
        }
        i += 1;
    }
    out
}

/// Runs git in `dir` as a test identity (no signing, `main` as the first branch): its stdout,
/// trimmed.
/// Panics with git's stderr when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_env(dir, args, &[])
}

/// [`git`] with extra environment (`GIT_AUTHOR_DATE`...).
pub fn git_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.org",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A PostgreSQL server for the tests: `FORKDEBT_TEST_POSTGRES` (a URL to a server where the
/// tests may create databases), else a throwaway cluster started once per test binary and
/// stopped by a watchdog when the test process exits.
pub fn postgres_server() -> &'static str {
    static SERVER: OnceLock<String> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("FORKDEBT_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ => start_cluster(),
    })
}

/// A fresh, empty database on the test server.
pub async fn postgres_database() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let server = postgres_server();
    let name = format!(
        "forkdebt_test_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(server)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL at {server}: {e}"));
    sqlx::Executor::execute(
        &mut conn,
        sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
    )
    .await
    .expect("create test database");
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    format!("{base}/{name}")
}

fn pg_bin(tool: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|v| v.join("bin").join(tool))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL is needed for the store tests: install it (apt-get install postgresql) \
                 or set FORKDEBT_TEST_POSTGRES to a server URL"
            )
        })
}

fn start_cluster() -> String {
    let dir = tempfile::Builder::new()
        .prefix("forkdebt-pg-")
        .tempdir()
        .expect("tempdir")
        .keep();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    // initdb refuses to run as root: run the server as `postgres` then.
    let run = |tool: &str, args: &[&str]| {
        let mut cmd = if is_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_bin(tool));
            c
        } else {
            Command::new(pg_bin(tool))
        };
        let out = cmd.args(args).output().expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    if is_root {
        let ok = Command::new("chown")
            .args(["postgres:", dir.to_str().expect("utf-8 path")])
            .status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "chown the cluster folder to postgres"
        );
    }
    let data = dir.join("data");
    let port = free_port();
    let d = data.to_str().expect("utf-8 path");
    run(
        "initdb",
        &["-D", d, "-A", "trust", "-U", "postgres", "--no-sync"],
    );
    let opts = format!(
        "-k {} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
        dir.display()
    );
    run(
        "pg_ctl",
        &[
            "-D",
            d,
            "-l",
            dir.join("log").to_str().expect("utf-8"),
            "-w",
            "-o",
            &opts,
            "start",
        ],
    );
    // Stop the cluster when this test process exits, however it exits.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runner}{pg_ctl} -D {d} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        runner = if is_root {
            "runuser -u postgres -- "
        } else {
            ""
        },
        pg_ctl = pg_bin("pg_ctl").display(),
        dir = dir.display(),
    );
    // Deliberately not waited for: it must outlive this process to clean up after it.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the cluster watchdog");
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

/// Waits (`within` at most) until something listens on `port`; panics naming `what`.
pub fn wait_for_port(port: u16, what: &str, within: std::time::Duration) {
    let deadline = std::time::Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not listen on port {port} within {within:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs a copy of the binary as `nobody` (root reads every file, whatever its mode).
pub fn forkdebt_as_nobody(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let bin = dir.join("forkdebt-copy");
    if !bin.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_forkdebt"), &bin).expect("copy the binary");
    }
    std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("FORKDEBT_DATABASE")
        .output()
        .expect("setpriv")
}

/// A primary.xml.gz in which the base ships `name` at `version`-`release`.
pub fn primary(name: &str, version: &str, release: &str) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    write!(
        gz,
        "<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\
         <package type=\"rpm\"><name>{name}</name><arch>src</arch><version epoch=\"0\" ver=\"{version}\" rel=\"{release}\"/></package></metadata>"
    )
    .expect("gzip");
    gz.finish().expect("gzip")
}
