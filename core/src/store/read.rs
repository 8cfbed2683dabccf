//! Reading the inventory back: packages with their patches, references and verdicts.
//!
//! Verdicts are decided by the engine only (see [`super::engine`]); a patch without a stored
//! verdict stands where its inventory puts it ([`Verdict::from_inventory`]), which is exactly
//! what the engine decided for it (verdicts equal to that are not stored).

use super::{IN_CHUNK, QueryContext, Result, Store, StoreError, placeholders};
use crate::model::{
    Claim, Confidence, Deviation, Package, Patch, PatchState, RefKind, Reference, Role,
};
use crate::verdict::Verdict;
use sqlx::{AssertSqlSafe, FromRow};
use std::collections::HashMap;

/// A patch as stored: the scanned facts, its verdict, and its life in the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredPatch {
    pub patch: Patch,
    /// The verdict's state while carried, `dropped` once no longer in dist-git.
    pub state: PatchState,
    /// Where the engine decided the patch stands, with its evidence.
    pub verdict: Verdict,
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

    /// Carried patches that are our debt (not inherited from the base or from Fedora).
    pub fn ours(&self) -> impl Iterator<Item = &StoredPatch> {
        self.carried()
            .filter(|p| crate::model::PatchOrigin::is_ours(p.patch.origin.as_ref()))
    }
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    // Enough of the value to recognise it; a damaged row can be megabytes.
    let mut shown: String = value.chars().take(120).collect();
    if shown.len() < value.len() {
        shown.push_str("...");
    }
    StoreError::Corrupt(format!("{what} `{}`", crate::display::shown(&shown)))
}

