//! The weekly digest through a real SMTP server (aiosmtpd): the message parses as MIME with
//! a text part, an HTML part and the chart referenced by Content-ID; headers are there; a
//! patch named like a script is escaped; `--dry-run` prints the plain text; a second send
//! in the same week delivers nothing.

use crate::bot_setup::{merge_16838, scan_with_lab};
use crate::smtpd::Smtpd;
use crate::util::{forkdebt, forkdebt_ok, stderr};
use mail_parser::{MessageParser, MimeHeaders};

#[tokio::test(flavor = "multi_thread")]
async fn the_weekly_digest_is_a_proper_email_sent_once_a_week() {
    let smtpd = Smtpd::start();
    let dir = tempfile::tempdir().expect("tempdir");
    scan_with_lab(
        dir.path(),
        &format!(
            "[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nfrom = \"forkdebt <forkdebt@example.org>\"\nschedule = \"Mon 09:00 UTC\"\n\
             [[email.recipient]]\naddress = \"team@example.org\"\n\
             [[email.recipient]]\naddress = \"lab@example.org\"\npackages = [\"lab\"]\n",
            smtpd.port
        ),
    )
    .await;
    merge_16838(dir.path()).await;
    let config = ["--config", "forkdebt.toml"];

    let said = forkdebt_ok(dir.path(), &[&config[..], &["digest"]].concat());
    assert!(said.contains("team@example.org: sent the"), "{said}");
    let raw = smtpd.messages();
    assert_eq!(raw.len(), 2, "{said}");
    let parsed: Vec<_> = raw
        .iter()
        .map(|m| MessageParser::default().parse(m).expect("MIME"))
        .collect();
    let team = parsed
        .iter()
        .find(|m| {
            m.to().and_then(|a| a.first()).and_then(|a| a.address()) == Some("team@example.org")
        })
        .expect("the team's digest");

    // Headers.
    assert_eq!(
        team.from()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("forkdebt@example.org")
    );
    let subject = team.subject().expect("subject");
    assert!(
        subject.starts_with("forkdebt 20") && subject.contains(" — "),
        "{subject}"
    );
    assert!(team.date().is_some(), "Date");
    let id = team.message_id().expect("Message-ID");
    assert!(
        id.starts_with("digest.team.example.org.20") && id.ends_with("@forkdebt"),
        "{id}"
    );
    let header = |name: &str| {
        team.header_raw(name)
            .map(str::trim)
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no {name} header"))
    };
    assert_eq!(
        header("List-Unsubscribe"),
        "<mailto:forkdebt@example.org?subject=unsubscribe%20team%40example.org>"
    );
    assert_eq!(
        header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );

    // Parts: text, HTML, and the chart the HTML refers to by Content-ID.
    let text = team.body_text(0).expect("a text part");
    assert!(text.contains("forkdebt weekly digest"), "{text}");
    assert!(
        text.contains("Merged upstream, waiting for a release or a base build"),
        "{text}"
    );
    assert!(
        text.contains("systemd 16838_16857_improve_path_search.patch"),
        "{text}"
    );
    assert!(
        text.contains("You get this because team@example.org"),
        "{text}"
    );
    let html = team.body_html(0).expect("an HTML part");
    let image = team
        .attachments()
        .find(|p| {
            p.content_type()
                .is_some_and(|c| c.ctype() == "image" && c.subtype() == Some("png"))
        })
        .expect("the chart");
    let cid = image.content_id().expect("Content-ID");
    assert!(
        html.contains(&format!("src=\"cid:{cid}\"")),
        "{cid} in {html}"
    );
    assert!(image.contents().starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        html.contains("alt=\"Carried patches over the last 12 weeks: "),
        "{html}"
    );

    // The lab recipient only hears about lab.
    let lab = parsed
        .iter()
        .find(|m| {
            m.to().and_then(|a| a.first()).and_then(|a| a.address()) == Some("lab@example.org")
        })
        .expect("lab's digest");
    let lab_text = lab.body_text(0).expect("text");
    assert!(
        lab_text.contains("  lab: 2 / 0 / 0 / 0 / 2 / 0"),
        "{lab_text}"
    );
    assert!(!lab_text.contains("systemd"), "{lab_text}");
    let lab_html = lab.body_html(0).expect("html");
    assert!(
        lab_html.contains("<b>lab &lt;script&gt;alert(1)&lt;&#x2f;script&gt;.patch</b>"),
        "{lab_html}"
    );
    assert!(!lab_html.contains("<script"), "{lab_html}");

    // Again in the same week: nothing more is delivered.
    let again = forkdebt_ok(dir.path(), &[&config[..], &["digest"]].concat());
    assert!(again.contains("team@example.org: the 20"), "{again}");
    assert!(again.contains("digest was already sent"), "{again}");
    assert_eq!(smtpd.messages().len(), 2);

    // --dry-run prints the plain text and sends nothing.
    let dry = forkdebt_ok(
        dir.path(),
        &[
            &config[..],
            &["digest", "--dry-run", "--to", "lab@example.org"],
        ]
        .concat(),
    );
    assert!(
        dry.starts_with("To: lab@example.org\n\nforkdebt weekly digest, 20"),
        "{dry}"
    );
    assert!(
        dry.contains("  - lab <script>alert(1)</script>.patch: not-sent, +0 -0 lines"),
        "{dry}"
    );
    assert!(dry.contains("  lab: 2 / 0 / 0 / 0 / 2 / 0"), "{dry}");
    assert_eq!(smtpd.messages().len(), 2);

    // A server that is not there: a clear error and a failing exit, nothing recorded.
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        format!(
            "database = \"sqlite://{}\"\n[email]\nsmtp_url = \"smtp://127.0.0.1:1\"\n[[email.recipient]]\naddress = \"new@example.org\"\n",
            dir.path().join("f.db").display()
        ),
    )
    .expect("config");
    let out = forkdebt(
        dir.path(),
        &["--config", broken.to_str().expect("utf-8"), "digest"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("new@example.org: "),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_sends_the_digest_on_schedule_once_across_restarts() {
    let smtpd = Smtpd::start();
    let dir = tempfile::tempdir().expect("tempdir");
    // Monday 00:00 UTC has passed every day of the week: this week's digest is due now.
    scan_with_lab(
        dir.path(),
        &format!(
            "[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nschedule = \"Mon 00:00 UTC\"\n\
             [[email.recipient]]\naddress = \"team@example.org\"\n",
            smtpd.port
        ),
    )
    .await;
    let start = || {
        crate::bot_setup::Serve::new(
            std::process::Command::new(env!("CARGO_BIN_EXE_forkdebt"))
                .args(["--config", "forkdebt.toml", "serve"])
                .current_dir(dir.path())
                .env_remove("FORKDEBT_DATABASE")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("serve"),
        )
    };
    let wait_for = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while smtpd.messages().len() < n {
            assert!(std::time::Instant::now() < deadline, "no digest arrived");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let mut first = start();
    wait_for(1);
    assert!(first.terminate().success());
    // Restarted in the same week: nothing more.
    let mut second = start();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(second.terminate().success());
    assert_eq!(smtpd.messages().len(), 1);
}

#[test]
fn after_the_demo_the_digest_leads_with_the_droppable_patch_and_its_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = crate::util::sample_distgit();
    forkdebt_ok(
        dir.path(),
        &["demo", "--sample", sample.to_str().expect("utf-8")],
    );
    let dry = forkdebt_ok(
        dir.path(),
        &[
            "--database",
            "sqlite://forkdebt-demo.db",
            "digest",
            "--dry-run",
            "--to",
            "team@example.org",
        ],
    );
    let summary: Vec<&str> = dry
        .lines()
        .skip(4)
        .take_while(|l| l.starts_with("* "))
        .collect();
    assert_eq!(summary[0], "* 69 carried patches in 13 packages", "{dry}");
    assert_eq!(
        summary[1], "* 3 newly droppable: drop them from dist-git",
        "{dry}"
    );
    assert_eq!(
        summary[2], "* 1 upstream fixes of changes our forks carry are missing: pick them",
        "{dry}"
    );
    assert!(
        dry.contains(
            "Newly droppable (the base distribution ships the fix):\n  - python-github 0001-fix-pagination-of-review-comments.patch\n    PR austinsasko/PyGithub#21 merged as 40abf8b -> first in v1.54 -> c9s ships python-github-1.55-1.el9 >= 1.54 (repodata)\n    https://github.com/austinsasko/PyGithub/pull/21\n"
        ),
        "{dry}"
    );
    // Droppable is not also "waiting for a build".
    assert!(
        !dry.contains("python-github 0001-fix-pagination-of-review-comments.patch: released"),
        "{dry}"
    );
}
