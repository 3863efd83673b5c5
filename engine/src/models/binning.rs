//! Quantile binning of features into u8 codes, done once per panel and shared by every target,
//! fold and model. Code 0 is "missing" (NaN); codes `1..=cuts.len()+1` are value bins, and
//! `bin(x) ≤ b ⇔ x ≤ cuts[b−1]`, so a split on bins is also a split on raw values.
//!
//! Bin edges use only feature values, never labels, so binning the whole panel before the CV
//! split leaks nothing about targets.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Column;

/// Upper bin edges of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBins {
    /// Ascending cut values; a value `x` falls in bin `1 + #{c : c < x}`.
    pub cuts: Vec<f32>,
}

impl FeatureBins {
    /// The bin code of a raw value.
    pub fn bin(&self, x: f32) -> u8 {
        if x.is_nan() {
            0
        } else {
            1 + self.cuts.partition_point(|&c| c < x) as u8
        }
    }

    /// Number of codes in use, including the missing bin.
    pub fn n_codes(&self) -> usize {
        self.cuts.len() + 2
    }

    /// The raw threshold equivalent to "bin ≤ b" (−∞ for b = 0: only missing goes left).
    pub fn threshold(&self, b: u8) -> f32 {
        if b == 0 {
            f32::NEG_INFINITY
        } else {
            self.cuts[b as usize - 1]
        }
    }
}

/// Computes quantile cuts from at most 100k evenly strided finite values.
pub fn quantile_bins(values: &[f32], max_bins: usize) -> FeatureBins {
    let max_bins = max_bins.clamp(2, 255);
    let stride = (values.len() / 100_000).max(1);
    let mut v: Vec<f32> = values
        .iter()
        .step_by(stride)
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    v.sort_by(f32::total_cmp);
    let mut distinct = v.clone();
    distinct.dedup();
    // Value bins available: max_bins − 1 (one code is the missing bin).
    let nb = max_bins - 1;
    let mut cuts: Vec<f32> = if distinct.len() <= nb {
        distinct[..distinct.len().saturating_sub(1)].to_vec()
    } else {
        (1..nb).map(|i| v[i * v.len() / nb]).collect()
    };
    cuts.dedup();
    // A cut equal to the maximum would leave an empty top bin.
    if cuts.last().is_some_and(|c| Some(c) == distinct.last()) {
        cuts.pop();
    }
    FeatureBins { cuts }
}

/// Column-major u8 codes of every feature, plus their bin edges.
#[derive(Debug, Clone)]
pub struct BinnedMatrix {
    /// Rows.
    pub n_rows: usize,
    /// One code column per feature.
    pub cols: Vec<Vec<u8>>,
    /// Bin edges per feature.
    pub bins: Vec<FeatureBins>,
}

impl BinnedMatrix {
    /// Bins every feature column (in parallel; each column independently, so deterministic).
    pub fn build(features: &[Column], max_bins: usize) -> Self {
        let bins: Vec<FeatureBins> = features
            .par_iter()
            .map(|c| quantile_bins(&c.values, max_bins))
            .collect();
        let cols = features
            .par_iter()
            .zip(bins.par_iter())
            .map(|(c, b)| c.values.iter().map(|&x| b.bin(x)).collect())
            .collect();
        Self {
            n_rows: features.first().map_or(0, |c| c.values.len()),
            cols,
            bins,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn few_distinct_values_get_their_own_bins() {
        let b = quantile_bins(&[3.0, 1.0, 2.0, 1.0, f32::NAN], 255);
        assert_eq!(b.cuts, vec![1.0, 2.0]);
        assert_eq!(
            [b.bin(1.0), b.bin(2.0), b.bin(3.0), b.bin(f32::NAN)],
            [1, 2, 3, 0]
        );
    }

    #[test]
    fn many_values_use_at_most_max_bins() {
        let v: Vec<f32> = (0..10_000).map(|i| (i as f32).sin()).collect();
        let b = quantile_bins(&v, 16);
        assert!(b.n_codes() <= 16);
        assert!(b.cuts.windows(2).all(|w| w[0] < w[1]));
    }

    proptest! {
        #[test]
        fn bin_split_equals_raw_threshold_split(v in proptest::collection::vec(-100f32..100.0, 1..300), max_bins in 2usize..255) {
            let b = quantile_bins(&v, max_bins);
            for code in 0..b.n_codes() as u8 - 1 {
                let thr = b.threshold(code);
                for &x in &v {
                    prop_assert_eq!(b.bin(x) <= code, x <= thr);
                }
            }
        }
    }
}
