//! Upstream projects answered from git: a mirror says whether a commit exists upstream at
//! all (a PR-branch sha that upstream never merged is not "released"), and which release tag
//! first contains it, without asking the forge's API.

use crate::evr::vercmp;
use crate::git::{Git, Result};
use regex::Regex;
use std::path::PathBuf;

/// One upstream project with its repository on disk.
#[derive(Debug, Clone)]
pub struct Mirror {
    /// The prefix of its reference ids: `systemd/systemd` (GitHub), `group/project` (GitLab).
    pub project: String,
    pub dir: PathBuf,
    /// Group 1 is the release version (several groups are joined by `.`).
    pub release_tags: Regex,
    /// Without a configured pattern: the scheme inferred from upstream's own tags, which
    /// reads them instead of `release_tags`.
    pub scheme: Option<crate::releases::Scheme>,
    /// Where derived answers about this mirror are remembered between scans.
    pub memo_dir: Option<PathBuf>,
}

impl Mirror {
    /// Whether this mirror is `project` (forges compare names in any case).
    pub fn serves(&self, project: &str) -> bool {
        self.project.eq_ignore_ascii_case(project)
    }

    /// The release version `tag` stands for: by the inferred scheme, else by the pattern.
    /// Pre-releases and other components' tags are none.
    pub fn version_of(&self, tag: &str) -> Option<String> {
        if let Some(s) = &self.scheme {
            return s.release(tag);
        }
        let c = self.release_tags.captures(tag)?;
        let parts: Vec<&str> = c.iter().skip(1).flatten().map(|m| m.as_str()).collect();
        (!parts.is_empty()).then(|| parts.join("."))
    }

    /// The full sha `id` (a sha or its prefix) names, if upstream has such a commit.
    ///
    /// # Errors
    /// git could not run.
    pub fn resolve(&self, git: &Git, id: &str) -> Result<Option<String>> {
        if !crate::inventory::refs::is_sha(id) {
            return Ok(None);
        }
        // A missing commit is an answer, not an error.
        Ok(git
            .lines(
                &self.dir,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{id}^{{commit}}"),
                ],
                None,
            )
            .ok()
            .and_then(|l| l.into_iter().next()))
    }

    /// Every commit a branch or tag of upstream contains (not those only on a pull request
    /// ref, nor unreferenced objects). One history walk answers every "is it on a branch?"
    /// of a scan: `for-each-ref --contains` per commit cost 0.15 s each on CUPS.
    ///
    /// # Errors
    /// git could not run.
    pub fn on_branches_and_tags(&self, git: &Git) -> Result<std::collections::HashSet<String>> {
        Ok(git
            .lines(&self.dir, &["rev-list", "--branches", "--tags"], None)?
            .into_iter()
            .collect())
    }

    /// The oldest upstream commit on a branch or tag whose message names request or issue `n`
    /// as what it fixes, closes, replaces or supersedes (`Fixes #N`, `Closes: owner/repo#N`),
    /// or links it (`…/pull/N`, `…/issues/N`): the change of a request closed unmerged that
    /// landed another way, the fix of an issue.
    ///
    /// # Errors
    /// git could not run.
    pub fn commit_naming_request(&self, git: &Git, n: u64) -> Result<Option<String>> {
        // POSIX ERE (git's -E): no \b, so a number ends at a non-digit or the line's end.
        let words = format!(
            "(fix(e[sd])?|close[sd]?|resolve[sd]?|replace[sd]?|supersede[sd]?)[: ]+([-A-Za-z0-9_.]+/[-A-Za-z0-9_.]+)?#{n}([^0-9]|$)"
        );
        // GitHub numbers issues and pull requests in one sequence: `#N` is one of them.
        let url = format!("/(pull|issues)/{n}([^0-9]|$)");
        let found = git.lines(
            &self.dir,
            &[
                "log",
                "--branches",
                "--tags",
                "--format=%H",
                "-i",
                "-E",
                "--grep",
                &words,
                "--grep",
                &url,
            ],
            None,
        )?;
        Ok(found.last().cloned())
    }

    /// The release tag whose version is `version` (`254` -> `v254`), if upstream has one.
    ///
    /// # Errors
    /// git could not run.
    pub fn release_tag_of(&self, git: &Git, version: &str) -> Result<Option<String>> {
        if version.is_empty() {
            return Ok(None);
        }
        let tags = git.lines(&self.dir, &["tag", "--list"], None)?;
        Ok(tags
            .into_iter()
            .find(|t| self.version_of(t).is_some_and(|v| v == version)))
    }

    /// When each tag was made, RFC 3339 in its maker's zone: the tagger's date of an
    /// annotated tag, the commit's of a lightweight one. One `for-each-ref` for all tags.
    ///
    /// # Errors
    /// git could not run.
    pub fn tag_dates(&self, git: &Git) -> Result<std::collections::HashMap<String, String>> {
        let lines = git.lines(
            &self.dir,
            &[
                "for-each-ref",
                "--format=%(creatordate:iso-strict) %(refname:strip=2)",
                "refs/tags/",
            ],
            None,
        )?;
        Ok(lines
            .into_iter()
            .filter_map(|l| {
                let (date, name) = l.split_once(' ')?;
                (!date.is_empty()).then(|| (name.to_string(), date.to_string()))
            })
            .collect())
    }

    /// The lowest-version release tag that contains `sha` (stable-branch tags included).
    ///
    /// # Errors
    /// git could not run.
    pub fn first_release(&self, git: &Git, sha: &str) -> Result<Option<String>> {
        let tags = git.lines(
            &self.dir,
            &["tag", "--contains", sha, "--format=%(refname:strip=2)"],
            None,
        )?;
        Ok(tags
            .into_iter()
            .filter_map(|t| {
                let v = self.version_of(&t)?;
                Some((v, t))
            })
            .min_by(|a, b| vercmp(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)))
            .map(|(_, t)| t))
    }
}

