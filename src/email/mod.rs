//! Outgoing email: the transport (files in development, SMTP in production), the outbox
//! worker that sends queued messages with retries, and the messages themselves.

pub mod messages;
pub mod outbox;

use crate::config::{EmailSettings, EmailTransport, SmtpTls};
use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends messages through the configured transport.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl Mailer {
    pub fn from_settings(s: &EmailSettings) -> anyhow::Result<Self> {
        let from: Mailbox = s.from.parse().context("email.from")?;
        let transport = match s.transport {
            EmailTransport::File => {
                std::fs::create_dir_all(&s.file_dir)
                    .with_context(|| format!("creating email.file_dir {:?}", s.file_dir))?;
                Transport::File(AsyncFileTransport::new(&s.file_dir))
            }
            EmailTransport::Smtp => {
                let smtp = &s.smtp;
                let mut b = match smtp.tls {
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
                    }
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    }
                }
                .port(smtp.port);
                if let (Some(user), Some(pass)) = (&smtp.username, &smtp.password) {
                    b = b.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
                }
                Transport::Smtp(b.build())
            }
        };
        Ok(Self { from, transport })
    }

    /// Sends one message (text, plus HTML when given).
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        html: Option<&str>,
    ) -> anyhow::Result<()> {
        let to: Mailbox = to.parse().context("recipient address")?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject);
        let msg = match html {
            Some(h) => builder.multipart(MultiPart::alternative_plain_html(
                text.to_string(),
                h.to_string(),
            ))?,
            None => builder.body(text.to_string())?,
        };
        match &self.transport {
            Transport::File(t) => {
                t.send(msg).await.context("writing the message file")?;
            }
            Transport::Smtp(t) => {
                t.send(msg).await.context("sending through SMTP")?;
            }
        }
        Ok(())
    }
}
