//! Writing a scan: one transaction per downstream, idempotent. Unchanged rows only get their
//! `last_seen` moved; changed ones are rewritten; a patch (or package) no longer in dist-git
//! is kept and marked dropped with the date, never deleted.

use super::{Backend, QueryContext, Result, Store, fingerprint, timestamp};
use crate::inventory::Inventory;
use crate::model::{Package, Patch, PatchState, Reference};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, FromRow};
use std::collections::HashMap;

/// Rows per multi-row INSERT: far below SQLite's 32766 and PostgreSQL's 65535 parameters.
pub(crate) const INSERT_CHUNK_ROWS: usize = 200;

/// What a scan changed in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScanSummary {
    pub packages: usize,
    pub patches: usize,
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub dropped: usize,
    pub packages_removed: usize,
    pub warnings: usize,
    /// Packages kept as they were because their spec could not be read.
    pub kept_unreadable: usize,
}

type AnyQuery<'q> = Query<'q, sqlx::Any, AnyArguments>;

/// A multi-row `INSERT ... VALUES (..),(..)` for `rows` rows of `cols` columns.
///
/// PostgreSQL needs numbered `$n` placeholders. SQLite gets anonymous `?`: sqlx resolves each
/// named parameter with `sqlite3_bind_parameter_name`, which walks a list, so binding a
/// 3,000-parameter statement by `$n` is quadratic; it was 45% of a 20,000-patch scan.
pub(crate) fn values_sql(
    prefix: &str,
    cols: usize,
    rows: usize,
    suffix: &str,
    backend: Backend,
) -> String {
    let mut sql = String::with_capacity(prefix.len() + rows * cols * 6 + suffix.len());
    sql.push_str(prefix);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(suffix);
    sql
}

/// A stored patch as a scan compares it: id, package id, file, fingerprint, dropped at,
/// whether it is a carried commit (0/1), first seen.
type KnownPatch = (i64, i64, String, String, Option<String>, i64, String);

fn patch_fingerprint(p: &Patch) -> String {
    fingerprint(&serde_json::to_vec(p).unwrap_or_default())
}

fn package_fingerprint(p: &Package) -> String {
    // The package row without its patches (they have their own rows).
    let head = Package {
        patches: Vec::new(),
        ..p.clone()
    };
    fingerprint(&serde_json::to_vec(&head).unwrap_or_default())
}

fn opt_i64(v: Option<u32>) -> Option<i64> {
    v.map(i64::from)
}

fn bind_patch<'q>(
    q: AnyQuery<'q>,
    package_id: i64,
    p: &Patch,
    fp: String,
    now: &str,
) -> AnyQuery<'q> {
    q.bind(package_id)
        .bind(p.file.clone())
        .bind(opt_i64(p.number))
        .bind(p.path.clone())
        .bind(p.condition.clone())
        .bind(p.subject.clone())
        .bind(p.author.clone())
        .bind(p.date.clone())
        .bind(i64::from(p.lines_added))
        .bind(i64::from(p.lines_removed))
        .bind(p.inventory_state().as_str())
        .bind(serde_json::to_string(&p.claims).unwrap_or_else(|_| "[]".into()))
        .bind(fp)
        .bind(now.to_string())
        .bind(now.to_string())
        .bind(carried_commit_json(p))
        .bind(origin_json(p))
        .bind(ours(p))
}
const PATCH_COLS: usize = 18;
const PATCH_INSERT: &str = "INSERT INTO patches (package_id, file, number, path, condition, subject, author, \
     authored, lines_added, lines_removed, state, claims, fingerprint, first_seen, last_seen, carried_commit, \
     origin, ours)";

/// The `ours` column: whether the patch counts as our debt.
fn ours(p: &Patch) -> i64 {
    i64::from(crate::model::PatchOrigin::is_ours(p.origin.as_ref()))
}

fn origin_json(p: &Patch) -> Option<String> {
    p.origin
        .as_ref()
        .and_then(|o| serde_json::to_string(o).ok())
}

fn carried_commit_json(p: &Patch) -> Option<String> {
    p.commit
        .as_ref()
        .and_then(|c| serde_json::to_string(c).ok())
}

