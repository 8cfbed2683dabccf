//! A real IRC server for tests and the load bench: ngircd on a free loopback port, with
//! flood penalties off (they made 50 lines take 15 s), and a minimal raw IRC user that
//! speaks the protocol line by line, so what the bot sends is seen exactly as sent.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub struct Ngircd {
    pub port: u16,
    /// Only listening when started with [`Ngircd::start_tls`].
    pub tls_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// A port nothing listens on now (its own copy: benches include this file without util.rs).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Ngircd {
    pub fn start() -> Ngircd {
        Ngircd::start_with(false)
    }

    /// Also listening with TLS on `tls_port`, with a self-signed certificate for 127.0.0.1
    /// (`ca.pem` in the folder `ca()` names is the certificate to trust).
    pub fn start_tls() -> Ngircd {
        Ngircd::start_with(true)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn start_with(tls: bool) -> Ngircd {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let tls_port = free_port();
        let conf = dir.path().join("ngircd.conf");
        let mut text = format!(
            "[Global]\nName = irc.test\nInfo = forkdebt tests\nListen = 127.0.0.1\nPorts = {port}\nMotdPhrase = test server\n\
             [Limits]\nMaxConnectionsIP = 0\nMaxNickLength = 30\nMaxPenaltyTime = 0\nPingTimeout = 120\nPongTimeout = 60\n\
             [Options]\nPAM = no\nIdent = no\nDNS = no\n"
        );
        if tls {
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            let d = |f: &str| dir.path().join(f);
            std::fs::write(
                d("leaf.ext"),
                "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
            )
            .expect("ext");
            // A CA, and a server certificate it signed (webpki refuses a CA as end entity).
            for args in [
                "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=forkdebt-test-ca -keyout ca.key -out ca.pem",
                "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out leaf.csr",
                "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile leaf.ext -out cert.pem",
            ] {
                let out = Command::new("openssl")
                    .args(args.split(' '))
                    .current_dir(dir.path())
                    .output()
                    .expect("openssl");
                assert!(
                    out.status.success(),
                    "openssl {args}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            text.push_str(&format!(
                "[SSL]\nCertFile = {}\nKeyFile = {}\nPorts = {tls_port}\n",
                cert.display(),
                key.display()
            ));
        }
        std::fs::write(&conf, text).expect("ngircd.conf");
        let mut server = Ngircd {
            port,
            tls_port,
            dir,
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let bin = ["/usr/sbin/ngircd", "/usr/local/sbin/ngircd"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("ngircd is installed (apt-get install ngircd; .ci/run does it)");
        let child = Command::new(bin)
            .args(["-n", "-f"])
            .arg(self.dir.path().join("ngircd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ngircd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "ngircd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Ngircd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One parsed line: `prefix nick`, command, params (the trailing one included).
#[derive(Debug, Clone)]
pub struct Line {
    pub from: String,
    pub command: String,
    pub params: Vec<String>,
    pub raw: String,
}

pub fn parse(raw: &str) -> Line {
    let mut rest = raw;
    let mut from = String::new();
    if let Some(r) = rest.strip_prefix(':') {
        let (p, r) = r.split_once(' ').unwrap_or((r, ""));
        from = p.split('!').next().unwrap_or(p).to_string();
        rest = r;
    }
    let (head, trailing) = match rest.split_once(" :") {
        Some((h, t)) => (h, Some(t)),
        None => (rest, None),
    };
    let mut words = head.split(' ').filter(|w| !w.is_empty());
    let command = words.next().unwrap_or_default().to_string();
    let mut params: Vec<String> = words.map(str::to_string).collect();
    params.extend(trailing.map(str::to_string));
    Line {
        from,
        command,
        params,
        raw: raw.to_string(),
    }
}

/// A person on IRC, typing raw protocol.
pub struct User {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl User {
    pub async fn connect(port: u16, nick: &str) -> User {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to ngircd");
        let (r, w) = stream.into_split();
        let mut user = User {
            reader: BufReader::new(r),
            writer: w,
        };
        user.send(&format!("NICK {nick}")).await;
        user.send(&format!("USER {nick} 0 * :{nick}")).await;
        user.wait_for(Duration::from_secs(10), |l| l.command == "001")
            .await
            .expect("registered");
        user
    }

    pub async fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("send");
    }

    pub async fn say(&mut self, target: &str, text: &str) {
        self.send(&format!("PRIVMSG {target} :{text}")).await;
    }

    /// The next line, answering PINGs on the way; `None` on timeout or a closed connection.
    pub async fn next(&mut self, timeout: Duration) -> Option<Line> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut buf = String::new();
            let n = tokio::time::timeout_at(deadline, self.reader.read_line(&mut buf))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            let line = parse(buf.trim_end_matches(['\r', '\n']));
            if line.command == "PING" {
                let token = line.params.first().cloned().unwrap_or_default();
                self.send(&format!("PONG :{token}")).await;
                continue;
            }
            return Some(line);
        }
    }

    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&Line) -> bool,
    ) -> Option<Line> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = self.next(left).await?;
            if want(&line) {
                return Some(line);
            }
        }
    }

    /// Every NOTICE from `from` until `quiet` passes without one.
    pub async fn notices(&mut self, from: &str, first: Duration, quiet: Duration) -> Vec<Line> {
        let mut out = Vec::new();
        let mut wait = first;
        while let Some(l) = self.next(wait).await {
            if l.command == "NOTICE" && l.from == from {
                out.push(l);
                wait = quiet;
            }
        }
        out
    }
}
