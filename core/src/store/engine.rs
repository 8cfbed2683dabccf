//! The verdict engine inside the store: after any change of observations or inventory, the
//! affected patches are decided again in the SAME transaction, and every change of state is
//! written as an event (and one outbox row per destination) right there. A crash can never
//! leave an observation without the event it caused, or the reverse.
//!
//! This is the only place verdicts and Change statuses are decided; every reader (CLI, chat,
//! digest, trend) reads what is stored here.

use super::events::EventKind;
use super::read::{RefRow, VerdictRow};
use super::{IN_CHUNK, QueryContext, Result, placeholders};
use crate::change::ChangeStatus;
use crate::model::{Bucket, BucketCounts, Claim, Package, Patch, PatchState};
use crate::observation::{self, bugzilla::Bug, fedora, github, shipped};
use crate::source::Dataset;
use crate::verdict::{self, Hop, ObservationsBySource, Verdict};
use sqlx::{AssertSqlSafe, FromRow, Transaction};
use std::collections::{BTreeSet, HashMap};

type Tx<'a> = Transaction<'a, sqlx::Any>;

/// The packages whose verdicts an observation in `dataset` of `items` can change.
pub(crate) async fn affected_packages(
    tx: &mut Tx<'_>,
    dataset: Dataset,
    items: &[String],
) -> Result<Vec<i64>> {
    let mut found = BTreeSet::new();
    if let Some(kind) = dataset.answers() {
        for chunk in items.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT DISTINCT p.package_id FROM patch_refs r JOIN patches p ON p.id = r.patch_id \
                 WHERE r.kind = $1 AND r.ref_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (i64,)>(AssertSqlSafe(sql)).bind(kind.as_str());
            for i in chunk {
                q = q.bind(i.clone());
            }
            let rows = q
                .fetch_all(&mut **tx)
                .await
                .ctx("finding affected patches")?;
            found.extend(rows.into_iter().map(|r| r.0));
        }
    } else if dataset == Dataset::GithubRelease {
        // `owner/repo@sha` (a release), `owner/repo#N` (a request superseded by a commit, an
        // issue a commit fixes): the packages with PRs, issues (or this commit) there.
        for item in items {
            let repo = item.split(['@', '#']).next().unwrap_or_default();
            let rows: Vec<(i64,)> = sqlx::query_as(
                "SELECT DISTINCT p.package_id FROM patch_refs r JOIN patches p ON p.id = r.patch_id \
                 WHERE (r.kind IN ('github-pr', 'github-issue') AND r.ref_id LIKE $1) OR (r.kind = 'upstream-commit' AND r.ref_id = $2)",
            )
            .bind(format!("{repo}#%"))
            .bind(item.clone())
            .fetch_all(&mut **tx)
            .await
            .ctx("finding affected patches")?;
            found.extend(rows.into_iter().map(|r| r.0));
        }
    } else if dataset.is_shipped_builds() || dataset == Dataset::BaseFork {
        // `distro/package` (`@sha` for the base's fork): that package in every downstream
        // based on the distro.
        for item in items {
            let split = if dataset == Dataset::BaseFork {
                observation::base_fork::split_item(item)
            } else {
                item.split_once('/')
            };
            let Some((distro, name)) = split else {
                continue;
            };
            let rows: Vec<(i64,)> = sqlx::query_as(
                "SELECT k.id FROM packages k JOIN downstreams d ON d.id = k.downstream_id WHERE k.name = $1 AND d.base = $2",
            )
            .bind(name.to_string())
            .bind(distro.to_string())
            .fetch_all(&mut **tx)
            .await
            .ctx("finding affected packages")?;
            found.extend(rows.into_iter().map(|r| r.0));
        }
    }
    Ok(found.into_iter().collect())
}

/// Every package of `downstream`.
pub(crate) async fn packages_of(tx: &mut Tx<'_>, downstream_id: i64) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT id FROM packages WHERE downstream_id = $1")
        .bind(downstream_id)
        .fetch_all(&mut **tx)
        .await
        .ctx("listing packages")?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The observations of `dataset` for `items` (only those with data).
async fn load(
    tx: &mut Tx<'_>,
    dataset: Dataset,
    items: &BTreeSet<String>,
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let items: Vec<&String> = items.iter().collect();
    for chunk in items.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT item, data FROM observations WHERE source = $1 AND data IS NOT NULL AND item IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, Option<String>)>(AssertSqlSafe(sql))
            .bind(dataset.as_str());
        for i in chunk {
            q = q.bind((*i).clone());
        }
        for (item, data) in q.fetch_all(&mut **tx).await.ctx("loading observations")? {
            if let Some(data) = data {
                out.insert(item, data);
            }
        }
    }
    Ok(out)
}

