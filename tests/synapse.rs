//! A real Matrix homeserver for tests: Synapse from a Python venv (`FORKDEBT_SYNAPSE_VENV`,
//! default ~/.cache/forkdebt-synapse; .ci/run installs it), one per test on a free port with
//! rate limits raised, and a person on it speaking the client-server API over HTTP.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Synapse {
    pub url: String,
    dir: tempfile::TempDir,
    venv: PathBuf,
    child: Child,
}

fn venv() -> PathBuf {
    let dir = std::env::var_os("FORKDEBT_SYNAPSE_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/forkdebt-synapse"))
        })
        .expect("HOME or FORKDEBT_SYNAPSE_VENV");
    assert!(
        dir.join("bin/python").exists(),
        "Synapse is needed for the Matrix tests: python3 -m venv {0} && {0}/bin/pip install matrix-synapse (.ci/run does it)",
        dir.display()
    );
    dir
}

impl Synapse {
    pub fn start() -> Synapse {
        let venv = venv();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let d = dir.path().display();
        let limit = "{per_second: 1000, burst_count: 1000}";
        let config = format!(
            "server_name: \"localhost\"\npid_file: {d}/homeserver.pid\n\
             listeners:\n  - port: {port}\n    tls: false\n    type: http\n    x_forwarded: false\n    bind_addresses: ['127.0.0.1']\n    resources:\n      - names: [client]\n        compress: false\n\
             database:\n  name: sqlite3\n  args:\n    database: {d}/homeserver.db\n\
             media_store_path: {d}/media\nsigning_key_path: {d}/signing.key\n\
             registration_shared_secret: \"forkdebt-test\"\nmacaroon_secret_key: \"forkdebt-test-m\"\nform_secret: \"forkdebt-test-f\"\n\
             report_stats: false\ntrusted_key_servers: []\nsuppress_key_server_warning: true\n\
             rc_message: {limit}\nrc_registration: {limit}\n\
             rc_login:\n  address: {limit}\n  account: {limit}\n  failed_attempts: {limit}\n\
             rc_joins:\n  local: {limit}\n  remote: {limit}\n\
             rc_invites:\n  per_room: {limit}\n  per_user: {limit}\n"
        );
        let yaml = dir.path().join("hs.yaml");
        std::fs::write(&yaml, config).expect("hs.yaml");
        let python = venv.join("bin/python");
        let keys = Command::new(&python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(&yaml)
            .arg("--generate-keys")
            .output()
            .expect("synapse --generate-keys");
        assert!(
            keys.status.success(),
            "{}",
            String::from_utf8_lossy(&keys.stderr)
        );
        let log = std::fs::File::create(dir.path().join("synapse.log")).expect("log");
        let child = Command::new(&python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(&yaml)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start synapse");
        crate::util::wait_for_port(port, "Synapse", Duration::from_secs(60));
        Synapse {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            venv,
            child,
        }
    }

    /// Registers `user` with `password` through the shared-secret admin API.
    pub fn register(&self, user: &str, password: &str) {
        let out = Command::new(self.venv.join("bin/register_new_matrix_user"))
            .arg("-c")
            .arg(self.dir.path().join("hs.yaml"))
            .args(["-u", user, "-p", password, "--no-admin", &self.url])
            .output()
            .expect("register_new_matrix_user");
        assert!(
            out.status.success(),
            "registering {user}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A person on the homeserver.
pub struct Person {
    http: reqwest::Client,
    base: String,
    pub token: String,
    since: Option<String>,
    txn: u64,
}

impl Person {
    pub async fn login(base: &str, user: &str, password: &str) -> Person {
        let http = reqwest::Client::new();
        let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password});
        let r: Value = serde_json::from_str(
            &http
                .post(format!("{base}/_matrix/client/v3/login"))
                .body(body.to_string())
                .send()
                .await
                .expect("login")
                .text()
                .await
                .expect("login body"),
        )
        .expect("login json");
        Person {
            http,
            base: base.into(),
            token: r["access_token"].as_str().expect("access token").into(),
            since: None,
            txn: 0,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/_matrix/client/v3{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let text = req
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body");
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: {text}"))
    }

    /// Creates a public room with `#alias:localhost`; its id.
    pub async fn create_room(&self, alias: &str) -> String {
        let r = self
            .call(
                reqwest::Method::POST,
                "/createRoom",
                Some(json!({"room_alias_name": alias, "preset": "public_chat"})),
            )
            .await;
        r["room_id"].as_str().expect("room id").into()
    }

    pub async fn members(&self, room: &str) -> Vec<String> {
        let r = self
            .call(
                reqwest::Method::GET,
                &format!("/rooms/{room}/joined_members"),
                None,
            )
            .await;
        r["joined"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Sends a message event (content as given); its event id.
    pub async fn send(&mut self, room: &str, content: Value) -> String {
        self.txn += 1;
        let r = self
            .call(
                reqwest::Method::PUT,
                &format!("/rooms/{room}/send/m.room.message/t{}", self.txn),
                Some(content),
            )
            .await;
        r["event_id"].as_str().expect("event id").into()
    }

    pub async fn say(&mut self, room: &str, text: &str) -> String {
        self.send(room, json!({"msgtype": "m.text", "body": text}))
            .await
    }

    /// The room's new message events since the last call (the first call only sets the mark).
    pub async fn new_messages(&mut self, room: &str, wait: Duration) -> Vec<Value> {
        let since = self
            .since
            .as_deref()
            .map(|s| format!("&since={s}"))
            .unwrap_or_default();
        let r = self
            .call(
                reqwest::Method::GET,
                &format!("/sync?timeout={}{since}", wait.as_millis()),
                None,
            )
            .await;
        let first = self.since.is_none();
        self.since = r["next_batch"].as_str().map(str::to_string);
        if first {
            return Vec::new();
        }
        r["rooms"]["join"][room]["timeline"]["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter(|e| e["type"] == "m.room.message")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Messages from `sender` in `room`, collected until `quiet` passes without one.
    pub async fn messages_from(
        &mut self,
        room: &str,
        sender: &str,
        first: Duration,
        quiet: Duration,
    ) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = Instant::now() + first;
        loop {
            let wait = if out.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                quiet
            };
            if wait.is_zero() {
                return out;
            }
            let got: Vec<Value> = self
                .new_messages(room, wait)
                .await
                .into_iter()
                .filter(|e| e["sender"] == sender)
                .collect();
            if got.is_empty() && (!out.is_empty() || Instant::now() >= deadline) {
                return out;
            }
            out.extend(got);
        }
    }
}
