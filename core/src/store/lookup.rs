//! Questions answered straight from the stored verdicts, without loading the inventory: the
//! debt counts, the droppable patches, and which patches carry a reference. These are what
//! chat asks most, so each is one indexed query.

use super::{QueryContext, Result, Store};
use crate::model::{Bucket, BucketCounts, PatchState, RefKind, evr_text};
use crate::verdict::Hop;
use sqlx::FromRow;
use std::collections::BTreeMap;

/// Carried patches of a downstream (or of one package in it) by bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebtCount {
    pub downstream: String,
    /// Set when counting one package: its name and EVR.
    pub package: Option<(String, String)>,
    /// Packages still in dist-git.
    pub packages: usize,
    pub counts: BucketCounts,
}

/// A patch the engine found droppable, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppablePatch {
    pub downstream: String,
    pub package: String,
    pub file: String,
    pub evidence: Vec<Hop>,
}

/// A carried patch that names a reference.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Carrier {
    pub downstream: String,
    pub base: Option<String>,
    pub package: String,
    pub epoch: Option<i64>,
    pub version: String,
    pub release: String,
    pub file: String,
}

impl Carrier {
    pub fn evr(&self) -> String {
        evr_text(self.epoch, &self.version, &self.release)
    }
}

impl Store {
    /// Carried patches per downstream by state (`package`: only that package, per downstream
    /// that has it). Removed packages and dropped patches do not count.
    ///
    /// # Errors
    /// A database error.
    pub async fn debt_counts(&self, package: Option<&str>) -> Result<Vec<DebtCount>> {
        type Row = (String, i64, i64, i64, i64, i64);
        let mut out: BTreeMap<String, DebtCount> = BTreeMap::new();
        match package {
            None => {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT d.name, COUNT(*) FROM packages k JOIN downstreams d ON d.id = k.downstream_id \
                     WHERE k.removed_at IS NULL GROUP BY d.name",
                )
                .fetch_all(&self.pool)
                .await
                .ctx("counting packages")?;
                for (ds, n) in rows {
                    out.insert(
                        ds.clone(),
                        DebtCount {
                            downstream: ds,
                            package: None,
                            packages: usize::try_from(n).unwrap_or(0),
                            counts: BucketCounts::default(),
                        },
                    );
                }
            }
            Some(name) => {
                let rows: Vec<(String, Option<i64>, String, String)> = sqlx::query_as(
                    "SELECT d.name, k.epoch, k.version, k.release FROM packages k \
                     JOIN downstreams d ON d.id = k.downstream_id WHERE k.name = $1 AND k.removed_at IS NULL",
                )
                .bind(name.to_string())
                .fetch_all(&self.pool)
                .await
                .ctx("finding a package")?;
                for (ds, epoch, version, release) in rows {
                    let evr = evr_text(epoch, &version, &release);
                    out.insert(
                        ds.clone(),
                        DebtCount {
                            downstream: ds,
                            package: Some((name.to_string(), evr)),
                            packages: 1,
                            counts: BucketCounts::default(),
                        },
                    );
                }
            }
        }
        // Kept per package by the engine; summed here.
        const SUMS: &str = "CAST(SUM(c.droppable) AS BIGINT), CAST(SUM(c.merged) AS BIGINT), \
             CAST(SUM(c.sent) AS BIGINT), CAST(SUM(c.kept) AS BIGINT), CAST(SUM(c.unknown) AS BIGINT)";
        let rows: Vec<Row> = match package {
            None => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT d.name AS downstream, {SUMS} FROM package_debt c \
                 JOIN packages k ON k.id = c.package_id JOIN downstreams d ON d.id = k.downstream_id \
                 WHERE k.removed_at IS NULL GROUP BY d.name"
            )))
            .fetch_all(&self.pool)
            .await
            .ctx("counting the debt")?,
            Some(name) => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT d.name AS downstream, {SUMS} FROM packages k \
                 JOIN package_debt c ON c.package_id = k.id JOIN downstreams d ON d.id = k.downstream_id \
                 WHERE k.name = $1 AND k.removed_at IS NULL GROUP BY d.name"
            )))
            .bind(name.to_string())
            .fetch_all(&self.pool)
            .await
            .ctx("counting the debt")?,
        };
        for (downstream, droppable, merged, sent, kept, unknown) in rows {
            let counts = [droppable, merged, sent, kept, unknown];
            if let Some(c) = out.get_mut(&downstream) {
                for (bucket, n) in Bucket::ALL.into_iter().zip(counts) {
                    c.counts.add_to(bucket, usize::try_from(n).unwrap_or(0));
                }
            }
        }
        Ok(out.into_values().collect())
    }

    /// Every carried patch whose verdict is droppable, by downstream, package and file.
    ///
    /// # Errors
    /// A database error.
    pub async fn droppable_patches(&self) -> Result<Vec<DroppablePatch>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT d.name, k.name, p.file, v.evidence FROM verdicts v JOIN patches p ON p.id = v.patch_id \
             JOIN packages k ON k.id = p.package_id JOIN downstreams d ON d.id = k.downstream_id \
             WHERE v.state = $1 AND p.dropped_at IS NULL AND k.removed_at IS NULL \
             ORDER BY d.name, k.name, p.number, p.file",
        )
        .bind(PatchState::Droppable.as_str())
        .fetch_all(&self.pool)
        .await
        .ctx("listing droppable patches")?;
        Ok(rows
            .into_iter()
            .map(|(downstream, package, file, evidence)| DroppablePatch {
                downstream,
                package,
                file,
                evidence: serde_json::from_str(&evidence).unwrap_or_default(),
            })
            .collect())
    }

    /// The carried patches that name the reference `kind`/`id`.
    ///
    /// # Errors
    /// A database error.
    pub async fn carriers(&self, kind: RefKind, id: &str) -> Result<Vec<Carrier>> {
        sqlx::query_as(
            "SELECT DISTINCT d.name AS downstream, d.base, k.name AS package, k.epoch, k.version, k.release, p.file \
             FROM patch_refs r JOIN patches p ON p.id = r.patch_id JOIN packages k ON k.id = p.package_id \
             JOIN downstreams d ON d.id = k.downstream_id \
             WHERE r.kind = $1 AND r.ref_id = $2 AND p.dropped_at IS NULL \
             ORDER BY d.name, k.name, p.file",
        )
        .bind(kind.as_str())
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("finding the patches that carry a reference")
    }
}
