//! Which upstream commits a package's patch files are compared with, remembered between
//! scans. Finding them is a path-limited history walk (0.5 s per package on CUPS, more on
//! systemd) whose answer only changes when upstream's refs, our release tag or the patched
//! files change: those are the key. The memo lives in the git cache directory beside the
//! mirrors (derived data, like them); a missing or damaged memo is only a slower scan.

use crate::git::{Git, Result};
use std::path::{Path, PathBuf};

/// One package's remembered candidates: `(sha, files it changes)`, newest first.
pub(super) struct Memo {
    path: Option<PathBuf>,
    key: String,
}

impl Memo {
    /// The memo of `package` against the mirror in `mirror_dir`, keyed by upstream's refs now,
    /// the `range` asked and the patched `paths`. Without a `memo_dir` nothing is remembered.
    ///
    /// # Errors
    /// git could not run.
    pub(super) fn new(
        git: &Git,
        mirror_dir: &Path,
        memo_dir: Option<&Path>,
        package: &str,
        range: &[String],
        paths: &[String],
    ) -> Result<Memo> {
        let Some(memo_dir) = memo_dir else {
            return Ok(Memo {
                path: None,
                key: String::new(),
            });
        };
        let refs = git.output(
            mirror_dir,
            &["for-each-ref", "--format=%(objectname) %(refname)"],
        )?;
        let mut key = refs;
        for part in range.iter().chain(["--".to_string()].iter()).chain(paths) {
            key.extend_from_slice(part.as_bytes());
            key.push(0);
        }
        let name =
            crate::display::fingerprint(format!("{}\0{package}", mirror_dir.display()).as_bytes());
        Ok(Memo {
            path: Some(memo_dir.join(name)),
            key: crate::display::fingerprint(&key),
        })
    }

    /// What the last scan remembered under this key.
    pub(super) fn read(&self) -> Option<Vec<(String, usize)>> {
        let text = std::fs::read_to_string(self.path.as_ref()?).ok()?;
        let mut lines = text.lines();
        if lines.next()? != self.key {
            return None;
        }
        lines
            .map(|l| {
                let (sha, n) = l.split_once(' ')?;
                Some((sha.to_string(), n.parse().ok()?))
            })
            .collect()
    }

    /// Remembers `candidates` (best effort: a read-only cache only costs time).
    pub(super) fn write(&self, candidates: &[(String, usize)]) {
        let Some(path) = &self.path else { return };
        let mut text = format!("{}\n", self.key);
        for (sha, n) in candidates {
            text.push_str(&format!("{sha} {n}\n"));
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fork::facts::tests::git_in;

    #[test]
    fn a_memo_is_read_back_until_upstream_or_the_question_changes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = tmp.path().join("r");
        std::fs::create_dir_all(&repo).expect("mkdir");
        git_in(&repo, &["init", "-q"]);
        git_in(&repo, &["commit", "-q", "--allow-empty", "-m", "one"]);
        let git = Git::detect(None).expect("git");
        let dir = repo.join(".git");
        let memos = tmp.path().join("memo");
        let range = vec!["--all".to_string()];
        let paths = vec!["src/a.c".to_string()];
        let memo = |paths: &[String]| {
            Memo::new(&git, &dir, Some(&memos), "p", &range, paths).expect("memo")
        };
        let listed = vec![("abc".to_string(), 2)];
        memo(&paths).write(&listed);
        assert_eq!(memo(&paths).read(), Some(listed.clone()));
        // Another question, or upstream moved: asked again.
        assert_eq!(memo(&["src/b.c".to_string()]).read(), None);
        git_in(&repo, &["commit", "-q", "--allow-empty", "-m", "two"]);
        assert_eq!(memo(&paths).read(), None);
        // A damaged memo is a slower scan, not an error.
        let m = memo(&paths);
        m.write(&listed);
        let file = std::fs::read_dir(&memos)
            .expect("dir")
            .next()
            .expect("file")
            .expect("entry");
        std::fs::write(file.path(), format!("{}\nnot a line\n", m.key)).expect("write");
        assert_eq!(m.read(), None);
    }
}
