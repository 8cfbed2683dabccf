//! A real RabbitMQ for the bus tests and bench: Debian's `rabbitmq-server` on free loopback
//! ports, TLS only, with a throwaway CA, client certificates required and the login taken
//! from the certificate (EXTERNAL, as Fedora's public broker does), the vhost
//! `/public_pubsub` and a user `fedora`. Killed (SIGKILL, the whole process group) and
//! started again on the same port and data by [`Rabbit::restart`]. Also a publisher that
//! sends fedora-messaging's message shape (`message_id`, `sent-at` header, JSON body).

use lapin::options::BasicPublishOptions;
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::{AMQPValue, FieldTable};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Rabbit {
    pub port: u16,
    dist_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split(' '))
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Rabbit {
    pub fn start() -> Rabbit {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .expect("ext");
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
        for args in [
            "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=forkdebt-test-bus-ca -keyout ca.key -out ca.pem",
            "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr",
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem",
            // The login is the certificate's CN, as on rabbitmq.fedoraproject.org.
            "req -newkey rsa:2048 -nodes -subj /CN=fedora -keyout fedora-key.pem -out client.csr",
            "x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out fedora-cert.pem",
        ] {
            openssl(d, args);
        }
        std::fs::write(
            d.join("defs.json"),
            r#"{"users":[{"name":"fedora","password_hash":"","hashing_algorithm":"rabbit_password_hashing_sha256","tags":""}],
               "vhosts":[{"name":"/public_pubsub"}],
               "permissions":[{"user":"fedora","vhost":"/public_pubsub","configure":".*","write":".*","read":".*"}]}"#,
        )
        .expect("defs");
        let port = free_port();
        std::fs::write(
            d.join("rabbitmq.conf"),
            format!(
                "listeners.tcp = none\nlisteners.ssl.default = 127.0.0.1:{port}\n\
                 ssl_options.cacertfile = {ca}\nssl_options.certfile = {cert}\nssl_options.keyfile = {key}\n\
                 ssl_options.verify = verify_peer\nssl_options.fail_if_no_peer_cert = true\n\
                 auth_mechanisms.1 = EXTERNAL\nssl_cert_login_from = common_name\n\
                 load_definitions = {defs}\nloopback_users = none\n",
                ca = d.join("ca.pem").display(),
                cert = d.join("server.pem").display(),
                key = d.join("server.key").display(),
                defs = d.join("defs.json").display(),
            ),
        )
        .expect("conf");
        std::fs::write(
            d.join("enabled_plugins"),
            "[rabbitmq_auth_mechanism_ssl].\n",
        )
        .expect("plugins");
        for sub in ["home", "mnesia", "log"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        let mut rabbit = Rabbit {
            port,
            dist_port: free_port(),
            dir,
            child: None,
        };
        rabbit.spawn();
        rabbit
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("fedora-cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("fedora-key.pem")
    }

    /// The URL the bot is configured with (Fedora's, on our port).
    pub fn url(&self) -> String {
        format!("amqps://fedora:@localhost:{}/%2Fpublic_pubsub", self.port)
    }

    fn spawn(&mut self) {
        // The real server, not Debian's wrapper (which switches to the `rabbitmq` user, who
        // cannot read our files).
        let bin = PathBuf::from("/usr/lib/rabbitmq/bin/rabbitmq-server");
        assert!(
            bin.exists(),
            "rabbitmq-server is installed (apt-get install rabbitmq-server; .ci/run does it)"
        );
        let d = self.dir.path();
        let node = format!("forkdebt{}@localhost", self.port);
        let log = std::fs::File::create(d.join("server.log")).expect("log");
        let child = Command::new(bin)
            .env("HOME", d.join("home"))
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_PID_FILE", d.join("pid"))
            .env("RABBITMQ_GENERATED_CONFIG_DIR", d.join("gen"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            // Its own process group: the wrapper does not exec the Erlang VM.
            .process_group(0)
            .spawn()
            .expect("start rabbitmq-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(d.join("server.log")).unwrap_or_default();
                panic!("rabbitmq-server did not listen within 60 s:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL to the whole server.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", c.id())])
                .status();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// A publisher on the vhost, logged in by the same client certificate.
    pub async fn publisher(&self) -> Publisher {
        let tls = OwnedTLSConfig {
            identity: Some(OwnedIdentity::PKCS8 {
                pem: std::fs::read(self.cert()).expect("cert"),
                key: std::fs::read(self.key()).expect("key"),
            }),
            cert_chain: Some(std::fs::read_to_string(self.ca()).expect("ca")),
        };
        let url = format!("{}?auth_mechanism=external", self.url());
        let conn = lapin::Connection::connect_with_config(
            &url,
            lapin::ConnectionProperties::default(),
            tls,
            lapin::runtime::default_runtime().expect("runtime"),
        )
        .await
        .expect("publisher connects");
        let channel = conn.create_channel().await.expect("channel");
        Publisher {
            _conn: conn,
            channel,
        }
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Publisher {
    _conn: lapin::Connection,
    channel: lapin::Channel,
}

impl Publisher {
    /// Publishes `body` on `amq.topic` as fedora-messaging does.
    pub async fn publish(&self, id: &str, topic: &str, sent_at: &str, body: &serde_json::Value) {
        let mut headers = FieldTable::default();
        headers.insert("sent-at".into(), AMQPValue::LongString(sent_at.into()));
        headers.insert(
            "fedora_messaging_schema".into(),
            AMQPValue::LongString("base.message".into()),
        );
        let props = lapin::BasicProperties::default()
            .with_message_id(id.into())
            .with_content_type("application/json".into())
            .with_headers(headers);
        self.channel
            .basic_publish(
                "amq.topic".into(),
                topic.into(),
                BasicPublishOptions::default(),
                &serde_json::to_vec(body).expect("json"),
                props,
            )
            .await
            .expect("publish")
            .await
            .expect("published");
    }
}
