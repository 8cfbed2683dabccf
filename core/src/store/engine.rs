//! The verdict engine inside the store: after any change of observations or inventory, the
//! affected patches are decided again in the SAME transaction, and every change of state is
//! written as an event (and one outbox row per destination) right there. A crash can never
//! leave an observation without the event it caused, or the reverse.

use super::{QueryContext, Result, StoredObservation};
use crate::model::{Claim, Package, Patch, RefKind, Reference, Role};
use crate::verdict::{self, ObservationsBySource};
use sqlx::{AssertSqlSafe, Row, Transaction};
use std::collections::{BTreeSet, HashMap};

type Tx<'a> = Transaction<'a, sqlx::Any>;

/// Ids per `IN (...)` list.
const IN_CHUNK: usize = 500;

fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The packages whose verdicts an observation of `source` on `items` can change.
pub(crate) async fn affected_packages(
    tx: &mut Tx<'_>,
    source: &str,
    items: &[String],
) -> Result<Vec<i64>> {
    let mut ids = BTreeSet::new();
    let kind = match source {
        "github" => Some(RefKind::GithubPr),
        "gitlab" => Some(RefKind::GitlabMr),
        "pagure" => Some(RefKind::PagurePr),
        "bugzilla" => Some(RefKind::Rhbz),
        _ => None,
    };
    for chunk in items.chunks(IN_CHUNK) {
        let rows = match (source, kind) {
            (_, Some(kind)) => {
                let sql = format!(
                    "SELECT DISTINCT p.package_id FROM patch_refs r JOIN patches p ON p.id = r.patch_id \
                     WHERE r.kind = $1 AND r.ref_id IN ({})",
                    placeholders(2, chunk.len())
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(kind.as_str());
                for i in chunk {
                    q = q.bind(i.clone());
                }
                q.fetch_all(&mut **tx)
                    .await
                    .ctx("finding affected patches")?
            }
            ("github-release", _) => {
                // `owner/repo@sha`: the packages with PRs (or commits) in that repository.
                let mut rows = Vec::new();
                for item in chunk {
                    let repo = item.split('@').next().unwrap_or_default();
                    let r = sqlx::query(
                        "SELECT DISTINCT p.package_id FROM patch_refs r JOIN patches p ON p.id = r.patch_id \
                         WHERE (r.kind = 'github-pr' AND r.ref_id LIKE $1) OR (r.kind = 'upstream-commit' AND r.ref_id = $2)",
                    )
                    .bind(format!("{repo}#%"))
                    .bind(item.clone())
                    .fetch_all(&mut **tx)
                    .await
                    .ctx("finding affected patches")?;
                    rows.extend(r);
                }
                rows
            }
            ("koji" | "repodata", _) => {
                // `distro/package`: that package in every downstream based on the distro.
                let mut rows = Vec::new();
                for item in chunk {
                    let Some((distro, name)) = item.split_once('/') else {
                        continue;
                    };
                    let r = sqlx::query(
                        "SELECT k.id FROM packages k JOIN downstreams d ON d.id = k.downstream_id WHERE k.name = $1 AND d.base = $2",
                    )
                    .bind(name.to_string())
                    .bind(distro.to_string())
                    .fetch_all(&mut **tx)
                    .await
                    .ctx("finding affected packages")?;
                    rows.extend(r);
                }
                rows
            }
            _ => Vec::new(),
        };
        for r in rows {
            ids.insert(r.try_get::<i64, _>(0).ctx("reading affected packages")?);
        }
    }
    Ok(ids.into_iter().collect())
}

/// Every package of `downstream`.
pub(crate) async fn packages_of(tx: &mut Tx<'_>, downstream_id: i64) -> Result<Vec<i64>> {
    let rows = sqlx::query("SELECT id FROM packages WHERE downstream_id = $1")
        .bind(downstream_id)
        .fetch_all(&mut **tx)
        .await
        .ctx("listing packages")?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>(0).ctx("reading packages"))
        .collect()
}

/// The observations of `source` for `items` (only those with data).
async fn load(
    tx: &mut Tx<'_>,
    source: &str,
    items: &BTreeSet<String>,
) -> Result<HashMap<String, StoredObservation>> {
    let mut out = HashMap::new();
    let items: Vec<&String> = items.iter().collect();
    for chunk in items.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT item, data FROM observations WHERE source = $1 AND data IS NOT NULL AND item IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(source.to_string());
        for i in chunk {
            q = q.bind((*i).clone());
        }
        for r in q.fetch_all(&mut **tx).await.ctx("loading observations")? {
            let item: String = r.try_get("item").ctx("reading observations")?;
            let data: Option<String> = r.try_get("data").ctx("reading observations")?;
            out.insert(
                item.clone(),
                StoredObservation {
                    item,
                    data,
                    upstream_changed_at: None,
                    observed_at: None,
                    last_error: None,
                },
            );
        }
    }
    Ok(out)
}

