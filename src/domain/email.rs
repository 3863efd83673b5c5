//! `EmailAddress`: a syntactically valid, normalised address; `AccountEmail`: its account-key form.

/// A validated email address (trimmed; domain lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address, with a message fit for a form field on failure.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter your work email address.".into());
        }
        if s.len() > 254 {
            return Err("That email address is too long.".into());
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("Enter an email address like name@company.com.".into());
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && domain.split('.').all(|l| !l.is_empty())
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',');
        if !domain_ok || !local_ok {
            return Err("Enter an email address like name@company.com.".into());
        }
        let normalised = format!("{local}@{}", domain.to_lowercase());
        // lettre is what will send to it: it must accept the address too.
        if normalised.parse::<lettre::Address>().is_err() {
            return Err("Enter an email address like name@company.com.".into());
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form that names an account (customers, users): the whole address lower-cased.
    pub fn account(&self) -> AccountEmail {
        AccountEmail(self.0.to_lowercase())
    }
}

/// An address in the form that names an account: valid and entirely lower-case, as the
/// schema demands (`CHECK (email = lower(email))`). `db::customers` and `db::accounts` take
/// only this type, so no caller can forget to normalise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountEmail(String);

impl AccountEmail {
    /// Parses an address typed by someone (any case), with a form-field message on failure.
    pub fn parse(raw: &str) -> Result<Self, String> {
        EmailAddress::parse(raw).map(|e| e.account())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::EmailAddress;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            EmailAddress::parse("  Ada.L@Example.COM ")
                .unwrap()
                .as_str(),
            "Ada.L@example.com"
        );
    }

    #[test]
    fn the_account_form_is_lower_case() {
        let e = EmailAddress::parse("Ada.L@Example.COM").unwrap();
        assert_eq!(e.account().as_str(), "ada.l@example.com");
        assert_eq!(
            super::AccountEmail::parse(" Ada.L@EXAMPLE.com ").unwrap(),
            e.account()
        );
        assert!(super::AccountEmail::parse("nope").is_err());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "plain",
            "a@b",
            "a@.com",
            "a b@c.com",
            "@c.com",
            "a@c..com",
            "a@-c.com",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
