//! `forkdebt propose PACKAGE PATCH [--force]` and `forkdebt propose --change DEVIATION`.
//!
//! The branch `forkdebt/drop-<patch>` is made in a temporary worktree of the dist-git
//! repository (the user's own checkout is never touched) off its current HEAD, committed, and
//! left for a human to review and push.

use super::Context;
use anyhow::{Context as _, bail};
use forkdebt_core::answers::chain_text;
use forkdebt_core::model::PatchState;
use forkdebt_core::propose::{Entry, change_draft, drop_patch};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .context("running git")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub async fn run(
    ctx: &Context,
    package: Option<String>,
    patch: Option<String>,
    change: Option<String>,
    force: bool,
    push: bool,
    downstream: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    if let Some(name) = change {
        let found = store
            .load_deviations(downstream.as_deref())
            .await?
            .into_iter()
            .find(|(_, d)| d.name == name);
        store.close().await;
        let Some((ds, d)) = found else {
            bail!("no policy deviation named `{name}` (see forkdebt-inventory.toml)");
        };
        print!("{}", change_draft(&d, &ds));
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(package), Some(patch)) = (package, patch) else {
        bail!("name a package and a patch (or --change DEVIATION)");
    };
    let packages = store
        .load_packages(downstream.as_deref(), Some(&package))
        .await?;
    store.close().await;
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
        // A fork commit is dropped by rebasing, not by an edit.
        let tag = c
            .upstream
            .as_ref()
            .and_then(|u| u.proof.as_ref())
            .map(|p| p.tag.clone());
        println!(
            "{} is carried as commit {} on {}: rebase the fork onto {} to drop it ({chain})",
            sp.patch.file,
            c.sha,
            c.branch,
            tag.as_deref().unwrap_or("the release that contains it")
        );
        return Ok(ExitCode::SUCCESS);
    }
    // The dist-git folder this package was scanned from, as a git repository: the
    // configured `paths`, else the folders the last scan recorded.
    let mut roots: Vec<PathBuf> = ctx
        .config
        .downstream
        .iter()
        .find(|d| d.name == pkg.downstream)
        .map(|d| d.paths.clone())
        .unwrap_or_default();
    if roots.is_empty() {
        let store = ctx.store().await?;
        roots = store
            .downstream_roots(&pkg.downstream)
            .await?
            .into_iter()
            .map(PathBuf::from)
            .collect();
        store.close().await;
    }
    let Some((root, spec)) = roots.iter().find_map(|r| {
        let s = r.join(&pkg.package.spec_path);
        s.is_file().then(|| (r.clone(), s))
    }) else {
        bail!(
            "{}: not found under the folders downstream {} was scanned from; propose works on a local dist-git repository",
            pkg.package.spec_path,
            pkg.downstream
        );
    };
    let top = PathBuf::from(
        git(&root, &["rev-parse", "--show-toplevel"])
            .context("the dist-git folder is not a git repository")?,
    );
    let rel = |p: &Path| -> anyhow::Result<PathBuf> {
        let real = p.canonicalize()?;
        Ok(real.strip_prefix(top.canonicalize()?)?.to_path_buf())
    };
    let spec_rel = rel(&spec)?;
    let patch_rel = match &sp.patch.path {
        Some(p) => Some(rel(&root.join(p))?),
        None => None,
    };
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
    let propose_cfg = ctx.config.propose.clone().unwrap_or_default();
    if push {
        let store = ctx.store().await?;
        let before = store
            .proposal(&pkg.downstream, &package, &sp.patch.file)
            .await?;
        let open = store.open_proposals(&pkg.downstream).await?;
        store.close().await;
        // Never two proposals for one patch; a closed one is not reopened.
        if let Some((url, state)) = before {
            println!("already proposed ({state}): {url}");
            return Ok(ExitCode::SUCCESS);
        }
        let max = i64::from(propose_cfg.max_open.unwrap_or(10));
        if open >= max {
            bail!(
                "{} has {open} open proposals ([propose] max_open = {max}); review those first",
                pkg.downstream
            );
        }
    }
    let exists = git(
        &top,
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
        return push_and_open(
            ctx,
            &propose_cfg,
            &top,
            &branch,
            &package,
            &pkg.downstream,
            &sp.patch.file,
            &chain,
        )
        .await;
    }
    let work = tempfile::Builder::new()
        .prefix("forkdebt-propose-")
        .tempdir()
        .context("a temporary worktree")?;
    let wt = work.path().join("wt");
    git(
        &top,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            &branch,
            wt.to_str().unwrap_or_default(),
            "HEAD",
        ],
    )?;
    let result = (|| -> anyhow::Result<()> {
        let spec_path = wt.join(&spec_rel);
        let text =
            std::fs::read_to_string(&spec_path).with_context(|| spec_rel.display().to_string())?;
        let contact = ctx.config.contact.clone().unwrap_or_default();
        let email = contact
            .strip_prefix("mailto:")
            .unwrap_or("forkdebt@localhost");
        let author = format!("forkdebt <{email}>");
        let date = chrono::Utc::now().format("%a %b %d %Y").to_string();
        let line = format!(
            "Drop {}: {}",
            sp.patch.file,
            if chain.is_empty() {
                "proposed by forkdebt".into()
            } else {
                chain.clone()
            }
        );
        let edited = drop_patch(
            &text,
            &sp.patch.file,
            Some(&Entry {
                date: &date,
                author: &author,
                version: &pkg.package.version,
                text: &line,
            }),
        )
        .map_err(anyhow::Error::msg)?;
        std::fs::write(&spec_path, edited.text)?;
        if let Some(p) = &patch_rel {
            git(&wt, &["rm", "-q", "--", p.to_str().unwrap_or_default()])?;
        }
        git(&wt, &["add", "--", spec_rel.to_str().unwrap_or_default()])?;
        let message = format!(
            "Drop {}\n\n{line}\n\nRelease {} -> {}.\n\nForkdebt-Evidence: {}\n",
            sp.patch.file,
            edited.release_before,
            edited.release_after,
            if chain.is_empty() {
                "none (proposed with --force)".to_string()
            } else {
                chain.clone()
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
        &top,
        &[
            "worktree",
            "remove",
            "--force",
            wt.to_str().unwrap_or_default(),
        ],
    );
    if let Err(e) = result {
        let _ = git(&top, &["branch", "-D", &branch]);
        return Err(e);
    }
    println!("changed {} in {}", spec_rel.display(), top.display());
    println!("branch {branch}");
    if push {
        return push_and_open(
            ctx,
            &propose_cfg,
            &top,
            &branch,
            &package,
            &pkg.downstream,
            &sp.patch.file,
            &chain,
        )
        .await;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Deserialize)]
struct MergeRequest {
    web_url: String,
}

/// Pushes `branch` and opens a GitLab merge request for it with the evidence; records it.
#[allow(clippy::too_many_arguments)]
async fn push_and_open(
    ctx: &Context,
    cfg: &forkdebt_core::config::ProposeConfig,
    top: &Path,
    branch: &str,
    package: &str,
    downstream: &str,
    file: &str,
    chain: &str,
) -> anyhow::Result<ExitCode> {
    let (Some(url), Some(project)) = (&cfg.url, &cfg.project) else {
        bail!("--push needs [propose] url and project in the config");
    };
    if cfg.forge.as_deref().unwrap_or("gitlab") != "gitlab" {
        bail!("[propose] forge: only gitlab merge requests are opened so far");
    }
    let token =
        forkdebt_core::config::Secret::load(cfg.token_env.as_deref(), cfg.token_file.as_deref())
            .map_err(|e| anyhow::anyhow!("[propose] {e}"))?;
    let remote = cfg.remote.clone().unwrap_or_else(|| "origin".into());
    let target = match &cfg.target_branch {
        Some(t) => t.clone(),
        None => git(top, &["rev-parse", "--abbrev-ref", "HEAD"])?,
    };
    git(top, &["push", "-q", &remote, &format!("{branch}:{branch}")])?;
    let project = project.replace("{package}", package);
    let encoded: String = url::form_urlencoded::byte_serialize(project.as_bytes()).collect();
    let api = format!(
        "{}/api/v4/projects/{encoded}/merge_requests",
        url.trim_end_matches('/')
    );
    let evidence = if chain.is_empty() {
        "none (proposed with --force)"
    } else {
        chain
    };
    let description = format!(
        "Drop {file}: {evidence}\n\nForkdebt-Evidence: {evidence}\n\nProposed by forkdebt for review; nothing was merged."
    );
    let body = serde_json::json!({
        "source_branch": branch,
        "target_branch": target,
        "title": format!("Drop {file}"),
        "description": description,
        "labels": cfg.labels.join(","),
        "remove_source_branch": true,
    });
    let client = reqwest::Client::builder()
        .user_agent(ctx.config.user_agent())
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let mut req = client.post(&api).json(&body);
    if let Some(t) = &token {
        req = req.header("PRIVATE-TOKEN", t.expose());
    }
    // Not retried: a second POST could open a second merge request.
    let resp = req
        .send()
        .await
        .with_context(|| format!("opening a merge request at {api}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!(
            "{api}: {status}: {}",
            forkdebt_core::report::shown(&text.chars().take(300).collect::<String>())
        );
    }
    let mr: MergeRequest =
        serde_json::from_str(&text).with_context(|| format!("{api}: not a merge request"))?;
    let store = ctx.store().await?;
    store
        .record_proposal(
            downstream,
            package,
            file,
            branch,
            &mr.web_url,
            chrono::Utc::now(),
        )
        .await?;
    store.close().await;
    println!("proposed: {}", mr.web_url);
    Ok(ExitCode::SUCCESS)
}
