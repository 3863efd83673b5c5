//! The Request Access form: raw input, per-field errors, and the validated lead.

use super::EmailAddress;
use serde::Deserialize;

/// Team sizes offered by the form (and allowed by the `leads` table).
pub const TEAM_SIZES: &[(&str, &str)] = &[
    ("1", "Just me"),
    ("2-5", "2–5 people"),
    ("6-20", "6–20 people"),
    ("21-100", "21–100 people"),
    ("100+", "More than 100"),
];

/// The form as submitted; every field optional so that a partial post still re-renders.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeadInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub team_size: String,
    #[serde(default)]
    pub use_case: String,
    #[serde(default)]
    pub tier: String,
    /// Honeypot: hidden from people, filled in by bots.
    #[serde(default)]
    pub website: String,
}

/// A message per invalid field (`form` for problems not tied to one field).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadErrors {
    pub name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub role: Option<String>,
    pub team_size: Option<String>,
    pub use_case: Option<String>,
    pub tier: Option<String>,
    pub form: Option<String>,
}

impl LeadErrors {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A lead that passed validation.
#[derive(Debug, Clone)]
pub struct NewLead {
    pub name: String,
    pub email: EmailAddress,
    pub company: String,
    pub role: String,
    pub team_size: String,
    pub use_case: String,
    pub tier: String,
}

fn text(
    raw: &str,
    max: usize,
    required: Option<&str>,
    label: &str,
    err: &mut Option<String>,
) -> String {
    let v = raw.trim();
    if v.is_empty() {
        if let Some(msg) = required {
            *err = Some(msg.to_string());
        }
    } else if v.chars().count() > max {
        *err = Some(format!("{label} must be at most {max} characters."));
    } else if v
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        *err = Some(format!("{label} contains characters we cannot accept."));
    }
    v.to_string()
}

impl LeadInput {
    /// Validates against the tiers on offer; returns every field's problem at once.
    pub fn validate(&self, tier_ids: &[&str]) -> Result<NewLead, LeadErrors> {
        let mut e = LeadErrors::default();
        let name = text(
            &self.name,
            200,
            Some("Enter your name."),
            "Name",
            &mut e.name,
        );
        let company = text(
            &self.company,
            200,
            Some("Enter your company or organisation."),
            "Company",
            &mut e.company,
        );
        let role = text(&self.role, 200, None, "Role", &mut e.role);
        let use_case = text(&self.use_case, 5000, None, "Use case", &mut e.use_case);
        let email = EmailAddress::parse(&self.email)
            .map_err(|m| e.email = Some(m))
            .ok();
        if !TEAM_SIZES.iter().any(|(v, _)| *v == self.team_size) {
            e.team_size = Some("Choose your team size.".into());
        }
        if !tier_ids.contains(&self.tier.as_str()) {
            e.tier = Some("Choose the plan you are interested in.".into());
        }
        match email {
            Some(email) if e.is_empty() => Ok(NewLead {
                name,
                email,
                company,
                role,
                team_size: self.team_size.clone(),
                use_case,
                tier: self.tier.clone(),
            }),
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> LeadInput {
        LeadInput {
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            company: "Analytical Engines Ltd".into(),
            team_size: "2-5".into(),
            tier: "desk".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_input_passes() {
        let lead = good().validate(&["desk"]).unwrap();
        assert_eq!(lead.email.as_str(), "ada@example.com");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let input = LeadInput {
            name: " ".into(),
            email: "nope".into(),
            team_size: "7".into(),
            tier: "gold".into(),
            ..Default::default()
        };
        let e = input.validate(&["desk"]).unwrap_err();
        assert!(
            e.name.is_some()
                && e.email.is_some()
                && e.company.is_some()
                && e.team_size.is_some()
                && e.tier.is_some()
        );
        assert!(e.role.is_none() && e.use_case.is_none());
    }

    #[test]
    fn overlong_text_is_rejected() {
        let input = LeadInput {
            use_case: "x".repeat(5001),
            ..good()
        };
        assert!(
            input
                .validate(&["desk"])
                .unwrap_err()
                .use_case
                .unwrap()
                .contains("5000")
        );
    }
}
