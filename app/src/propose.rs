//! Proposals: a droppable patch turned into the dist-git branch that drops it (spec edited,
//! release bumped, changelog with the evidence), made in a temporary worktree of the
//! dist-git repository (the user's own checkout is never touched) or in forkdebt's mirror
//! of a forge's dist-git; with `push`, pushed and opened as a merge/pull request for a human
//! to review. A carried fork commit is dropped by a rebase: the proposal says which.
//!
//! Every git and file operation runs under `spawn_blocking`: proposing from chat must not
//! hold a runtime worker for the length of a `git push`.

use anyhow::{Context as _, bail};
use forkdebt_core::answers::chain_text;
use forkdebt_core::config::Config;
use forkdebt_core::model::PatchState;
use forkdebt_core::propose::{Entry, drop_patch};
use forkdebt_core::store::Store;
use std::path::{Path, PathBuf};

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    Ok(forkdebt_core::git::run_in_work_tree(dir, args)?)
}

/// Runs blocking `work` (git, files) off the runtime's workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("the git work stopped unexpectedly")?
}

/// Proposes dropping `patch` of `package`: the branch made (and, with `push`, pushed and a
/// request opened). What it did, as lines for the terminal or the chat.
///
/// # Errors
/// No such patch, not droppable (without `force`), no dist-git to make the branch in, git
/// fails, or the forge refuses.
pub async fn drop(
    config: &Config,
    store: &Store,
    package: &str,
    patch: &str,
    force: bool,
    push: bool,
    downstream: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let (package, patch) = (package.to_string(), patch.to_string());
    let mut said = Vec::new();
    let packages = store.load_packages(downstream, Some(&package)).await?;
    let Some((pkg, sp)) = packages.iter().find_map(|p| {
        p.carried()
            .find(|sp| {
                sp.patch.file == patch
                    || sp.patch.number.map(|n| n.to_string())
                        == Some(patch.trim_start_matches("Patch").to_string())
                    || forkdebt_core::answers::commit_named(&sp.patch, &patch)
            })
            .map(|sp| (p, sp))
    }) else {
        bail!("`{package}` carries no patch `{patch}` (see `forkdebt show {package}`)");
    };
    // The name goes into paths, URLs and a push target: only a name rpm itself accepts
    // (a store written by an older scanner may hold another).
    if !forkdebt_core::model::is_package_name(&pkg.package.name) {
        bail!(
            "`{}` is not a package name rpm accepts; not proposed",
            forkdebt_core::report::shown(&pkg.package.name)
        );
    }
    let chain = chain_text(&sp.verdict.evidence);
    if sp.state != PatchState::Droppable && !force {
        bail!(
            "{} {} is {}, not droppable{}; --force proposes it anyway",
            package,
            sp.patch.file,
            sp.state,
            if chain.is_empty() {
                String::new()
            } else {
                format!(" ({chain})")
            }
        );
    }
    if let Some(c) = &sp.patch.commit {
        // A fork commit is dropped by rebasing onto the release that has it, not by an edit
        // or a revert: the proposal is that rebase, with the merge-tree proof.
        let short = &c.sha[..c.sha.len().min(12)];
        let proof = c.upstream.as_ref().and_then(|u| u.proof.as_ref());
        said.push(match proof {
            Some(p) if p.empty => format!(
                "{}: carried as {short} on {}; rebase {} onto {} (`git rebase {} {}`): \
                 merge-tree shows it applies as empty there, so the rebase drops it ({chain})",
                sp.patch.file, c.branch, c.branch, p.tag, p.tag, c.branch
            ),
            Some(p) => format!(
                "{}: carried as {short} on {}; it does not apply as empty onto {}: compare \
                 by hand before rebasing onto it ({chain})",
                sp.patch.file, c.branch, p.tag
            ),
            None => format!(
                "{}: carried as {short} on {}; no upstream release has it yet, so no rebase \
                 drops it ({chain})",
                sp.patch.file, c.branch
            ),
        });
        return Ok(said);
    }
    let checkout = checkout(config, store, pkg, sp).await?;
    let (top, spec_rel, patch_rel) = (
        checkout.top.clone(),
        checkout.spec.clone(),
        checkout.patch.clone(),
    );
    let safe: String = sp
        .patch
        .file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let branch = format!("forkdebt/drop-{}", safe.trim_end_matches(".patch"));
    let propose_cfg = config.propose.clone().unwrap_or_default();
    if push {
        let before = store
            .proposal(&pkg.downstream, &package, &sp.patch.file)
            .await?;
        let open = store.open_proposals(&pkg.downstream).await?;
        // Never two proposals for one patch; a closed one is not reopened.
        if let Some((url, state)) = before {
            said.push(format!("already proposed ({state}): {url}"));
            return Ok(said);
        }
        let max = i64::from(propose_cfg.max_open.unwrap_or(10));
        if open >= max {
            bail!(
                "{} has {open} open proposals ([propose] max_open = {max}); review those first",
                pkg.downstream
            );
        }
    }
    let contact = config.contact.clone().unwrap_or_default();
    let version = pkg.package.version.clone();
    let file = sp.patch.file.clone();
    let (base, mirror) = (checkout.base.clone(), checkout.mirror);
    let (top_b, b, chain_b) = (top.clone(), branch.clone(), chain.clone());
    let made = blocking(move || {
        make_branch(
            &top_b,
            &spec_rel,
            patch_rel.as_deref(),
            &base,
            mirror,
            &b,
            push,
            &file,
            &version,
            &chain_b,
            &contact,
        )
    })
    .await?;
    said.extend(made);
    if push {
        said.push(
            push_and_open(
                config,
                store,
                &propose_cfg,
                &top,
                checkout.mirror.then_some(checkout.base.as_str()),
                &branch,
                &package,
                &pkg.downstream,
                &sp.patch.file,
                &chain,
            )
            .await?,
        );
    }
    Ok(said)
}

