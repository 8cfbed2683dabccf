//! Fedora's message bus: an AMQP consumer of fedora-messaging's broker (a UUID-named queue
//! bound to the topics that can change a verdict), with a datagrepper backfill on every
//! (re)connection so that a restart or an outage misses nothing. Each message is mapped to
//! what it names among what is tracked ([`message::focus`]); a message about something
//! tracked is acted on once (its id stored), and its [`Focus`] handed to `sink`, where a
//! focused sync asks the sources. The message is a hint; the source's answer is the fact.

mod datagrepper;
pub mod hooks;
pub mod message;

use crate::http::Http;
use crate::sources::Focus;
use chrono::{DateTime, Utc};
use forkdebt_core::config::{BusConfig, Config};
use forkdebt_core::store::Store;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::{AMQPValue, FieldTable};
use message::{Message, Tracked};
use std::time::Duration;
use tokio::sync::mpsc;

/// fedora-messaging's public broker (read only), as its own configuration names it.
pub const DEFAULT_URL: &str = "amqps://fedora:@rabbitmq.fedoraproject.org/%2Fpublic_pubsub";
pub const DEFAULT_DATAGREPPER: &str = "https://apps.fedoraproject.org/datagrepper";
pub const DEFAULT_EXCHANGE: &str = "amq.topic";
/// The topics that can change what forkdebt says (AMQP patterns: `*` one word, `#` any).
pub const DEFAULT_TOPICS: &[&str] = &[
    "org.fedoraproject.prod.buildsys.tag",
    "org.fedoraproject.prod.buildsys.untag",
    "org.fedoraproject.prod.buildsys.build.state.change",
    "org.fedoraproject.prod.bodhi.update.#",
    "org.fedoraproject.prod.git.receive",
    "org.fedoraproject.prod.wiki.article.edit",
    "org.fedoraproject.prod.bugzilla.bug.update",
    "org.fedoraproject.prod.pagure.pull-request.#",
    "org.fedoraproject.prod.pagure.issue.#",
];
/// How long what is tracked is trusted before it is read again.
const TRACKED_FOR: Duration = Duration::from_secs(60);
/// Waits between reconnections, doubling up to the last.
const RECONNECT: [u64; 6] = [1, 2, 4, 8, 15, 30];

/// Everything one bus listener runs with.
pub struct Listener {
    /// `bus fedora`: the store's name for this listener.
    pub origin: String,
    url: String,
    exchange: String,
    topics: Vec<String>,
    tls: OwnedTLSConfig,
    datagrepper: Option<String>,
    backfill_max: chrono::Duration,
    app: String,
    store: Store,
    downstreams: Vec<String>,
    http: Http,
}

/// What is wrong with `[bus]`: the key and why.
#[derive(Debug, thiserror::Error)]
#[error("[bus] {key}: {message}")]
pub struct BusConfigError {
    pub key: &'static str,
    pub message: String,
}

