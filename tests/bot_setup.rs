//! What the chat and email tests share: a `forkdebt serve` child that dies with the test, a
//! store with the sample and a package whose names try to inject markup and IRC commands, and
//! one recorded transition to announce.

use crate::util::{forkdebt_ok, sample_distgit};
use forkdebt_core::inventory::Inventory;
use forkdebt_core::model::{Package, Patch};
use forkdebt_core::store::{ItemOutcome, Store};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

/// `forkdebt serve`, killed when the test ends.
pub struct Serve(Child);

impl Serve {
    pub fn new(child: Child) -> Serve {
        Serve(child)
    }

    /// Whether the process has not exited.
    pub fn running(&mut self) -> bool {
        self.0.try_wait().ok().flatten().is_none()
    }

    /// SIGTERM, then the exit status (within 15 s).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = libc::pid_t::try_from(self.0.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The highest resident memory the process has used so far, in MiB (Linux).
    pub fn peak_rss_mib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).expect("/proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM");
        kib / 1024
    }

    /// SIGKILL, now.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes `forkdebt.toml` (the database, then `chat`), scans the sample, and adds a package
/// `lab` whose patch names carry CR, LF, an IRC command, CTCP and HTML.
pub async fn scan_with_lab(dir: &Path, chat: &str) {
    let db = format!("sqlite://{}", dir.join("f.db").display());
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!("database = \"{db}\"\n{chat}"),
    )
    .expect("config");
    let sample = sample_distgit();
    forkdebt_ok(
        dir,
        &[
            "--config",
            "forkdebt.toml",
            "scan",
            sample.to_str().expect("utf-8"),
        ],
    );
    let store = Store::open(&db).await.expect("open");
    let evil = Inventory {
        packages: vec![Package {
            name: "lab".into(),
            spec_path: "lab.spec".into(),
            version: "1".into(),
            release: "1.hs".into(),
            patches: vec![
                Patch {
                    file: "evil.patch\r\nQUIT :pwned".into(),
                    number: Some(1),
                    subject: Some("<b>bold</b> \u{1}ACTION waves\u{1}".into()),
                    ..Patch::default()
                },
                Patch {
                    file: "<script>alert(1)</script>.patch".into(),
                    number: Some(2),
                    ..Patch::default()
                },
            ],
            ..Package::default()
        }],
        ..Inventory::default()
    };
    store
        .apply_inventory("lab", &evil, chrono::Utc::now())
        .await
        .expect("scan lab");
    store.close().await;
}

/// Records that PR systemd/systemd#16838 merged, as a sync would: one transition.
pub async fn merge_16838(dir: &Path) {
    let store = Store::open(&format!("sqlite://{}", dir.join("f.db").display()))
        .await
        .expect("open");
    store
        .mark_synced(chrono::Utc::now())
        .await
        .expect("baseline");
    let merged = serde_json::json!({"number": 16838, "state": "closed", "merged": true, "merge_commit_sha": "3335de9", "merged_at": "2020-08-26T10:00:00Z"});
    store
        .record_outcomes(
            forkdebt_core::source::Dataset::Github,
            &[(
                "systemd/systemd#16838".into(),
                ItemOutcome::Observed {
                    data: merged.to_string(),
                    upstream_changed_at: None,
                },
            )],
            chrono::Utc::now(),
        )
        .await
        .expect("observation");
    store.close().await;
}

pub const MERGED_16838: &str = "[default] systemd 16838_16857_improve_path_search.patch: unknown -> merged (PR systemd/systemd#16838 merged as 3335de9)";