/// Makes `branch` off `base` in a temporary worktree of `top` (unless it exists from a
/// proposal that failed to open, and `push` will retry that): the spec edited, the patch
/// file removed, committed. What it did, as lines.
#[allow(clippy::too_many_arguments)]
fn make_branch(
    top: &Path,
    spec_rel: &Path,
    patch_rel: Option<&Path>,
    base: &str,
    mirror: bool,
    branch: &str,
    push: bool,
    file: &str,
    version: &str,
    chain: &str,
    contact: &str,
) -> anyhow::Result<Vec<String>> {
    let mut said = Vec::new();
    let exists = git(
        top,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ],
    )
    .is_ok();
    if exists && !push {
        bail!("{branch} exists already: this patch was proposed before");
    }
    if exists {
        // A branch made before whose proposal failed is pushed and proposed as it is.
        return Ok(said);
    }
    let work = tempfile::Builder::new()
        .prefix("forkdebt-propose-")
        .tempdir()
        .context("a temporary worktree")?;
    let wt = work.path().join("wt");
    git(
        top,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            branch,
            wt.to_str().unwrap_or_default(),
            base,
        ],
    )?;
    let result = (|| -> anyhow::Result<()> {
        let spec_path = wt.join(spec_rel);
        let text =
            std::fs::read_to_string(&spec_path).with_context(|| spec_rel.display().to_string())?;
        let email = contact
            .strip_prefix("mailto:")
            .filter(|e| !e.is_empty())
            .unwrap_or("forkdebt@localhost");
        let author = format!("forkdebt <{email}>");
        let date = chrono::Utc::now().format("%a %b %d %Y").to_string();
        let line = format!(
            "Drop {file}: {}",
            if chain.is_empty() {
                "proposed by forkdebt"
            } else {
                chain
            }
        );
        let edited = drop_patch(
            &text,
            file,
            Some(&Entry {
                date: &date,
                author: &author,
                version,
                text: &line,
            }),
        )
        .map_err(anyhow::Error::msg)?;
        std::fs::write(&spec_path, edited.text)?;
        if let Some(p) = patch_rel {
            git(&wt, &["rm", "-q", "--", p.to_str().unwrap_or_default()])?;
        }
        git(&wt, &["add", "--", spec_rel.to_str().unwrap_or_default()])?;
        let message = format!(
            "Drop {file}\n\n{line}\n\nRelease {} -> {}.\n\nForkdebt-Evidence: {}\n",
            edited.release_before,
            edited.release_after,
            if chain.is_empty() {
                "none (proposed with --force)"
            } else {
                chain
            }
        );
        git(
            &wt,
            &[
                "-c",
                "user.name=forkdebt",
                "-c",
                &format!("user.email={email}"),
                "commit",
                "-q",
                "-m",
                &message,
            ],
        )?;
        Ok(())
    })();
    let _ = git(
        top,
        &[
            "worktree",
            "remove",
            "--force",
            wt.to_str().unwrap_or_default(),
        ],
    );
    if let Err(e) = result {
        let _ = git(top, &["branch", "-D", branch]);
        return Err(e);
    }
    said.push(format!(
        "changed {} in {}{}",
        spec_rel.display(),
        top.display(),
        if mirror { " (the dist-git mirror)" } else { "" }
    ));
    said.push(format!("branch {branch}"));
    Ok(said)
}