/// Only the observations that bear on `cands`: their references, the releases of merged
/// GitHub PRs among them, and what their base distributions ship of them.
async fn observations_for(tx: &mut Tx<'_>, cands: &[Candidate]) -> Result<ObservationsBySource> {
    let mut wanted: HashMap<Dataset, BTreeSet<String>> = HashMap::new();
    for c in cands {
        for r in &c.patch.refs {
            if let Some(dataset) = Dataset::answering(r.kind) {
                wanted.entry(dataset).or_default().insert(r.id.clone());
            }
            if r.kind == crate::model::RefKind::GitlabMr {
                wanted
                    .entry(Dataset::BaseBuild)
                    .or_default()
                    .insert(r.id.clone());
            }
        }
        if let Some(o) = c
            .patch
            .origin
            .as_ref()
            .filter(|o| o.kind == crate::model::OriginKind::TakenByBase)
            && let Some(commit) = &o.commit
        {
            wanted.entry(Dataset::BaseBuild).or_default().insert(
                observation::base_fork::distgit_item(&o.distro, &c.package.name, commit),
            );
        }
        if let Some(base) = &c.base {
            // What the base's own fork carries of the upstream commits this patch is.
            let upstream = c
                .patch
                .refs
                .iter()
                .filter(|r| r.kind == crate::model::RefKind::UpstreamCommit)
                .filter_map(|r| r.id.rsplit_once('@').map(|(_, sha)| sha.to_string()))
                .chain(
                    c.patch
                        .commit
                        .iter()
                        .filter_map(|k| k.upstream.as_ref())
                        .flat_map(|u| std::iter::once(u.sha.clone()).chain(u.also.clone())),
                );
            for sha in upstream {
                wanted
                    .entry(Dataset::BaseFork)
                    .or_default()
                    .insert(observation::base_fork::item(base, &c.package.name, &sha));
            }
            for dataset in [Dataset::Koji, Dataset::Repodata] {
                wanted
                    .entry(dataset)
                    .or_default()
                    .insert(shipped::item(base, &c.package.name));
            }
        }
    }
    let mut out = ObservationsBySource::new();
    for (dataset, items) in &wanted {
        if *dataset != Dataset::GithubRelease {
            out.insert(*dataset, load(tx, *dataset, items).await?);
        }
    }
    // Releases: of the merge commits of merged GitHub PRs, and of upstream commits; and
    // what superseded a PR closed unmerged (stored under the PR's id).
    let mut releases = wanted.remove(&Dataset::GithubRelease).unwrap_or_default();
    for (id, o) in out.get(&Dataset::Github).into_iter().flatten() {
        releases.insert(id.clone());
        let pr = observation::read::<github::PullRequest>(Some(o));
        if let (Some(repo), Some(sha)) = (
            id.split('#').next(),
            pr.as_ref().and_then(|p| p.merge_commit_sha.as_deref()),
        ) {
            releases.insert(github::release_item(repo, sha));
        }
    }
    out.insert(
        Dataset::GithubRelease,
        load(tx, Dataset::GithubRelease, &releases).await?,
    );
    Ok(out)
}

struct Candidate {
    patch_id: i64,
    package_id: i64,
    /// The downstream finished a sync before: changes are announced.
    announce: bool,
    downstream: String,
    base: Option<String>,
    package: Package,
    patch: Patch,
    /// The inventory's own state (what the patch stands at without a stored verdict).
    inventory: PatchState,
    /// Lines added and removed, and when the patch was first seen (the package's debt row).
    lines: i64,
    first_seen: String,
}

/// One package's debt as the dashboard reads it: its carried patches by bucket, their lines
/// and the oldest one's first-seen time (ours only; inherited patches are not our debt).
#[derive(Default)]
struct PackageDebt {
    counts: BucketCounts,
    lines: i64,
    oldest: Option<String>,
}

