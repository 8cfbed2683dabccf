//! The demo's small fork, generated with real git in a work folder beside the demo database:
//! an upstream PyGithub with tags v1.53..v1.55 and a fork branch `hs-v1.53` carrying three
//! commits — a cherry-pick that a later release makes droppable (and whose upstream follow-up
//! fix the fork lacks), the same change as an upstream commit without any trailer, and a
//! local-only commit with a `Link:` to its pull request.

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};

/// The work folder beside `forkdebt-demo.db`.
pub const WORK_DIR: &str = "forkdebt-demo-git";

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = forkdebt_core::git::in_work_tree(dir)
        .args([
            "-c",
            "user.name=Demo Dev",
            "-c",
            "user.email=dev@example.org",
        ])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        // The same shas on every run.
        .env("GIT_AUTHOR_DATE", "2024-03-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-03-01T12:00:00Z")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .context("running git (the demo's fork needs git installed)")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn write(dir: &Path, file: &str, text: &str) -> anyhow::Result<()> {
    let path = dir.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, text).with_context(|| path.display().to_string())
}

const REQUESTER: &str = "class Requester:\n    def request(self, verb, url):\n        response = self.session.request(verb, url)\n        return response\n\n    def per_page(self):\n        return 30\n";
const PAGINATED: &str = "class PaginatedList:\n    def next_url(self, headers):\n        links = headers[\"link\"]\n        return parse(links)\n";

/// Copies the demo's dist-git folders into one git repository `WORK_DIR/distgit` (committed),
/// so `forkdebt propose` works on it right after the demo. Returns its folder.
pub fn distgit_repo(sources: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let work = std::env::current_dir()?.join(WORK_DIR);
    let _ = std::fs::remove_dir_all(&work);
    let repo = work.join("distgit");
    for s in sources {
        copy_tree(s, &repo)?;
    }
    git(&repo, &["init", "-q"])?;
    git(&repo, &["add", "."])?;
    git(
        &repo,
        &[
            "commit",
            "-qm",
            "The demo dist-git (sample/distgit and sample/recorded/distgit)",
        ],
    )?;
    Ok(repo)
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| from.display().to_string())? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| target.display().to_string())?;
        }
    }
    Ok(())
}

/// Creates (anew) the upstream and the fork; returns their folders.
pub fn generate() -> anyhow::Result<(PathBuf, PathBuf)> {
    let work = std::env::current_dir()?.join(WORK_DIR);
    let _ = std::fs::remove_dir_all(work.join("PyGithub"));
    let _ = std::fs::remove_dir_all(work.join("python-github-hs"));
    let up = work.join("PyGithub");
    std::fs::create_dir_all(&up)?;
    git(&up, &["init", "-q"])?;
    write(&up, "github/Requester.py", REQUESTER)?;
    write(&up, "github/PaginatedList.py", PAGINATED)?;
    git(&up, &["add", "."])?;
    git(&up, &["commit", "-qm", "Release 1.53"])?;
    git(&up, &["tag", "v1.53"])?;
    // v1.54: retry on 502.
    write(
        &up,
        "github/Requester.py",
        &REQUESTER.replace(
            "        return response\n",
            "        if response.status_code == 502:\n            response = self.session.request(verb, url)\n        return response\n",
        ),
    )?;
    git(
        &up,
        &["commit", "-qam", "Retry requests once on 502 Bad Gateway"],
    )?;
    let retry = git(&up, &["rev-parse", "HEAD"])?;
    git(&up, &["tag", "v1.54"])?;
    // v1.55: an empty Link header, and the follow-up fix of the retry.
    write(
        &up,
        "github/PaginatedList.py",
        &PAGINATED.replace(
            "        links = headers[\"link\"]\n",
            "        links = headers.get(\"link\")\n        if not links:\n            return None\n",
        ),
    )?;
    git(
        &up,
        &[
            "commit",
            "-qam",
            "Handle a missing Link header in pagination",
        ],
    )?;
    let text = std::fs::read_to_string(up.join("github/Requester.py"))?;
    write(
        &up,
        "github/Requester.py",
        &text.replace(
            "        if response.status_code == 502:\n",
            "        if response.status_code == 502 and verb == \"GET\":\n",
        ),
    )?;
    git(
        &up,
        &[
            "commit",
            "-qam",
            &format!(
                "Never retry a POST on 502\n\nRetrying a POST can create an object twice.\n\nFixes: {}\n",
                &retry[..12]
            ),
        ],
    )?;
    git(&up, &["tag", "v1.55"])?;

    // The fork, off v1.53.
    let fork = work.join("python-github-hs");
    git(&work, &["clone", "-q", "PyGithub", "python-github-hs"])?;
    git(&fork, &["checkout", "-q", "-b", "hs-v1.53", "v1.53"])?;
    git(&fork, &["cherry-pick", "-x", &retry])?;
    write(
        &fork,
        "github/PaginatedList.py",
        &PAGINATED.replace(
            "        links = headers[\"link\"]\n",
            "        links = headers.get(\"link\")\n        if not links:\n            return None\n",
        ),
    )?;
    git(
        &fork,
        &[
            "commit",
            "-qam",
            "Backport: pagination without a Link header (INC-2291)",
        ],
    )?;
    let text = std::fs::read_to_string(fork.join("github/Requester.py"))?;
    write(
        &fork,
        "github/Requester.py",
        &text.replace("        return 30\n", "        return 100\n"),
    )?;
    git(
        &fork,
        &[
            "commit",
            "-qam",
            "hs: ask for 100 items per page\n\nOur API gateway counts requests, not items.\n\nLink: https://github.com/PyGithub/PyGithub/pull/2871\n",
        ],
    )?;
    Ok((up, fork))
}
