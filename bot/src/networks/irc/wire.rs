//! The connection to an IRC server: TCP, TLS when asked, and line framing.
//!
//! Ours rather than the `irc` crate's: its codec keeps an unterminated line in memory without
//! bound (a hostile server grew the bot from 70 to 543 MB), and its client opens the
//! connection itself, so no bounded reader can be put in between. Messages are still parsed
//! and written by `irc-proto`.

use anyhow::Context as _;
use bytes::{BufMut as _, BytesMut};
use irc_proto::Message;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_util::codec::{Decoder, Encoder, Framed};

/// The longest line kept: IRCv3 allows 8,191 bytes of tags before the 512-byte message. A
/// longer line is dropped as it arrives, never held.
pub const MAX_LINE_BYTES: usize = 8191 + 512;

/// Anything a connection can run over: a TCP stream or TLS on top of one.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub type Transport = Framed<Box<dyn Io>, Lines>;

/// Connects to `server:port`, over TLS when `tls` (trusting the web PKI roots and the
/// certificates in `ca_file`).
///
/// # Errors
/// The server cannot be reached, `ca_file` cannot be read, or the TLS handshake fails (the
/// error names the certificate problem).
pub async fn connect(
    server: &str,
    port: u16,
    tls: bool,
    ca_file: Option<&std::path::Path>,
) -> anyhow::Result<Transport> {
    let tcp = tokio::net::TcpStream::connect((server, port))
        .await
        .with_context(|| format!("connecting to {server}:{port}"))?;
    if !tls {
        return Ok(Framed::new(Box::new(tcp), Lines::default()));
    }
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(ca_file)?));
    let name = ServerName::try_from(server.to_string())
        .with_context(|| format!("{server:?} is not a name TLS can check"))?;
    let stream = connector
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS with {server}:{port}"))?;
    Ok(Framed::new(Box::new(stream), Lines::default()))
}

fn tls_config(ca_file: Option<&std::path::Path>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .with_context(|| format!("[chat.irc] ca_file {}", path.display()))?;
        anyhow::ensure!(
            !certs.is_empty(),
            "[chat.irc] ca_file {} holds no PEM certificate",
            path.display()
        );
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("[chat.irc] ca_file {}", path.display()))?;
        }
    }
    // The provider is named: with several rustls users in the build, no process default is
    // guaranteed.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// IRC lines: split at LF (a CR before it dropped), decoded as UTF-8 with replacement (one
/// Latin-1 message must not end the connection), at most [`MAX_LINE_BYTES`] each.
#[derive(Default)]
pub struct Lines {
    /// Where to look for the next LF: the bytes before it were looked at already.
    searched: usize,
    /// The current line went over the limit: skip up to its LF.
    dropping: bool,
    /// Overlong lines dropped since the last warning, and when that was: a server sending
    /// thousands of them gets one log line a minute, not one each.
    dropped_unsaid: u64,
    last_warned: Option<std::time::Instant>,
    warnings: u64,
}

/// At most one "line dropped" warning this often.
const WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Lines {
    fn dropped_one(&mut self) {
        self.dropped_unsaid += 1;
        if self.last_warned.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            return;
        }
        if self.dropped_unsaid == 1 {
            tracing::warn!("irc: the server sent a line of over {MAX_LINE_BYTES} bytes; dropped");
        } else {
            tracing::warn!(
                "irc: the server sent {} lines of over {MAX_LINE_BYTES} bytes; dropped",
                self.dropped_unsaid
            );
        }
        self.dropped_unsaid = 0;
        self.warnings += 1;
        self.last_warned = Some(std::time::Instant::now());
    }
}

impl Decoder for Lines {
    type Item = String;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<String>, Self::Error> {
        loop {
            let Some(at) = buf[self.searched..].iter().position(|b| *b == b'\n') else {
                if buf.len() > MAX_LINE_BYTES {
                    if !self.dropping {
                        self.dropped_one();
                    }
                    self.dropping = true;
                    buf.clear();
                }
                self.searched = buf.len();
                return Ok(None);
            };
            let end = self.searched + at;
            let line = buf.split_to(end + 1);
            self.searched = 0;
            if std::mem::take(&mut self.dropping) {
                continue;
            }
            if end > MAX_LINE_BYTES {
                self.dropped_one();
                continue;
            }
            let text = String::from_utf8_lossy(&line[..end]);
            let text = text.trim_end_matches('\r');
            if !text.is_empty() {
                return Ok(Some(text.to_string()));
            }
        }
    }
}

impl Encoder<Message> for Lines {
    type Error = std::io::Error;

    fn encode(&mut self, message: Message, buf: &mut BytesMut) -> Result<(), Self::Error> {
        // irc-proto writes the CR LF.
        buf.put_slice(message.to_string().as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &mut Lines, buf: &mut BytesMut, bytes: &[u8]) -> Vec<String> {
        buf.extend_from_slice(bytes);
        std::iter::from_fn(|| lines.decode(buf).expect("decode")).collect()
    }

    #[test]
    fn an_unterminated_line_is_never_held_beyond_the_limit() {
        let (mut lines, mut buf) = (Lines::default(), BytesMut::new());
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..1024 {
            // 64 MiB without a newline, in the pieces a socket delivers.
            assert!(feed(&mut lines, &mut buf, &chunk).is_empty());
            assert!(buf.len() <= MAX_LINE_BYTES + chunk.len(), "{}", buf.len());
        }
        // The rest of the overlong line is dropped; the next line is read as usual.
        let got = feed(&mut lines, &mut buf, b"xxx\r\nPING :a\r\n");
        assert_eq!(got, ["PING :a"]);
    }

    #[test]
    fn lines_are_split_at_lf_and_decoded_with_replacement() {
        let (mut lines, mut buf) = (Lines::default(), BytesMut::new());
        let got = feed(&mut lines, &mut buf, b"caf\xe9\r\n\r\nb\nc");
        assert_eq!(got, ["caf\u{fffd}", "b"]);
        assert_eq!(feed(&mut lines, &mut buf, b"d\r\n"), ["cd"]);
    }

    #[test]
    fn many_overlong_lines_are_one_warning() {
        let (mut lines, mut buf) = (Lines::default(), BytesMut::new());
        let mut long = vec![b'z'; MAX_LINE_BYTES + 10];
        long.push(b'\n');
        for _ in 0..200 {
            assert!(feed(&mut lines, &mut buf, &long).is_empty());
        }
        // Split across reads too (the unterminated path).
        for _ in 0..200 {
            assert!(feed(&mut lines, &mut buf, &long[..MAX_LINE_BYTES + 5]).is_empty());
            assert!(feed(&mut lines, &mut buf, &long[MAX_LINE_BYTES + 5..]).is_empty());
        }
        assert_eq!(lines.warnings, 1);
        assert_eq!(lines.dropped_unsaid, 399);
        assert_eq!(feed(&mut lines, &mut buf, b"ok\n"), ["ok"]);
    }

    #[test]
    fn a_complete_line_over_the_limit_is_dropped() {
        let (mut lines, mut buf) = (Lines::default(), BytesMut::new());
        let mut long = vec![b'y'; MAX_LINE_BYTES + 1];
        long.extend_from_slice(b"\nok\n");
        assert_eq!(feed(&mut lines, &mut buf, &long), ["ok"]);
    }
}
