//! `/metrics` in the Prometheus text format, through `prometheus-client` (its encoder does
//! the escaping and the `# TYPE` lines). Store-backed families are read at scrape time; the
//! process's own (leader roles, sync durations) live in [`Process`].

use super::WebState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

/// What this process measures itself: which roles it holds and how long syncs take.
pub struct Process {
    sync_seconds: Histogram,
    roles: Mutex<Vec<(String, bool)>>,
}

impl Default for Process {
    fn default() -> Self {
        Process {
            sync_seconds: Histogram::new([1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0]),
            roles: Mutex::new(Vec::new()),
        }
    }
}

impl Process {
    /// Records one sync's duration.
    pub fn observe_sync(&self, d: std::time::Duration) {
        self.sync_seconds.observe(d.as_secs_f64());
    }

    /// Says whether this process holds `role` (`scheduler`, `irc`...).
    pub fn set_role(&self, role: &str, held: bool) {
        if let Ok(mut r) = self.roles.lock() {
            match r.iter_mut().find(|(n, _)| n == role) {
                Some(x) => x.1 = held,
                None => r.push((role.to_string(), held)),
            }
        }
    }
}

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub async fn handler(State(s): State<WebState>) -> Response {
    match render(&s).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!("metrics: {e}");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the store is unreachable\n",
            )
                .into_response()
        }
    }
}

async fn render(s: &WebState) -> anyhow::Result<String> {
    let mut reg = Registry::default();
    let patches = Family::<Labels, Gauge>::default();
    for (ds, state, n) in s.store.patch_state_counts().await? {
        patches
            .get_or_create(&labels(&[("downstream", &ds), ("state", &state)]))
            .set(n);
    }
    reg.register(
        "forkdebt_patches",
        "Carried patches and commits of ours, by verdict",
        patches,
    );

    let last_success = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let errors = Family::<Labels, Counter>::default();
    for st in s.store.source_statuses().await? {
        let l = labels(&[("source", &st.source)]);
        if let Some(t) = st
            .last_success
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            last_success.get_or_create(&l).set(t.timestamp() as f64);
        }
        errors
            .get_or_create(&l)
            .inc_by(u64::try_from(st.errors).unwrap_or(0));
    }
    reg.register(
        "forkdebt_source_last_success_timestamp_seconds",
        "When each source last completed without error",
        last_success,
    );
    reg.register(
        "forkdebt_source_errors",
        "Item and run errors per source",
        errors,
    );

    // How fast dist-git acts on what can be dropped (`scan --history`'s lifetimes).
    let to_drop = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let after_release = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let mut by_downstream: std::collections::BTreeMap<
        String,
        Vec<forkdebt_core::store::DroppedPatch>,
    > = std::collections::BTreeMap::new();
    for d in s.store.dropped_patches(None).await? {
        by_downstream
            .entry(d.downstream.clone())
            .or_default()
            .push(d);
    }
    for (ds, list) in &by_downstream {
        let summary = forkdebt_core::report::dropped_summary(list);
        for (family, q, v) in [
            (&to_drop, "0.5", summary.median_days_droppable_to_dropped),
            (&to_drop, "0.9", summary.p90_days_droppable_to_dropped),
            (
                &after_release,
                "0.5",
                summary.median_days_after_upstream_release,
            ),
            (
                &after_release,
                "0.9",
                summary.p90_days_after_upstream_release,
            ),
        ] {
            if let Some(v) = v {
                family
                    .get_or_create(&labels(&[("downstream", ds), ("quantile", q)]))
                    .set(v);
            }
        }
    }
    reg.register(
        "forkdebt_days_droppable_to_dropped",
        "Days from forkdebt saying droppable to the dist-git commit dropping the patch",
        to_drop,
    );
    reg.register(
        "forkdebt_days_after_upstream_release",
        "Days from upstream tagging the release with a patch's fix to the dist-git commit dropping it",
        after_release,
    );

    let pending = Family::<Labels, Gauge>::default();
    for (dest, n) in s.store.outbox_backlog().await? {
        pending
            .get_or_create(&labels(&[("destination", &dest)]))
            .set(n);
    }
    reg.register(
        "forkdebt_outbox_pending",
        "Notifications not delivered yet, per destination",
        pending,
    );
    let deliveries = Family::<Labels, Counter>::default();
    for (dest, outcome, n) in s.store.delivery_counts().await? {
        // A destination is `network:room`: the network is what the label names.
        let network = dest.split(':').next().unwrap_or(&dest).to_string();
        deliveries
            .get_or_create(&labels(&[("network", &network), ("outcome", &outcome)]))
            .inc_by(u64::try_from(n).unwrap_or(0));
    }
    reg.register(
        "forkdebt_deliveries",
        "Deliveries by network and outcome",
        deliveries,
    );

    let leader = Family::<Labels, Gauge>::default();
    for (role, held) in s
        .metrics
        .roles
        .lock()
        .map(|r| r.clone())
        .unwrap_or_default()
    {
        leader
            .get_or_create(&labels(&[("role", &role)]))
            .set(i64::from(held));
    }
    reg.register(
        "forkdebt_leader",
        "1 where this process holds the role",
        leader,
    );
    reg.register(
        "forkdebt_sync_duration_seconds",
        "How long a full sync took",
        s.metrics.sync_seconds.clone(),
    );
    let mut out = String::new();
    encode(&mut out, &reg)?;
    Ok(out)
}