/// An upstream repository forkdebt may mirror, from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorSpec {
    pub project: String,
    /// URL or local path.
    pub repo: String,
    pub release_tags: String,
    /// No pattern was configured: infer the scheme from the tags, for these names (the
    /// repository's, the `[[upstream]]`'s and its packages').
    pub infer_for: Option<Vec<String>>,
    /// Only commits and trees (releases and existence), no file contents.
    pub blobless: bool,
}

/// The upstream repositories named in the configuration: every `[[upstream]]`, and the
/// upstream of every `[[fork]]` whose URL names its forge project.
pub fn configured(config: &crate::config::Config) -> Vec<MirrorSpec> {
    let mut out: Vec<MirrorSpec> = config
        .upstream
        .iter()
        .filter_map(|u| {
            let project = u.forge.project()?;
            let names = std::iter::once(repo_name(&project).to_string())
                .chain(std::iter::once(u.name.clone()))
                .chain(u.packages.iter().cloned())
                .collect();
            Some(MirrorSpec {
                infer_for: u.release_tags.is_none().then_some(names),
                project,
                repo: u.repo.clone(),
                release_tags: u.release_tags().to_string(),
                blobless: false,
            })
        })
        .collect();
    for f in &config.fork {
        let Some(project) = crate::inventory::project::from_url(&f.upstream)
            .as_ref()
            .and_then(crate::forge::ForgeProject::of_upstream)
            .and_then(|p| p.project())
        else {
            continue;
        };
        if !out.iter().any(|m| m.serves(&project)) {
            out.push(MirrorSpec {
                infer_for: f
                    .release_tags
                    .is_none()
                    .then(|| vec![repo_name(&project).to_string(), f.package.clone()]),
                project,
                repo: f.upstream.clone(),
                release_tags: f.release_tags().to_string(),
                blobless: false,
            });
        }
    }
    out
}

/// With `[sources.github] mirror = true`: a blobless mirror of a GitHub project our
/// references name.
pub fn github_auto(project: &str) -> MirrorSpec {
    MirrorSpec {
        project: project.to_string(),
        repo: format!("https://github.com/{project}.git"),
        release_tags: crate::config::DEFAULT_RELEASE_TAGS.to_string(),
        infer_for: Some(vec![repo_name(project).to_string()]),
        blobless: true,
    }
}

/// `owner/repo` → `repo`.
fn repo_name(project: &str) -> &str {
    project.rsplit('/').next().unwrap_or(project)
}

impl MirrorSpec {
    /// Whether this mirror is `project` as a reference or a spec names it: forges treat
    /// `OpenPrinting/cups` and `openprinting/cups` as one repository, and so do we.
    pub fn serves(&self, project: &str) -> bool {
        self.project.eq_ignore_ascii_case(project)
    }

    /// Opens (clones or fetches) the repository.
    ///
    /// # Errors
    /// git failed, or `release_tags` is not a regex.
    pub fn open(&self, git: &Git, cache_dir: &std::path::Path) -> Result<Mirror> {
        let dir = crate::git::open_repository_with(git, &self.repo, cache_dir, self.blobless)?;
        let release_tags =
            Regex::new(&self.release_tags).map_err(|e| crate::git::GitError::Failed {
                args: "release_tags".into(),
                dir: self.repo.clone(),
                message: e.to_string(),
            })?;
        // Without a pattern, upstream's own tags say how it tags releases.
        let scheme = match &self.infer_for {
            Some(names) => {
                let tags = git.lines(&dir, &["tag", "--list"], None)?;
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                Some(crate::releases::Scheme::infer(
                    tags.iter().map(String::as_str),
                    &names,
                ))
            }
            None => None,
        };
        Ok(Mirror {
            project: self.project.clone(),
            dir,
            release_tags,
            scheme,
            memo_dir: Some(cache_dir.join("candidates")),
        })
    }
}

#[cfg(test)]
mod case_tests {
    #[test]
    fn a_project_is_the_same_in_any_case() {
        let m = super::github_auto("OpenPrinting/cups");
        assert!(m.serves("openprinting/cups") && m.serves("OpenPrinting/CUPS"));
        assert!(!m.serves("openprinting/cups-filters"));
    }
}
