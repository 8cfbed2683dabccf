//! Which packages a downstream carries, from the lists its maintainers already keep
//! (`[[downstream]] manifest`), so that a dist-git group's archived or retired repositories
//! are not counted as debt:
//!
//! - an hs-relmon manifest: `[defaults]`, `[[package]]` with `name`, `distros`, `track`,
//!   `repology_name`, `archived`;
//! - a sandogasa inventory: `[inventory]` (with `[inventory.workloads.X]`), `[[package]]`
//!   with `name`, `poc`, `team`, `rpms`, `workloads`, `track`, `retired_on` (the dist-git
//!   branches it is retired on) and `unshipped` (why it no longer ships anywhere).
//!
//! Both are other tools' formats: keys forkdebt does not use are ignored, not refused.

use std::collections::BTreeSet;
use std::path::Path;

/// The packages a manifest says are carried, and those it lists as no longer carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub carried: BTreeSet<String>,
    /// Archived, retired on our branch, or unshipped: with why.
    pub left_out: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error(
        "{path}: neither an hs-relmon manifest ([[package]] entries) nor a sandogasa inventory ([inventory])"
    )]
    Unknown { path: String },
}

/// Reads the manifest at `path`; `branch` is the downstream's dist-git branch, for
/// sandogasa's `retired_on`.
///
/// # Errors
/// The file cannot be read, is not TOML, or is neither format.
pub fn read(path: &Path, branch: Option<&str>) -> Result<Manifest, ManifestError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ManifestError::Read {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    parse(&text, &shown, branch)
}

/// Parses a manifest's text (`path` names it in errors).
///
/// # Errors
/// Not TOML, or neither format.
pub fn parse(text: &str, path: &str, branch: Option<&str>) -> Result<Manifest, ManifestError> {
    let value: toml::Table = toml::from_str(text).map_err(|e| ManifestError::Parse {
        path: path.to_string(),
        line: e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        }),
        message: e.message().to_string(),
    })?;
    let inventory = value.get("inventory").and_then(toml::Value::as_table);
    let packages = value.get("package").and_then(toml::Value::as_array);
    if inventory.is_none() && packages.is_none() {
        return Err(ManifestError::Unknown {
            path: path.to_string(),
        });
    }
    let mut out = Manifest::default();
    let strings = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // A workload's own package list (an older inventory shape): carried unless a
    // `[[package]]` entry says otherwise.
    if let Some(workloads) = inventory
        .and_then(|i| i.get("workloads"))
        .and_then(toml::Value::as_table)
    {
        for w in workloads.values() {
            out.carried
                .extend(strings(w.as_table().and_then(|t| t.get("packages"))));
        }
    }
    for p in packages
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_table)
    {
        let Some(name) = p.get("name").and_then(toml::Value::as_str) else {
            continue;
        };
        let name = name.trim().to_string();
        if name.is_empty() {
            continue;
        }
        let retired_on = strings(p.get("retired_on"));
        let why = if p.get("archived").and_then(toml::Value::as_bool) == Some(true) {
            Some("archived".to_string())
        } else if let Some(reason) = p.get("unshipped").and_then(toml::Value::as_str) {
            Some(format!("unshipped: {reason}"))
        } else if !retired_on.is_empty() && branch.is_none_or(|b| retired_on.iter().any(|r| r == b))
        {
            Some(format!("retired on {}", retired_on.join(", ")))
        } else {
            None
        };
        match why {
            Some(why) => {
                out.carried.remove(&name);
                out.left_out.push((name, why));
            }
            None => {
                out.carried.insert(name);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hs_relmon_manifest_lists_what_is_not_archived() {
        let m = parse(
            "[defaults]\ndistros = [\"upstream\", \"fedora\", \"centos\", \"hyperscale\"]\ntrack = \"upstream\"\n\n\
             [[package]]\nname = \"systemd\"\n\n\
             [[package]]\nname = \"ethtool\"\ndistros = [\"upstream\", \"hyperscale\"]\nrepology_name = \"ethtool\"\n\n\
             [[package]]\nname = \"btrfs-progs\"\narchived = true\n",
            "relmon.toml",
            Some("c9s-sig-hyperscale"),
        )
        .expect("manifest");
        assert_eq!(
            m.carried.iter().map(String::as_str).collect::<Vec<_>>(),
            ["ethtool", "systemd"]
        );
        assert_eq!(m.left_out, [("btrfs-progs".into(), "archived".into())]);
    }

    #[test]
    fn a_sandogasa_inventory_skips_unshipped_and_retired_on_our_branch() {
        let text = "[inventory]\nname = \"hyperscale-packages\"\nprivate_fields = [\"poc\"]\n\n\
             [inventory.workloads.hyperscale]\nname = \"hs-packages\"\n\n\
             [[package]]\nname = \"systemd\"\npoc = \"Linux Userspace <team@example.com>\"\nrpms = [\"systemd-networkd\"]\nworkloads = [\"hyperscale\"]\ntrack = \"upstream\"\n\n\
             [package.arch_rpms]\nx86_64 = [\"systemd-boot-unsigned\"]\n\n\
             [[package]]\nname = \"fish\"\nretired_on = [\"c9s-sig-hyperscale\"]\n\n\
             [[package]]\nname = \"oldie\"\nunshipped = \"replaced by newie\"\n";
        let m = parse(text, "inv.toml", Some("c10s-sig-hyperscale")).expect("manifest");
        // fish is retired on c9s only: still carried on c10s.
        assert_eq!(
            m.carried.iter().map(String::as_str).collect::<Vec<_>>(),
            ["fish", "systemd"]
        );
        let m = parse(text, "inv.toml", Some("c9s-sig-hyperscale")).expect("manifest");
        assert_eq!(
            m.carried.iter().map(String::as_str).collect::<Vec<_>>(),
            ["systemd"]
        );
        assert!(
            m.left_out
                .iter()
                .any(|(n, why)| n == "oldie" && why == "unshipped: replaced by newie")
        );
    }

    #[test]
    fn wrong_files_are_named_with_where() {
        let e = parse("[inventory\n", "inv.toml", None).expect_err("bad toml");
        assert!(e.to_string().starts_with("inv.toml:1:"), "{e}");
        let e = parse("name = \"x\"\n", "other.toml", None).expect_err("unknown");
        assert!(
            e.to_string().contains("neither an hs-relmon manifest"),
            "{e}"
        );
    }
}