impl PackageDebt {
    fn add(&mut self, c: &Candidate, state: PatchState) {
        self.counts.add(state, 1);
        self.lines += c.lines;
        if self
            .oldest
            .as_deref()
            .is_none_or(|o| c.first_seen.as_str() < o)
        {
            self.oldest = Some(c.first_seen.clone());
        }
    }
}

#[derive(FromRow)]
struct CandidateRow {
    id: i64,
    package_id: i64,
    file: String,
    state: String,
    claims: String,
    carried_commit: Option<String>,
    origin: Option<String>,
    name: String,
    version: String,
    downstream: String,
    base: Option<String>,
    synced_at: Option<String>,
    lines: i64,
    first_seen: String,
}

async fn candidates(tx: &mut Tx<'_>, package_ids: &[i64]) -> Result<Vec<Candidate>> {
    let sql = format!(
        "SELECT p.id, p.package_id, p.file, p.state, p.claims, p.carried_commit, p.origin, k.name, k.version, d.name AS downstream, d.base, d.synced_at, \
         CAST(p.lines_added + p.lines_removed AS BIGINT) AS lines, p.first_seen \
         FROM patches p JOIN packages k ON k.id = p.package_id JOIN downstreams d ON d.id = k.downstream_id \
         WHERE p.dropped_at IS NULL AND p.package_id IN ({})",
        placeholders(1, package_ids.len())
    );
    let mut q = sqlx::query_as::<_, CandidateRow>(AssertSqlSafe(sql));
    for id in package_ids {
        q = q.bind(*id);
    }
    let rows = q
        .fetch_all(&mut **tx)
        .await
        .ctx("loading patches to decide")?;
    let mut cands: Vec<Candidate> = rows
        .into_iter()
        .map(|r| Candidate {
            patch_id: r.id,
            package_id: r.package_id,
            announce: r.synced_at.is_some(),
            downstream: r.downstream,
            base: r.base,
            package: Package {
                name: r.name,
                version: r.version,
                ..Package::default()
            },
            inventory: PatchState::parse(&r.state).unwrap_or(PatchState::Unknown),
            lines: r.lines,
            first_seen: r.first_seen,
            patch: Patch {
                file: r.file,
                claims: serde_json::from_str::<Vec<Claim>>(&r.claims).unwrap_or_default(),
                commit: r
                    .carried_commit
                    .as_deref()
                    .and_then(|c| serde_json::from_str(c).ok()),
                origin: r
                    .origin
                    .as_deref()
                    .and_then(|o| serde_json::from_str(o).ok()),
                ..Patch::default()
            },
        })
        .collect();
    let index: HashMap<i64, usize> = cands
        .iter()
        .enumerate()
        .map(|(i, c)| (c.patch_id, i))
        .collect();
    let ids: Vec<i64> = cands.iter().map(|c| c.patch_id).collect();
    for ids in ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT patch_id, kind, ref_id, url, role, confidence, found_in, note FROM patch_refs \
             WHERE patch_id IN ({}) ORDER BY id",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query_as::<_, RefRow>(AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        for row in q
            .fetch_all(&mut **tx)
            .await
            .ctx("loading references to decide")?
        {
            let Some(&i) = index.get(&row.patch_id) else {
                continue;
            };
            // A reference this version cannot read decides nothing (and `show` says so).
            if let Ok(r) = row.decode() {
                cands[i].patch.refs.push(r);
            }
        }
    }
    Ok(cands)
}

async fn stored_verdicts(tx: &mut Tx<'_>, ids: &[i64]) -> Result<HashMap<i64, Verdict>> {
    let mut out = HashMap::new();
    for ids in ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT patch_id, state, confidence, evidence, rebased_past FROM verdicts WHERE patch_id IN ({})",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query_as::<_, VerdictRow>(AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut **tx).await.ctx("loading verdicts")? {
            // A verdict that does not decode is damage to report, not "no verdict": read as
            // missing, its patch's state would be announced again.
            let id = row.patch_id;
            out.insert(id, row.decode()?);
        }
    }
    Ok(out)
}

/// Decides the carried patches of `package_ids` again; writes changed verdicts, and an event
/// (plus outbox rows) for each patch whose state changed. A verdict equal to what the
/// inventory says is not stored (a first scan writes no verdict rows); any other is, with its
/// evidence, so readers never decide again. Returns the number of events written.
pub(crate) async fn reevaluate(tx: &mut Tx<'_>, package_ids: &[i64], now: &str) -> Result<usize> {
    decide_again(tx, package_ids, now, true).await
}

