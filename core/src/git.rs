//! Running the system `git`: plumbing commands only, no checkouts, no user configuration
//! leaking into what is computed (diff algorithm, renames, colour).
//!
//! Why not libgit2/gitoxide: the matcher must agree with `git patch-id --stable`, `git cherry`
//! and `git merge-tree` exactly as the maintainer's own git computes them, and a forge mirror
//! is fetched the way the maintainer would fetch it (credentials helpers, proxies).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// git versions whose `patch-id` is known to give wrong ids (2.46.1 hashed diffs of
/// files without a trailing newline differently; fixed in 2.46.2).
const BROKEN_PATCH_ID: &[&str] = &["2.46.1"];
/// `merge-tree --write-tree --stdin` with a `<base> -- <a> <b>` line needs 2.42.
const MIN_VERSION: (u32, u32) = (2, 42);

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run `git` ({0}); install git 2.42 or later")]
    Missing(std::io::Error),
    #[error(
        "git {0} computes wrong patch-ids (a known bug of that release); install another version"
    )]
    BrokenPatchId(String),
    #[error("git {0} is too old: forkdebt needs 2.42 or later (`merge-tree --stdin`)")]
    TooOld(String),
    #[error("`git {args}` in {dir} failed: {message}")]
    Failed {
        args: String,
        dir: String,
        message: String,
    },
}

pub type Result<T> = std::result::Result<T, GitError>;

/// git processes this process has started (for `forkdebt scan`'s summary and the benches).
static SPAWNED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many git processes this process has started so far.
pub fn processes_spawned() -> usize {
    SPAWNED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The system git, checked once.
#[derive(Debug, Clone)]
pub struct Git {
    /// `2.47.3`: patch-ids are cached per version.
    pub version: String,
    user_agent: Option<String>,
}

impl Git {
    /// Finds `git`, refuses a version whose patch-id is broken or that is too old.
    ///
    /// # Errors
    /// [`GitError::Missing`], [`GitError::BrokenPatchId`], [`GitError::TooOld`].
    pub fn detect(user_agent: Option<String>) -> Result<Git> {
        let out = Command::new("git")
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(GitError::Missing)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = parse_version(&text).unwrap_or_default();
        check_version(&version)?;
        Ok(Git {
            version,
            user_agent,
        })
    }

    /// A `git` command on the repository `dir` (a bare repository or a `.git` folder).
    pub fn command(&self, dir: &Path) -> Command {
        let mut c = hardened();
        c.arg("--git-dir").arg(dir);
        if let Some(ua) = &self.user_agent {
            c.arg("-c").arg(format!("http.userAgent={ua}"));
        }
        c
    }

    /// Runs `git args` in `dir` and returns its standard output.
    ///
    /// # Errors
    /// [`GitError::Failed`] naming the command, the repository and git's own message.
    pub fn output(&self, dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
        self.output_with_input(dir, args, None)
    }

    /// As [`Git::output`], writing `input` to git's standard input (from another thread, so
    /// a large input and a large output cannot block each other).
    ///
    /// # Errors
    /// [`GitError::Failed`].
    pub fn output_with_input(
        &self,
        dir: &Path,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        let fail = |message: String| GitError::Failed {
            args: args.join(" "),
            dir: dir.display().to_string(),
            message,
        };
        let mut child = self
            .command(dir)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(e.to_string()))?;
        let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(fail("git's output could not be read".into()));
        };
        let stdin = child.stdin.take();
        let (out, err) = std::thread::scope(|s| {
            if let (Some(mut w), Some(bytes)) = (stdin, input) {
                s.spawn(move || {
                    // git may stop reading early (an error); its message says why.
                    let _ = w.write_all(bytes);
                });
            }
            let err = s.spawn(move || {
                let mut e = Vec::new();
                let _ = stderr.read_to_end(&mut e);
                e
            });
            let mut out = Vec::new();
            let read = stdout.read_to_end(&mut out);
            (read.map(|_| out), err.join().unwrap_or_default())
        });
        let status = child.wait().map_err(|e| fail(e.to_string()))?;
        let out = out.map_err(|e| fail(e.to_string()))?;
        if !status.success() {
            return Err(fail(stderr_message(&err, status)));
        }
        Ok(out)
    }

    /// Standard output as text, one entry per non-empty line.
    ///
    /// # Errors
    /// [`GitError::Failed`].
    pub fn lines(&self, dir: &Path, args: &[&str], input: Option<&[u8]>) -> Result<Vec<String>> {
        let out = self.output_with_input(dir, args, input)?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }
}

