//! Histogram gradient-boosted trees specialised for panel research: features are binned once
//! ([`BinnedMatrix`]) and reused for every target and fold; leaf-wise growth up to
//! `num_leaves`, histogram subtraction, seeded feature and row sampling, rayon over features.
//! Results are identical whatever the thread count (see `hist` for why).

mod hist;
pub mod tree;

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::BinnedMatrix;
use crate::config::GbdtSettings;
use hist::{Hist, SplitCandidate, SplitRules};
pub use tree::{Node, Tree};

/// Loss being boosted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Squared error (regression).
    L2,
    /// Binary log-loss; raw scores are log-odds.
    Logloss,
}

/// A trained ensemble. Tree feature indices refer to positions in the feature list it was
/// trained with (kept by the caller / model metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbdt {
    /// Loss.
    pub objective: Objective,
    /// Initial raw score.
    pub init: f64,
    /// Trees in boosting order.
    pub trees: Vec<Tree>,
    /// Number of features the trees index into.
    pub n_features: usize,
}

struct Leaf {
    node: usize,
    begin: usize,
    end: usize,
    hist: Hist,
    sum: (f64, f64, usize),
    best: Option<SplitCandidate>,
}

/// Buffers reused across trees. `pos` holds the bagged rows as indices into the fit's rows,
/// permuted in place so that every leaf is a contiguous range, sorted within each leaf; a split
/// moves only these 4-byte indices. Before a histogram is built, the leaf's global row ids and
/// gradients are gathered in leaf order (`ord_*`, LightGBM's "ordered gradients"). Also scratch
/// space for partitioning and a pool of histogram buffers (no allocation inside the boosting
/// loop once warm).
#[derive(Default)]
struct Workspace {
    /// Global row id of each fit row.
    rows: Vec<u32>,
    /// Gradient and hessian of each fit row (`h` unused with unit hessians).
    g: Vec<f64>,
    h: Vec<f64>,
    pos: Vec<u32>,
    scratch_p: Vec<u32>,
    flags: Vec<bool>,
    ord_i: Vec<u32>,
    ord_g: Vec<f64>,
    ord_h: Vec<f64>,
    /// (begin, end, value) of every leaf of the last tree, over `pos`.
    leaf_ranges: Vec<(usize, usize, f64)>,
    pool: Vec<Hist>,
    unit_hess: bool,
    /// Squared error without bagging: the next tree's root histogram is derived from this
    /// tree's (see `grow`) instead of being summed over every row.
    carry_root: bool,
    /// The root histogram for the next tree, when carried.
    next_root: Option<Hist>,
}