impl Listener {
    /// The listener `[bus]` describes.
    ///
    /// # Errors
    /// A certificate, key or CA file that cannot be read, or an HTTP client that cannot be
    /// built.
    pub fn new(config: &Config, bus: &BusConfig, store: Store) -> Result<Listener, BusConfigError> {
        let read = |key: &'static str, path: &std::path::Path| {
            std::fs::read(path).map_err(|e| BusConfigError {
                key,
                message: format!("{}: {e}", path.display()),
            })
        };
        let identity = match (&bus.cert_file, &bus.key_file) {
            (Some(cert), Some(key)) => Some(OwnedIdentity::PKCS8 {
                pem: read("cert_file", cert)?,
                key: read("key_file", key)?,
            }),
            (None, None) => None,
            _ => {
                return Err(BusConfigError {
                    key: "cert_file",
                    message: "cert_file and key_file go together".into(),
                });
            }
        };
        let cert_chain = match &bus.ca_file {
            Some(ca) => Some(String::from_utf8_lossy(&read("ca_file", ca)?).into_owned()),
            None => None,
        };
        let mut url = bus.url.clone().unwrap_or_else(|| DEFAULT_URL.to_string());
        // A client certificate is the login (fedora-messaging's EXTERNAL mechanism).
        if identity.is_some() && !url.contains("auth_mechanism=") {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("auth_mechanism=external");
        }
        let http = Http::new(crate::sync::http_options(config)).map_err(|e| BusConfigError {
            key: "datagrepper_url",
            message: e.to_string(),
        })?;
        Ok(Listener {
            origin: "bus fedora".into(),
            url,
            exchange: bus
                .exchange
                .clone()
                .unwrap_or_else(|| DEFAULT_EXCHANGE.to_string()),
            topics: if bus.topics.is_empty() {
                DEFAULT_TOPICS.iter().map(|t| t.to_string()).collect()
            } else {
                bus.topics.clone()
            },
            tls: OwnedTLSConfig {
                identity,
                cert_chain,
            },
            datagrepper: match bus.datagrepper_url.as_deref() {
                Some("") => None,
                Some(u) => Some(u.trim_end_matches('/').to_string()),
                None => Some(DEFAULT_DATAGREPPER.to_string()),
            },
            backfill_max: chrono::Duration::seconds(
                (bus.backfill_max_hours.unwrap_or(72.0) * 3600.0) as i64,
            ),
            app: format!("forkdebt {}", env!("CARGO_PKG_VERSION")),
            store,
            downstreams: config.downstream.iter().map(|d| d.name.clone()).collect(),
            http,
        })
    }

    /// Listens until `sink` is closed: connects, binds, backfills what was missed, consumes;
    /// reconnects after any failure (1 s, doubling to 30 s).
    pub async fn run(self, sink: mpsc::Sender<Focus>) {
        let mut hearing = Hearing::default();
        let mut failures = 0usize;
        loop {
            match self.session(&mut hearing, &sink).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(
                        "{}: {e}; reconnecting",
                        forkdebt_core::config::redact_url(&self.url)
                    );
                }
            }
            let wait = RECONNECT[failures.min(RECONNECT.len() - 1)];
            failures += 1;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(wait)) => {}
                _ = sink.closed() => return,
            }
        }
    }

    /// One connection: `Ok` when `sink` closed (stop), `Err` when the broker went away.
    async fn session(
        &self,
        hearing: &mut Hearing,
        sink: &mpsc::Sender<Focus>,
    ) -> Result<(), String> {
        let props = lapin::ConnectionProperties::default()
            .with_client_property("app".into(), self.app.clone().into())
            .with_connection_name(self.app.clone().into());
        let runtime = lapin::runtime::default_runtime().map_err(|e| e.to_string())?;
        let conn =
            lapin::Connection::connect_with_config(&self.url, props, self.tls.clone(), runtime)
                .await
                .map_err(|e| format!("connecting: {e}"))?;
        let channel = conn
            .create_channel()
            .await
            .map_err(|e| format!("opening a channel: {e}"))?;
        channel
            .basic_qos(100, BasicQosOptions::default())
            .await
            .map_err(|e| format!("qos: {e}"))?;
        // A queue of our own, gone when we are: what we miss is backfilled.
        let queue = uuid::Uuid::new_v4().to_string();
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    auto_delete: true,
                    exclusive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("declaring queue {queue}: {e}"))?;
        for topic in &self.topics {
            channel
                .queue_bind(
                    queue.as_str().into(),
                    self.exchange.as_str().into(),
                    topic.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| format!("binding {topic}: {e}"))?;
        }
        let mut consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "forkdebt".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("consuming: {e}"))?;
        tracing::info!("{}: listening on {} topics", self.origin, self.topics.len());
        // What came while we were away, now that nothing new can be missed.
        if let Some(url) = &self.datagrepper {
            self.backfill(url, hearing, sink).await;
        }
        let mut flush = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                delivery = consumer.next() => {
                    let Some(delivery) = delivery else {
                        return Err("the broker closed the consumer".into());
                    };
                    let delivery = delivery.map_err(|e| format!("receiving: {e}"))?;
                    if let Some(msg) = from_delivery(&delivery) {
                        hearing.hear(self, &msg, sink).await;
                    } else {
                        hearing.messages += 1;
                    }
                    delivery
                        .ack(BasicAckOptions::default())
                        .await
                        .map_err(|e| format!("acknowledging: {e}"))?;
                }
                _ = flush.tick() => hearing.flush(self).await,
                _ = sink.closed() => {
                    hearing.flush(self).await;
                    let _ = conn.close(200, "bye".into()).await;
                    return Ok(());
                }
            }
        }
    }

    /// Reads every message sent on our topics since the newest one heard (a minute of
    /// margin), at most `backfill_max_hours` back; nothing when nothing was ever heard.
    async fn backfill(&self, url: &str, hearing: &mut Hearing, sink: &mpsc::Sender<Focus>) {
        let since = match self.store.listeners().await {
            Ok(all) => all
                .into_iter()
                .find(|l| l.origin == self.origin)
                .and_then(|l| l.last_sent_at)
                .and_then(|t| message::parse_time(&t)),
            Err(e) => {
                tracing::warn!("{}: {e}", self.origin);
                None
            }
        };
        let Some(since) = since else {
            return;
        };
        let since = (since - chrono::Duration::minutes(1)).max(Utc::now() - self.backfill_max);
        let mut missed = 0usize;
        for topic in &self.topics {
            match datagrepper::messages_since(&self.http, url, topic, since).await {
                Ok(messages) => {
                    missed += messages.len();
                    for m in messages {
                        hearing.hear(self, &m, sink).await;
                    }
                }
                Err(e) => tracing::warn!("{}: backfill of {topic}: {e}", self.origin),
            }
        }
        hearing.flush(self).await;
        if let Err(e) = self.store.record_backfill(&self.origin).await {
            tracing::warn!("{}: {e}", self.origin);
        }
        tracing::info!(
            "{}: backfill read {missed} messages since {since}",
            self.origin
        );
    }
}