/// Pushes `branch` and opens a merge/pull request for it on the `[propose]` forge with the
/// evidence; records it. The line saying where it is.
#[allow(clippy::too_many_arguments)]
async fn push_and_open(
    config: &Config,
    store: &Store,
    cfg: &forkdebt_core::config::ProposeConfig,
    top: &Path,
    mirror_branch: Option<&str>,
    branch: &str,
    package: &str,
    downstream: &str,
    file: &str,
    chain: &str,
) -> anyhow::Result<String> {
    let (Some(url), Some(project)) = (&cfg.url, &cfg.project) else {
        bail!("--push needs [propose] url and project in the config");
    };
    let forge = cfg.forge.unwrap_or(forkdebt_core::forge::ForgeKind::Gitlab);
    let client = forkdebt_scrapers::forges::requests::client(config).map_err(anyhow::Error::msg)?;
    let remote = cfg.remote.clone().unwrap_or_else(|| "origin".into());
    // A mirror's `origin` is where it was read from; `push_url` says where we may write.
    let remote = match &cfg.push_url {
        Some(u) => u.replace("{package}", package),
        None => remote,
    };
    let (top_b, branch_b, target_b, mirror_b) = (
        top.to_path_buf(),
        branch.to_string(),
        cfg.target_branch.clone(),
        mirror_branch.map(str::to_string),
    );
    let target = blocking(move || {
        let target = match (target_b, mirror_b) {
            (Some(t), _) => t,
            (None, Some(b)) => b,
            (None, None) => git(&top_b, &["rev-parse", "--abbrev-ref", "HEAD"])?,
        };
        git(
            &top_b,
            &[
                "push",
                "-q",
                "--",
                &remote,
                &format!("{branch_b}:{branch_b}"),
            ],
        )?;
        Ok(target)
    })
    .await?;
    let project = project.replace("{package}", package);
    let evidence = if chain.is_empty() {
        "none (proposed with --force)"
    } else {
        chain
    };
    let description = format!(
        "Drop {file}: {evidence}\n\nForkdebt-Evidence: {evidence}\n\nProposed by forkdebt for review; nothing was merged."
    );
    let title = format!("Drop {file}");
    let opened = forkdebt_scrapers::forges::requests::open(
        &client,
        forge,
        url,
        &forkdebt_scrapers::forges::requests::NewRequest {
            project: &project,
            source_branch: branch,
            target_branch: &target,
            title: &title,
            description: &description,
            labels: &cfg.labels,
        },
    )
    .await
    .map_err(anyhow::Error::msg)?;
    store
        .record_proposal(
            downstream,
            package,
            file,
            branch,
            &opened.web_url,
            Some((forge.as_str(), &opened.api_url)),
            chrono::Utc::now(),
        )
        .await?;
    if !opened.labels_not_set.is_empty() {
        tracing::warn!(
            "{forge}: labels not set (unknown there): {}",
            opened.labels_not_set.join(", ")
        );
    }
    Ok(format!("proposed: {}", opened.web_url))
}