/// Only the observations that bear on `cands`: their references, the releases of merged
/// GitHub PRs among them, and what their base distributions ship of them.
async fn observations_for(tx: &mut Tx<'_>, cands: &[Candidate]) -> Result<ObservationsBySource> {
    let mut wanted: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for c in cands {
        for r in &c.patch.refs {
            let source = match r.kind {
                RefKind::GithubPr => "github",
                RefKind::GitlabMr => "gitlab",
                RefKind::PagurePr => "pagure",
                RefKind::Rhbz => "bugzilla",
                RefKind::UpstreamCommit => "github-release",
                _ => continue,
            };
            wanted.entry(source).or_default().insert(r.id.clone());
        }
        if let Some(base) = &c.base {
            for source in ["koji", "repodata"] {
                wanted
                    .entry(source)
                    .or_default()
                    .insert(format!("{base}/{}", c.package.name));
            }
        }
    }
    let mut out = ObservationsBySource::new();
    for source in ["github", "gitlab", "pagure", "bugzilla", "koji", "repodata"] {
        if let Some(items) = wanted.get(source) {
            out.insert(source.to_string(), load(tx, source, items).await?);
        }
    }
    // Releases: of the merge commits of merged GitHub PRs, and of upstream commits.
    let mut releases = wanted.remove("github-release").unwrap_or_default();
    for (id, o) in out.get("github").into_iter().flatten() {
        let v: serde_json::Value = o
            .data
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        if let (Some(repo), Some(sha)) = (
            id.split('#').next(),
            v.get("merge_commit_sha").and_then(|x| x.as_str()),
        ) {
            releases.insert(format!("{repo}@{sha}"));
        }
    }
    out.insert(
        "github-release".into(),
        load(tx, "github-release", &releases).await?,
    );
    Ok(out)
}

struct Candidate {
    patch_id: i64,
    /// The downstream finished a sync before: changes are announced.
    announce: bool,
    downstream: String,
    base: Option<String>,
    package: Package,
    patch: Patch,
}