/// [`reevaluate`], announcing nothing when `announce` is false (a store upgrade deciding
/// every verdict again, with evidence in a new shape, has nothing new to tell).
pub(crate) async fn decide_again(
    tx: &mut Tx<'_>,
    package_ids: &[i64],
    now: &str,
    announce: bool,
) -> Result<usize> {
    if package_ids.is_empty() {
        return Ok(0);
    }
    let destinations = super::outbox::destinations(tx).await?;
    let mut events = 0;
    for chunk in package_ids.chunks(IN_CHUNK) {
        let cands = candidates(tx, chunk).await?;
        events += decide(tx, chunk, &cands, now, announce, &destinations).await?;
    }
    Ok(events)
}

/// A patch a scan has just stored, to decide from memory rather than read back: the same
/// facts [`candidates`] reads (file, claims, carried commit, origin, references).
pub(crate) struct Scanned<'a> {
    pub patch_id: i64,
    pub package_id: i64,
    pub package: &'a Package,
    pub patch: &'a Patch,
    pub first_seen: String,
}

/// The downstream the scanned patches belong to.
pub(crate) struct ScannedDownstream<'a> {
    pub name: &'a str,
    pub base: Option<&'a str>,
    /// It finished a sync before: changes are announced.
    pub synced: bool,
}

