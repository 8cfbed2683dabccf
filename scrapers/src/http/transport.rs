//! The client under the HTTP layer: sends one request and reads the answer with a size cap.
//! [`ReqwestTransport`] serves every source; GitHub plugs octocrab in through the same trait,
//! so its calls get the same pacing, retries and caps.

use super::{Get, HttpError, HttpOptions};
use futures_util::future::BoxFuture;
use reqwest::header::HeaderMap;

/// An answer before classification.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: HeaderMap,
    /// The whole body of a 2xx (at most `Get::max_bytes`), the start of any other.
    pub body: Vec<u8>,
}

/// How much of an error answer is kept, for the message.
pub const ERROR_SNIPPET_BYTES: usize = 512;

pub trait Transport: Send + Sync {
    /// Sends `req` to `url` with `headers` (conditional ones included).
    fn send<'a>(
        &'a self,
        url: &'a reqwest::Url,
        req: &'a Get,
        headers: HeaderMap,
    ) -> BoxFuture<'a, Result<Raw, HttpError>>;
}

pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// # Errors
    /// The TLS backend cannot be set up.
    pub fn new(opts: &HttpOptions) -> Result<ReqwestTransport, HttpError> {
        Ok(ReqwestTransport {
            client: client(opts)?,
        })
    }
}

/// The reqwest client every request goes out with (octocrab's too): one User-Agent with
/// the contact, the configured timeouts.
///
/// # Errors
/// The TLS backend cannot be set up.
pub fn client(opts: &HttpOptions) -> Result<reqwest::Client, HttpError> {
    reqwest::Client::builder()
        .user_agent(opts.user_agent.clone())
        // The HTTP layer follows redirects itself (same host, counted, bounded).
        .redirect(reqwest::redirect::Policy::none())
        .timeout(opts.timeout)
        .connect_timeout(opts.connect_timeout)
        .build()
        .map_err(HttpError::Client)
}

impl Transport for ReqwestTransport {
    fn send<'a>(
        &'a self,
        url: &'a reqwest::Url,
        req: &'a Get,
        headers: HeaderMap,
    ) -> BoxFuture<'a, Result<Raw, HttpError>> {
        Box::pin(async move {
            let builder = match &req.post {
                Some((content_type, body)) => self
                    .client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, *content_type)
                    .body(body.clone()),
                None => self.client.get(url.clone()),
            };
            let mut resp = builder
                .headers(headers)
                .send()
                .await
                .map_err(|e| HttpError::from_send(&req.url, e))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            if !(200..300).contains(&status) {
                let body = read_capped(&mut resp, ERROR_SNIPPET_BYTES, true)
                    .await
                    .unwrap_or_default();
                return Ok(Raw {
                    status,
                    headers,
                    body,
                });
            }
            if resp
                .content_length()
                .is_some_and(|n| n > req.max_bytes as u64)
            {
                return Err(HttpError::TooLarge {
                    url: req.url.clone(),
                    limit: req.max_bytes,
                });
            }
            let body = read_capped(&mut resp, req.max_bytes, false)
                .await
                .map_err(|e| match e {
                    ReadError::TooLarge => HttpError::TooLarge {
                        url: req.url.clone(),
                        limit: req.max_bytes,
                    },
                    ReadError::Body(source) => HttpError::from_send(&req.url, source),
                })?;
            Ok(Raw {
                status,
                headers,
                body,
            })
        })
    }
}

enum ReadError {
    TooLarge,
    Body(reqwest::Error),
}

/// Reads the body chunk by chunk, stopping at `max` bytes: an error, or (`truncate`) the
/// first `max` bytes.
async fn read_capped(
    resp: &mut reqwest::Response,
    max: usize,
    truncate: bool,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Body)? {
        if body.len() + chunk.len() > max {
            if truncate {
                body.extend_from_slice(&chunk[..max - body.len()]);
                return Ok(body);
            }
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
