//! `forkdebt changes [--release N] [--state S]`: the Fedora Changes we follow, where they
//! stand, and which of our packages and deviations they concern.

use super::Context;
use forkdebt_core::model::RefKind;
use std::process::ExitCode;

pub async fn run(
    ctx: &Context,
    release: Option<u32>,
    state: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let changes = store.change_states().await?;
    let packages = store.load_packages(None, None).await?;
    let deviations = store.load_deviations(None).await?;
    store.close().await;
    let shown: Vec<_> = changes
        .into_iter()
        .filter(|(_, s, r, _, _)| {
            release.is_none_or(|n| *r == Some(i64::from(n)))
                && state.as_deref().is_none_or(|x| x == s)
        })
        .collect();
    if shown.is_empty() {
        println!(
            "No tracked Fedora Change matches (Changes come from references in dist-git and the inventory; run `forkdebt sync`)."
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (title, st, rel, evidence, decided) in shown {
        let chain: Vec<forkdebt_core::verdict::Hop> =
            serde_json::from_str(&evidence).unwrap_or_default();
        let chain: Vec<String> = chain.into_iter().map(|h| h.text).collect();
        println!(
            "{title}: {st}{} ({}; since {decided})",
            rel.map(|r| format!(" F{r}")).unwrap_or_default(),
            chain.join(", ")
        );
        let name = forkdebt_core::report::change_key(&title);
        let matches = |id: &str| forkdebt_core::report::change_key(id) == name;
        for p in &packages {
            for sp in p.carried().filter(|sp| {
                sp.patch
                    .refs
                    .iter()
                    .any(|r| r.kind == RefKind::FedoraChange && matches(&r.id))
            }) {
                println!(
                    "  patch {} {} ({})",
                    p.package.name, sp.patch.file, p.downstream
                );
            }
        }
        for (ds, d) in &deviations {
            if d.refs
                .iter()
                .any(|r| r.kind == RefKind::FedoraChange && matches(&r.id))
            {
                println!("  deviation {} ({ds}): {}", d.name, d.description);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