/// [`reevaluate`] for the packages a scan has in memory (`scanned`, every carried patch of
/// each of their packages), without reading them back; 20,000 patches and their references
/// read back cost a first scan half its store time (`cargo bench --bench scan`).
pub(crate) async fn reevaluate_scanned(
    tx: &mut Tx<'_>,
    downstream: &ScannedDownstream<'_>,
    scanned: &[Scanned<'_>],
    now: &str,
) -> Result<usize> {
    let destinations = super::outbox::destinations(tx).await?;
    let mut events = 0;
    let mut rest = scanned;
    while !rest.is_empty() {
        // Whole packages per chunk, about IN_CHUNK patches each.
        let mut end = rest.len().min(IN_CHUNK);
        while end < rest.len() && rest[end].package_id == rest[end - 1].package_id {
            end += 1;
        }
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        let mut package_ids: Vec<i64> = chunk.iter().map(|s| s.package_id).collect();
        package_ids.dedup();
        let cands: Vec<Candidate> = chunk
            .iter()
            .map(|s| Candidate {
                patch_id: s.patch_id,
                package_id: s.package_id,
                announce: downstream.synced,
                downstream: downstream.name.to_string(),
                base: downstream.base.map(str::to_string),
                package: Package {
                    name: s.package.name.clone(),
                    version: s.package.version.clone(),
                    ..Package::default()
                },
                inventory: s.patch.inventory_state(),
                lines: i64::from(s.patch.lines_added) + i64::from(s.patch.lines_removed),
                first_seen: s.first_seen.clone(),
                patch: Patch {
                    file: s.patch.file.clone(),
                    claims: s.patch.claims.clone(),
                    commit: s.patch.commit.clone(),
                    origin: s.patch.origin.clone(),
                    refs: s.patch.refs.clone(),
                    ..Patch::default()
                },
            })
            .collect();
        events += decide(tx, &package_ids, &cands, now, true, &destinations).await?;
    }
    Ok(events)
}

/// Decides `cands` (every carried patch of `package_ids`) and writes what changed: verdicts,
/// events, each package's debt. Returns the number of events written.
async fn decide(
    tx: &mut Tx<'_>,
    package_ids: &[i64],
    cands: &[Candidate],
    now: &str,
    announce: bool,
    destinations: &[String],
) -> Result<usize> {
    let mut events = 0;
    let mut debt: HashMap<i64, PackageDebt> = package_ids
        .iter()
        .map(|id| (*id, PackageDebt::default()))
        .collect();
    if cands.is_empty() {
        write_package_debt(tx, &debt).await?;
        return Ok(0);
    }
    let ids: Vec<i64> = cands.iter().map(|c| c.patch_id).collect();
    let previous = stored_verdicts(tx, &ids).await?;
    let obs = observations_for(tx, cands).await?;
    let facts = verdict::Facts::from_observations(&obs);
    for c in cands {
        let v = verdict::decide(&c.patch, &c.package, &facts, c.base.as_deref());
        // Inherited patches are the base's, not our debt: not counted, never announced.
        let ours = crate::model::PatchOrigin::is_ours(c.patch.origin.as_ref());
        if ours {
            debt.entry(c.package_id).or_default().add(c, v.state);
        } else {
            debt.entry(c.package_id).or_default();
        }
        let before = previous
            .get(&c.patch_id)
            .cloned()
            .unwrap_or_else(|| Verdict {
                state: c.inventory,
                ..Verdict::from_inventory(&c.patch)
            });
        if before == v {
            continue;
        }
        let evidence = crate::evidence::encode(&v.evidence);
        sqlx::query(
            "INSERT INTO verdicts (patch_id, state, confidence, evidence, rebased_past, decided_at, first_release) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (patch_id) DO UPDATE SET state = excluded.state, \
             confidence = excluded.confidence, evidence = excluded.evidence, \
             rebased_past = excluded.rebased_past, decided_at = excluded.decided_at, \
             first_release = excluded.first_release",
        )
        .bind(c.patch_id)
        .bind(v.state.as_str())
        .bind(v.confidence.as_str())
        .bind(evidence.clone())
        .bind(v.rebased_past.clone())
        .bind(now.to_string())
        .bind(crate::evidence::first_release(&v.evidence).map(str::to_string))
        .execute(&mut **tx)
        .await
        .ctx("recording a verdict")?;
        if announce && c.announce && ours && before.state != v.state {
            super::outbox::write_event(
                tx,
                &super::outbox::NewEvent {
                    downstream: &c.downstream,
                    package: &c.package.name,
                    subject: &c.patch.file,
                    kind: EventKind::PatchState,
                    from: Some(before.state.as_str()),
                    to: v.state.as_str(),
                    evidence: &evidence,
                },
                now,
                destinations,
            )
            .await?;
            events += 1;
        }
    }
    write_package_debt(tx, &debt).await?;
    Ok(events)
}

/// Stores each package's debt (see the `package_debt` migrations).
async fn write_package_debt(tx: &mut Tx<'_>, debt: &HashMap<i64, PackageDebt>) -> Result<()> {
    const COLUMNS: usize = 8;
    let backend = super::Backend::of(tx);
    let rows: Vec<(&i64, &PackageDebt)> = debt.iter().collect();
    for chunk in rows.chunks(IN_CHUNK) {
        let sql = super::values_sql(
            "INSERT INTO package_debt (package_id, droppable, merged, sent, kept, unknown, lines, oldest)",
            COLUMNS,
            chunk.len(),
            "ON CONFLICT (package_id) DO UPDATE SET droppable = excluded.droppable, \
             merged = excluded.merged, sent = excluded.sent, kept = excluded.kept, \
             unknown = excluded.unknown, lines = excluded.lines, oldest = excluded.oldest",
            backend,
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, d) in chunk {
            q = q.bind(**id);
            for b in Bucket::ALL {
                q = q.bind(i64::try_from(d.counts.get(b)).unwrap_or(i64::MAX));
            }
            q = q.bind(d.lines).bind(d.oldest.clone());
        }
        q.execute(&mut **tx)
            .await
            .ctx("recording the debt per package")?;
    }
    Ok(())
}

/// Decides every tracked Fedora Change again (wiki observation + tracker bug); writes changed
/// statuses and, once a sync has completed before, a `change-state` event for each change.
pub(crate) async fn reevaluate_changes(tx: &mut Tx<'_>, now: &str) -> Result<usize> {
    let wiki: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT item, data FROM observations WHERE source = $1 AND data IS NOT NULL AND item LIKE 'Changes/%'",
    )
    .bind(Dataset::FedoraWiki.as_str())
    .fetch_all(&mut **tx)
    .await
    .ctx("loading Change observations")?;
    let wiki: Vec<(String, fedora::ChangeObservation)> = wiki
        .into_iter()
        .filter_map(|(title, data)| Some((title, observation::read(data.as_deref())?)))
        .collect();
    if wiki.is_empty() {
        return Ok(0);
    }
    // Only the tracker bugs of these Changes.
    let trackers: BTreeSet<String> = wiki
        .iter()
        .filter_map(|(_, c)| crate::change::tracker_id(c.page.tracker_bug.as_deref()?))
        .collect();
    let bugs: HashMap<String, Bug> = load(tx, Dataset::Bugzilla, &trackers)
        .await?
        .into_iter()
        .filter_map(|(k, o)| Some((k, observation::read(Some(o.as_str()))?)))
        .collect();
    // What Bodhi says of each Fedora release (`F42` -> `current`).
    let releases: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT item, data FROM observations WHERE source = $1 AND data IS NOT NULL",
    )
    .bind(Dataset::Bodhi.as_str())
    .fetch_all(&mut **tx)
    .await
    .ctx("loading release states")?;
    let releases: HashMap<u32, String> = releases
        .into_iter()
        .filter_map(|(item, data)| {
            let r: fedora::Release = observation::read(data.as_deref())?;
            Some((item.strip_prefix('F')?.parse().ok()?, r.state))
        })
        .collect();
    let fesco: HashMap<String, fedora::FescoTicket> =
        sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT item, data FROM observations WHERE source = $1 AND data IS NOT NULL",
        )
        .bind(Dataset::Fesco.as_str())
        .fetch_all(&mut **tx)
        .await
        .ctx("loading FESCo tickets")?
        .into_iter()
        .filter_map(|(item, data)| Some((item, observation::read(data.as_deref())?)))
        .collect();
    let announce =
        sqlx::query_as::<_, (i64,)>("SELECT 1 FROM downstreams WHERE synced_at IS NOT NULL")
            .fetch_optional(&mut **tx)
            .await
            .ctx("checking the baseline")?
            .is_some();
    let destinations = super::outbox::destinations(tx).await?;
    // Every stored status in one query, not one per Change.
    let known: HashMap<String, (String, String)> = sqlx::query_as::<_, (String, String, String)>(
        "SELECT title, state_key, evidence FROM change_states",
    )
    .fetch_all(&mut **tx)
    .await
    .ctx("loading Change statuses")?
    .into_iter()
    .map(|(t, k, e)| (t, (k, e)))
    .collect();
    let mut events = 0;
    for (title, change) in wiki {
        let tracker = change
            .page
            .tracker_bug
            .as_deref()
            .and_then(crate::change::tracker_id);
        let bug = tracker.as_ref().and_then(|t| bugs.get(t));
        let t = bug.and_then(|b| {
            b.status
                .as_deref()
                .map(|s| (s, b.resolution.as_deref().filter(|x| !x.is_empty())))
        });
        let ticket = change
            .page
            .fesco_ticket
            .as_ref()
            .and_then(|link| fesco.get(link));
        let st: ChangeStatus =
            crate::change::status_with_fesco(&change, t, &|n| releases.get(&n).cloned(), ticket);
        let key = st.key();
        let evidence =
            serde_json::to_string(&st.evidence.iter().map(Hop::note).collect::<Vec<_>>())
                .unwrap_or_else(|_| "[]".into());
        let (before, before_evidence) = match known.get(&title) {
            Some((k, e)) => (Some(k.clone()), Some(e.as_str())),
            None => (None, None),
        };
        if before.as_deref() == Some(key.as_str()) {
            // Same state, new evidence (a FESCo ticket moved): kept, not announced.
            if before_evidence != Some(evidence.as_str()) {
                sqlx::query("UPDATE change_states SET evidence = $1 WHERE title = $2")
                    .bind(evidence.clone())
                    .bind(title.clone())
                    .execute(&mut **tx)
                    .await
                    .ctx("recording a Change's evidence")?;
            }
            continue;
        }
        sqlx::query(
            "INSERT INTO change_states (title, state_key, state, release_nn, evidence, decided_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (title) DO UPDATE SET state_key = excluded.state_key, state = excluded.state, \
             release_nn = excluded.release_nn, evidence = excluded.evidence, decided_at = excluded.decided_at",
        )
        .bind(title.clone())
        .bind(key.clone())
        .bind(st.state.as_str())
        .bind(st.release.map(i64::from))
        .bind(evidence.clone())
        .bind(now.to_string())
        .execute(&mut **tx)
        .await
        .ctx("recording a Change status")?;
        if let Some(from) = before.filter(|_| announce) {
            super::outbox::write_event(
                tx,
                &super::outbox::NewEvent {
                    downstream: "",
                    package: "",
                    subject: &title,
                    kind: EventKind::ChangeState,
                    from: Some(&from),
                    to: &key,
                    evidence: &evidence,
                },
                now,
                &destinations,
            )
            .await?;
            events += 1;
        }
    }
    Ok(events)
}
