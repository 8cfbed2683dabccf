//! Carried patches over a dist-git repository's first-parent history, so the debt trend
//! exists from the first scan.
//!
//! Reads git objects through the `git` command (`git log --raw` for which spec blobs changed,
//! one `git cat-file --batch` process for their contents) instead of checking commits out.
//! We use the git CLI rather than `gix`/`git2`: every dist-git host has git, and either crate
//! would roughly double the build for two plumbing commands.

use super::spec;
use crate::model::Warning;
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Stdio;

/// One first-parent commit: sha, committer time, and `(spec path, new blob or None if deleted)`.
type CommitChanges = (String, i64, Vec<(String, Option<String>)>);

/// The carried patches of one package after one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPoint {
    pub package: String,
    pub commit: String,
    /// Committer time, seconds since the epoch.
    pub time: i64,
    pub patches: BTreeSet<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path} is not inside a git repository")]
    NotARepository { path: String },
    #[error("running git in {path}: {source}")]
    Git {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("git {what} in {path} failed: {stderr}")]
    GitFailed {
        path: String,
        what: String,
        stderr: String,
    },
}

/// Walks the first-parent history of the repository containing `dir` (only specs below
/// `dir`), oldest first, and returns a point each time a package's set of patches changed.
///
/// # Errors
/// When `dir` is not in a git repository or git fails; unparsable specs are warnings.
pub fn walk(
    dir: &Path,
    macros: &HashMap<String, String>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<HistoryPoint>, HistoryError> {
    let shown = dir.to_string_lossy().into_owned();
    let git = |args: &[&str]| -> Result<Vec<u8>, HistoryError> {
        // The one glob pathspec forkdebt writes is its own (`*.spec`), never a name from a tree.
        let out = crate::git::in_work_tree(dir)
            .env_remove("GIT_LITERAL_PATHSPECS")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| HistoryError::Git {
                path: shown.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(HistoryError::GitFailed {
                path: shown.clone(),
                what: args.first().copied().unwrap_or_default().to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    };
    match git(&["rev-parse", "--is-inside-work-tree"]) {
        Ok(o) if o.starts_with(b"true") => {}
        _ => return Err(HistoryError::NotARepository { path: shown }),
    }
    if git(&["rev-parse", "--verify", "-q", "HEAD"]).is_err() {
        return Ok(Vec::new()); // a repository with no commit yet
    }
    // Oldest first; for each commit the spec blobs it changed against its first parent.
    let log = git(&[
        "log",
        "--first-parent",
        "--reverse",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "--format=commit %H %ct",
        "--",
        "*.spec",
    ])?;
    let mut changes: Vec<CommitChanges> = Vec::new();
    for line in String::from_utf8_lossy(&log).lines() {
        if let Some(rest) = line.strip_prefix("commit ") {
            let mut it = rest.split(' ');
            let sha = it.next().unwrap_or_default().to_string();
            let time = it.next().and_then(|t| t.parse().ok()).unwrap_or(0);
            changes.push((sha, time, Vec::new()));
        } else if let Some(raw) = line.strip_prefix(':') {
            // :100644 100644 <old> <new> M\t<path>
            let Some((meta, path)) = raw.split_once('\t') else {
                continue;
            };
            let fields: Vec<&str> = meta.split(' ').collect();
            let (Some(new), Some(status)) = (fields.get(3), fields.get(4)) else {
                continue;
            };
            let blob = (!status.starts_with('D')).then(|| new.to_string());
            if let Some(last) = changes.last_mut() {
                last.2.push((path.to_string(), blob));
            }
        }
    }
    let mut reader = BlobReader::start(dir).map_err(|source| HistoryError::Git {
        path: shown.clone(),
        source,
    })?;
    // spec path -> (package name, patches) as of the current commit
    let mut current: HashMap<String, (String, BTreeSet<String>)> = HashMap::new();
    let mut parsed: HashMap<String, (String, BTreeSet<String>)> = HashMap::new();
    let mut points = Vec::new();
    for (commit, time, files) in changes {
        for (path, blob) in files {
            let before = current.get(&path).cloned();
            let after = match blob {
                Some(b) => {
                    if !parsed.contains_key(&b) {
                        let bytes = reader.read(&b).map_err(|source| HistoryError::Git {
                            path: shown.clone(),
                            source,
                        })?;
                        let label = format!("{path}@{}", &commit[..12.min(commit.len())]);
                        let s = spec::parse(&bytes, &label, macros, warnings);
                        let name = s
                            .name
                            .clone()
                            .filter(|n| !n.contains('%'))
                            .unwrap_or_else(|| stem(&path));
                        let files = s
                            .patches
                            .iter()
                            .map(|p| super::spec::patch_file_name(&p.value))
                            .collect();
                        parsed.insert(b.clone(), (name, files));
                    }
                    parsed.get(&b).cloned()
                }
                None => None,
            };
            if before == after {
                continue;
            }
            // A spec deleted or renamed to another package: the old package carries nothing.
            if let Some((name, _)) = &before
                && after.as_ref().is_none_or(|(n, _)| n != name)
            {
                points.push(HistoryPoint {
                    package: name.clone(),
                    commit: commit.clone(),
                    time,
                    patches: BTreeSet::new(),
                });
            }
            match after {
                Some((name, patches)) => {
                    points.push(HistoryPoint {
                        package: name.clone(),
                        commit: commit.clone(),
                        time,
                        patches: patches.clone(),
                    });
                    current.insert(path, (name, patches));
                }
                None => {
                    current.remove(&path);
                }
            }
        }
    }
    Ok(points)
}

fn stem(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.strip_suffix(".spec").unwrap_or(base).to_string()
}

/// One long-lived `git cat-file --batch`: a request per blob costs a pipe write, not a process.
struct BlobReader {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl BlobReader {
    fn start(dir: &Path) -> std::io::Result<BlobReader> {
        let mut child = crate::git::in_work_tree(dir)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| std::io::Error::other("no stdout"))?,
        );
        Ok(BlobReader {
            child,
            stdin,
            stdout,
        })
    }

    fn read(&mut self, blob: &str) -> std::io::Result<Vec<u8>> {
        writeln!(self.stdin, "{blob}")?;
        self.stdin.flush()?;
        let mut header = String::new();
        self.stdout.read_line(&mut header)?;
        // "<sha> blob <size>" or "<sha> missing"
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("git cat-file: {}", header.trim())))?;
        if size as u64 > super::MAX_FILE_BYTES {
            return Err(std::io::Error::other(format!(
                "blob {blob} is {size} bytes"
            )));
        }
        let mut buf = vec![0; size + 1]; // content and the trailing newline
        self.stdout.read_exact(&mut buf)?;
        buf.pop();
        Ok(buf)
    }
}

impl Drop for BlobReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
