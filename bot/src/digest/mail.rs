//! The digest as an email (lettre): multipart/alternative of plain text and HTML, the HTML
//! with the chart inline (multipart/related, Content-ID), `List-Unsubscribe` and
//! `List-Unsubscribe-Post`, Date, a Message-ID derived from the idempotency key (a resend
//! after a crash carries the same id, so mail clients show it once), UTF-8 subject.

use super::{Digest, chart, render};
use forkdebt_core::config::{EmailConfig, Secret};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_string())
    }
}

/// The sender: `[email] from`, else forkdebt at localhost.
pub fn from(email: &EmailConfig) -> anyhow::Result<Mailbox> {
    let from = email
        .from
        .as_deref()
        .unwrap_or("forkdebt <forkdebt@localhost>");
    from.parse()
        .map_err(|e| anyhow::anyhow!("[email] from = {from:?} is not an address: {e}"))
}

/// The whole message for `d`.
///
/// # Errors
/// An address that does not parse, or a rendering failure.
pub fn message(d: &Digest, email: &EmailConfig) -> anyhow::Result<Message> {
    let from = from(email)?;
    let to: Mailbox = d
        .recipient
        .parse()
        .map_err(|e| anyhow::anyhow!("recipient {:?} is not an address: {e}", d.recipient))?;
    let plain = render::plain(d)?;
    let html = render::html(d)?;
    let values: Vec<Option<i64>> = d.trend.iter().map(|(_, v)| *v).collect();
    let png = chart::png(&values)?;
    let mut unsubscribe = format!(
        "<mailto:{}?subject=unsubscribe%20{}>",
        from.email,
        to.email.to_string().replace('@', "%40")
    );
    if let Some(url) = &email.unsubscribe_url {
        unsubscribe.push_str(&format!(", <{url}>"));
    }
    let key = super::key(to.email.as_ref(), &d.week);
    let message_id: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '.'
            }
        })
        .collect();
    let subject = format!(
        "forkdebt {} — {}",
        d.week,
        d.summary.first().cloned().unwrap_or_default()
    );
    let png_type = ContentType::parse("image/png")?;
    Ok(Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .date_now()
        .message_id(Some(format!("<{message_id}@forkdebt>")))
        .header(ListUnsubscribe(unsubscribe))
        .header(ListUnsubscribePost)
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(plain))
                .multipart(
                    MultiPart::related()
                        .singlepart(SinglePart::html(html))
                        .singlepart(
                            Attachment::new_inline(render::CHART_CID.to_string())
                                .body(png, png_type),
                        ),
                ),
        )?)
}

/// The SMTP transport of `[email] smtp_url`: `smtp://host:port` (plain), `smtps://` (implicit
/// TLS), `smtp://…?tls=starttls` (STARTTLS required); credentials from `username_env` and
/// `password_env`/`password_file`.
///
/// # Errors
/// A URL lettre cannot use, or a named secret that is not set.
/// The SMTP client the digest goes out with.
pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

pub fn transport(email: &EmailConfig) -> anyhow::Result<Transport> {
    let url = email.smtp_url.as_deref().unwrap_or("smtp://localhost:25");
    // lettre spells STARTTLS `tls=required`; the configuration says what it means.
    let lettre_url = url.replace("tls=starttls", "tls=required");
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url)
        .map_err(|e| {
            anyhow::anyhow!(
                "[email] smtp_url {}: {e}",
                forkdebt_core::config::redact_url(url)
            )
        })?
        .timeout(Some(std::time::Duration::from_secs(30)));
    let password = Secret::load(
        email.password_env.as_deref(),
        email.password_file.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!("[email] password: {e}"))?;
    if let Some(password) = password {
        let user = match &email.username_env {
            Some(var) => std::env::var(var.as_str())
                .map_err(|_| anyhow::anyhow!("[email] username_env: {var} is not set"))?,
            None => anyhow::bail!("[email] a password is set but no username_env"),
        };
        builder = builder.credentials(Credentials::new(user, password.expose().to_string()));
    }
    Ok(builder.build())
}

/// Sends `message` through `transport`.
///
/// # Errors
/// The SMTP server refused it or could not be reached.
pub async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    message: Message,
) -> anyhow::Result<()> {
    transport.send(message).await?;
    Ok(())
}
