//! Ours or inherited: Hyperscale and company downstreams start from the base distribution's
//! (or Fedora's) packaging and carry many of its patches unchanged. Those are not ours to
//! upstream. A patch is compared by CONTENT with the same package's patches in the base's
//! dist-git: hunks normalised (headers, index lines, line numbers, trailing whitespace and
//! file names ignored; see [`crate::fork::facts::content_key`]).

use crate::distgit::RepoScan;
use crate::fork::facts::{content_key, diff_changes, similarity};
use crate::inventory::Inventory;
use crate::model::{OriginKind, PatchOrigin};
use std::collections::HashMap;

/// A patch this close to a base patch (Dice over changed lines), or with its file name, is
/// ours but "derived from" it.
pub const DERIVED_SIMILARITY: f64 = 0.5;

struct BasePatch {
    file: String,
    /// Its shown path (`package/file`), to ask when the base added it.
    path: String,
    key: String,
    changes: Vec<String>,
}

/// The patches of some packages in one distribution's dist-git.
pub struct BasePatches {
    distro: String,
    branch: String,
    by_package: HashMap<String, Vec<BasePatch>>,
}

impl BasePatches {
    pub fn new(distro: &str, branch: &str) -> Self {
        BasePatches {
            distro: distro.to_string(),
            branch: branch.to_string(),
            by_package: HashMap::new(),
        }
    }

    /// Adds what a repository scan of the base found (`patch_bytes` kept).
    pub fn add(&mut self, repo_name: &str, scan: &RepoScan) {
        for pkg in &scan.packages {
            let list = self.by_package.entry(pkg.name.clone()).or_default();
            for p in &pkg.patches {
                let Some(bytes) = p.path.as_ref().and_then(|path| scan.patch_bytes.get(path))
                else {
                    continue;
                };
                let text = String::from_utf8_lossy(bytes);
                let mut changes = diff_changes(&text);
                let key = content_key(&mut changes.clone());
                changes.sort_unstable();
                list.push(BasePatch {
                    file: p.file.clone(),
                    path: p.path.clone().unwrap_or_default(),
                    key,
                    changes,
                });
            }
            let _ = repo_name;
        }
    }

    pub fn packages(&self) -> usize {
        self.by_package.len()
    }
}

/// When a dist-git first had a file, by its shown path: the commit's time (seconds since the
/// epoch) and the commit. The distribution's name, or `None` for the downstream's own.
pub type FirstAdded<'a> = &'a dyn Fn(Option<&str>, &str) -> Option<(i64, String)>;

/// Sets `Patch::origin` of every patch of `inv` whose contents `read` gives (by the patch's
/// shown path). `bases` are `(is the base distribution, its patches)`: the base decides
/// "inherited", the others (Fedora) "from-fedora". A patch both carry that we added first
/// (by `added`) is ours, taken by the base after us. Returns how many patches are not ours.
pub fn decide(
    inv: &mut Inventory,
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    added: FirstAdded<'_>,
    bases: &[(bool, BasePatches)],
) -> usize {
    let mut not_ours = 0;
    for pkg in &mut inv.packages {
        for patch in pkg.patches.iter_mut().filter(|p| p.commit.is_none()) {
            let Some(bytes) = patch.path.as_deref().and_then(read) else {
                continue;
            };
            let mut changes = diff_changes(&String::from_utf8_lossy(&bytes));
            if changes.is_empty() {
                continue;
            }
            let key = content_key(&mut changes.clone());
            changes.sort_unstable();
            // The base first: a patch both carry is inherited, not from Fedora.
            let mut ordered: Vec<&(bool, BasePatches)> = bases.iter().collect();
            ordered.sort_by_key(|(is_base, _)| !*is_base);
            let mut origin = None;
            for (is_base, base) in &ordered {
                let Some(list) = base.by_package.get(&pkg.name) else {
                    continue;
                };
                if let Some(same) = list.iter().find(|b| b.key == key) {
                    let (kind, commit) = if *is_base {
                        taken_or_inherited(patch.path.as_deref(), base, same, added)
                    } else {
                        (OriginKind::FromFedora, None)
                    };
                    origin = Some(PatchOrigin {
                        kind,
                        distro: base.distro.clone(),
                        branch: base.branch.clone(),
                        file: same.file.clone(),
                        commit,
                    });
                    break;
                }
            }
            if origin.is_none() {
                // Ours; derived from a base patch it resembles?
                'find: for (_, base) in &ordered {
                    for b in base.by_package.get(&pkg.name).into_iter().flatten() {
                        if b.file == patch.file
                            || similarity(&b.changes, &changes) >= DERIVED_SIMILARITY
                        {
                            origin = Some(PatchOrigin {
                                kind: OriginKind::DerivedFrom,
                                distro: base.distro.clone(),
                                branch: base.branch.clone(),
                                file: b.file.clone(),
                                commit: None,
                            });
                            break 'find;
                        }
                    }
                }
            }
            if origin.as_ref().is_some_and(|o| {
                !matches!(o.kind, OriginKind::DerivedFrom | OriginKind::TakenByBase)
            }) {
                not_ours += 1;
            }
            patch.origin = origin;
        }
    }
    not_ours
}

/// A change both we and the base carry: inherited, unless our dist-git had it strictly
/// before the base's did (then the base took it from us, or from the same upstream, later).
/// Without both dates it stays inherited, as before dates were read.
fn taken_or_inherited(
    ours: Option<&str>,
    base: &BasePatches,
    same: &BasePatch,
    added: FirstAdded<'_>,
) -> (OriginKind, Option<String>) {
    let ours = ours.and_then(|p| added(None, p));
    let theirs = added(Some(&base.distro), &same.path);
    match (ours, theirs) {
        (Some((ours, _)), Some((theirs, commit))) if ours < theirs => {
            (OriginKind::TakenByBase, Some(commit))
        }
        _ => (OriginKind::Inherited, None),
    }
}
