//! `forkdebt why PACKAGE PATCH`: the evidence chain behind a patch's state.

use super::Context;
use anyhow::bail;
use std::process::ExitCode;

pub async fn run(ctx: &Context, package: &str, patch: &str) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let packages = store.load_packages(None, Some(package)).await?;
    if packages.is_empty() {
        store.close().await;
        bail!("no package named `{package}` has been scanned (see `forkdebt report`)");
    }
    let verdicts = ctx.verdicts(&store, &packages).await?;
    store.close().await;
    let number = patch
        .trim_start_matches("Patch")
        .trim_start_matches("patch")
        .parse::<u32>()
        .ok();
    let mut found = false;
    for p in &packages {
        for sp in p
            .patches
            .iter()
            .filter(|sp| sp.patch.file == patch || (number.is_some() && sp.patch.number == number))
        {
            found = true;
            println!(
                "{} {} ({}): {}",
                p.package.name,
                sp.patch.file,
                p.downstream,
                describe(p, sp, &verdicts)
            );
        }
    }
    if !found {
        let names: Vec<&str> = packages
            .iter()
            .flat_map(|p| p.patches.iter().map(|x| x.patch.file.as_str()))
            .collect();
        bail!(
            "`{package}` carries no patch `{patch}`; it has: {}",
            names.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(
    p: &forkdebt_core::store::StoredPackage,
    sp: &forkdebt_core::store::StoredPatch,
    verdicts: &forkdebt_core::report::Verdicts,
) -> String {
    if let Some(d) = &sp.dropped_at {
        return format!("dropped from dist-git on {d}");
    }
    let Some(v) = verdicts.get(&(
        p.downstream.clone(),
        p.package.name.clone(),
        sp.patch.file.clone(),
    )) else {
        return sp.state.to_string();
    };
    let mut out = format!("{} (confidence {})", v.state, v.confidence.as_str());
    for (i, h) in v.evidence.iter().enumerate() {
        out.push_str(&format!(
            "\n  {} {}",
            if i == 0 { " " } else { "->" },
            h.text
        ));
        if let Some(at) = &h.at {
            out.push_str(&format!(" ({at})"));
        }
        if let Some(url) = &h.url {
            out.push_str(&format!("\n       {url}"));
        }
    }
    if v.evidence.is_empty() {
        if sp.patch.is_local_only() {
            out.push_str("\n   local-only: nothing in dist-git names an upstream for it");
        } else {
            out.push_str("\n   nothing upstream has been observed yet for its references (run `forkdebt sync`)");
        }
    }
    if let Some(r) = &v.rebased_past {
        out.push_str(&format!("\n   note: {r}; the patch is probably obsolete"));
    }
    out
}
