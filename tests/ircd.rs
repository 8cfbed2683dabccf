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
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Ngircd {
    pub fn start() -> Ngircd {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let conf = dir.path().join("ngircd.conf");
        std::fs::write(
            &conf,
            format!(
                "[Global]\nName = irc.test\nInfo = forkdebt tests\nListen = 127.0.0.1\nPorts = {port}\nMotdPhrase = test server\n\
                 [Limits]\nMaxConnectionsIP = 0\nMaxNickLength = 30\nMaxPenaltyTime = 0\nPingTimeout = 120\nPongTimeout = 60\n\
                 [Options]\nPAM = no\nIdent = no\nDNS = no\n"
            ),
        )
        .expect("ngircd.conf");
        let mut server = Ngircd {
            port,
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
