//! Notifications from the outbox. The deliverer claims a destination's rows (several
//! instances never post one row twice), records "sending" right before each post and
//! "delivered" after the network took it. A crash between the two is recognised afterwards:
//! networks that deduplicate (Matrix transaction ids, Discord nonces) get the post again
//! with the same key and show it once; IRC cannot, so the row is recorded as unconfirmed
//! rather than posted twice. A post the network refused is retried.
//! Subscriptions and snoozes filter; an hourly budget collapses a burst into one summary.

use crate::text::one_line;
use forkdebt_core::answers::chain_text;
use forkdebt_core::report::change_key;
use forkdebt_core::store::{Delivery, EventKind, EventRow, Pending, Store, StoreError};
use futures_util::future::BoxFuture;

/// Posts one message; the key identifies it across retries.
pub type Post<'a> = dyn Fn(String, String) -> BoxFuture<'a, anyhow::Result<()>> + Send + Sync + 'a;

/// Waits until a post would leave at once.
pub type Ready<'a> = dyn Fn() -> BoxFuture<'a, ()> + Send + Sync + 'a;

/// Rung when this process wrote notifications (a sync a bus message or webhook asked for):
/// the networks deliver at once instead of at their next `poll_secs` tick.
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Asks every network waiting for its next round to deliver now.
pub fn wake() {
    WAKE.notify_waiters();
}

/// Waits for the next delivery round: `tick`, or [`wake`] if sooner.
pub async fn next_round(tick: &mut tokio::time::Interval) {
    tokio::select! {
        _ = tick.tick() => {}
        _ = WAKE.notified() => {}
    }
}

/// How many outbox rows a round claims at most.
const CLAIM_BATCH: i64 = 500;

/// How a network takes posts.
pub struct Outlet<'a> {
    pub post: &'a Post<'a>,
    /// Whether posting twice with one key shows the message once (Matrix transaction ids,
    /// Discord nonces): an interrupted post is then simply made again.
    pub idempotent: bool,
    /// Waits for the network's flood control before a post is recorded as sending, so that
    /// little time passes between that record and the message leaving.
    pub ready: Option<&'a Ready<'a>>,
}

impl<'a> Outlet<'a> {
    /// A network that cannot deduplicate, with no flood control to wait for.
    pub fn new(post: &'a Post<'a>) -> Outlet<'a> {
        Outlet {
            post,
            idempotent: false,
            ready: None,
        }
    }
}

/// How one delivery round went.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    pub posted: usize,
    pub filtered: usize,
    pub snoozed: usize,
    pub collapsed: usize,
    pub failed: usize,
    /// Interrupted by a crash on a network that cannot deduplicate: not posted again.
    pub unconfirmed: usize,
}

/// Fault injection for the crash test (feature `failpoints`, test builds only): with
/// `FORKDEBT_FAILPOINT=hang-after-post` the delivery stops for good right after a network
/// accepted a post and before the delivery is recorded, so the test can SIGKILL the process
/// in the window the idempotency key covers.
pub async fn failpoint_after_post() {
    #[cfg(feature = "failpoints")]
    if std::env::var_os("FORKDEBT_FAILPOINT").is_some_and(|v| v == "hang-after-post") {
        eprintln!("forkdebt: FORKDEBT_FAILPOINT=hang-after-post: posted, not recording it");
        std::future::pending::<()>().await;
    }
}

/// The one-line text of an event.
pub fn event_text(e: &EventRow) -> String {
    let chain = chain_text(&e.evidence);
    let what = if e.package.is_empty() {
        e.subject.clone()
    } else {
        format!("{} {}", e.package, e.subject)
    };
    let downstream = if e.downstream.is_empty() {
        String::new()
    } else {
        format!("[{}] ", e.downstream)
    };
    if matches!(
        e.kind,
        EventKind::MissingFix | EventKind::Proposed | EventKind::UpstreamRelease
    ) {
        // "[hyperscale] systemd core: fix a: upstream fixed a bug in a change we carry: ..."
        return one_line(&format!("{downstream}{what}: {chain}"));
    }
    one_line(&format!(
        "{downstream}{what}: {} -> {}{}",
        e.from_state.as_deref().unwrap_or("-"),
        e.to_state,
        if chain.is_empty() {
            String::new()
        } else {
            format!(" ({chain})")
        }
    ))
}

/// Whether `target` (a package, a patch file, a Fedora Change or a state) concerns `e`.
pub fn concerns(target: &str, e: &EventRow) -> bool {
    target == e.package
        || target == e.subject
        || target == e.to_state
        || (e.kind == EventKind::ChangeState && change_key(target) == change_key(&e.subject))
}

