//! The text of the emails the platform sends.

use crate::db::outbox::NewEmail;
use crate::domain::NewLead;

/// An owned message, ready to be queued.
pub struct Composed {
    pub kind: &'static str,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// One message per key: a retried event never sends it twice.
    pub dedupe_key: Option<String>,
    /// Holds a secret (license key, one-time link): erased from the outbox once sent.
    pub sensitive: bool,
}

impl Composed {
    pub fn as_new(&self) -> NewEmail<'_> {
        NewEmail {
            kind: self.kind,
            dedupe_key: self.dedupe_key.as_deref(),
            to: &self.to,
            subject: &self.subject,
            text: &self.text,
            html: self.html.as_deref(),
            sensitive: self.sensitive,
        }
    }
}

/// Escapes text for HTML bodies.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Wraps paragraphs (already escaped) into a simple, client-safe HTML email.
fn html_email(title: &str, paragraphs: &[String]) -> String {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p style=\"margin:0 0 16px\">{p}</p>"))
        .collect();
    format!(
        "<!doctype html><html><body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2937;line-height:1.5\">\
<div style=\"max-width:600px;margin:0 auto;padding:24px\"><h1 style=\"font-size:20px;margin:0 0 16px\">{}</h1>{body}\
<p style=\"color:#6b7280;font-size:12px;margin-top:32px\">Fox ML Infrastructure</p></div></body></html>",
        escape(title)
    )
}

fn code(s: &str) -> String {
    format!(
        "<code style=\"font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;background:#f3f4f6;padding:8px;display:block;word-break:break-all\">{}</code>",
        escape(s)
    )
}

fn link(url: &str) -> String {
    format!("<a href=\"{0}\">{0}</a>", escape(url))
}

/// The license key delivery: the key, what it unlocks, and the next step (set a password).
pub fn license_key(
    to: &str,
    license_id: uuid::Uuid,
    tier_name: &str,
    expires: &str,
    key: &str,
    next_step_url: &str,
    set_password: bool,
    dedupe: bool,
) -> Composed {
    let step = if set_password {
        "Set a password for your account (the link works once and expires)"
    } else {
        "Sign in to your dashboard to manage machines and API tokens"
    };
    let text = format!(
        "Your Fox ML Infrastructure license is ready.\n\nPlan: {tier_name}\nValid until: {expires}\nLicense id: {license_id}\n\nYour license key (keep it secret; we cannot show it again):\n\n{key}\n\nNext step: {step}:\n{next_step_url}\n\nVerify the key offline with the public key published at /.well-known/fox-license-key.\n"
    );
    let html = html_email(
        "Your Fox ML Infrastructure license is ready",
        &[
            format!(
                "Plan: <strong>{}</strong><br>Valid until: {}<br>License id: {license_id}",
                escape(tier_name),
                escape(expires)
            ),
            format!(
                "Your license key (keep it secret; we cannot show it again):{}",
                code(key)
            ),
            format!("Next step: {step}:<br>{}", link(next_step_url)),
        ],
    );
    Composed {
        kind: "license_key",
        to: to.to_string(),
        subject: format!("Your Fox ML Infrastructure license ({tier_name})"),
        text,
        html: Some(html),
        // The first delivery is deduplicated per license; "resend my key" sends a new key each time.
        dedupe_key: dedupe.then(|| format!("license-key:{license_id}")),
        sensitive: true,
    }
}

/// A renewal payment failed; the license keeps working until `grace_until`.
pub fn payment_failed(to: &str, invoice_id: &str, grace_until: &str, portal_url: &str) -> Composed {
    let text = format!(
        "We could not collect the latest payment for your Fox ML Infrastructure subscription.\n\nYour license keeps working until {grace_until}. Please update your payment method:\n{portal_url}\n"
    );
    let html = html_email(
        "Your payment did not go through",
        &[
            "We could not collect the latest payment for your Fox ML Infrastructure subscription."
                .into(),
            format!(
                "Your license keeps working until <strong>{}</strong>. Please update your payment method: {}",
                escape(grace_until),
                link(portal_url)
            ),
        ],
    );
    Composed {
        kind: "payment_failed",
        to: to.into(),
        subject: "Action needed: payment failed".into(),
        text,
        html: Some(html),
        dedupe_key: Some(format!("payment-failed:{invoice_id}")),
        sensitive: false,
    }
}

