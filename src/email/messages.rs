//! The text of the emails the platform sends.

use crate::db::outbox::NewEmail;
use crate::domain::NewLead;

/// An owned message, ready to be queued.
pub struct Composed {
    pub kind: &'static str,
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl Composed {
    pub fn as_new(&self) -> NewEmail<'_> {
        NewEmail {
            kind: self.kind,
            dedupe_key: None,
            to: &self.to,
            subject: &self.subject,
            text: &self.text,
            html: None,
        }
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
        kind: "lead_notification",
        to: sales_to.to_string(),
        subject: format!("New access request: {} ({})", lead.company, tier_name),
        text,
    }
}
