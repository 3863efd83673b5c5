//! Turns the configured tiers into pricing cards and the comparison table.

use super::pages::{ComparisonRow, TierCard};
use crate::config::{PriceInterval, PricingSettings, Purchase, Tier};

/// Formats minor units as a price: `49000` → `$490`, `4950` → `$49.50`.
pub fn money(cents: u64, currency: &str) -> String {
    let symbol = match currency {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        _ => "",
    };
    let whole = group(cents / 100);
    let amount = if cents % 100 == 0 {
        whole
    } else {
        format!("{whole}.{:02}", cents % 100)
    };
    if symbol.is_empty() {
        format!("{amount} {}", currency.to_uppercase())
    } else {
        format!("{symbol}{amount}")
    }
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn price_label(t: &Tier, currency: &str) -> (String, String) {
    match (t.price_cents, t.interval) {
        (None, _) | (_, PriceInterval::Custom) => ("Custom".into(), String::new()),
        (Some(0), _) => (
            "Free".into(),
            t.license_days
                .map(|d| format!("for {d} days"))
                .unwrap_or_default(),
        ),
        (Some(c), PriceInterval::Month) => (money(c, currency), "/ month".into()),
        (Some(c), PriceInterval::Year) => (money(c, currency), "/ year".into()),
        (Some(c), PriceInterval::Once) => (money(c, currency), "one-time".into()),
    }
}

fn limit(v: Option<u32>, unit: &str) -> String {
    v.map_or("Custom".into(), |n| format!("{}{unit}", group(n.into())))
}

/// Where a card's button leads. Checkout is wired separately; until it is available the
/// self-serve tiers lead to Request Access with the tier preselected.
pub fn cta(t: &Tier, checkout_available: bool) -> (String, String) {
    match t.purchase {
        Purchase::Checkout if checkout_available => {
            (format!("Buy {}", t.name), format!("/checkout/{}", t.id))
        }
        Purchase::Checkout => (
            format!("Start with {}", t.name),
            format!("/request-access?tier={}", t.id),
        ),
        Purchase::RequestAccess => (
            "Start evaluation".into(),
            format!("/request-access?tier={}", t.id),
        ),
        Purchase::ContactSales => (
            "Contact Sales".into(),
            format!("/request-access?tier={}", t.id),
        ),
    }
}

/// The cards, in configured order.
pub fn cards(p: &PricingSettings, checkout_available: bool) -> Vec<TierCard> {
    p.tiers
        .iter()
        .map(|t| {
            let (price_label, interval_label) = price_label(t, &p.currency);
            let (cta_label, cta_href) = cta(t, checkout_available);
            TierCard {
                id: t.id.clone(),
                name: t.name.clone(),
                tagline: t.tagline.clone(),
                price_label,
                interval_label,
                seats_label: match t.seats {
                    Some(1) => "1 seat".into(),
                    Some(n) => format!("{n} seats"),
                    None => "Custom seats".into(),
                },
                features: t.features.clone(),
                checkout: checkout_available && t.purchase == Purchase::Checkout,
                cta_label,
                cta_href,
                highlighted: t.highlighted,
            }
        })
        .collect()
}

/// The comparison table rows.
pub fn comparison(p: &PricingSettings) -> Vec<ComparisonRow> {
    let row = |label: &str, f: &dyn Fn(&Tier) -> String| ComparisonRow {
        label: label.into(),
        values: p.tiers.iter().map(f).collect(),
    };
    vec![
        row("Price", &|t| {
            let (a, b) = price_label(t, &p.currency);
            if b.is_empty() { a } else { format!("{a} {b}") }
        }),
        row("Seats (machines)", &|t| limit(t.seats, "")),
        row("Concurrent jobs", &|t| limit(t.limits.concurrent_jobs, "")),
        row("Max dataset size", &|t| {
            limit(t.limits.max_dataset_gb, " GB")
        }),
        row("Jobs per month", &|t| limit(t.limits.jobs_per_month, "")),
        row("How to buy", &|t| {
            match t.purchase {
                Purchase::Checkout => "Online checkout",
                Purchase::RequestAccess => "Request access",
                Purchase::ContactSales => "Through sales, invoiced",
            }
            .into()
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats() {
        assert_eq!(money(49000, "usd"), "$490");
        assert_eq!(money(190000, "usd"), "$1,900");
        assert_eq!(money(4950, "eur"), "€49.50");
        assert_eq!(money(100, "chf"), "1 CHF");
    }
}