fn bind_ref<'q>(q: AnyQuery<'q>, patch_id: i64, r: &Reference) -> AnyQuery<'q> {
    q.bind(patch_id)
        .bind(r.kind.as_str())
        .bind(r.id.clone())
        .bind(r.url.clone())
        .bind(r.role.as_str())
        .bind(r.confidence.as_str())
        .bind(r.found_in.clone())
        .bind(r.note.clone())
}
const REF_COLS: usize = 8;
const REF_INSERT: &str =
    "INSERT INTO patch_refs (patch_id, kind, ref_id, url, role, confidence, found_in, note)";

impl Store {
    /// Records the result of scanning `downstream` at `now`.
    ///
    /// # Errors
    /// A database error; the transaction is rolled back and nothing stored before is lost.
    pub async fn apply_inventory(
        &self,
        downstream: &str,
        inv: &Inventory,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ScanSummary> {
        let now = timestamp(now);
        let mut tx = self.begin_write("starting the scan transaction").await?;
        let (ds_id,): (i64,) = sqlx::query_as(
            "INSERT INTO downstreams (name, last_scan_at) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET last_scan_at = excluded.last_scan_at RETURNING id",
        )
        .bind(downstream.to_string())
        .bind(now.clone())
        .fetch_one(&mut *tx)
        .await
        .ctx("recording the downstream")?;

        // What is stored now.
        let known: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT id, name, fingerprint, spec_path FROM packages WHERE downstream_id = $1",
        )
        .bind(ds_id)
        .fetch_all(&mut *tx)
        .await
        .ctx("loading packages")?;
        // Packages whose spec (or a folder above it) could not be read this time: not gone,
        // just not visible; they keep their last state.
        let unseen: std::collections::HashSet<i64> = known
            .iter()
            .filter(|(_, _, _, spec)| {
                inv.unreadable.iter().any(|u| {
                    spec == u
                        || spec
                            .strip_prefix(u.as_str())
                            .is_some_and(|r| r.starts_with('/'))
                })
            })
            .map(|(id, ..)| *id)
            .collect();
        let known_pkgs: HashMap<String, (i64, String)> = known
            .into_iter()
            .map(|(id, name, fp, _)| (name, (id, fp)))
            .collect();
        let known: Vec<KnownPatch> = sqlx::query_as(
            "SELECT p.id, p.package_id, p.file, p.fingerprint, p.dropped_at, \
             CAST(CASE WHEN p.carried_commit IS NULL THEN 0 ELSE 1 END AS BIGINT), p.first_seen FROM patches p \
             JOIN packages k ON k.id = p.package_id WHERE k.downstream_id = $1",
        )
        .bind(ds_id)
        .fetch_all(&mut *tx)
        .await
        .ctx("loading patches")?;
        // Carried commits are only judged by a scan that read the forks.
        let out_of_scope: std::collections::HashSet<i64> = known
            .iter()
            .filter(|(.., dropped, commit, _)| *commit == 1 && dropped.is_none() && !inv.forks_read)
            .map(|(id, ..)| *id)
            .collect();
        let packages_with_commits: std::collections::HashSet<i64> = known
            .iter()
            .filter(|(id, ..)| out_of_scope.contains(id))
            .map(|(_, pkg, ..)| *pkg)
            .collect();
        let known_patches: HashMap<(i64, String), (i64, String, bool, String)> = known
            .into_iter()
            .map(|(id, pkg, file, fp, dropped, _, first_seen)| {
                ((pkg, file), (id, fp, dropped.is_some(), first_seen))
            })
            .collect();
        // Every patch seen, by (package id, file): its id and first-seen time.
        let mut stored: HashMap<(i64, &str), (i64, String)> = HashMap::new();

        let mut summary = ScanSummary {
            packages: inv.packages.len(),
            warnings: inv.warnings.len(),
            ..ScanSummary::default()
        };
        let mut seen_pkg_ids = Vec::with_capacity(inv.packages.len());
        let mut new_patches: Vec<(i64, &Patch, String)> = Vec::new();
        let mut rewritten: Vec<(i64, &Patch, String)> = Vec::new();
        let mut seen_patch_ids: Vec<i64> = Vec::new();

        for pkg in &inv.packages {
            let fp = package_fingerprint(pkg);
            let upstream = pkg
                .upstream
                .as_ref()
                .map(|u| serde_json::to_string(u).unwrap_or_default());
            let changelog =
                serde_json::to_string(&pkg.changelog_refs).unwrap_or_else(|_| "[]".into());
            // One upsert for new and changed packages; `first_seen` is only set on insert.
            let pkg_id = match known_pkgs.get(&pkg.name) {
                Some((id, old)) if *old == fp => *id,
                _ => sqlx::query_as::<_, (i64,)>(
                    "INSERT INTO packages (downstream_id, name, spec_path, epoch, version, release, \
                     local_marker, dist_tag, upstream, url, source0, changelog_refs, fingerprint, \
                     first_seen, last_seen) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$14) \
                     ON CONFLICT (downstream_id, name) DO UPDATE SET spec_path = excluded.spec_path, \
                     epoch = excluded.epoch, version = excluded.version, release = excluded.release, \
                     local_marker = excluded.local_marker, dist_tag = excluded.dist_tag, \
                     upstream = excluded.upstream, url = excluded.url, source0 = excluded.source0, \
                     changelog_refs = excluded.changelog_refs, fingerprint = excluded.fingerprint, \
                     removed_at = NULL RETURNING id",
                )
                .bind(ds_id)
                .bind(pkg.name.clone())
                .bind(pkg.spec_path.clone())
                .bind(opt_i64(pkg.epoch))
                .bind(pkg.version.clone())
                .bind(pkg.release.clone())
                .bind(pkg.local_marker.clone())
                .bind(pkg.dist_tag.clone())
                .bind(upstream)
                .bind(pkg.url.clone())
                .bind(pkg.source0.clone())
                .bind(changelog)
                .bind(fp)
                .bind(now.clone())
                .fetch_one(&mut *tx)
                .await
                .ctx("recording a package")?
                .0,
            };
            seen_pkg_ids.push(pkg_id);
            summary.patches += pkg.patches.len();
            let mut files_here = std::collections::HashSet::new();
            for patch in &pkg.patches {
                if !files_here.insert(patch.file.as_str()) {
                    continue; // the same file named twice in one spec: one row
                }
                let fp = patch_fingerprint(patch);
                let known = known_patches.get(&(pkg_id, patch.file.clone()));
                if let Some((id, _, _, first_seen)) = known {
                    stored.insert((pkg_id, patch.file.as_str()), (*id, first_seen.clone()));
                }
                match known {
                    Some((id, old, dropped, _)) if *old == fp && !dropped => {
                        seen_patch_ids.push(*id);
                        summary.unchanged += 1;
                    }
                    Some((id, ..)) => {
                        seen_patch_ids.push(*id);
                        rewritten.push((*id, patch, fp));
                        summary.changed += 1;
                    }
                    None => {
                        new_patches.push((pkg_id, patch, fp));
                        summary.added += 1;
                    }
                }
            }
        }

        // Rewritten patches: new facts, references replaced, dropped mark cleared.
        for (id, p, fp) in &rewritten {
            sqlx::query(
                "UPDATE patches SET number = $1, path = $2, condition = $3, subject = $4, author = $5, \
                 authored = $6, lines_added = $7, lines_removed = $8, state = $9, claims = $10, \
                 fingerprint = $11, carried_commit = $13, origin = $14, ours = $15, dropped_at = NULL \
                 WHERE id = $12",
            )
            .bind(opt_i64(p.number))
            .bind(p.path.clone())
            .bind(p.condition.clone())
            .bind(p.subject.clone())
            .bind(p.author.clone())
            .bind(p.date.clone())
            .bind(i64::from(p.lines_added))
            .bind(i64::from(p.lines_removed))
            .bind(p.inventory_state().as_str())
            .bind(serde_json::to_string(&p.claims).unwrap_or_else(|_| "[]".into()))
            .bind(fp.clone())
            .bind(*id)
            .bind(carried_commit_json(p))
            .bind(origin_json(p))
            .bind(ours(p))
            .execute(&mut *tx)
            .await
            .ctx("updating a patch")?;
            sqlx::query("DELETE FROM patch_refs WHERE patch_id = $1")
                .bind(*id)
                .execute(&mut *tx)
                .await
                .ctx("replacing references")?;
        }
        let mut ref_rows: Vec<(i64, &Reference)> = rewritten
            .iter()
            .flat_map(|(id, p, _)| p.refs.iter().map(move |r| (*id, r)))
            .collect();

        // New patches in multi-row inserts; RETURNING maps ids back by (package, file).
        for chunk in new_patches.chunks(INSERT_CHUNK_ROWS) {
            let sql = values_sql(
                PATCH_INSERT,
                PATCH_COLS,
                chunk.len(),
                "RETURNING id, package_id, file",
                self.backend,
            );
            // Only `$n` placeholders are generated; every value is bound.
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (pkg_id, p, fp) in chunk {
                q = bind_patch(q, *pkg_id, p, fp.clone(), &now);
            }
            let rows = q.fetch_all(&mut *tx).await.ctx("inserting patches")?;
            let mut ids: HashMap<(i64, String), i64> = HashMap::with_capacity(rows.len());
            for row in rows {
                let (id, pkg, file): (i64, i64, String) =
                    FromRow::from_row(&row).ctx("reading patch ids")?;
                ids.insert((pkg, file), id);
            }
            for (pkg_id, p, _) in chunk {
                if let Some(id) = ids.get(&(*pkg_id, p.file.clone())) {
                    seen_patch_ids.push(*id);
                    stored.insert((*pkg_id, p.file.as_str()), (*id, now.clone()));
                    ref_rows.extend(p.refs.iter().map(|r| (*id, r)));
                }
            }
        }
        for chunk in ref_rows.chunks(INSERT_CHUNK_ROWS) {
            let sql = values_sql(REF_INSERT, REF_COLS, chunk.len(), "", self.backend);
            // Only `$n` placeholders are generated; every value is bound.
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (id, r) in chunk {
                q = bind_ref(q, *id, r);
            }
            q.execute(&mut *tx).await.ctx("inserting references")?;
        }

        // Everything seen is seen now; whatever was carried and was not seen is dropped.
        sqlx::query(
            "UPDATE packages SET last_seen = $1 WHERE downstream_id = $2 AND removed_at IS NULL",
        )
        .bind(now.clone())
        .bind(ds_id)
        .execute(&mut *tx)
        .await
        .ctx("marking packages seen")?;
        let seen_pkgs: std::collections::HashSet<i64> = seen_pkg_ids.iter().copied().collect();
        summary.kept_unreadable = unseen.iter().filter(|id| !seen_pkgs.contains(id)).count();
        for (id, _) in known_pkgs.values().filter(|(id, _)| {
            !seen_pkgs.contains(id) && !unseen.contains(id) && !packages_with_commits.contains(id)
        }) {
            let n = sqlx::query(
                "UPDATE packages SET removed_at = $1 WHERE id = $2 AND removed_at IS NULL",
            )
            .bind(now.clone())
            .bind(*id)
            .execute(&mut *tx)
            .await
            .ctx("marking a package removed")?;
            summary.packages_removed += n.rows_affected() as usize;
        }
        let seen: std::collections::HashSet<i64> = seen_patch_ids.iter().copied().collect();
        let gone: Vec<i64> = known_patches
            .iter()
            .filter(|((pkg, _), (id, _, dropped, _))| {
                !dropped
                    && !seen.contains(id)
                    && !unseen.contains(pkg)
                    && !out_of_scope.contains(id)
            })
            .map(|(_, (id, ..))| *id)
            .collect();
        let destinations = super::outbox::destinations(&mut tx).await?;
        for id in &gone {
            sqlx::query("UPDATE patches SET dropped_at = $1 WHERE id = $2")
                .bind(now.clone())
                .bind(*id)
                .execute(&mut *tx)
                .await
                .ctx("marking a patch dropped")?;
            // A decided patch leaving dist-git is a transition like any other.
            let row: Option<(String, String, String)> = sqlx::query_as(
                "SELECT COALESCE(v.state, p.state), p.file, k.name FROM patches p \
                 LEFT JOIN verdicts v ON v.patch_id = p.id \
                 JOIN packages k ON k.id = p.package_id JOIN downstreams d ON d.id = k.downstream_id \
                 WHERE p.id = $1 AND d.synced_at IS NOT NULL",
            )
            .bind(*id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("loading a verdict")?;
            if let Some((from, file, package)) = row {
                super::outbox::write_event(
                    &mut tx,
                    &super::outbox::NewEvent {
                        downstream,
                        package: &package,
                        subject: &file,
                        kind: super::events::EventKind::PatchState,
                        from: Some(&from),
                        to: PatchState::Dropped.as_str(),
                        evidence: "[]",
                    },
                    &now,
                    &destinations,
                )
                .await?;
                sqlx::query("DELETE FROM verdicts WHERE patch_id = $1")
                    .bind(*id)
                    .execute(&mut *tx)
                    .await
                    .ctx("clearing a verdict")?;
            }
        }
        summary.dropped = gone.len();
        sqlx::query(
            "UPDATE patches SET last_seen = $1 WHERE dropped_at IS NULL AND package_id IN \
             (SELECT id FROM packages WHERE downstream_id = $2)",
        )
        .bind(now.clone())
        .bind(ds_id)
        .execute(&mut *tx)
        .await
        .ctx("marking patches seen")?;

        if inv.forks_read {
            record_missing_fixes(&mut tx, downstream, inv, &now, &destinations).await?;
        }
        // New debt is news once the downstream has its baseline: each new patch (or carried
        // commit) of ours is announced once, when it first appears.
        let (base, synced): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT base, synced_at FROM downstreams WHERE id = $1")
                .bind(ds_id)
                .fetch_one(&mut *tx)
                .await
                .ctx("reading the downstream's baseline")?;
        if synced.is_some() {
            let names: HashMap<i64, &str> = inv
                .packages
                .iter()
                .zip(&seen_pkg_ids)
                .map(|(p, id)| (*id, p.name.as_str()))
                .collect();
            for (pkg_id, p, _) in &new_patches {
                if !crate::model::PatchOrigin::is_ours(p.origin.as_ref()) {
                    continue;
                }
                let hops = vec![crate::evidence::Hop::New {
                    commit: p.commit.as_ref().map(|c| (c.sha.clone(), c.branch.clone())),
                    lines_added: p.lines_added,
                    lines_removed: p.lines_removed,
                    url: p.refs.iter().find_map(|r| r.url.clone()),
                }];
                let evidence = serde_json::to_string(&hops).unwrap_or_else(|_| "[]".into());
                super::outbox::write_event(
                    &mut tx,
                    &super::outbox::NewEvent {
                        downstream,
                        package: names.get(pkg_id).copied().unwrap_or_default(),
                        subject: &p.file,
                        kind: super::events::EventKind::PatchState,
                        from: None,
                        to: p.inventory_state().as_str(),
                        evidence: &evidence,
                    },
                    &now,
                    &destinations,
                )
                .await?;
            }
        }
        self.write_deviations(&mut tx, ds_id, inv, &now).await?;
        // Same transaction: what the new inventory changes in the verdicts.
        let deciding = std::time::Instant::now();
        // Packages whose every carried patch this scan saw are decided from memory; the rest
        // (unreadable now, fork commits not read this time, removed) as stored.
        let from_memory: std::collections::HashSet<i64> = seen_pkg_ids
            .iter()
            .copied()
            .filter(|id| !unseen.contains(id) && !packages_with_commits.contains(id))
            .collect();
        let mut scanned = Vec::with_capacity(summary.patches);
        for (pkg, pkg_id) in inv.packages.iter().zip(&seen_pkg_ids) {
            if !from_memory.contains(pkg_id) {
                continue;
            }
            let mut files_here = std::collections::HashSet::new();
            for patch in pkg
                .patches
                .iter()
                .filter(|p| files_here.insert(p.file.as_str()))
            {
                if let Some((id, first_seen)) = stored.get(&(*pkg_id, patch.file.as_str())) {
                    scanned.push(super::engine::Scanned {
                        patch_id: *id,
                        package_id: *pkg_id,
                        package: pkg,
                        patch,
                        first_seen: first_seen.clone(),
                    });
                }
            }
        }
        let scanned_downstream = super::engine::ScannedDownstream {
            name: downstream,
            base: base.as_deref(),
            synced: synced.is_some(),
        };
        super::engine::reevaluate_scanned(&mut tx, &scanned_downstream, &scanned, &now).await?;
        let rest: Vec<i64> = super::engine::packages_of(&mut tx, ds_id)
            .await?
            .into_iter()
            .filter(|id| !from_memory.contains(id))
            .collect();
        super::engine::reevaluate(&mut tx, &rest, &now).await?;
        crate::inventory::phases::add(
            crate::inventory::phases::Phase::Verdicts,
            deciding.elapsed(),
        );
        let warnings: Vec<String> = inv.warnings.iter().map(ToString::to_string).collect();
        sqlx::query(
            "INSERT INTO scans (downstream_id, scanned_at, packages, patches, added, changed, dropped, warnings) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(ds_id)
        .bind(now.clone())
        .bind(summary.packages as i64)
        .bind(summary.patches as i64)
        .bind(summary.added as i64)
        .bind(summary.changed as i64)
        .bind(summary.dropped as i64)
        .bind(serde_json::to_string(&warnings).unwrap_or_else(|_| "[]".into()))
        .execute(&mut *tx)
        .await
        .ctx("recording the scan")?;
        tx.commit().await.ctx("committing the scan")?;
        Ok(summary)
    }

    async fn write_deviations(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        ds_id: i64,
        inv: &Inventory,
        now: &str,
    ) -> Result<()> {
        for d in &inv.deviations {
            sqlx::query(
                "INSERT INTO deviations (downstream_id, name, package, description, refs, first_seen, last_seen) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (downstream_id, name) DO UPDATE SET \
                 package = excluded.package, description = excluded.description, refs = excluded.refs, \
                 last_seen = excluded.last_seen, removed_at = NULL",
            )
            .bind(ds_id)
            .bind(d.name.clone())
            .bind(d.package.clone())
            .bind(d.description.clone())
            .bind(serde_json::to_string(&d.refs).unwrap_or_else(|_| "[]".into()))
            .bind(now.to_string())
            .execute(&mut **tx)
            .await
            .ctx("recording a deviation")?;
        }
        sqlx::query("UPDATE deviations SET removed_at = $1 WHERE downstream_id = $2 AND last_seen < $1 AND removed_at IS NULL")
            .bind(now.to_string())
            .bind(ds_id)
            .execute(&mut **tx)
            .await
            .ctx("marking deviations removed")?;
        Ok(())
    }
}

/// Upstream follow-up fixes of carried changes: each is an event once (the `missing_fixes`
/// table remembers what was told).
async fn record_missing_fixes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    downstream: &str,
    inv: &Inventory,
    now: &str,
    destinations: &[String],
) -> Result<()> {
    for pkg in &inv.packages {
        for patch in &pkg.patches {
            let Some(c) = &patch.commit else { continue };
            for fix in &c.missing_fixes {
                let inserted = sqlx::query(
                    "INSERT INTO missing_fixes (downstream, package, fix_sha, carried_sha, first_seen) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (downstream, package, fix_sha) DO NOTHING",
                )
                .bind(downstream.to_string())
                .bind(pkg.name.clone())
                .bind(fix.sha.clone())
                .bind(c.sha.clone())
                .bind(now.to_string())
                .execute(&mut **tx)
                .await
                .ctx("recording a missing fix")?
                .rows_affected();
                if inserted == 0 {
                    continue;
                }
                let hops = vec![crate::evidence::Hop::MissingFix {
                    sha: fix.sha.clone(),
                    subject: fix.subject.clone(),
                    fixes: fix.fixes.clone(),
                    url: pkg.upstream.as_ref().and_then(|u| u.commit_url(&fix.sha)),
                }];
                let evidence = serde_json::to_string(&hops).unwrap_or_else(|_| "[]".into());
                super::outbox::write_event(
                    tx,
                    &super::outbox::NewEvent {
                        downstream,
                        package: &pkg.name,
                        subject: &patch.file,
                        kind: super::events::EventKind::MissingFix,
                        from: None,
                        to: super::events::MISSING_FIX,
                        evidence: &evidence,
                    },
                    now,
                    destinations,
                )
                .await?;
            }
        }
    }
    Ok(())
}