/// A delivery as a message: `message_id`, routing key, `sent-at` header, JSON body.
fn from_delivery(d: &lapin::message::Delivery) -> Option<Message> {
    let id = d.properties.message_id().as_ref()?.to_string();
    let sent_at = d
        .properties
        .headers()
        .as_ref()
        .and_then(|h| match h.inner().get("sent-at")? {
            AMQPValue::LongString(s) => message::parse_time(&s.to_string()),
            AMQPValue::ShortString(s) => message::parse_time(s.as_str()),
            _ => None,
        });
    let body = serde_json::from_slice(&d.data).ok()?;
    Some(Message {
        id,
        topic: d.routing_key.to_string(),
        sent_at,
        body,
    })
}

/// The consumer's state between messages: what is tracked (read again every minute) and
/// counts not yet written to the store.
#[derive(Default)]
pub struct Hearing {
    tracked: Tracked,
    tracked_at: Option<std::time::Instant>,
    messages: i64,
    acted_on: i64,
    newest: Option<DateTime<Utc>>,
}

impl Hearing {
    /// One message: ignored unless it names something tracked and was not handled before.
    async fn hear(&mut self, l: &Listener, msg: &Message, sink: &mpsc::Sender<Focus>) {
        if self.tracked_at.is_none_or(|t| t.elapsed() > TRACKED_FOR) {
            match Tracked::load(&l.store, &l.downstreams).await {
                Ok(t) => self.tracked = t,
                Err(e) => tracing::warn!("{}: reading what is tracked: {e}", l.origin),
            }
            self.tracked_at = Some(std::time::Instant::now());
        }
        self.messages += 1;
        if let Some(t) = msg.sent_at {
            self.newest = Some(self.newest.map_or(t, |n| n.max(t)));
        }
        let focus = message::focus(msg, &self.tracked);
        if focus.is_empty() {
            return;
        }
        let sent = msg.sent_at.map(forkdebt_core::store::timestamp);
        match l
            .store
            .first_hearing(&l.origin, &msg.id, &msg.topic, sent.as_deref())
            .await
        {
            Ok(true) => {
                self.acted_on += 1;
                tracing::info!(
                    "{}: {:?} names {:?} {:?}",
                    l.origin,
                    msg.topic,
                    focus.packages,
                    focus.items
                );
                let _ = sink.send(focus).await;
            }
            Ok(false) => tracing::debug!("{}: {:?} heard before", l.origin, msg.id),
            Err(e) => tracing::warn!("{}: {e}", l.origin),
        }
    }

    async fn flush(&mut self, l: &Listener) {
        if self.messages == 0 {
            return;
        }
        match l
            .store
            .record_hearing(&l.origin, self.messages, self.acted_on, self.newest)
            .await
        {
            Ok(()) => {
                self.messages = 0;
                self.acted_on = 0;
                self.newest = None;
            }
            Err(e) => tracing::warn!("{}: {e}", l.origin),
        }
    }
}

/// Whether `topic` matches the AMQP binding `pattern` (`*` one word, `#` zero or more).
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    fn go(p: &[&str], t: &[&str]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(&"#"), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(&"*"), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let t: Vec<&str> = topic.split('.').collect();
    go(&p, &t)
}

/// Every source a message or webhook can name (a name no source has would fail the sync).
pub const NAMED_SOURCES: &[&str] = &[
    "koji",
    "downstream-koji",
    "base-builds",
    "repodata",
    "fedora_wiki",
    "bugzilla",
    "pagure",
    "github",
    "gitlab",
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_source_a_message_names_exists() {
        for name in super::NAMED_SOURCES {
            assert!(crate::sources::descriptor(name).is_some(), "{name}");
        }
        let text = [include_str!("message.rs"), include_str!("hooks.rs")].concat();
        for quoted in text.split('"').skip(1).step_by(2) {
            if crate::sources::descriptor(quoted).is_some() {
                assert!(super::NAMED_SOURCES.contains(&quoted), "{quoted}");
            }
        }
        for wrong in ["fedora-wiki", "base_builds", "downstream_koji"] {
            assert!(!text.contains(&format!("\"{wrong}\"")), "{wrong}");
        }
    }

    #[test]
    fn bindings_match_as_the_broker_does() {
        use super::topic_matches;
        assert!(topic_matches("a.b.#", "a.b.c.d"));
        assert!(topic_matches("a.b.#", "a.b"));
        assert!(topic_matches("a.*.c", "a.x.c"));
        assert!(!topic_matches("a.*.c", "a.c"));
        assert!(!topic_matches("a.b", "a.b.c"));
        assert!(topic_matches(
            "org.fedoraproject.prod.bodhi.update.#",
            "org.fedoraproject.prod.bodhi.update.complete.stable"
        ));
    }
}
