//! Dist-git read from git objects: a repository's spec files and patches at a branch, through
//! one `git ls-tree` and one `git cat-file --batch` per repository, never a checkout. The
//! same spec scanner as for folders reads them ([`crate::inventory::scan_spec_bytes`]).

use crate::git::{Git, GitError, Result, stderr_message};
use crate::inventory::{self, Found, MAX_FILE_BYTES, ScanOptions};
use crate::model::{Package, Warning};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

/// What one repository held at the branch.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RepoScan {
    /// The commit read (`None`: the branch does not exist there).
    pub commit: Option<String>,
    pub packages: Vec<Package>,
    pub warnings: Vec<Warning>,
    /// Patch file contents by their shown path (for comparing with the base's), kept only
    /// when asked for.
    pub patch_bytes: HashMap<String, Vec<u8>>,
}

/// A tree entry: blob id and size.
struct Entry {
    oid: String,
    size: u64,
}

/// `git cat-file --batch`, kept open for a repository's reads.
struct Blobs {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Blobs {
    fn open(git: &Git, dir: &Path) -> Result<Blobs> {
        let mut child = git
            .command(dir)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| GitError::Failed {
                args: "cat-file --batch".into(),
                dir: dir.display().to_string(),
                message: e.to_string(),
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(GitError::Failed {
                args: "cat-file --batch".into(),
                dir: dir.display().to_string(),
                message: "its pipes could not be opened".into(),
            });
        };
        let stdout = BufReader::new(stdout);
        Ok(Blobs {
            child,
            stdin,
            stdout,
        })
    }

    fn read(&mut self, oid: &str) -> Option<Vec<u8>> {
        writeln!(self.stdin, "{oid}").ok()?;
        self.stdin.flush().ok()?;
        let mut header = String::new();
        self.stdout.read_line(&mut header).ok()?;
        // `<oid> blob <size>` or `<oid> missing`.
        let size: usize = header.trim().rsplit(' ').next()?.parse().ok()?;
        let mut body = vec![0; size + 1];
        self.stdout.read_exact(&mut body).ok()?;
        body.pop(); // the newline after the contents
        Some(body)
    }
}

impl Drop for Blobs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the packages of the repository `dir` at `branch`. `name` prefixes every shown path
/// (`systemd/systemd.spec`). With `keep_patches`, patch contents are returned too.
///
/// # Errors
/// git failed (the repository is unreadable, not empty).
pub fn scan_repo(
    git: &Git,
    dir: &Path,
    name: &str,
    branch: &str,
    opts: &ScanOptions,
    keep_patches: bool,
) -> Result<RepoScan> {
    let mut out = RepoScan::default();
    // One process for the branch's tip and its tree: `ls-tree` of a missing branch fails.
    let Some(commit) = tip(git, dir, branch) else {
        out.warnings.push(Warning {
            path: name.to_string(),
            line: None,
            message: format!("no branch `{branch}`"),
        });
        return Ok(out);
    };
    let listing = git.output(dir, &["ls-tree", "-r", "-l", "-z", &commit])?;
    let mut tree: HashMap<String, Entry> = HashMap::new();
    for rec in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rec = String::from_utf8_lossy(rec);
        // `<mode> <type> <oid> <size>\t<path>`; links and submodules are not read.
        let Some((meta, path)) = rec.split_once('\t') else {
            continue;
        };
        let parts: Vec<&str> = meta.split_whitespace().collect();
        if parts.len() < 4 || parts[1] != "blob" || parts[0] == "120000" {
            continue;
        }
        tree.insert(
            path.to_string(),
            Entry {
                oid: parts[2].to_string(),
                size: parts[3].parse().unwrap_or(u64::MAX),
            },
        );
    }
    let mut specs: Vec<&String> = tree.keys().filter(|p| p.ends_with(".spec")).collect();
    // A stray copy under sources/ never shadows the package's own spec.
    let own = specs
        .iter()
        .any(|p| !p.split('/').any(|c| c == "sources" || c == "SOURCES"));
    if own {
        specs.retain(|p| !p.split('/').any(|c| c == "sources" || c == "SOURCES"));
    }
    specs.sort();
    let mut blobs = Blobs::open(git, dir)?;
    let shown = |p: &str| format!("{name}/{p}");
    let kept = std::cell::RefCell::new(HashMap::new());
    for spec_path in specs {
        let entry = &tree[spec_path];
        if entry.size > MAX_FILE_BYTES {
            out.warnings.push(Warning {
                path: shown(spec_path),
                line: None,
                message: format!(
                    "{} bytes is more than the {MAX_FILE_BYTES} read; skipped",
                    entry.size
                ),
            });
            continue;
        }
        let Some(bytes) = blobs.read(&entry.oid) else {
            return Err(GitError::Failed {
                args: "cat-file --batch".into(),
                dir: dir.display().to_string(),
                message: format!("cannot read {spec_path}"),
            });
        };
        let spec_dir = spec_path
            .rsplit_once('/')
            .map_or("", |(d, _)| d)
            .to_string();
        let stem = spec_path
            .rsplit('/')
            .next()
            .unwrap_or(spec_path)
            .trim_end_matches(".spec")
            .to_string();
        let blobs_cell = std::cell::RefCell::new(&mut blobs);
        let lookup = |file: &str, warnings: &mut Vec<Warning>| {
            if file.starts_with('/') || file.split('/').any(|c| c == "..") {
                return Found::Refused("it leaves the package folder".into());
            }
            for d in inventory::patch_dirs(&spec_dir) {
                let path = if d.is_empty() {
                    file.to_string()
                } else {
                    format!("{d}/{file}")
                };
                let Some(e) = tree.get(&path) else { continue };
                let rel = shown(&path);
                if e.size > MAX_FILE_BYTES {
                    warnings.push(Warning {
                        path: rel.clone(),
                        line: None,
                        message: format!(
                            "{} bytes is more than the {MAX_FILE_BYTES} read; skipped",
                            e.size
                        ),
                    });
                    return Found::File(rel, None);
                }
                let bytes = blobs_cell.borrow_mut().read(&e.oid);
                if keep_patches && let Some(b) = &bytes {
                    kept.borrow_mut().insert(rel.clone(), b.clone());
                }
                return Found::File(rel, bytes);
            }
            Found::Missing
        };
        if let Some(pkg) = inventory::scan_spec_bytes(
            &bytes,
            &shown(spec_path),
            &stem,
            opts,
            &lookup,
            &mut out.warnings,
        ) {
            out.packages.push(pkg);
        }
    }
    out.patch_bytes = kept.into_inner();
    out.commit = Some(commit);
    Ok(out)
}