/// `git` as forkdebt runs it everywhere: no prompt, no pager, no user configuration that
/// changes what is computed or written, paths as names. The one place a git process is made.
fn hardened() -> Command {
    SPAWNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut c = Command::new("git");
    // Never ask for a password on a terminal; never page; the same diff as anyone's.
    c.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C")
        // A path from a spec or a tree is a name, never a pattern (`000?-*.patch`).
        .env("GIT_LITERAL_PATHSPECS", "1")
        .args(["-c", "core.quotePath=true", "-c", "diff.noprefix=false"])
        .args([
            "-c",
            "diff.mnemonicPrefix=false",
            "-c",
            "log.showSignature=false",
            // A proposal's commit is for review; a signing key the user lacks must not fail it.
            "-c",
            "commit.gpgsign=false",
        ]);
    c
}

/// A `git` command in the work tree (or repository) `dir`, as `git -C dir`.
pub fn in_work_tree(dir: &Path) -> Command {
    let mut c = hardened();
    c.arg("-C").arg(dir);
    c
}

/// Runs `git -C dir args` and returns its standard output, trimmed.
///
/// # Errors
/// [`GitError::Missing`] when git cannot run, [`GitError::Failed`] with git's message.
pub fn run_in_work_tree(dir: &Path, args: &[&str]) -> Result<String> {
    let out = in_work_tree(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Missing)?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            dir: dir.display().to_string(),
            message: stderr_message(&out.stderr, out.status),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// git's last lines of complaint, without credentials a URL might carry.
pub(crate) fn stderr_message(err: &[u8], status: std::process::ExitStatus) -> String {
    let text = String::from_utf8_lossy(err);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join("; ");
    let tail = crate::git::redact_userinfo(&tail);
    if tail.is_empty() {
        format!("exit status {status}")
    } else {
        tail
    }
}

/// `https://user:token@host/x` -> `https://***@host/x`: git echoes remote URLs in errors.
pub fn redact_userinfo(text: &str) -> String {
    static_regex!(USERINFO, r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@");
    USERINFO.replace_all(text, "${1}***@").into_owned()
}

/// `git version 2.47.3` -> `2.47.3`.
fn parse_version(text: &str) -> Option<String> {
    let v = text.trim().strip_prefix("git version ")?;
    Some(v.split_whitespace().next()?.to_string())
}

fn check_version(version: &str) -> Result<()> {
    if BROKEN_PATCH_ID.contains(&version) {
        return Err(GitError::BrokenPatchId(version.to_string()));
    }
    let mut parts = version.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    });
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    if (major, minor) < MIN_VERSION {
        return Err(GitError::TooOld(version.to_string()));
    }
    Ok(())
}

/// Where a repository named in the configuration is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSpec {
    /// A local repository, read in place (never fetched into, never written).
    Local(PathBuf),
    /// A remote repository, kept as a bare mirror under the cache folder.
    Remote(String),
}

impl RepoSpec {
    /// `https://`, `ssh://`, `git://` and `user@host:path` are remote; `file://` and plain
    /// paths are local.
    pub fn parse(spec: &str) -> RepoSpec {
        if let Some(path) = spec.strip_prefix("file://") {
            return RepoSpec::Local(PathBuf::from(path));
        }
        let scp_like = !spec.contains("://")
            && spec
                .split_once(':')
                .is_some_and(|(host, _)| host.contains('@') && !host.contains('/'));
        if spec.contains("://") || scp_like {
            RepoSpec::Remote(spec.to_string())
        } else {
            RepoSpec::Local(PathBuf::from(spec))
        }
    }
}

/// The git folder of `spec`: a local repository's own, or a bare mirror under `cache_dir`
/// created or fetched (heads and tags only) now.
///
/// # Errors
/// A local path that is not a repository, or a clone/fetch that failed.
pub fn open_repository(git: &Git, spec: &str, cache_dir: &Path) -> Result<PathBuf> {
    open_repository_with(git, spec, cache_dir, false)
}

/// As [`open_repository`]; a `blobless` mirror (`--filter=blob:none`) keeps commits and trees
/// only: enough for releases and existence, a fraction of the size.
///
/// # Errors
/// As [`open_repository`].
pub fn open_repository_with(
    git: &Git,
    spec: &str,
    cache_dir: &Path,
    blobless: bool,
) -> Result<PathBuf> {
    match RepoSpec::parse(spec) {
        RepoSpec::Local(path) => local_git_dir(git, &path),
        RepoSpec::Remote(url) => mirror(git, &url, cache_dir, blobless),
    }
}

fn local_git_dir(git: &Git, path: &Path) -> Result<PathBuf> {
    let out = in_work_tree(path)
        .args(["rev-parse", "--absolute-git-dir"])
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Missing)?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: "rev-parse --absolute-git-dir".into(),
            dir: path.display().to_string(),
            message: format!(
                "not a git repository ({})",
                stderr_message(&out.stderr, out.status)
            ),
        });
    }
    let _ = git;
    Ok(PathBuf::from(
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    ))
}