/// Decides the carried patches of `package_ids` again; writes changed verdicts, and an event
/// (plus outbox rows) for each patch whose state changed from an earlier verdict. A patch's
/// first verdict is its baseline: no event. Returns the number of events written.
pub(crate) async fn reevaluate(tx: &mut Tx<'_>, package_ids: &[i64], now: &str) -> Result<usize> {
    if package_ids.is_empty() {
        return Ok(0);
    }
    let destinations: Vec<String> = sqlx::query("SELECT name FROM destinations ORDER BY name")
        .fetch_all(&mut **tx)
        .await
        .ctx("loading destinations")?
        .iter()
        .map(|r| r.try_get::<String, _>(0).ctx("reading destinations"))
        .collect::<Result<_>>()?;
    let mut events = 0;
    for chunk in package_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT p.id, p.file, p.claims, k.name, k.version, d.name AS downstream, d.base, d.synced_at FROM patches p \
             JOIN packages k ON k.id = p.package_id JOIN downstreams d ON d.id = k.downstream_id \
             WHERE p.dropped_at IS NULL AND p.package_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        let rows = q
            .fetch_all(&mut **tx)
            .await
            .ctx("loading patches to decide")?;
        let mut cands: Vec<Candidate> = Vec::with_capacity(rows.len());
        for r in &rows {
            let claims: String = r.try_get("claims").ctx("reading patches")?;
            cands.push(Candidate {
                patch_id: r.try_get("id").ctx("reading patches")?,
                announce: r
                    .try_get::<Option<String>, _>("synced_at")
                    .ctx("reading patches")?
                    .is_some(),
                downstream: r.try_get("downstream").ctx("reading patches")?,
                base: r.try_get("base").ctx("reading patches")?,
                package: Package {
                    name: r.try_get("name").ctx("reading patches")?,
                    version: r.try_get("version").ctx("reading patches")?,
                    ..Package::default()
                },
                patch: Patch {
                    file: r.try_get("file").ctx("reading patches")?,
                    claims: serde_json::from_str::<Vec<Claim>>(&claims).unwrap_or_default(),
                    ..Patch::default()
                },
            });
        }
        if cands.is_empty() {
            continue;
        }
        let index: HashMap<i64, usize> = cands
            .iter()
            .enumerate()
            .map(|(i, c)| (c.patch_id, i))
            .collect();
        let ids: Vec<i64> = cands.iter().map(|c| c.patch_id).collect();
        for ids in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT patch_id, kind, ref_id, url, role, confidence FROM patch_refs WHERE patch_id IN ({}) ORDER BY id",
                placeholders(1, ids.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in ids {
                q = q.bind(*id);
            }
            for r in q
                .fetch_all(&mut **tx)
                .await
                .ctx("loading references to decide")?
            {
                let pid: i64 = r.try_get("patch_id").ctx("reading references")?;
                let kind: String = r.try_get("kind").ctx("reading references")?;
                let role: String = r.try_get("role").ctx("reading references")?;
                let conf: String = r.try_get("confidence").ctx("reading references")?;
                let (Some(kind), Some(role), Some(confidence)) = (
                    RefKind::parse(&kind),
                    Role::parse(&role),
                    crate::model::Confidence::parse(&conf),
                ) else {
                    continue;
                };
                if let Some(&i) = index.get(&pid) {
                    cands[i].patch.refs.push(Reference {
                        kind,
                        id: r.try_get("ref_id").ctx("reading references")?,
                        url: r.try_get("url").ctx("reading references")?,
                        role,
                        confidence,
                        found_in: String::new(),
                        note: None,
                    });
                }
            }
        }
        // Previous verdicts.
        let mut previous: HashMap<i64, String> = HashMap::new();
        for ids in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT patch_id, state FROM verdicts WHERE patch_id IN ({})",
                placeholders(1, ids.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in ids {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut **tx).await.ctx("loading verdicts")? {
                previous.insert(
                    r.try_get("patch_id").ctx("reading verdicts")?,
                    r.try_get("state").ctx("reading verdicts")?,
                );
            }
        }
        let obs = observations_for(tx, &cands).await?;
        let facts = verdict::Facts::from_observations(&obs);
        for c in &cands {
            let v = verdict::decide(&c.patch, &c.package, &facts, c.base.as_deref());
            let state = v.state.as_str();
            // A patch without a stored verdict stands where its inventory puts it: verdicts
            // equal to that are not stored (a first scan writes no verdict rows at all).
            let inventory = c.patch.inventory_state().as_str().to_string();
            let before = previous.get(&c.patch_id).unwrap_or(&inventory);
            if before == state {
                continue;
            }
            let evidence = serde_json::to_string(&v.evidence).unwrap_or_else(|_| "[]".into());
            sqlx::query(
                "INSERT INTO verdicts (patch_id, state, confidence, evidence, rebased_past, decided_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (patch_id) DO UPDATE SET state = excluded.state, \
                 confidence = excluded.confidence, evidence = excluded.evidence, \
                 rebased_past = excluded.rebased_past, decided_at = excluded.decided_at",
            )
            .bind(c.patch_id)
            .bind(state)
            .bind(v.confidence.as_str())
            .bind(evidence.clone())
            .bind(v.rebased_past.clone())
            .bind(now.to_string())
            .execute(&mut **tx)
            .await
            .ctx("recording a verdict")?;
            if let Some(from) = Some(before.as_str()).filter(|_| c.announce) {
                write_event(
                    tx,
                    &c.downstream,
                    &c.package.name,
                    &c.patch.file,
                    "patch-state",
                    Some(from),
                    state,
                    &evidence,
                    now,
                    &destinations,
                )
                .await?;
                events += 1;
            }
        }
    }
    Ok(events)
}