/// Delivers what is pending for `destination` through `outlet`. At most `budget` posts per
/// hour: when more are due, the last allowed post is a summary of the rest.
///
/// # Errors
/// A database error or a lost lease (a failed post is recorded on its row and ends the round
/// instead).
pub async fn deliver(
    store: &Store,
    destination: &str,
    budget: u32,
    outlet: &Outlet<'_>,
) -> Result<Round, StoreError> {
    let now = chrono::Utc::now();
    let pending = store.claim_pending(destination, CLAIM_BATCH).await?;
    let mut round = Round::default();
    if pending.is_empty() {
        return Ok(round);
    }
    let subscriptions = store.subscriptions(destination).await?;
    let snoozes = store.snoozes(destination, now).await?;
    let mut due: Vec<Pending> = Vec::new();
    for p in pending {
        if p.interrupted && !outlet.idempotent {
            tracing::warn!(
                "{destination}: the post of {} was interrupted (the instance stopped); \
                 not posting it again, it most likely arrived",
                p.key
            );
            store
                .mark_delivered(&p.key, Delivery::Unconfirmed, now)
                .await?;
            round.unconfirmed += 1;
        } else if !subscriptions.is_empty() && !subscriptions.iter().any(|t| concerns(t, &p.event))
        {
            store
                .mark_delivered(&p.key, Delivery::Filtered, now)
                .await?;
            round.filtered += 1;
        } else if snoozes.iter().any(|(t, _)| concerns(t, &p.event)) {
            store.mark_delivered(&p.key, Delivery::Snoozed, now).await?;
            round.snoozed += 1;
        } else {
            due.push(p);
        }
    }
    let posted = store
        .posted_since(destination, now - chrono::Duration::hours(1))
        .await?;
    let left = usize::try_from(i64::from(budget) - posted).unwrap_or(0);
    let (single, rest) = if due.len() > left {
        due.split_at(left.saturating_sub(1))
    } else {
        due.split_at(due.len())
    };
    for p in single {
        match post_one(store, outlet, &p.key, p.key.clone(), event_text(&p.event)).await? {
            Posting::Posted => {
                store.mark_delivered(&p.key, Delivery::Posted, now).await?;
                round.posted += 1;
            }
            Posting::Taken => {}
            Posting::Failed(e) => {
                store.mark_failed(&p.key, &e).await?;
                round.failed += 1;
                return Ok(round);
            }
        }
    }
    if rest.is_empty() || left == 0 {
        // Nothing more, or the budget is spent: the rest waits for the next hour.
        return Ok(round);
    }
    // The summary carries the first collapsed row's key, so a resend is recognised too.
    let mut packages: Vec<&str> = rest
        .iter()
        .map(|p| {
            if p.event.package.is_empty() {
                p.event.subject.as_str()
            } else {
                p.event.package.as_str()
            }
        })
        .collect();
    packages.sort_unstable();
    packages.dedup();
    let text = one_line(&format!(
        "... and {} more changes ({}): too many for one hour here; `forkdebt events` lists them",
        rest.len(),
        packages.join(", ")
    ));
    let key = format!("{}:summary", rest[0].key);
    match post_one(store, outlet, &rest[0].key, key, text).await? {
        Posting::Posted => {
            store
                .mark_delivered(&rest[0].key, Delivery::Summary, now)
                .await?;
            for p in &rest[1..] {
                store
                    .mark_delivered(&p.key, Delivery::Collapsed, now)
                    .await?;
            }
            round.posted += 1;
            round.collapsed += rest.len();
        }
        Posting::Taken => {}
        Posting::Failed(e) => {
            store.mark_failed(&rest[0].key, &e).await?;
            round.failed += 1;
        }
    }
    Ok(round)
}

/// How one post went.
enum Posting {
    Posted,
    /// Another deliverer holds the row now (this one's claim lapsed): not posted here.
    Taken,
    /// The network refused it.
    Failed(String),
}

/// Waits for the network, records the row `row` as sending, and posts `text` with `key`.
async fn post_one(
    store: &Store,
    outlet: &Outlet<'_>,
    row: &str,
    key: String,
    text: String,
) -> Result<Posting, StoreError> {
    if let Some(ready) = outlet.ready {
        ready().await;
    }
    if !store.mark_sending(row, chrono::Utc::now()).await? {
        return Ok(Posting::Taken);
    }
    Ok(match (outlet.post)(key, text).await {
        Ok(()) => Posting::Posted,
        Err(e) => Posting::Failed(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_fix_reads_as_a_warning_not_a_transition() {
        let hop = forkdebt_core::evidence::Hop::MissingFix {
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            subject: "core: fix the fix".into(),
            fixes: "ba9876543210ba9876543210ba9876543210ba98".into(),
            url: None,
        };
        let e = EventRow {
            id: 1,
            downstream: "hyperscale".into(),
            package: "systemd".into(),
            subject: "core: fix a".into(),
            kind: EventKind::MissingFix,
            from_state: None,
            to_state: forkdebt_core::store::MISSING_FIX.into(),
            evidence: vec![hop],
            created_at: "2026-11-27T00:00:00Z".into(),
        };
        assert_eq!(
            event_text(&e),
            "[hyperscale] systemd core: fix a: upstream fixed a bug in a change we carry: 0123456789ab core: fix the fix (fixes ba9876543210)"
        );
        assert!(concerns("systemd", &e));
    }

    #[test]
    fn an_upstream_release_reads_as_news_with_what_the_rebase_drops() {
        let hop = forkdebt_core::evidence::Hop::UpstreamReleased {
            tag: "FILE5_46".into(),
            version: "5.46".into(),
            dropped: vec!["0001-magic-fix.patch".into()],
            carried: 3,
        };
        let e = EventRow {
            id: 2,
            downstream: "hs".into(),
            package: "file".into(),
            subject: "FILE5_46".into(),
            kind: EventKind::UpstreamRelease,
            from_state: None,
            to_state: EventKind::UpstreamRelease.as_str().into(),
            evidence: vec![hop],
            created_at: "2026-12-08T00:00:00Z".into(),
        };
        assert_eq!(
            event_text(&e),
            "[hs] file FILE5_46: upstream released 5.46 (FILE5_46): it has 1 of 3 carried patches (0001-magic-fix.patch)"
        );
    }
}
