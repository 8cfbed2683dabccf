//! Hostile and broken dist-git content: the scan warns with file and line, goes on, never panics.

use crate::util::{forkdebt, stderr};
use std::fs;

#[test]
fn broken_files_warn_with_file_and_line_and_the_rest_is_scanned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rpms = dir.path().join("distgit/rpms");
    let mk = |pkg: &str, files: &[(&str, Vec<u8>)]| {
        let d = rpms.join(pkg);
        fs::create_dir_all(&d).expect("mkdir");
        for (name, body) in files {
            fs::write(d.join(name), body).expect("write");
        }
    };
    let diff = b"--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n".to_vec();
    mk("good", &[
        ("good.spec", b"Name: good\nVersion: 1\nRelease: 1\n# PR 12\nPatch0: a.patch\nPatch1: missing.patch\n".to_vec()),
        ("a.patch", diff.clone()),
    ]);
    let mut garbage = vec![0u8, 159, 146, 150, 0xff, 0xfe];
    garbage.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    mk("garbage", &[("garbage.spec", garbage)]);
    mk(
        "latin1",
        &[
            (
                "latin1.spec",
                b"Name: latin1\nSummary: caf\xe9\nVersion: 1\nRelease: 1\nPatch0: p.patch\n"
                    .to_vec(),
            ),
            (
                "p.patch",
                b"Subject: caf\xe9\n\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n".to_vec(),
            ),
        ],
    );
    mk(
        "unterminated",
        &[
            (
                "unterminated.spec",
                b"Name: unterminated\nVersion: 1\nRelease: 1\n%if 0%{?fedora}\nPatch0: u.patch\n"
                    .to_vec(),
            ),
            ("u.patch", diff.clone()),
        ],
    );
    let mut long = b"Name: longline\nVersion: 1\nRelease: 1\nSummary: ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    long.extend(b"\nPatch0: l.patch\n");
    mk(
        "longline",
        &[("longline.spec", long), ("l.patch", diff.clone())],
    );
    mk(
        "noheader",
        &[
            (
                "noheader.spec",
                b"Name: noheader\nVersion: 1\nRelease: 1\nPatch0: n.patch\n".to_vec(),
            ),
            ("n.patch", diff),
        ],
    );
    // A symlink loop inside the tree.
    std::os::unix::fs::symlink("..", rpms.join("good/loop")).expect("symlink");

    let out = forkdebt(
        dir.path(),
        &["--database", "sqlite://f.db", "scan", "distgit"],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let expect = [
        "rpms/garbage/garbage.spec: binary data (NUL bytes), not read",
        "rpms/latin1/latin1.spec:2: not valid UTF-8",
        "rpms/latin1/p.patch:1: not valid UTF-8",
        "rpms/unterminated/unterminated.spec:4: %if is never closed by %endif",
        "rpms/longline/longline.spec:4: line of 10485769 bytes is longer than 65536; skipped",
        "rpms/noheader/n.patch:1: no header before the first diff",
        "rpms/good/good.spec:6: Patch1 names `missing.patch`, which is not beside the spec nor in sources/",
        "distgit/rpms/good/loop: symbolic link loop; not followed",
    ];
    for e in expect {
        assert!(err.contains(e), "missing warning `{e}` in:\n{err}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    // garbage.spec is no package; every other one is there with its patches.
    assert!(stdout.contains("5 packages, 6 patches"), "{stdout}");
    let show =
        crate::util::forkdebt_ok(dir.path(), &["--database", "sqlite://f.db", "show", "good"]);
    assert!(
        show.contains("github-pr") || show.contains("ambiguous #12"),
        "{show}"
    );
    let longline = crate::util::forkdebt_ok(
        dir.path(),
        &["--database", "sqlite://f.db", "show", "longline"],
    );
    assert!(longline.contains("l.patch"), "{longline}");
}

#[test]
fn a_bad_inventory_file_is_a_warning_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("distgit");
    fs::create_dir_all(root.join("rpms/x")).expect("mkdir");
    fs::write(
        root.join("rpms/x/x.spec"),
        "Name: x\nVersion: 1\nRelease: 1\n",
    )
    .expect("write");
    fs::write(
        root.join("forkdebt-inventory.toml"),
        "[[deviation]]\nname = \"a\"\nchange = \"Changes/A\"\ncolour = 1\n",
    )
    .expect("write");
    let out = forkdebt(
        dir.path(),
        &["--database", "sqlite://f.db", "scan", "distgit"],
    );
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("forkdebt-inventory.toml:4: not a valid inventory: unknown field `colour`"),
        "{err}"
    );
}