/// Where a proposal is made: a git repository holding the package's dist-git.
struct Checkout {
    /// The repository (a work tree's top, or a bare mirror).
    top: PathBuf,
    /// The spec and the patch file, relative to `top`.
    spec: PathBuf,
    patch: Option<PathBuf>,
    /// What the branch starts from: `HEAD` of a checkout, the dist-git branch of a mirror.
    base: String,
    /// The repository is forkdebt's own mirror of a forge's dist-git.
    mirror: bool,
}

/// The dist-git repository of `pkg`: a local folder it was scanned from (the configured
/// `paths`, else the folders the last scan recorded), else the mirror forkdebt keeps of the
/// downstream's forge dist-git (`[[downstream]] git`), fetched fresh.
async fn checkout(
    config: &Config,
    store: &Store,
    pkg: &forkdebt_core::store::StoredPackage,
    sp: &forkdebt_core::store::StoredPatch,
) -> anyhow::Result<Checkout> {
    let ds = config.downstream.iter().find(|d| d.name == pkg.downstream);
    let mut roots: Vec<PathBuf> = ds.map(|d| d.paths.clone()).unwrap_or_default();
    if roots.is_empty() {
        roots = store
            .downstream_roots(&pkg.downstream)
            .await?
            .into_iter()
            .map(PathBuf::from)
            .collect();
    }
    let (spec_path, patch_path) = (pkg.package.spec_path.clone(), sp.patch.path.clone());
    let local = blocking(move || {
        let Some((root, spec)) = roots.iter().find_map(|r| {
            let s = r.join(&spec_path);
            s.is_file().then(|| (r.clone(), s))
        }) else {
            return Ok(None);
        };
        let top = PathBuf::from(
            git(&root, &["rev-parse", "--show-toplevel"])
                .context("the dist-git folder is not a git repository")?,
        );
        let rel = |p: &Path| -> anyhow::Result<PathBuf> {
            let real = p.canonicalize()?;
            Ok(real.strip_prefix(top.canonicalize()?)?.to_path_buf())
        };
        let spec = rel(&spec)?;
        let patch = match &patch_path {
            Some(p) => Some(rel(&root.join(p))?),
            None => None,
        };
        Ok(Some(Checkout {
            top,
            spec,
            patch,
            base: "HEAD".into(),
            mirror: false,
        }))
    })
    .await?;
    if let Some(c) = local {
        return Ok(c);
    }
    let Some((ds, g)) = ds.and_then(|d| d.git.as_ref().map(|g| (d, g))) else {
        bail!(
            "{}: not found under the folders downstream {} was scanned from, and it has no \
             [[downstream]] git to mirror; propose needs its dist-git",
            pkg.package.spec_path,
            pkg.downstream
        );
    };
    let branch = ds
        .branch
        .clone()
        .or_else(|| g.branch.clone())
        .context("no dist-git branch configured")?;
    let repos = crate::distgit::repos_of(config, g).await?;
    let Some((name, url, _)) = repos.iter().find(|(name, _, _)| *name == pkg.package.name) else {
        bail!(
            "{}: no repository named so in downstream {}'s dist-git",
            pkg.package.name,
            pkg.downstream
        );
    };
    let (ua, cache, url_b, branch_b) = (
        config.user_agent(),
        config.git.cache_dir(),
        url.clone(),
        branch.clone(),
    );
    let top = blocking(move || {
        let git_cmd = forkdebt_core::git::Git::detect(Some(ua))?;
        Ok(forkdebt_core::distgit::open_branch(
            &git_cmd, &url_b, &cache, &branch_b, false,
        )?)
    })
    .await?;
    // Paths read from a repository are shown as `REPO/path`: the repository's own path.
    let inside = |p: &str| PathBuf::from(p.strip_prefix(&format!("{name}/")).unwrap_or(p));
    Ok(Checkout {
        top,
        spec: inside(&pkg.package.spec_path),
        patch: sp.patch.path.as_deref().map(inside),
        base: branch,
        mirror: true,
    })
}
