//! Closed sets of values stored as text (license status, role, issue source, job state):
//! enums in Rust, `CHECK (… IN (…))` in the schema as the second line of defence. Each
//! encodes and decodes as PostgreSQL `text`, so queries bind them with `value as _` and read
//! them with a `"column: Type"` override.

/// Declares a text-backed enum: `as_str`, `FromStr`, `Display`, serde and sqlx (as `text`).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        // Written out (not derived): the derive does not read `rename` values that come in
        // through this macro, and documented the variant names instead of the stored text.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", stringify!($name), " {:?}"),
                        other
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl sqlx::Decode<'_, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'_>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                Ok(s.parse::<$name>()?)
            }
        }
    };
}

text_enum! {
    /// The status of a license (`licenses.status`).
    LicenseStatus {
        Active = "ACTIVE",
        Suspended = "SUSPENDED",
        Expired = "EXPIRED",
        Revoked = "REVOKED",
    }
}

text_enum! {
    /// What a login account may do (`users.role`).
    Role {
        Customer = "customer",
        Sales = "sales",
        Admin = "admin",
    }
}

text_enum! {
    /// Where a license came from (`licenses.source`).
    IssueSource {
        Checkout = "checkout",
        Sales = "sales",
        Cli = "cli",
    }
}

text_enum! {
    /// Where a lead is in the sales workflow (`leads.status`).
    LeadStatus {
        New = "new",
        Contacted = "contacted",
        Qualified = "qualified",
        Won = "won",
        Lost = "lost",
    }
}

impl LeadStatus {
    /// The statuses a lead may move to: new → contacted → qualified → won, and lost from any
    /// open status.
    pub fn next(self) -> &'static [LeadStatus] {
        use LeadStatus::*;
        match self {
            New => &[Contacted, Lost],
            Contacted => &[Qualified, Lost],
            Qualified => &[Won, Lost],
            Won | Lost => &[],
        }
    }
}

text_enum! {
    /// Where a job is (`jobs.state`): queued → running → succeeded | failed | cancelled; a
    /// running job whose worker vanished goes back to queued while attempts remain.
    JobState {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl JobState {
    /// Whether the job is over (it will not change again).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

text_enum! {
    /// The format of a dataset (`datasets.format`).
    DatasetFormat {
        Csv = "csv",
        Parquet = "parquet",
    }
}

text_enum! {
    /// What a job event says (`job_events.kind`).
    EventKind {
        State = "state",
        Stage = "stage",
        Progress = "progress",
        Log = "log",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        for s in LicenseStatus::ALL {
            assert_eq!(s.as_str().parse::<LicenseStatus>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for r in Role::ALL {
            assert_eq!(r.to_string().parse::<Role>(), Ok(*r));
        }
        assert!("active".parse::<LicenseStatus>().is_err());
        use LeadStatus::*;
        assert_eq!(New.next(), [Contacted, Lost]);
        assert_eq!(Qualified.next(), [Won, Lost]);
        assert!(Won.next().is_empty() && Lost.next().is_empty());
        assert!(!New.next().contains(&Won));
        assert_eq!(
            "root".parse::<Role>(),
            Err("unknown Role \"root\"".to_string())
        );
    }

    #[test]
    fn the_api_schema_lists_the_values_the_api_sends() {
        fn values<T: utoipa::PartialSchema + serde::Serialize>(
            all: &[T],
        ) -> (Vec<serde_json::Value>, serde_json::Value) {
            let schema = serde_json::to_value(T::schema()).unwrap();
            let sent = all
                .iter()
                .map(|v| serde_json::to_value(v).unwrap())
                .collect();
            (sent, schema["enum"].clone())
        }
        let (sent, listed) = values(JobState::ALL);
        assert_eq!(serde_json::Value::Array(sent), listed);
        assert_eq!(listed[0], "queued");
        let (sent, listed) = values(LicenseStatus::ALL);
        assert_eq!(serde_json::Value::Array(sent), listed);
        let (sent, listed) = values(EventKind::ALL);
        assert_eq!(serde_json::Value::Array(sent), listed);
    }
}