/// The commit `branch` points at, read from the ref files (no process for a loose or
/// packed ref; `None` when there is no such branch).
pub fn tip(git: &Git, dir: &Path, branch: &str) -> Option<String> {
    let loose = dir.join("refs/heads").join(branch);
    if let Ok(s) = std::fs::read_to_string(&loose) {
        let s = s.trim();
        if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(s.to_string());
        }
    }
    if let Ok(packed) = std::fs::read_to_string(dir.join("packed-refs")) {
        let want = format!("refs/heads/{branch}");
        if let Some(sha) = packed
            .lines()
            .find_map(|l| l.strip_suffix(want.as_str()).map(str::trim))
            .filter(|s| s.len() == 40)
        {
            return Some(sha.to_string());
        }
    }
    git.lines(
        dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}^{{commit}}"),
        ],
        None,
    )
    .ok()
    .and_then(|l| l.into_iter().next())
}

/// Fetches only `branch` of `url` into its mirror under `cache_dir` (`shallow`: its tip only),
/// or reads a local repository in place. Returns the git folder.
///
/// # Errors
/// The clone or fetch failed.
pub fn open_branch(
    git: &Git,
    spec: &str,
    cache_dir: &Path,
    branch: &str,
    shallow: bool,
) -> Result<std::path::PathBuf> {
    use crate::git::RepoSpec;
    let url = match RepoSpec::parse(spec) {
        RepoSpec::Local(_) => return crate::git::open_repository(git, spec, cache_dir),
        RepoSpec::Remote(url) => url,
    };
    let dir = crate::git::mirror_path(&url, cache_dir);
    let new = !dir.join("HEAD").exists();
    if new {
        std::fs::create_dir_all(&dir).map_err(|e| GitError::Failed {
            args: "init --bare".into(),
            dir: dir.display().to_string(),
            message: e.to_string(),
        })?;
        git.output(&dir, &["init", "--bare", "--quiet"])?;
        git.output(&dir, &["remote", "add", "--", "origin", &url])?;
    }
    let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
    let mut args = vec!["fetch", "--quiet", "--no-tags"];
    // Shallow the first time only: later fetches add what came since (a `--depth=1` fetch
    // would send the tip again every time).
    if shallow && new {
        args.push("--depth=1");
    }
    args.extend(["origin", &refspec]);
    let out = git
        .command(&dir)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| GitError::Failed {
            args: args.join(" "),
            dir: url.clone(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: "fetch".into(),
            dir: crate::git::redact_userinfo(&url),
            message: stderr_message(&out.stderr, out.status),
        });
    }
    Ok(dir)
}