/// One event and its outbox rows.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_event(
    tx: &mut Tx<'_>,
    downstream: &str,
    package: &str,
    subject: &str,
    kind: &str,
    from: Option<&str>,
    to: &str,
    evidence: &str,
    now: &str,
    destinations: &[String],
) -> Result<i64> {
    let id: i64 = sqlx::query(
        "INSERT INTO events (downstream, package, subject, kind, from_state, to_state, evidence, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(downstream.to_string())
    .bind(package.to_string())
    .bind(subject.to_string())
    .bind(kind.to_string())
    .bind(from.map(str::to_string))
    .bind(to.to_string())
    .bind(evidence.to_string())
    .bind(now.to_string())
    .fetch_one(&mut **tx)
    .await
    .ctx("recording an event")?
    .try_get(0)
    .ctx("reading an event id")?;
    for d in destinations {
        sqlx::query("INSERT INTO outbox (event_id, destination, idempotency_key, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(d.clone())
            .bind(format!("{d}:event:{id}"))
            .bind(now.to_string())
            .execute(&mut **tx)
            .await
            .ctx("queueing a delivery")?;
    }
    Ok(id)
}

/// Decides every tracked Fedora Change again (wiki observation + tracker bug); writes changed
/// statuses and, once a sync has completed before, a `change-state` event for each change.
pub(crate) async fn reevaluate_changes(tx: &mut Tx<'_>, now: &str) -> Result<usize> {
    let wiki = sqlx::query("SELECT item, data FROM observations WHERE source = 'fedora_wiki' AND data IS NOT NULL AND item LIKE 'Changes/%'")
        .fetch_all(&mut **tx)
        .await
        .ctx("loading Change observations")?;
    if wiki.is_empty() {
        return Ok(0);
    }
    // Only the tracker bugs of these Changes.
    let trackers: BTreeSet<String> = wiki
        .iter()
        .filter_map(|r| {
            let data: String = r.try_get("data").ok()?;
            let v: serde_json::Value = serde_json::from_str(&data).ok()?;
            crate::change::tracker_id(v["page"]["tracker_bug"].as_str()?)
        })
        .collect();
    let bugs: HashMap<String, serde_json::Value> = load(tx, "bugzilla", &trackers)
        .await?
        .into_iter()
        .filter_map(|(k, o)| Some((k, serde_json::from_str(o.data.as_deref()?).ok()?)))
        .collect();
    // What Bodhi says of each Fedora release (`F42` -> `current`).
    let releases: HashMap<u32, String> = sqlx::query(
        "SELECT item, data FROM observations WHERE source = 'bodhi' AND data IS NOT NULL",
    )
    .fetch_all(&mut **tx)
    .await
    .ctx("loading release states")?
    .iter()
    .filter_map(|r| {
        let item: String = r.try_get(0).ok()?;
        let data: String = r.try_get(1).ok()?;
        let v: serde_json::Value = serde_json::from_str(&data).ok()?;
        Some((
            item.strip_prefix('F')?.parse().ok()?,
            v["state"].as_str()?.to_string(),
        ))
    })
    .collect();
    let announce = sqlx::query("SELECT 1 FROM downstreams WHERE synced_at IS NOT NULL")
        .fetch_optional(&mut **tx)
        .await
        .ctx("checking the baseline")?
        .is_some();
    let destinations: Vec<String> = sqlx::query("SELECT name FROM destinations ORDER BY name")
        .fetch_all(&mut **tx)
        .await
        .ctx("loading destinations")?
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .collect();
    // Every stored status in one query, not one per Change.
    let known: HashMap<String, String> = sqlx::query("SELECT title, state_key FROM change_states")
        .fetch_all(&mut **tx)
        .await
        .ctx("loading Change statuses")?
        .iter()
        .filter_map(|r| {
            Some((
                r.try_get::<String, _>(0).ok()?,
                r.try_get::<String, _>(1).ok()?,
            ))
        })
        .collect();
    let mut events = 0;
    for r in wiki {
        let title: String = r.try_get("item").ctx("reading Changes")?;
        let data: String = r.try_get("data").ctx("reading Changes")?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&data) else {
            continue;
        };
        let tracker = v["page"]["tracker_bug"]
            .as_str()
            .and_then(crate::change::tracker_id);
        let bug = tracker.as_ref().and_then(|t| bugs.get(t));
        let t = bug.and_then(|b| {
            b["status"]
                .as_str()
                .map(|s| (s, b["resolution"].as_str().filter(|x| !x.is_empty())))
        });
        let st = crate::change::status(&v, t, &|n| releases.get(&n).cloned());
        let key = st.key();
        let before = known.get(&title).cloned();
        if before.as_deref() == Some(key.as_str()) {
            continue;
        }
        let evidence = serde_json::to_string(
            &st.evidence
                .iter()
                .map(|e| verdict::Hop {
                    text: e.clone(),
                    url: None,
                    at: None,
                })
                .collect::<Vec<_>>(),
        )
        .unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO change_states (title, state_key, state, release_nn, evidence, decided_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (title) DO UPDATE SET state_key = excluded.state_key, state = excluded.state, \
             release_nn = excluded.release_nn, evidence = excluded.evidence, decided_at = excluded.decided_at",
        )
        .bind(title.clone())
        .bind(key.clone())
        .bind(st.state.clone())
        .bind(st.release.map(i64::from))
        .bind(evidence.clone())
        .bind(now.to_string())
        .execute(&mut **tx)
        .await
        .ctx("recording a Change status")?;
        if let Some(from) = before.filter(|_| announce) {
            write_event(
                tx,
                "",
                "",
                &title,
                "change-state",
                Some(&from),
                &key,
                &evidence,
                now,
                &destinations,
            )
            .await?;
            events += 1;
        }
    }
    Ok(events)
}