/// A license changed state (suspended, expired, revoked).
pub fn license_status(
    to: &str,
    license_id: uuid::Uuid,
    status: crate::domain::LicenseStatus,
    reason: &str,
    dedupe: &str,
) -> Composed {
    let what = status.as_str().to_ascii_lowercase();
    let text = format!(
        "Your Fox ML Infrastructure license {license_id} is now {what}.\n\nReason: {reason}\n\nIf this is unexpected, reply to this email or contact sales.\n"
    );
    let html = html_email(
        &format!("Your license is {what}"),
        &[
            format!(
                "License <strong>{license_id}</strong> is now <strong>{}</strong>.",
                escape(&what)
            ),
            format!("Reason: {}", escape(reason)),
            "If this is unexpected, reply to this email or contact sales.".into(),
        ],
    );
    Composed {
        kind: "license_status",
        to: to.into(),
        subject: format!("Your Fox ML Infrastructure license is {what}"),
        text,
        html: Some(html),
        dedupe_key: Some(dedupe.to_string()),
        sensitive: false,
    }
}

/// An asynchronous checkout payment (e.g. a bank debit) failed: no license was issued.
pub fn checkout_payment_failed(to: &str, session_id: &str) -> Composed {
    let text = "Your payment for Fox ML Infrastructure did not go through, so no license was issued.\n\nYou can try again from the pricing page, or reply to this email and we will help.\n".to_string();
    let html = html_email(
        "Your payment did not go through",
        &[
            "Your payment for Fox ML Infrastructure did not go through, so no license was issued."
                .into(),
            "You can try again from the pricing page, or reply to this email and we will help."
                .into(),
        ],
    );
    Composed {
        kind: "checkout_payment_failed",
        to: to.into(),
        subject: "Your Fox ML Infrastructure payment did not go through".into(),
        text,
        html: Some(html),
        dedupe_key: Some(format!("checkout-failed:{session_id}")),
        sensitive: false,
    }
}

/// A password reset link.
pub fn password_reset(to: &str, url: &str, hours: u64) -> Composed {
    let text = format!(
        "Someone asked to reset the password of your Fox ML Infrastructure account.\n\nSet a new password (the link works once, for {hours} hours):\n{url}\n\nIf it was not you, ignore this email.\n"
    );
    let html = html_email(
        "Reset your password",
        &[
            format!(
                "Set a new password (the link works once, for {hours} hours): {}",
                link(url)
            ),
            "If it was not you, ignore this email.".into(),
        ],
    );
    Composed {
        kind: "password_reset",
        to: to.into(),
        subject: "Reset your Fox ML Infrastructure password".into(),
        text,
        html: Some(html),
        dedupe_key: None,
        sensitive: true,
    }
}

/// Tells sales about a new lead (the lead's details are the point of this message; they go
/// to the sales mailbox, never to logs).
pub fn lead_notification(
    sales_to: &str,
    lead: &NewLead,
    tier_name: &str,
    admin_url: &str,
) -> Composed {
    let line =
        |label: &str, v: &str| format!("{label:<12} {}\n", if v.is_empty() { "—" } else { v });
    let mut text = String::from("A new access request arrived from the website.\n\n");
    text += &line("Name:", &lead.name);
    text += &line("Email:", lead.email.as_str());
    text += &line("Company:", &lead.company);
    text += &line("Role:", &lead.role);
    text += &line("Team size:", &lead.team_size);
    text += &line("Plan:", tier_name);
    text += &format!(
        "\nUse case:\n{}\n\nReply to the requester directly; leads are listed at {admin_url}.\n",
        if lead.use_case.is_empty() {
            "—"
        } else {
            &lead.use_case
        }
    );
    Composed {
        html: None,
        dedupe_key: None,
        sensitive: false,
        kind: "lead_notification",
        to: sales_to.to_string(),
        subject: format!("New access request: {} ({})", lead.company, tier_name),
        text,
    }
}
