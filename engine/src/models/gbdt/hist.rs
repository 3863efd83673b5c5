//! Gradient histograms per feature and the best split search.
//!
//! A histogram holds, per bin code, (Σg, Σh) as f64 — with unit hessians (squared error) Σh is
//! the row count. As in LightGBM, a bin's row count under log-loss is estimated from its
//! hessian share (`count ≈ Σh · n / Σh_leaf`) for the `min_data_in_leaf` check, which keeps two
//! values per bin instead of three in the hot loop. Each feature's histogram is summed
//! sequentially in row order, so results do not depend on how rayon schedules features; a
//! child's histogram is the parent's minus its sibling's (histogram subtraction).

use rayon::prelude::*;

/// Slots per bin: gradient sum, hessian sum.
pub const SLOTS: usize = 2;
/// Bin codes per feature.
pub const CODES: usize = 256;
const STRIDE: usize = CODES * SLOTS;

/// Histograms of all used features of one leaf, feature-major.
#[derive(Debug, Clone)]
pub struct Hist(pub Vec<f64>);

/// Leaves with fewer rows than this build their histograms on one thread: below it, rayon's
/// scheduling costs more than the work.
const PARALLEL_MIN_ROWS: usize = 2048;

/// Features filled together in one pass over the rows, so that row ids and gradients are
/// read once per block instead of once per feature (the pass is memory-bound); 8 × 4 KiB of
/// bins fill L1.
const BLOCK: usize = 8;

/// Sums (g, h) into the bins of a block of exactly `N` ≤ [`BLOCK`] features. The `N` column
/// slices sit in a fixed-size array (kept in registers), all cut to one common length, and
/// the block's bins are one run of known size, so the hot loop does one bounds check per row
/// and reloads no pointers (≈ 25 % faster per pass than a loop over a slice of columns).
fn fill_fixed<const N: usize, const HESS: bool>(
    hist: &mut [f64],
    cols: &[&[u8]],
    rows: &[u32],
    g: &[f64],
    h: &[f64],
) {
    hist.fill(0.0);
    let slots = hist.as_chunks_mut::<SLOTS>().0;
    assert_eq!(slots.len(), CODES * N);
    let len = cols.iter().map(|c| c.len()).min().unwrap_or(0);
    let cols: [&[u8]; N] = std::array::from_fn(|k| &cols[k][..len]);
    for (i, &r) in rows.iter().enumerate() {
        let r = r as usize;
        let gi = g[i];
        let hi = if HESS { h[i] } else { 1.0 };
        for (k, col) in cols.iter().enumerate() {
            let e = &mut slots[k * CODES + col[r] as usize];
            e[0] += gi;
            e[1] += hi;
        }
    }
}

fn fill_any(unit_hess: bool, hist: &mut [f64], cols: &[&[u8]], rows: &[u32], g: &[f64], h: &[f64]) {
    macro_rules! fixed {
        ($($n:literal)*) => {
            match (cols.len(), unit_hess) {
                $(($n, true) => fill_fixed::<$n, false>(hist, cols, rows, g, h),
                  ($n, false) => fill_fixed::<$n, true>(hist, cols, rows, g, h),)*
                (n, _) => unreachable!("a block holds 1 to {BLOCK} features, not {n}"),
            }
        };
    }
    fixed!(1 2 3 4 5 6 7 8)
}

/// Builds histograms for rows `rows` (global row ids) with gradients `g`, hessians `h` in the
/// same order, over the code columns `cols`, into `out` (resized and overwritten). With
/// `unit_hess` every hessian is 1 and `h` is not read. Each feature's bins are summed in row
/// order whatever the blocking or thread count.
pub fn build_into(
    out: &mut Hist,
    cols: &[&[u8]],
    rows: &[u32],
    g: &[f64],
    h: &[f64],
    unit_hess: bool,
) {
    out.0.resize(cols.len() * STRIDE, 0.0);
    if rows.len() >= PARALLEL_MIN_ROWS {
        out.0
            .par_chunks_mut(STRIDE * BLOCK)
            .zip(cols.par_chunks(BLOCK))
            .for_each(|(hist, c)| fill_any(unit_hess, hist, c, rows, g, h));
    } else {
        out.0
            .chunks_mut(STRIDE * BLOCK)
            .zip(cols.chunks(BLOCK))
            .for_each(|(hist, c)| fill_any(unit_hess, hist, c, rows, g, h));
    }
}

/// Builds fresh histograms (see [`build_into`]).
#[cfg(test)]
pub fn build(cols: &[&[u8]], rows: &[u32], g: &[f64], h: &[f64]) -> Hist {
    let mut out = Hist(Vec::new());
    build_into(&mut out, cols, rows, g, h, false);
    out
}

impl Hist {
    /// Adds `value × count` of each bin of `other` (unit hessians: Σh is the count) to the
    /// gradient sum of the same bin.
    pub fn add_counts_times(&mut self, other: &Hist, value: f64) {
        for (x, y) in self
            .0
            .chunks_exact_mut(SLOTS)
            .zip(other.0.chunks_exact(SLOTS))
        {
            x[0] += value * y[1];
        }
    }

    /// `self − other`, in place.
    pub fn subtract(&mut self, other: &Hist) {
        for (x, y) in self.0.iter_mut().zip(&other.0) {
            *x -= y;
        }
    }
}

/// A candidate split of a leaf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitCandidate {
    /// Position in the used-feature list.
    pub feature: usize,
    /// Rows with code ≤ bin go left.
    pub bin: u8,
    /// Loss reduction.
    pub gain: f64,
}