#[cfg(test)]
thread_local! {
    /// Tests: compute every root histogram with a full pass.
    static NO_CARRY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn tests_no_carry() -> bool {
    #[cfg(test)]
    return NO_CARRY.with(|c| c.get());
    #[cfg(not(test))]
    false
}

/// Leaves with at least this many rows are partitioned, and their rows and gradients
/// gathered, in parallel.
const PAR_PARTITION_MIN: usize = 1 << 15;
/// Rows per parallel partition or gather task.
const PART_CHUNK: usize = 1 << 13;

/// Sum of `v` in four interleaved lanes combined in a fixed order: deterministic, and not
/// limited by the latency of one chain of additions.
fn sum4(v: &[f64]) -> f64 {
    let mut lanes = [0.0; 4];
    let (chunks, rest) = v.as_chunks::<4>();
    for c in chunks {
        for k in 0..4 {
            lanes[k] += c[k];
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + rest.iter().sum::<f64>()
}

/// `dst = [src[i] for i in idx]`; large gathers run in parallel chunks.
fn gather<T: Copy + Default + Send + Sync>(dst: &mut Vec<T>, src: &[T], idx: &[u32]) {
    dst.clear();
    if idx.len() < PAR_PARTITION_MIN {
        dst.extend(idx.iter().map(|&i| src[i as usize]));
        return;
    }
    dst.resize(idx.len(), T::default());
    dst.par_chunks_mut(PART_CHUNK)
        .zip(idx.par_chunks(PART_CHUNK))
        .for_each(|(d, ids)| {
            for (v, &i) in d.iter_mut().zip(ids) {
                *v = src[i as usize];
            }
        });
}

impl Workspace {
    /// Stable partition of `begin..end` by `go_left` (called with global row ids); returns the
    /// first right position. Large ranges are split in chunks of `PART_CHUNK` rows whose left
    /// and right rows are placed after those of the previous chunks: the result is exactly the
    /// sequential stable partition, whatever the thread count.
    fn partition(
        &mut self,
        begin: usize,
        end: usize,
        go_left: impl Fn(u32) -> bool + Sync,
    ) -> usize {
        let n = end - begin;
        let rows = &self.rows;
        let data = &mut self.pos[begin..end];
        self.scratch_p.clear();
        self.scratch_p.extend_from_slice(data);
        if n < PAR_PARTITION_MIN {
            let mut w = 0;
            for &i in &self.scratch_p {
                if go_left(rows[i as usize]) {
                    data[w] = i;
                    w += 1;
                }
            }
            let mut r = w;
            for &i in &self.scratch_p {
                if !go_left(rows[i as usize]) {
                    data[r] = i;
                    r += 1;
                }
            }
            return begin + w;
        }
        self.flags.resize(n, false);
        let lefts: Vec<usize> = self.flags[..n]
            .par_chunks_mut(PART_CHUNK)
            .zip(self.scratch_p.par_chunks(PART_CHUNK))
            .map(|(f, ids)| {
                let mut c = 0;
                for (fl, &i) in f.iter_mut().zip(ids) {
                    *fl = go_left(rows[i as usize]);
                    c += usize::from(*fl);
                }
                c
            })
            .collect();
        let n_left: usize = lefts.iter().sum();
        let (mut left_rest, mut right_rest) = data.split_at_mut(n_left);
        let mut jobs = Vec::with_capacity(lefts.len());
        for ((&l, src), f) in lefts
            .iter()
            .zip(self.scratch_p.chunks(PART_CHUNK))
            .zip(self.flags.chunks(PART_CHUNK))
        {
            let (ld, rest) = std::mem::take(&mut left_rest).split_at_mut(l);
            left_rest = rest;
            let (rd, rest) = std::mem::take(&mut right_rest).split_at_mut(src.len() - l);
            right_rest = rest;
            jobs.push((ld, rd, src, f));
        }
        jobs.into_par_iter().for_each(|(ld, rd, src, f)| {
            let (mut li, mut ri) = (0, 0);
            for (&v, &left) in src.iter().zip(f) {
                if left {
                    ld[li] = v;
                    li += 1;
                } else {
                    rd[ri] = v;
                    ri += 1;
                }
            }
        });
        begin + n_left
    }

    /// Histogram of the rows `begin..end` and their sums (Σg, Σh), summed in leaf order. The
    /// whole fit (the root without bagging, where `pos` is the identity) is read in place;
    /// any other leaf first gathers its row ids and gradients in leaf order.
    fn hist(&mut self, cols: &[&[u8]], begin: usize, end: usize) -> (Hist, f64, f64) {
        let whole = end - begin == self.rows.len();
        let (ids, g, h) = if whole {
            debug_assert!(self.pos.iter().enumerate().all(|(k, &i)| k == i as usize));
            (&self.rows, &self.g, &self.h)
        } else {
            let pos = &self.pos[begin..end];
            gather(&mut self.ord_i, &self.rows, pos);
            gather(&mut self.ord_g, &self.g, pos);
            if !self.unit_hess {
                gather(&mut self.ord_h, &self.h, pos);
            }
            (&self.ord_i, &self.ord_g, &self.ord_h)
        };
        let sg = sum4(g);
        let sh = if self.unit_hess {
            (end - begin) as f64
        } else {
            sum4(h)
        };
        let mut out = self.pool.pop().unwrap_or_else(|| Hist(Vec::new()));
        hist::build_into(&mut out, cols, ids, g, h, self.unit_hess);
        (out, sg, sh)
    }
}

/// The loss of one row: squared error, or log-loss of the raw score.
fn loss_of(objective: Objective, raw: f64, y: f64) -> f64 {
    match objective {
        Objective::L2 => (raw - y) * (raw - y),
        Objective::Logloss => {
            // log(1 + e^raw) − y·raw, computed without overflow.
            let softplus = if raw > 0.0 {
                raw + (-raw).exp().ln_1p()
            } else {
                raw.exp().ln_1p()
            };
            softplus - y * raw
        }
    }
}

/// Early stopping: rows whose loss is watched after every tree, and how many trees in a row
/// may fail to lower it before boosting stops.
#[derive(Debug, Clone, Copy)]
pub struct EarlyStop<'a> {
    /// Validation rows (labels finite), disjoint from the training rows.
    pub rows: &'a [u32],
    /// Trees in a row without improvement before stopping (≥ 1).
    pub rounds: usize,
}

impl Gbdt {
    /// Trains on `rows` (labels `y[row]` must be finite) using the binned columns `feats` of
    /// `bm`. Deterministic for a given `seed`.
    pub fn train(
        bm: &BinnedMatrix,
        feats: &[usize],
        rows: &[u32],
        y: &[f32],
        p: &GbdtSettings,
        objective: Objective,
        seed: u64,
    ) -> Gbdt {
        Self::train_until(bm, feats, rows, y, p, objective, seed, None)
    }

    /// [`Gbdt::train`], stopping early on `stop`'s validation rows when given: the model keeps
    /// the trees up to the one with the lowest validation loss. Deterministic for a given
    /// `seed` (the same trees as `train` up to where it stops).
    #[allow(clippy::too_many_arguments)]
    pub fn train_until(
        bm: &BinnedMatrix,
        feats: &[usize],
        rows: &[u32],
        y: &[f32],
        p: &GbdtSettings,
        objective: Objective,
        seed: u64,
        stop: Option<EarlyStop<'_>>,
    ) -> Gbdt {
        let cols: Vec<&[u8]> = feats.iter().map(|&f| bm.cols[f].as_slice()).collect();
        let n_codes: Vec<usize> = feats.iter().map(|&f| bm.bins[f].n_codes()).collect();
        let thresholds = |k: usize, b: u8| bm.bins[feats[k]].threshold(b);
        let yl: Vec<f64> = rows.iter().map(|&r| y[r as usize] as f64).collect();
        let n = rows.len().max(1) as f64;
        let mean = yl.iter().sum::<f64>() / n;
        let init = match objective {
            Objective::L2 => mean,
            Objective::Logloss => {
                let q = mean.clamp(1e-6, 1.0 - 1e-6);
                (q / (1.0 - q)).ln()
            }
        };
        let mut raw = vec![init; rows.len()];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let rules = SplitRules {
            lambda: p.lambda_l2,
            min_data: p.min_data_in_leaf.max(1),
            min_hess: 1e-3,
        };
        let mut trees = Vec::with_capacity(p.n_trees);
        let mut ws = Workspace {
            unit_hess: objective == Objective::L2,
            rows: rows.to_vec(),
            g: vec![0.0; rows.len()],
            h: vec![0.0; rows.len()],
            carry_root: objective == Objective::L2
                && p.bagging_fraction >= 1.0
                && !tests_no_carry(),
            ..Default::default()
        };
        // Validation raw scores, updated tree by tree, and the best loss so far.
        let mut val_raw: Vec<f64> = stop.map_or_else(Vec::new, |s| vec![init; s.rows.len()]);
        let mut best: (f64, usize) = (f64::INFINITY, 0);
        for _ in 0..p.n_trees {
            ws.g.par_iter_mut()
                .zip(ws.h.par_iter_mut())
                .zip(raw.par_iter().zip(yl.par_iter()))
                .for_each(|((gi, hi), (f, yv))| match objective {
                    Objective::L2 => {
                        *gi = f - yv;
                        *hi = 1.0;
                    }
                    Objective::Logloss => {
                        let pr = 1.0 / (1.0 + (-f).exp());
                        *gi = pr - yv;
                        *hi = (pr * (1.0 - pr)).max(1e-12);
                    }
                });
            ws.pos.clear();
            if p.bagging_fraction < 1.0 {
                let k =
                    ((rows.len() as f64 * p.bagging_fraction).ceil() as usize).clamp(1, rows.len());
                let mut v = sample(&mut rng, rows.len(), k).into_vec();
                v.sort_unstable();
                ws.pos.extend(v.iter().map(|&i| i as u32));
            } else {
                ws.pos.extend(0..rows.len() as u32);
            }
            let bagged = ws.pos.len();
            let mut allowed = vec![p.feature_fraction >= 1.0; feats.len()];
            if p.feature_fraction < 1.0 {
                let k = ((feats.len() as f64 * p.feature_fraction).ceil() as usize)
                    .clamp(1, feats.len());
                for i in sample(&mut rng, feats.len(), k) {
                    allowed[i] = true;
                }
            }
            let tree = grow(&mut ws, &cols, &n_codes, &allowed, p, rules, &thresholds);
            // In-bag rows take their leaf's value straight from the partition; only out-of-bag
            // rows walk the tree (each row gets exactly the value a traversal would give).
            if bagged == rows.len() {
                for &(b, e, v) in &ws.leaf_ranges {
                    for &i in &ws.pos[b..e] {
                        raw[i as usize] += v;
                    }
                }
            } else {
                let mut in_bag = vec![false; rows.len()];
                for &(b, e, v) in &ws.leaf_ranges {
                    for &i in &ws.pos[b..e] {
                        raw[i as usize] += v;
                        in_bag[i as usize] = true;
                    }
                }
                raw.par_iter_mut()
                    .zip(in_bag.par_iter())
                    .enumerate()
                    .filter(|(_, (_, b))| !**b)
                    .for_each(|(i, (f, _))| *f += tree.predict_binned(&cols, rows[i] as usize));
            }
            if let Some(s) = stop {
                val_raw
                    .par_iter_mut()
                    .zip(s.rows.par_iter())
                    .for_each(|(f, &r)| *f += tree.predict_binned(&cols, r as usize));
                let loss = val_raw
                    .iter()
                    .zip(s.rows)
                    .map(|(&f, &r)| loss_of(objective, f, y[r as usize] as f64))
                    .sum::<f64>()
                    / s.rows.len().max(1) as f64;
                trees.push(tree);
                if loss < best.0 {
                    best = (loss, trees.len());
                } else if trees.len() - best.1 >= s.rounds.max(1) {
                    break;
                }
                continue;
            }
            trees.push(tree);
        }
        if stop.is_some() {
            trees.truncate(best.1.max(1));
        }
        Gbdt {
            objective,
            init,
            trees,
            n_features: feats.len(),
        }
    }

    /// Raw scores (log-odds for log-loss) for `rows` of the binned matrix, with `feats` the
    /// binned columns in model feature order.
    pub fn predict_binned(&self, bm: &BinnedMatrix, feats: &[usize], rows: &[u32]) -> Vec<f64> {
        let cols: Vec<&[u8]> = feats.iter().map(|&f| bm.cols[f].as_slice()).collect();
        self.predict_cols(&cols, rows)
    }

    /// Raw scores for `rows` of code columns in model feature order.
    pub fn predict_cols(&self, cols: &[&[u8]], rows: &[u32]) -> Vec<f64> {
        rows.par_iter()
            .map(|&r| {
                self.init
                    + self
                        .trees
                        .iter()
                        .map(|t| t.predict_binned(cols, r as usize))
                        .sum::<f64>()
            })
            .collect()
    }

    /// Raw score of one row of raw feature values in model order.
    pub fn predict_row(&self, x: &[f32]) -> f64 {
        self.init + self.trees.iter().map(|t| t.predict_raw(x)).sum::<f64>()
    }

    /// Total split gain per feature, normalised to sum 1 (all zeros if no split).
    pub fn gain_importance(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.n_features];
        for t in &self.trees {
            t.add_gain(&mut out);
        }
        let s: f64 = out.iter().sum();
        if s > 0.0 {
            out.iter_mut().for_each(|v| *v /= s);
        }
        out
    }
}

fn grow(
    ws: &mut Workspace,
    cols: &[&[u8]],
    n_codes: &[usize],
    allowed: &[bool],
    p: &GbdtSettings,
    rules: SplitRules,
    thr: &dyn Fn(usize, u8) -> f32,
) -> Tree {
    let unit_hess = ws.unit_hess;
    let finish = |node: usize, begin: usize, end: usize, hist: Hist, (sg, sh): (f64, f64)| {
        let sum = (sg, sh, end - begin);
        let best = hist::best_split(&hist, n_codes, allowed, sum, rules, unit_hess);
        Leaf {
            node,
            begin,
            end,
            hist,
            sum,
            best,
        }
    };
    let n = ws.pos.len();
    let (root_hist, sg, sh) = match ws.next_root.take() {
        Some(h) => {
            let sg = sum4(&ws.g);
            (h, sg, n as f64)
        }
        None => ws.hist(cols, 0, n),
    };
    let root_copy = ws.carry_root.then(|| {
        let mut c = ws.pool.pop().unwrap_or_else(|| Hist(Vec::new()));
        c.0.clone_from(&root_hist.0);
        c
    });
    let mut nodes = vec![Node::Leaf { value: 0.0 }];
    let mut leaves = vec![finish(0, 0, n, root_hist, (sg, sh))];
    while leaves.len() < p.num_leaves.max(2) {
        let pick = leaves
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.best.map(|b| (i, b.gain)))
            .fold(None, |acc: Option<(usize, f64)>, c| match acc {
                Some(a) if a.1 >= c.1 => Some(a),
                _ => Some(c),
            });
        let Some((li, _)) = pick else { break };
        let leaf = leaves.swap_remove(li);
        let s = leaf.best.expect("picked leaf has a split");
        let col = cols[s.feature];
        let mid = ws.partition(leaf.begin, leaf.end, |r| col[r as usize] <= s.bin);
        let (l_node, r_node) = (nodes.len(), nodes.len() + 1);
        nodes.push(Node::Leaf { value: 0.0 });
        nodes.push(Node::Leaf { value: 0.0 });
        nodes[leaf.node] = Node::Split {
            feature: s.feature as u32,
            threshold: thr(s.feature, s.bin),
            bin: s.bin,
            left: l_node as u32,
            right: r_node as u32,
            gain: s.gain,
        };
        // Build the smaller child's histogram and sums; the larger one's are the parent's minus
        // them.
        let mut big = leaf.hist;
        let small_left = mid - leaf.begin <= leaf.end - mid;
        let (small, sg, sh) = if small_left {
            ws.hist(cols, leaf.begin, mid)
        } else {
            ws.hist(cols, mid, leaf.end)
        };
        big.subtract(&small);
        let (big_sg, big_sh) = (leaf.sum.0 - sg, leaf.sum.1 - sh);
        let (lhist, rhist, lsum, rsum) = if small_left {
            (small, big, (sg, sh), (big_sg, big_sh))
        } else {
            (big, small, (big_sg, big_sh), (sg, sh))
        };
        let left = finish(l_node, leaf.begin, mid, lhist, lsum);
        let right = finish(r_node, mid, leaf.end, rhist, rsum);
        leaves.push(left);
        leaves.push(right);
    }
    // With squared error every row's gradient moves by exactly its leaf's value, so the next
    // root histogram is this one plus, per leaf, value × the leaf's row count in each bin:
    // 31 leaf histograms instead of a pass over every row and feature. Counts are exact
    // integers; the gradient sums differ from a fresh pass only by float rounding.
    if let Some(mut next) = root_copy {
        for l in &leaves {
            let value = -p.learning_rate * l.sum.0 / (l.sum.1 + rules.lambda);
            next.add_counts_times(&l.hist, value);
        }
        ws.next_root = Some(next);
    }
    ws.leaf_ranges.clear();
    for l in leaves {
        let value = -p.learning_rate * l.sum.0 / (l.sum.1 + rules.lambda);
        nodes[l.node] = Node::Leaf { value };
        ws.leaf_ranges.push((l.begin, l.end, value));
        ws.pool.push(l.hist);
    }
    Tree { nodes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Column;
    use rand::Rng;

    fn data(n: usize, seed: u64) -> (Vec<Column>, Vec<f32>, Vec<f32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x: Vec<Vec<f32>> = (0..4)
            .map(|_| (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect())
            .collect();
        let y: Vec<f32> = (0..n)
            .map(|i| {
                x[0][i] * 2.0 + (x[1][i] > 0.0) as i32 as f32 - x[2][i] * x[2][i]
                    + 0.1 * rng.random::<f32>()
            })
            .collect();
        let yb: Vec<f32> = y.iter().map(|v| (*v > 0.5) as i32 as f32).collect();
        let cols = x
            .into_iter()
            .enumerate()
            .map(|(i, values)| Column {
                name: format!("x{i}"),
                values,
            })
            .collect();
        (cols, y, yb)
    }

    fn params() -> GbdtSettings {
        GbdtSettings {
            n_trees: 60,
            num_leaves: 15,
            min_data_in_leaf: 5,
            ..Default::default()
        }
    }

    #[test]
    fn early_stopping_keeps_the_best_prefix_of_the_same_trees() {
        let (cols, y, yb) = data(3000, 5);
        let bm = BinnedMatrix::build(&cols, 255);
        let feats = [0, 1, 2, 3];
        let train: Vec<u32> = (0..2000).collect();
        let valid: Vec<u32> = (2000..3000).collect();
        // Pure noise: the validation loss stops improving almost at once.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let noise: Vec<f32> = (0..3000).map(|_| rng.random::<f32>()).collect();
        let p = GbdtSettings {
            n_trees: 200,
            ..params()
        };
        let stop = EarlyStop {
            rows: &valid,
            rounds: 10,
        };
        let quiet = Gbdt::train_until(
            &bm,
            &feats,
            &train,
            &noise,
            &p,
            Objective::L2,
            3,
            Some(stop),
        );
        assert!(
            quiet.trees.len() < 30,
            "noise kept {} trees",
            quiet.trees.len()
        );
        // Signal: many more trees are worth keeping, and they are the first trees of the
        // same fit without early stopping (same seed, same rows).
        for (labels, obj) in [(&y, Objective::L2), (&yb, Objective::Logloss)] {
            let early = Gbdt::train_until(&bm, &feats, &train, labels, &p, obj, 3, Some(stop));
            let full = Gbdt::train(&bm, &feats, &train, labels, &p, obj, 3);
            let k = early.trees.len();
            assert!(k > quiet.trees.len() && k <= 200, "{obj:?} kept {k}");
            assert_eq!(early.trees[..], full.trees[..k]);
            // The kept prefix has the lowest validation loss of every prefix it saw.
            let loss = |m: &Gbdt| {
                let pred = m.predict_binned(&bm, &feats, &valid);
                valid
                    .iter()
                    .zip(&pred)
                    .map(|(&r, &f)| loss_of(obj, f, labels[r as usize] as f64))
                    .sum::<f64>()
            };
            let shorter = Gbdt {
                trees: full.trees[..k - 1].to_vec(),
                ..full.clone()
            };
            assert!(loss(&early) < loss(&shorter));
        }
        // Deterministic.
        let again = Gbdt::train_until(
            &bm,
            &feats,
            &train,
            &noise,
            &p,
            Objective::L2,
            3,
            Some(stop),
        );
        assert_eq!(again, quiet);
    }

    #[test]
    fn fits_regression_and_classification_out_of_sample() {
        let (cols, y, yb) = data(3000, 1);
        let bm = BinnedMatrix::build(&cols, 255);
        let train: Vec<u32> = (0..2000).collect();
        let test: Vec<u32> = (2000..3000).collect();
        let feats = [0, 1, 2, 3];
        let m = Gbdt::train(&bm, &feats, &train, &y, &params(), Objective::L2, 7);
        let pred = m.predict_binned(&bm, &feats, &test);
        let yt: Vec<f64> = test.iter().map(|&r| y[r as usize] as f64).collect();
        assert!(crate::metrics::r2(&pred, &yt).unwrap() > 0.9);
        let imp = m.gain_importance();
        assert!(
            imp[0] > imp[3] && imp[1] > imp[3] && imp[2] > imp[3],
            "{imp:?}"
        );
        let mb = Gbdt::train(&bm, &feats, &train, &yb, &params(), Objective::Logloss, 7);
        let pb = mb.predict_binned(&bm, &feats, &test);
        let lb: Vec<f64> = test.iter().map(|&r| yb[r as usize] as f64).collect();
        assert!(crate::metrics::auc(&pb, &lb).unwrap() > 0.95);
    }

    #[test]
    fn raw_and_binned_predictions_agree() {
        let (cols, y, _) = data(500, 2);
        let bm = BinnedMatrix::build(&cols, 32);
        let rows: Vec<u32> = (0..500).collect();
        let m = Gbdt::train(&bm, &[0, 1, 2, 3], &rows, &y, &params(), Objective::L2, 1);
        let pb = m.predict_binned(&bm, &[0, 1, 2, 3], &rows);
        for (i, p) in pb.iter().enumerate() {
            let x: Vec<f32> = cols.iter().map(|c| c.values[i]).collect();
            assert_eq!(*p, m.predict_row(&x));
        }
    }

    #[test]
    fn carried_root_histograms_give_the_trees_of_full_passes() {
        let (cols, y, _) = data(4000, 5);
        let bm = BinnedMatrix::build(&cols, 255);
        let rows: Vec<u32> = (0..4000).collect();
        let feats = [0, 1, 2, 3];
        let carried = Gbdt::train(&bm, &feats, &rows, &y, &params(), Objective::L2, 3);
        NO_CARRY.with(|c| c.set(true));
        let full = Gbdt::train(&bm, &feats, &rows, &y, &params(), Objective::L2, 3);
        NO_CARRY.with(|c| c.set(false));
        assert_eq!(carried.trees.len(), full.trees.len());
        for (a, b) in carried.trees.iter().zip(&full.trees) {
            assert_eq!(a.nodes.len(), b.nodes.len());
            for (x, y) in a.nodes.iter().zip(&b.nodes) {
                match (x, y) {
                    (
                        Node::Split {
                            feature: f1,
                            bin: b1,
                            gain: g1,
                            ..
                        },
                        Node::Split {
                            feature: f2,
                            bin: b2,
                            gain: g2,
                            ..
                        },
                    ) => {
                        assert_eq!((f1, b1), (f2, b2));
                        assert!((g1 - g2).abs() <= 1e-9 * g2.abs().max(1.0), "{g1} vs {g2}");
                    }
                    (Node::Leaf { value: v1 }, Node::Leaf { value: v2 }) => {
                        assert!((v1 - v2).abs() <= 1e-12, "{v1} vs {v2}");
                    }
                    _ => panic!("different tree shapes"),
                }
            }
        }
    }

    #[test]
    fn parallel_partition_is_the_stable_partition() {
        // Above PAR_PARTITION_MIN the chunked parallel path runs; below it the sequential one.
        for n in [1000usize, 100_000] {
            let rows: Vec<u32> = (0..n as u32).map(|i| i * 3 + 1).collect();
            let pos: Vec<u32> = (0..n as u32).filter(|i| i % 7 != 3).collect();
            let go_left = |r: u32| (r / 5).is_multiple_of(3);
            let (begin, end) = (11, pos.len() - 13);
            let mut expect = pos.clone();
            let (l, r): (Vec<u32>, Vec<u32>) = pos[begin..end]
                .iter()
                .partition(|&&i| go_left(rows[i as usize]));
            expect[begin..begin + l.len()].copy_from_slice(&l);
            expect[begin + l.len()..end].copy_from_slice(&r);
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut ws = Workspace {
                    rows: rows.clone(),
                    pos: pos.clone(),
                    ..Default::default()
                };
                let mid = pool.install(|| ws.partition(begin, end, go_left));
                assert_eq!(mid, begin + l.len());
                assert_eq!(ws.pos, expect, "n = {n}, threads = {threads}");
            }
        }
    }

    #[test]
    fn identical_across_thread_counts_with_sampling() {
        let (cols, y, _) = data(2000, 3);
        let bm = BinnedMatrix::build(&cols, 255);
        let rows: Vec<u32> = (0..2000).collect();
        let p = GbdtSettings {
            feature_fraction: 0.5,
            bagging_fraction: 0.7,
            ..params()
        };
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| Gbdt::train(&bm, &[0, 1, 2, 3], &rows, &y, &p, Objective::L2, 11))
        };
        assert_eq!(run(1), run(2));
    }
}