/// Which packages to load.
#[derive(Clone, Copy)]
enum Filter<'a> {
    All,
    Downstream(&'a str),
    Package(Option<&'a str>, &'a str),
    /// At most [`IN_CHUNK`] package ids.
    Ids(&'a [i64]),
}

#[derive(FromRow)]
struct PackageRow {
    id: i64,
    downstream: String,
    name: String,
    spec_path: String,
    epoch: Option<i64>,
    version: String,
    release: String,
    local_marker: Option<String>,
    dist_tag: Option<String>,
    upstream: Option<String>,
    url: Option<String>,
    source0: Option<String>,
    changelog_refs: String,
    first_seen: String,
    removed_at: Option<String>,
}

impl PackageRow {
    fn decode(self) -> Result<StoredPackage> {
        let upstream = match self.upstream {
            Some(json) => {
                Some(serde_json::from_str(&json).map_err(|_| corrupt("upstream", &json))?)
            }
            None => None,
        };
        let changelog_refs = serde_json::from_str(&self.changelog_refs)
            .map_err(|_| corrupt("changelog refs", &self.changelog_refs))?;
        Ok(StoredPackage {
            downstream: self.downstream,
            first_seen: self.first_seen,
            removed_at: self.removed_at,
            package: Package {
                name: self.name,
                spec_path: self.spec_path,
                epoch: self.epoch.and_then(|e| u32::try_from(e).ok()),
                version: self.version,
                release: self.release,
                local_marker: self.local_marker,
                dist_tag: self.dist_tag,
                upstream,
                url: self.url,
                source0: self.source0,
                patches: Vec::new(),
                changelog_refs,
            },
            patches: Vec::new(),
        })
    }
}

/// A `patch_refs` row.
#[derive(FromRow)]
pub(crate) struct RefRow {
    pub patch_id: i64,
    kind: String,
    ref_id: String,
    url: Option<String>,
    role: String,
    confidence: String,
    found_in: String,
    note: Option<String>,
}

impl RefRow {
    pub(crate) fn decode(self) -> Result<Reference> {
        Ok(Reference {
            kind: RefKind::parse(&self.kind)
                .ok_or_else(|| corrupt("reference kind", &self.kind))?,
            id: self.ref_id,
            url: self.url,
            role: Role::parse(&self.role).ok_or_else(|| corrupt("reference role", &self.role))?,
            confidence: Confidence::parse(&self.confidence)
                .ok_or_else(|| corrupt("confidence", &self.confidence))?,
            found_in: self.found_in,
            note: self.note,
        })
    }
}

#[derive(FromRow)]
struct PatchRow {
    id: i64,
    package_id: i64,
    file: String,
    number: Option<i64>,
    path: Option<String>,
    condition: Option<String>,
    subject: Option<String>,
    author: Option<String>,
    authored: Option<String>,
    lines_added: i64,
    lines_removed: i64,
    state: String,
    claims: String,
    first_seen: String,
    last_seen: String,
    dropped_at: Option<String>,
    carried_commit: Option<String>,
    origin: Option<String>,
}

/// A `verdicts` row.
#[derive(FromRow)]
pub(crate) struct VerdictRow {
    pub patch_id: i64,
    state: String,
    confidence: String,
    evidence: String,
    rebased_past: Option<String>,
}

impl VerdictRow {
    pub(crate) fn decode(self) -> Result<Verdict> {
        Ok(Verdict {
            state: PatchState::parse(&self.state)
                .ok_or_else(|| corrupt("verdict state", &self.state))?,
            confidence: Confidence::parse(&self.confidence)
                .ok_or_else(|| corrupt("confidence", &self.confidence))?,
            evidence: crate::evidence::decode(&self.evidence).map_err(|_| {
                corrupt(
                    &format!("the verdict of patch {}: evidence", self.patch_id),
                    &self.evidence,
                )
            })?,
            rebased_past: self.rebased_past,
        })
    }
}

/// Packages read at a time by those that read the whole store page by page.
pub const PAGE_PACKAGES: usize = IN_CHUNK;

impl Store {
    /// Loads packages (of one downstream, or all), with patches (dropped ones included),
    /// references and verdicts, ordered by downstream, package name, then patch number.
    ///
    /// # Errors
    /// A database error, or a stored value this version does not know.
    pub async fn load_packages(
        &self,
        downstream: Option<&str>,
        package: Option<&str>,
    ) -> Result<Vec<StoredPackage>> {
        let filter = match (downstream, package) {
            (ds, Some(p)) => Filter::Package(ds, p),
            (Some(ds), None) => Filter::Downstream(ds),
            (None, None) => Filter::All,
        };
        self.load(filter).await
    }

    /// The ids of the packages of one downstream (or all), in the order [`Store::load_packages`]
    /// returns them: for reading a large store a page at a time.
    ///
    /// # Errors
    /// A database error.
    pub async fn package_ids(&self, downstream: Option<&str>) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT k.id FROM packages k JOIN downstreams d ON d.id = k.downstream_id \
             WHERE ($1 = '' OR d.name = $1) ORDER BY d.name, k.name",
        )
        .bind(downstream.unwrap_or_default().to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("listing packages")?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The packages with these ids (a page of [`Store::package_ids`], at most
    /// [`PAGE_PACKAGES`]), as [`Store::load_packages`] loads them.
    ///
    /// # Errors
    /// A database error, or a stored value this version does not know.
    pub async fn load_packages_by_id(&self, ids: &[i64]) -> Result<Vec<StoredPackage>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            out.extend(self.load(Filter::Ids(chunk)).await?);
        }
        Ok(out)
    }

    async fn load(&self, filter: Filter<'_>) -> Result<Vec<StoredPackage>> {
        // Separate statements per filter: an `($1 = '' OR k.name = $1)` would keep SQLite
        // from using the name index, and a chat question about one package must not read
        // every patch.
        const SELECT: &str = "SELECT k.id, d.name AS downstream, k.name, k.spec_path, k.epoch, k.version, \
             k.release, k.local_marker, k.dist_tag, k.upstream, k.url, k.source0, k.changelog_refs, \
             k.first_seen, k.removed_at FROM packages k JOIN downstreams d ON d.id = k.downstream_id";
        let q = match filter {
            Filter::All => sqlx::query_as::<_, PackageRow>(AssertSqlSafe(format!(
                "{SELECT} ORDER BY d.name, k.name"
            ))),
            Filter::Downstream(ds) => sqlx::query_as(AssertSqlSafe(format!(
                "{SELECT} WHERE d.name = $1 ORDER BY k.name"
            )))
            .bind(ds.to_string()),
            Filter::Package(ds, name) => sqlx::query_as(AssertSqlSafe(format!(
                "{SELECT} WHERE k.name = $1 AND ($2 = '' OR d.name = $2) ORDER BY d.name"
            )))
            .bind(name.to_string())
            .bind(ds.unwrap_or_default().to_string()),
            Filter::Ids(ids) => {
                let mut q = sqlx::query_as(AssertSqlSafe(format!(
                    "{SELECT} WHERE k.id IN ({}) ORDER BY d.name, k.name",
                    placeholders(1, ids.len())
                )));
                for id in ids {
                    q = q.bind(*id);
                }
                q
            }
        };
        let rows = q.fetch_all(&self.pool).await.ctx("loading packages")?;
        let mut out = Vec::with_capacity(rows.len());
        let mut index: HashMap<i64, usize> = HashMap::with_capacity(rows.len());
        for row in rows {
            index.insert(row.id, out.len());
            out.push(row.decode()?);
        }
        if out.is_empty() {
            return Ok(out);
        }
        let ids: Option<Vec<i64>> =
            (!matches!(filter, Filter::All)).then(|| index.keys().copied().collect());

        let mut refs: HashMap<i64, Vec<Reference>> = HashMap::new();
        for row in self
            .rows_of::<RefRow>(
                "SELECT r.patch_id, r.kind, r.ref_id, r.url, r.role, r.confidence, r.found_in, r.note \
                 FROM patch_refs r JOIN patches p ON p.id = r.patch_id",
                "p.package_id",
                ids.as_deref(),
                "ORDER BY r.id",
                "loading references",
            )
            .await?
        {
            let patch_id = row.patch_id;
            refs.entry(patch_id).or_default().push(row.decode()?);
        }
        let mut verdicts: HashMap<i64, Verdict> = HashMap::new();
        for row in self
            .rows_of::<VerdictRow>(
                "SELECT v.patch_id, v.state, v.confidence, v.evidence, v.rebased_past \
                 FROM verdicts v JOIN patches p ON p.id = v.patch_id",
                "p.package_id",
                ids.as_deref(),
                "",
                "loading verdicts",
            )
            .await?
        {
            let patch_id = row.patch_id;
            verdicts.insert(patch_id, row.decode()?);
        }
        let mut patches = self
            .rows_of::<PatchRow>(
                "SELECT p.id, p.package_id, p.file, p.number, p.path, p.condition, p.subject, p.author, \
                 p.authored, p.lines_added, p.lines_removed, p.state, p.claims, p.first_seen, \
                 p.last_seen, p.dropped_at, p.carried_commit, p.origin FROM patches p",
                "p.package_id",
                ids.as_deref(),
                "",
                "loading patches",
            )
            .await?;
        patches.sort_by(|a, b| {
            (a.package_id, a.number, &a.file).cmp(&(b.package_id, b.number, &b.file))
        });
        for row in patches {
            let Some(&pi) = index.get(&row.package_id) else {
                continue;
            };
            let claims: Vec<Claim> =
                serde_json::from_str(&row.claims).map_err(|_| corrupt("claims", &row.claims))?;
            let inventory =
                PatchState::parse(&row.state).ok_or_else(|| corrupt("patch state", &row.state))?;
            let patch = Patch {
                file: row.file,
                number: row.number.and_then(|v| u32::try_from(v).ok()),
                path: row.path,
                condition: row.condition,
                subject: row.subject,
                author: row.author,
                date: row.authored,
                lines_added: u32::try_from(row.lines_added).unwrap_or(0),
                lines_removed: u32::try_from(row.lines_removed).unwrap_or(0),
                refs: refs.remove(&row.id).unwrap_or_default(),
                claims,
                commit: match &row.carried_commit {
                    Some(json) => Some(
                        serde_json::from_str(json).map_err(|_| corrupt("carried commit", json))?,
                    ),
                    None => None,
                },
                origin: row
                    .origin
                    .as_deref()
                    .and_then(|o| serde_json::from_str(o).ok()),
            };
            let verdict = verdicts.remove(&row.id).unwrap_or_else(|| Verdict {
                state: inventory,
                ..Verdict::from_inventory(&patch)
            });
            let state = if row.dropped_at.is_some() {
                PatchState::Dropped
            } else {
                verdict.state
            };
            out[pi].patches.push(StoredPatch {
                patch,
                state,
                verdict,
                first_seen: row.first_seen,
                last_seen: row.last_seen,
                dropped_at: row.dropped_at,
            });
        }
        Ok(out)
    }

    /// The base dist-git commits that took a change we carried first (patches whose origin
    /// is [`crate::model::OriginKind::TakenByBase`]): `(distro, package, commit)`, once each.
    ///
    /// # Errors
    /// A database error.
    pub async fn taken_by_base(&self) -> Result<Vec<(String, String, String)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT k.name, p.origin FROM patches p JOIN packages k ON k.id = p.package_id \
             WHERE p.dropped_at IS NULL AND p.origin LIKE $1",
        )
        .bind("%\"taken-by-base\"%")
        .fetch_all(&self.pool)
        .await
        .ctx("finding patches the base took")?;
        let mut out: Vec<(String, String, String)> = rows
            .into_iter()
            .filter_map(|(package, origin)| {
                let o: crate::model::PatchOrigin = serde_json::from_str(&origin).ok()?;
                (o.kind == crate::model::OriginKind::TakenByBase)
                    .then_some((o.distro, package, o.commit?))
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Packages with a carried commit whose sha (or upstream match) contains `sha` (hex).
    ///
    /// # Errors
    /// A database error.
    pub async fn packages_with_commit(&self, sha: &str) -> Result<Vec<StoredPackage>> {
        let hex: String = sha.chars().filter(char::is_ascii_hexdigit).collect();
        let names: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT d.name, k.name FROM patches p JOIN packages k ON k.id = p.package_id \
             JOIN downstreams d ON d.id = k.downstream_id \
             WHERE p.carried_commit IS NOT NULL AND p.carried_commit LIKE $1",
        )
        .bind(format!("%\"{hex}%"))
        .fetch_all(&self.pool)
        .await
        .ctx("finding carried commits")?;
        let mut out = Vec::new();
        for (ds, name) in names {
            out.extend(self.load_packages(Some(&ds), Some(&name)).await?);
        }
        Ok(out)
    }

    /// Rows of `select`, all of them, or those whose `column` is one of `ids` (in chunks).
    async fn rows_of<T>(
        &self,
        select: &str,
        column: &str,
        ids: Option<&[i64]>,
        order: &str,
        what: &'static str,
    ) -> Result<Vec<T>>
    where
        T: for<'r> FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let Some(ids) = ids else {
            return sqlx::query_as::<_, T>(AssertSqlSafe(format!("{select} {order}")))
                .fetch_all(&self.pool)
                .await
                .ctx(what);
        };
        let mut out = Vec::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "{select} WHERE {column} IN ({}) {order}",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query_as::<_, T>(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(q.fetch_all(&self.pool).await.ctx(what)?);
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
        #[derive(FromRow)]
        struct Row {
            downstream: String,
            name: String,
            package: Option<String>,
            description: String,
            refs: String,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT d.name AS downstream, v.name, v.package, v.description, v.refs FROM deviations v \
             JOIN downstreams d ON d.id = v.downstream_id WHERE v.removed_at IS NULL AND ($1 = '' OR d.name = $1) \
             ORDER BY d.name, v.name",
        )
        .bind(downstream.unwrap_or_default().to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading deviations")?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.downstream,
                    Deviation {
                        name: r.name,
                        package: r.package,
                        description: r.description,
                        refs: serde_json::from_str(&r.refs)
                            .map_err(|_| corrupt("deviation refs", &r.refs))?,
                    },
                ))
            })
            .collect()
    }
}
