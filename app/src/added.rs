//! When a dist-git first had each file: to tell a patch the base took from us (we had it
//! first) from one we took from the base. One `git log --diff-filter=A` per repository, read
//! the first time a file of it is asked about; most scans ask about none.

use forkdebt_core::git::{self, Git};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// `path in the repository → (commit time, commit)` of the oldest commit adding it.
type Index = HashMap<String, (i64, String)>;

/// Where the files of one shown-path prefix live.
#[derive(Clone)]
struct Repo {
    /// The git folder.
    dir: PathBuf,
    rev: String,
    /// Put before the rest of the shown path to make a path in the repository.
    prefix: String,
    /// A base mirror read shallow: deepened before its history is read.
    fetch_branch: Option<String>,
}

/// The dist-gits a scan compared: ours (by package or by folder) and each base's.
pub struct FirstAdded {
    /// `None`: git cannot run here, and no date is known.
    git: Option<Git>,
    /// `(distro or "" for ours, shown-path first segment)`.
    repos: HashMap<(String, String), Repo>,
    /// Ours read from folders: `(folder, its git folder, prefix in the repository)`.
    folders: Vec<(PathBuf, PathBuf, String)>,
    read: Mutex<HashMap<PathBuf, Arc<Index>>>,
}

impl FirstAdded {
    pub fn new(git: Option<Git>) -> FirstAdded {
        FirstAdded {
            git,
            repos: HashMap::new(),
            folders: Vec::new(),
            read: Mutex::new(HashMap::new()),
        }
    }

    /// A repository whose files are shown as `name/…`: the downstream's (`distro` `None`) or
    /// a base's, read at `branch`.
    pub fn add_repo(&mut self, distro: Option<&str>, name: &str, dir: PathBuf, branch: &str) {
        let shallow = dir.join("shallow").exists();
        self.repos.insert(
            (distro.unwrap_or_default().to_string(), name.to_string()),
            Repo {
                dir,
                rev: format!("refs/heads/{branch}"),
                prefix: String::new(),
                fetch_branch: shallow.then(|| branch.to_string()),
            },
        );
    }

    /// A scanned folder of ours, if it is inside a git work tree (else its dates are unknown).
    pub fn add_folder(&mut self, root: &Path) {
        let Some(Ok(dir)) = self
            .git
            .as_ref()
            .map(|g| git::open_repository(g, &root.display().to_string(), root))
        else {
            return;
        };
        let prefix =
            git::run_in_work_tree(root, &["rev-parse", "--show-prefix"]).unwrap_or_default();
        self.folders.push((root.to_path_buf(), dir, prefix));
    }

    /// When `shown` (`package/file`) was first added to the downstream's (`distro` `None`)
    /// or the base's dist-git.
    pub fn first_added(&self, distro: Option<&str>, shown: &str) -> Option<(i64, String)> {
        let (repo, path) = match distro {
            Some(d) => {
                let (name, rest) = shown.split_once('/')?;
                (
                    self.repos.get(&(d.to_string(), name.to_string()))?.clone(),
                    rest,
                )
            }
            None => match shown.split_once('/').and_then(|(name, rest)| {
                Some((self.repos.get(&(String::new(), name.to_string()))?, rest))
            }) {
                Some((repo, rest)) => (repo.clone(), rest),
                None => {
                    let (_, dir, prefix) = self
                        .folders
                        .iter()
                        .find(|(root, _, _)| root.join(shown).is_file())?;
                    (
                        Repo {
                            dir: dir.clone(),
                            rev: "HEAD".into(),
                            prefix: prefix.clone(),
                            fetch_branch: None,
                        },
                        shown,
                    )
                }
            },
        };
        let index = self.index(&repo)?;
        index.get(&format!("{}{path}", repo.prefix)).cloned()
    }

    fn index(&self, repo: &Repo) -> Option<Arc<Index>> {
        let git = self.git.as_ref()?;
        let mut read = self.read.lock().ok()?;
        if let Some(i) = read.get(&repo.dir) {
            return Some(i.clone());
        }
        if let Some(branch) = &repo.fetch_branch {
            // Only the tip was fetched (a base read for its patches): its history now, for
            // this repository alone. A failure leaves the dates unknown.
            let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
            let _ = git.output(
                &repo.dir,
                &[
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--unshallow",
                    "origin",
                    &refspec,
                ],
            );
        }
        let out = git
            .output(
                &repo.dir,
                &[
                    "log",
                    "--no-renames",
                    "--diff-filter=A",
                    "--name-only",
                    "-z",
                    "--format=%x01%H %ct",
                    &repo.rev,
                    "--",
                ],
            )
            .unwrap_or_default();
        let index = Arc::new(parse_log(&String::from_utf8_lossy(&out)));
        read.insert(repo.dir.clone(), index.clone());
        Some(index)
    }
}

/// `\x01sha time\0\nfile\0file\0…`, newest first: the last commit naming a file is its oldest.
fn parse_log(out: &str) -> Index {
    let mut index = Index::new();
    for chunk in out.split('\u{1}').filter(|c| !c.is_empty()) {
        let mut parts = chunk.split('\0');
        let Some((sha, time)) = parts.next().and_then(|h| h.split_once(' ')) else {
            continue;
        };
        let Ok(time) = time.trim().parse::<i64>() else {
            continue;
        };
        for file in parts
            .map(|f| f.trim_start_matches('\n'))
            .filter(|f| !f.is_empty())
        {
            index.insert(file.to_string(), (time, sha.to_string()));
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::parse_log;

    #[test]
    fn the_oldest_commit_adding_a_file_wins() {
        let out = "\u{1}bbb 200\0\nd/c\0a b.patch\0\u{1}aaa 100\0\na b.patch\0";
        let index = parse_log(out);
        assert_eq!(index["a b.patch"], (100, "aaa".to_string()));
        assert_eq!(index["d/c"], (200, "bbb".to_string()));
        assert!(parse_log("garbage\0").is_empty());
    }
}
