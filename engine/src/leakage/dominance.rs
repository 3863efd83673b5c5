//! Dominance quarantine: a feature holding too much of the importance is suspect; it is a
//! confirmed leak when the out-of-sample score drops enough once it is removed.

use crate::config::LeakageSettings;

/// The dominant feature, if any: share ≥ `dominance_share`, or share ≥
/// `dominance_share_with_ratio` and ≥ `dominance_ratio` × the next. Returns (index, share,
/// next share). `shares` should sum to 1.
pub fn dominant(shares: &[f64], s: &LeakageSettings) -> Option<(usize, f64, f64)> {
    let mut idx: Vec<usize> = (0..shares.len()).collect();
    idx.sort_by(|&a, &b| shares[b].total_cmp(&shares[a]).then(a.cmp(&b)));
    let top = *idx.first()?;
    let (first, second) = (shares[top], idx.get(1).map_or(0.0, |&i| shares[i]));
    let by_ratio = first >= s.dominance_share_with_ratio && first >= s.dominance_ratio * second;
    (first >= s.dominance_share || by_ratio).then_some((top, first, second))
}

/// Whether removing the feature confirmed the leak: the score fell by at least
/// `confirm_abs_drop`, or by at least `confirm_rel_drop` of its (positive) value.
pub fn confirmed(before: f64, after: f64, s: &LeakageSettings) -> bool {
    let drop = before - after;
    drop >= s.confirm_abs_drop || (before > 0.0 && drop / before >= s.confirm_rel_drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        let s = LeakageSettings::default();
        assert_eq!(dominant(&[0.1, 0.45, 0.45], &s).map(|d| d.0), Some(1));
        assert_eq!(dominant(&[0.32, 0.1, 0.48, 0.1], &s).map(|d| d.0), Some(2));
        assert_eq!(
            dominant(&[0.35, 0.11, 0.11, 0.11, 0.11, 0.11, 0.10], &s).map(|d| d.0),
            Some(0)
        );
        assert_eq!(dominant(&[0.35, 0.2, 0.15, 0.15, 0.15], &s), None);
        assert!(confirmed(0.8, 0.6, &s));
        assert!(confirmed(0.1, 0.07, &s));
        assert!(!confirmed(0.1, 0.09, &s));
    }
}
