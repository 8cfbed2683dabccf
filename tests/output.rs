//! Writing the output can fail — a reader that went away (`forkdebt status | head -1`), a
//! full disk (`> /dev/full`) — and no command panics for it: a closed pipe ends the command
//! quietly, a full disk is one clear error, and what the command stored stays stored.

use crate::util::{copy_tree, forkdebt_ok, sample_distgit, stderr};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// A scanned sample in `dir` with a config whose sources answer nothing (a closed port).
fn setup(dir: &Path) -> Vec<Vec<String>> {
    copy_tree(&sample_distgit(), &dir.join("distgit"));
    let closed = format!("http://127.0.0.1:{}", crate::util::free_port());
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "database = \"sqlite://{}\"\ncontact = \"mailto:t@example.org\"\n\
             [[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
             [sources]\nmax_retries = 0\ntimeout_secs = 2\nmin_interval_ms = 0\n[sources.bodhi]\nurl = \"{closed}\"\n\
             [email]\nsmtp_url = \"smtp://127.0.0.1:1\"\n[[email.recipient]]\naddress = \"team@example.org\"\n",
            dir.join("o.db").display()
        ),
    )
    .expect("config");
    forkdebt_ok(dir, &["--config", "forkdebt.toml", "scan"]);
    let inventory =
        std::fs::read_to_string(dir.join("distgit/forkdebt-inventory.toml")).expect("inventory");
    let deviation = inventory
        .lines()
        .find_map(|l| l.trim().strip_prefix("name = \""))
        .and_then(|r| r.split('"').next())
        .expect("a deviation")
        .to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["init"],
        vec!["status"],
        vec!["scan"],
        vec!["sync", "--source", "bodhi"],
        vec!["report"],
        vec!["report", "--format", "json"],
        vec!["show", "systemd"],
        vec!["why", "systemd", "1"],
        vec!["events"],
        vec!["changes"],
        vec!["sources"],
        vec!["digest", "--dry-run"],
        vec!["propose", "--change", &deviation],
    ];
    commands
        .into_iter()
        .map(|c| {
            let mut all = vec!["--config".to_string(), "forkdebt.toml".to_string()];
            all.extend(c.into_iter().map(str::to_string));
            all
        })
        .collect()
}

fn run(dir: &Path, args: &[String], stdout: Stdio) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(args)
        .current_dir(dir)
        .env_remove("FORKDEBT_DATABASE")
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("run forkdebt")
}

#[test]
fn no_command_panics_on_a_full_disk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for args in setup(dir) {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = run(dir, &args, Stdio::from(full));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("cannot write the output") && err.contains("No space left on device"),
            "{args:?}: {err}"
        );
    }
    // What the scan stored (before it failed to say so) is there.
    let report = forkdebt_ok(dir, &["--config", "forkdebt.toml", "report"]);
    assert!(report.contains("systemd"), "{report}");
}

#[test]
fn no_command_panics_on_a_closed_pipe() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for args in setup(dir) {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = run(dir, &args, Stdio::from(writer));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // Ended quietly: exit 0, or the default SIGPIPE action of the commands that only print.
        let quiet = out.status.success() || out.status.signal() == Some(libc::SIGPIPE);
        assert!(quiet, "{args:?}: {:?} {err}", out.status);
    }
}

#[test]
fn report_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Enough packages that the report outgrows the pipe before `head` is gone.
    for i in 0..400 {
        let pkg = dir.path().join(format!("distgit/rpms/pkg{i}"));
        std::fs::create_dir_all(&pkg).expect("mkdir");
        let mut spec = format!("Name: pkg{i}\nVersion: 1\nRelease: 1\n");
        for j in 0..5 {
            spec.push_str(&format!(
                "# https://github.com/o/r/pull/{j}\nPatch{j}: p{j}.patch\n"
            ));
        }
        std::fs::write(pkg.join(format!("pkg{i}.spec")), spec).expect("spec");
    }
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    forkdebt_ok(dir.path(), &["--database", &db, "scan", "distgit"]);
    for format in ["json", "table"] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "\"$0\" --database '{db}' report --format {format} | head -1"
            ))
            .arg(env!("CARGO_BIN_EXE_forkdebt"))
            .current_dir(dir.path())
            .output()
            .expect("sh");
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{format}: {err}"
        );
    }
}