/// `https://host/group/repo.git` -> `<cache>/mirrors/host/group/repo.git`.
pub fn mirror_path(url: &str, cache_dir: &Path) -> PathBuf {
    let no_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let no_user = no_scheme
        .split_once('@')
        .filter(|(user, _)| !user.contains('/'))
        .map_or(no_scheme, |(_, rest)| rest);
    let mut p = cache_dir.join("mirrors");
    // `host:port/path` keeps its port in the host folder; scp-like `host:path` splits.
    let separators: &[char] = if url.contains("://") {
        &['/']
    } else {
        &['/', ':']
    };
    for part in no_user.split(separators).filter(|s| !s.is_empty()) {
        // Only plain names: a URL cannot walk out of the cache folder.
        let safe: String = part
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if safe == "." || safe == ".." {
            continue;
        }
        p.push(safe);
    }
    if p.extension().is_none_or(|e| e != "git") {
        p.set_extension("git");
    }
    p
}

fn mirror(git: &Git, url: &str, cache_dir: &Path, blobless: bool) -> Result<PathBuf> {
    let dir = mirror_path(url, cache_dir);
    let fail = |message: String| GitError::Failed {
        args: "init --bare".into(),
        dir: dir.display().to_string(),
        message,
    };
    if !dir.join("HEAD").exists() {
        std::fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
        git.output(&dir, &["init", "--bare", "--quiet"])?;
        git.output(&dir, &["remote", "add", "--", "origin", url])?;
        if blobless {
            git.output(&dir, &["config", "remote.origin.promisor", "true"])?;
            git.output(
                &dir,
                &["config", "remote.origin.partialclonefilter", "blob:none"],
            )?;
        }
    }
    // Heads and tags only: a forge's pull-request refs would multiply the mirror.
    git.output(
        &dir,
        &[
            "fetch",
            "--quiet",
            "--prune",
            "--no-tags",
            "origin",
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
        ],
    )?;
    Ok(dir)
}

/// A scratch bare repository that sees the objects of `sources` through git alternates, so
/// commands that need a fork and its upstream together run without copying either (and
/// `merge-tree` writes its trees here, never into a repository we only read).
///
/// # Errors
/// The folder cannot be created.
pub fn workspace(git: &Git, dir: &Path, sources: &[&Path]) -> Result<PathBuf> {
    let fail = |message: String| GitError::Failed {
        args: "init --bare".into(),
        dir: dir.display().to_string(),
        message,
    };
    if !dir.join("HEAD").exists() {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        git.output(dir, &["init", "--bare", "--quiet"])?;
    }
    let alternates: String = sources
        .iter()
        .map(|s| format!("{}\n", s.join("objects").display()))
        .collect();
    let info = dir.join("objects").join("info");
    std::fs::create_dir_all(&info).map_err(|e| fail(e.to_string()))?;
    std::fs::write(info.join("alternates"), alternates).map_err(|e| fail(e.to_string()))?;
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("git version 2.47.3\n").as_deref(),
            Some("2.47.3")
        );
        assert!(matches!(
            check_version("2.46.1"),
            Err(GitError::BrokenPatchId(_))
        ));
        assert!(check_version("2.46.2").is_ok());
        assert!(check_version("2.39.5").is_err());
        assert!(check_version("2.43.0.windows.1").is_ok());
    }

    #[test]
    fn repo_specs() {
        assert_eq!(
            RepoSpec::parse("https://github.com/systemd/systemd.git"),
            RepoSpec::Remote("https://github.com/systemd/systemd.git".into())
        );
        assert_eq!(
            RepoSpec::parse("git@gitlab.com:CentOS/x.git"),
            RepoSpec::Remote("git@gitlab.com:CentOS/x.git".into())
        );
        assert_eq!(
            RepoSpec::parse("file:///srv/git/x"),
            RepoSpec::Local("/srv/git/x".into())
        );
        assert_eq!(RepoSpec::parse("../x"), RepoSpec::Local("../x".into()));
        let p = mirror_path(
            "https://tok:en@github.com/../../etc/systemd.git",
            Path::new("/c"),
        );
        assert_eq!(p, Path::new("/c/mirrors/github.com/etc/systemd.git"));
        assert_eq!(
            mirror_path("http://127.0.0.1:8080/fork", Path::new("/c")),
            Path::new("/c/mirrors/127.0.0.1_8080/fork.git")
        );
        assert_eq!(
            mirror_path("git@gitlab.com:CentOS/x.git", Path::new("/c")),
            Path::new("/c/mirrors/gitlab.com/CentOS/x.git")
        );
        assert_eq!(
            redact_userinfo("fatal: https://u:secret@host/x not found"),
            "fatal: https://***@host/x not found"
        );
    }
}
