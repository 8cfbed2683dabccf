//! Reading the inventory back: packages with their patches and references.

use super::{QueryContext, Result, Store, StoreError};
use crate::model::{
    Claim, Confidence, Deviation, Package, Patch, PatchState, RefKind, Reference, Role,
};
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;

/// A patch as stored: the scanned facts plus its life in the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredPatch {
    pub patch: Patch,
    pub state: PatchState,
    pub first_seen: String,
    pub last_seen: String,
    pub dropped_at: Option<String>,
}

/// A package as stored. `package.patches` is empty; the patches are in `patches`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredPackage {
    pub downstream: String,
    pub package: Package,
    pub first_seen: String,
    pub removed_at: Option<String>,
    pub patches: Vec<StoredPatch>,
}

impl StoredPackage {
    /// Patches still in dist-git.
    pub fn carried(&self) -> impl Iterator<Item = &StoredPatch> {
        self.patches.iter().filter(|p| p.dropped_at.is_none())
    }
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} `{value}`"))
}

impl Store {
    /// Loads packages (of one downstream, or all), with patches (dropped ones included) and
    /// references, ordered by downstream, package name, then patch number.
    ///
    /// # Errors
    /// A database error, or a stored value this version does not know.
    pub async fn load_packages(
        &self,
        downstream: Option<&str>,
        package: Option<&str>,
    ) -> Result<Vec<StoredPackage>> {
        let rows = sqlx::query(
            "SELECT k.id, d.name AS downstream, k.name, k.spec_path, k.epoch, k.version, k.release, \
             k.local_marker, k.dist_tag, k.upstream, k.url, k.source0, k.changelog_refs, k.first_seen, \
             k.removed_at FROM packages k JOIN downstreams d ON d.id = k.downstream_id \
             WHERE ($1 = '' OR d.name = $1) AND ($2 = '' OR k.name = $2) ORDER BY d.name, k.name",
        )
        .bind(downstream.unwrap_or_default().to_string())
        .bind(package.unwrap_or_default().to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading packages")?;
        let mut out = Vec::with_capacity(rows.len());
        let mut index: HashMap<i64, usize> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let g = |c: &str| row.try_get::<Option<String>, _>(c).ctx("reading a package");
            let upstream = match g("upstream")? {
                Some(json) => Some(
                    serde_json::from_str::<crate::model::UpstreamProject>(&json)
                        .map_err(|_| corrupt("upstream", &json))?,
                ),
                None => None,
            };
            let changelog = g("changelog_refs")?.unwrap_or_default();
            let changelog_refs = serde_json::from_str(&changelog)
                .map_err(|_| corrupt("changelog refs", &changelog))?;
            let epoch: Option<i64> = row.try_get("epoch").ctx("reading a package")?;
            index.insert(row.try_get("id").ctx("reading a package")?, out.len());
            out.push(StoredPackage {
                downstream: g("downstream")?.unwrap_or_default(),
                first_seen: g("first_seen")?.unwrap_or_default(),
                removed_at: g("removed_at")?,
                package: Package {
                    name: g("name")?.unwrap_or_default(),
                    spec_path: g("spec_path")?.unwrap_or_default(),
                    epoch: epoch.and_then(|e| u32::try_from(e).ok()),
                    version: g("version")?.unwrap_or_default(),
                    release: g("release")?.unwrap_or_default(),
                    local_marker: g("local_marker")?,
                    dist_tag: g("dist_tag")?,
                    upstream,
                    url: g("url")?,
                    source0: g("source0")?,
                    patches: Vec::new(),
                    changelog_refs,
                },
                patches: Vec::new(),
            });
        }
        if out.is_empty() {
            return Ok(out);
        }

        // Built from constants only; the filters are bound values.
        let filter = "JOIN packages k ON k.id = p.package_id JOIN downstreams d ON d.id = k.downstream_id \
                      WHERE ($1 = '' OR d.name = $1) AND ($2 = '' OR k.name = $2)";
        let refs_sql = format!(
            "SELECT r.patch_id, r.kind, r.ref_id, r.url, r.role, r.confidence, r.found_in, r.note \
             FROM patch_refs r JOIN patches p ON p.id = r.patch_id {filter} ORDER BY r.id"
        );
        let mut refs: HashMap<i64, Vec<Reference>> = HashMap::new();
        for row in sqlx::query(AssertSqlSafe(refs_sql))
            .bind(downstream.unwrap_or_default().to_string())
            .bind(package.unwrap_or_default().to_string())
            .fetch_all(&self.pool)
            .await
            .ctx("loading references")?
        {
            let s = |c: &str| row.try_get::<String, _>(c).ctx("reading a reference");
            let kind = s("kind")?;
            let role = s("role")?;
            let confidence = s("confidence")?;
            refs.entry(row.try_get("patch_id").ctx("reading a reference")?)
                .or_default()
                .push(Reference {
                    kind: RefKind::parse(&kind).ok_or_else(|| corrupt("reference kind", &kind))?,
                    id: s("ref_id")?,
                    url: row.try_get("url").ctx("reading a reference")?,
                    role: Role::parse(&role).ok_or_else(|| corrupt("reference role", &role))?,
                    confidence: Confidence::parse(&confidence)
                        .ok_or_else(|| corrupt("confidence", &confidence))?,
                    found_in: s("found_in")?,
                    note: row.try_get("note").ctx("reading a reference")?,
                });
        }

        let patches_sql = format!(
            "SELECT p.id, p.package_id, p.file, p.number, p.path, p.condition, p.subject, p.author, \
             p.authored, p.lines_added, p.lines_removed, p.state, p.claims, p.first_seen, p.last_seen, \
             p.dropped_at FROM patches p {filter} ORDER BY p.package_id, p.number, p.file"
        );
        for row in sqlx::query(AssertSqlSafe(patches_sql))
            .bind(downstream.unwrap_or_default().to_string())
            .bind(package.unwrap_or_default().to_string())
            .fetch_all(&self.pool)
            .await
            .ctx("loading patches")?
        {
            let g = |c: &str| row.try_get::<Option<String>, _>(c).ctx("reading a patch");
            let n = |c: &str| row.try_get::<Option<i64>, _>(c).ctx("reading a patch");
            let id: i64 = row.try_get("id").ctx("reading a patch")?;
            let package_id: i64 = row.try_get("package_id").ctx("reading a patch")?;
            let claims_json = g("claims")?.unwrap_or_default();
            let claims: Vec<Claim> =
                serde_json::from_str(&claims_json).map_err(|_| corrupt("claims", &claims_json))?;
            let state_s = g("state")?.unwrap_or_default();
            let dropped_at = g("dropped_at")?;
            let state = if dropped_at.is_some() {
                PatchState::Dropped
            } else {
                PatchState::parse(&state_s).ok_or_else(|| corrupt("patch state", &state_s))?
            };
            let Some(&pi) = index.get(&package_id) else {
                continue;
            };
            out[pi].patches.push(StoredPatch {
                patch: Patch {
                    file: g("file")?.unwrap_or_default(),
                    number: n("number")?.and_then(|v| u32::try_from(v).ok()),
                    path: g("path")?,
                    condition: g("condition")?,
                    subject: g("subject")?,
                    author: g("author")?,
                    date: g("authored")?,
                    lines_added: n("lines_added")?
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(0),
                    lines_removed: n("lines_removed")?
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(0),
                    refs: refs.remove(&id).unwrap_or_default(),
                    claims,
                },
                state,
                first_seen: g("first_seen")?.unwrap_or_default(),
                last_seen: g("last_seen")?.unwrap_or_default(),
                dropped_at,
            });
        }
        Ok(out)
    }

    /// The policy deviations of one downstream (or all) that are still listed.
    ///
    /// # Errors
    /// A database error or damaged JSON.
    pub async fn load_deviations(
        &self,
        downstream: Option<&str>,
    ) -> Result<Vec<(String, Deviation)>> {
        let rows = sqlx::query(
            "SELECT d.name AS downstream, v.name, v.package, v.description, v.refs FROM deviations v \
             JOIN downstreams d ON d.id = v.downstream_id WHERE v.removed_at IS NULL AND ($1 = '' OR d.name = $1) \
             ORDER BY d.name, v.name",
        )
        .bind(downstream.unwrap_or_default().to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading deviations")?;
        rows.iter()
            .map(|row| {
                let refs_json: String = row.try_get("refs").ctx("reading a deviation")?;
                Ok((
                    row.try_get("downstream").ctx("reading a deviation")?,
                    Deviation {
                        name: row.try_get("name").ctx("reading a deviation")?,
                        package: row.try_get("package").ctx("reading a deviation")?,
                        description: row.try_get("description").ctx("reading a deviation")?,
                        refs: serde_json::from_str(&refs_json)
                            .map_err(|_| corrupt("deviation refs", &refs_json))?,
                    },
                ))
            })
            .collect()
    }
}