/// Split search constraints.
#[derive(Debug, Clone, Copy)]
pub struct SplitRules {
    /// L2 regularisation.
    pub lambda: f64,
    /// Minimum rows per child.
    pub min_data: usize,
    /// Minimum hessian sum per child.
    pub min_hess: f64,
}

fn score(g: f64, h: f64, lambda: f64) -> f64 {
    g * g / (h + lambda)
}

/// Best split over the allowed features (`allowed[k]` false skips feature k); ties go to the
/// lower feature then the lower bin. With `unit_hess` a bin's Σh is its row count; otherwise
/// the count is estimated from the hessian share, as LightGBM does.
pub fn best_split(
    hist: &Hist,
    n_codes: &[usize],
    allowed: &[bool],
    total: (f64, f64, usize),
    rules: SplitRules,
    unit_hess: bool,
) -> Option<SplitCandidate> {
    let (g_tot, h_tot, n_tot) = total;
    let parent = score(g_tot, h_tot, rules.lambda);
    let count_per_h = if unit_hess || h_tot <= 0.0 {
        1.0
    } else {
        n_tot as f64 / h_tot
    };
    let per: Vec<Option<SplitCandidate>> = hist
        .0
        .par_chunks(STRIDE)
        .with_min_len(16)
        .enumerate()
        .map(|(f, hf)| {
            if !allowed[f] {
                return None;
            }
            let mut best: Option<SplitCandidate> = None;
            let (mut lg, mut lh) = (0.0, 0.0);
            for b in 0..n_codes[f].saturating_sub(1) {
                lg += hf[b * SLOTS];
                lh += hf[b * SLOTS + 1];
                let ln = (lh * count_per_h).round() as usize;
                let rn = n_tot - ln.min(n_tot);
                if ln < rules.min_data || lh < rules.min_hess {
                    continue;
                }
                if rn < rules.min_data || h_tot - lh < rules.min_hess {
                    break;
                }
                let gain = score(lg, lh, rules.lambda)
                    + score(g_tot - lg, h_tot - lh, rules.lambda)
                    - parent;
                if gain > best.map_or(1e-12, |c| c.gain) {
                    best = Some(SplitCandidate {
                        feature: f,
                        bin: b as u8,
                        gain,
                    });
                }
            }
            best
        })
        .collect();
    per.into_iter()
        .flatten()
        .fold(None, |acc: Option<SplitCandidate>, c| match acc {
            Some(a) if a.gain >= c.gain => Some(a),
            _ => Some(c),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain per-feature sum the blocked loops must reproduce.
    fn reference_fill(hist: &mut [f64], col: &[u8], rows: &[u32], g: &[f64], h: Option<&[f64]>) {
        hist.fill(0.0);
        for (i, &r) in rows.iter().enumerate() {
            let b = col[r as usize] as usize * SLOTS;
            hist[b] += g[i];
            hist[b + 1] += h.map_or(1.0, |h| h[i]);
        }
    }

    #[test]
    fn blocked_histograms_equal_per_feature_sums() {
        // 23 = 8 + 8 + 7 and 12 = 8 + 4 features: full and partial blocks.
        let n = 3000u32;
        for n_feats in [23u32, 12] {
            let cols: Vec<Vec<u8>> = (0..n_feats)
                .map(|f| {
                    (0..n)
                        .map(|r| ((r.wrapping_mul(2_654_435_761) ^ (f * 97)) >> 7) as u8)
                        .collect()
                })
                .collect();
            let views: Vec<&[u8]> = cols.iter().map(|c| c.as_slice()).collect();
            let rows: Vec<u32> = (0..n).filter(|r| r % 3 != 1).collect();
            let g: Vec<f64> = rows.iter().map(|&r| (r as f64 * 0.37).sin()).collect();
            let h: Vec<f64> = rows.iter().map(|&r| 0.1 + (r % 7) as f64 / 10.0).collect();
            for unit_hess in [true, false] {
                let mut fast = Hist(Vec::new());
                build_into(&mut fast, &views, &rows, &g, &h, unit_hess);
                let mut slow = vec![0.0; views.len() * STRIDE];
                for (hist, c) in slow.chunks_mut(STRIDE).zip(&views) {
                    reference_fill(hist, c, &rows, &g, (!unit_hess).then_some(&h[..]));
                }
                assert_eq!(fast.0, slow, "{n_feats} features, unit_hess = {unit_hess}");
            }
        }
    }

    #[test]
    fn finds_the_separating_bin_and_subtraction_matches() {
        let col: Vec<u8> = vec![1, 1, 2, 2, 3, 3];
        let rows: Vec<u32> = (0..6).collect();
        let g = [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0];
        let h = [1.0; 6];
        let hist = build(&[&col], &rows, &g, &h);
        let rules = SplitRules {
            lambda: 0.0,
            min_data: 1,
            min_hess: 1e-3,
        };
        let s = best_split(&hist, &[4], &[true], (0.0, 6.0, 6), rules, true).unwrap();
        // Bins 1 and 2 give the same gain here; ties go to the lower bin.
        assert_eq!((s.feature, s.bin), (0, 1));
        let left = build(&[&col], &rows[..3], &g[..3], &h[..3]);
        let mut right = hist.clone();
        right.subtract(&left);
        assert_eq!(right.0, build(&[&col], &rows[3..], &g[3..], &h[3..]).0);
    }
}
