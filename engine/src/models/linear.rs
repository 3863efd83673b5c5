//! Ridge regression and L2-penalised logistic regression on standardized features (missing
//! values imputed by the training mean), solved exactly with Cholesky on the Gram matrix.
//!
//! The Gram matrix is accumulated over fixed 4096-row chunks in parallel and the chunk results
//! are added in chunk order, so fits are bit-identical whatever the thread count.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

const CHUNK: usize = 4096;

/// Per-row (weight, working response) given the row's position and its standardized values.
type RowWeights<'a> = dyn Fn(usize, &[f64]) -> (f64, f64) + Sync + 'a;

/// Which linear model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinearKind {
    /// Least squares with penalty `alpha · ‖β‖²` (as scikit-learn's `Ridge`).
    Ridge,
    /// Log-loss with penalty `alpha/2 · ‖β‖²` (scikit-learn's `C = 1/alpha`); raw output is log-odds.
    Logistic,
}

/// A fitted linear model; coefficients apply to standardized features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// Model kind.
    pub kind: LinearKind,
    /// Training mean per feature (also the imputed value for missing).
    pub means: Vec<f64>,
    /// Training standard deviation per feature (1 for constant features).
    pub scales: Vec<f64>,
    /// Standardized coefficients.
    pub coef: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
}

fn standardize(cols: &[&[f32]], rows: &[u32]) -> (Vec<f64>, Vec<f64>) {
    cols.par_iter()
        .map(|c| {
            let (mut s, mut s2, mut n) = (0.0, 0.0, 0usize);
            for &r in rows {
                let v = c[r as usize];
                if v.is_finite() {
                    s += v as f64;
                    s2 += v as f64 * v as f64;
                    n += 1;
                }
            }
            let m = if n > 0 { s / n as f64 } else { 0.0 };
            let var = if n > 1 {
                (s2 / n as f64 - m * m).max(0.0)
            } else {
                0.0
            };
            (m, if var > 1e-24 { var.sqrt() } else { 1.0 })
        })
        .unzip()
}

impl LinearModel {
    fn z(&self, cols: &[&[f32]], r: usize, out: &mut [f64]) {
        for (j, c) in cols.iter().enumerate() {
            let v = c[r];
            out[j] = if v.is_finite() {
                (v as f64 - self.means[j]) / self.scales[j]
            } else {
                0.0
            };
        }
    }

    /// Raw output for one row of raw values in model order.
    pub fn predict_row(&self, x: &[f32]) -> f64 {
        let mut s = self.intercept;
        for (j, &v) in x.iter().enumerate() {
            if v.is_finite() {
                s += self.coef[j] * (v as f64 - self.means[j]) / self.scales[j];
            }
        }
        s
    }

    /// Raw outputs for `rows` of columns in model order.
    pub fn predict(&self, cols: &[&[f32]], rows: &[u32]) -> Vec<f64> {
        rows.par_iter()
            .map(|&r| {
                let x: Vec<f32> = cols.iter().map(|c| c[r as usize]).collect();
                self.predict_row(&x)
            })
            .collect()
    }

    /// |standardized coefficient| per feature, normalised to sum 1.
    pub fn coef_importance(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.coef.iter().map(|c| c.abs()).collect();
        let s: f64 = v.iter().sum();
        if s > 0.0 {
            v.iter_mut().for_each(|x| *x /= s);
        }
        v
    }

    /// Accumulates `Σ w·[z,1][z,1]ᵀ` and `Σ w·t·[z,1]` over rows; `wt(i)` gives (w, t) for the
    /// i-th row of `rows`.
    fn normal_equations(
        &self,
        cols: &[&[f32]],
        rows: &[u32],
        wt: &RowWeights,
    ) -> (Vec<f64>, Vec<f64>) {
        let d = cols.len() + 1;
        let parts: Vec<(Vec<f64>, Vec<f64>)> = rows
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(ci, chunk)| {
                let mut a = vec![0.0; d * d];
                let mut b = vec![0.0; d];
                let mut z = vec![0.0; d];
                for (k, &r) in chunk.iter().enumerate() {
                    self.z(cols, r as usize, &mut z[..d - 1]);
                    z[d - 1] = 1.0;
                    let (w, t) = wt(ci * CHUNK + k, &z);
                    for i in 0..d {
                        let wz = w * z[i];
                        b[i] += wz * t;
                        let row = &mut a[i * d..i * d + i + 1];
                        for (aij, zj) in row.iter_mut().zip(&z[..=i]) {
                            *aij += wz * zj;
                        }
                    }
                }
                (a, b)
            })
            .collect();
        let (mut a, mut b) = (vec![0.0; d * d], vec![0.0; d]);
        for (pa, pb) in parts {
            a.iter_mut().zip(&pa).for_each(|(x, y)| *x += y);
            b.iter_mut().zip(&pb).for_each(|(x, y)| *x += y);
        }
        for i in 0..d {
            for j in 0..i {
                a[j * d + i] = a[i * d + j];
            }
        }
        (a, b)
    }

    /// Fits ridge regression of `y[row]` on `cols` over `rows` (labels must be finite).
    pub fn fit_ridge(cols: &[&[f32]], rows: &[u32], y: &[f32], alpha: f64) -> Self {
        let (means, scales) = standardize(cols, rows);
        let p = cols.len();
        let mut m = LinearModel {
            kind: LinearKind::Ridge,
            means,
            scales,
            coef: vec![0.0; p],
            intercept: 0.0,
        };
        let (mut a, b) = m.normal_equations(cols, rows, &|i, _| (1.0, y[rows[i] as usize] as f64));
        for j in 0..p {
            a[j * (p + 1) + j] += alpha;
        }
        let sol = solve_spd(a, b);
        m.coef = sol[..p].to_vec();
        m.intercept = sol[p];
        m
    }

    /// Fits L2 logistic regression by Newton's method (labels 0/1).
    pub fn fit_logistic(
        cols: &[&[f32]],
        rows: &[u32],
        y: &[f32],
        alpha: f64,
        max_iter: usize,
    ) -> Self {
        let (means, scales) = standardize(cols, rows);
        let p = cols.len();
        let mut m = LinearModel {
            kind: LinearKind::Logistic,
            means,
            scales,
            coef: vec![0.0; p],
            intercept: 0.0,
        };
        for _ in 0..max_iter {
            let cur = m.clone();
            // Newton step as weighted least squares on the working response.
            let (mut a, b) = cur.normal_equations(cols, rows, &|i, z| {
                let f: f64 = z
                    .iter()
                    .zip(cur.coef.iter().chain(std::iter::once(&cur.intercept)))
                    .map(|(a, b)| a * b)
                    .sum();
                let pr = 1.0 / (1.0 + (-f).exp());
                let w = (pr * (1.0 - pr)).max(1e-9);
                (w, f + (y[rows[i] as usize] as f64 - pr) / w)
            });
            for j in 0..p {
                a[j * (p + 1) + j] += alpha;
            }
            let sol = solve_spd(a, b);
            let delta = sol
                .iter()
                .zip(m.coef.iter().chain(std::iter::once(&m.intercept)))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            m.coef = sol[..p].to_vec();
            m.intercept = sol[p];
            if delta < 1e-8 {
                break;
            }
        }
        m
    }
}

/// Solves `A x = b` for symmetric positive (semi-)definite `A` (row-major, d×d) by Cholesky,
/// adding a tiny ridge to the diagonal if needed.
fn solve_spd(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    let d = b.len();
    let trace: f64 = (0..d).map(|i| a[i * d + i]).sum::<f64>().abs().max(1.0);
    let mut jitter = 0.0;
    loop {
        let mut l = vec![0.0; d * d];
        let mut ok = true;
        'outer: for i in 0..d {
            for j in 0..=i {
                let mut s = a[i * d + j] + if i == j { jitter } else { 0.0 };
                for k in 0..j {
                    s -= l[i * d + k] * l[j * d + k];
                }
                if i == j {
                    if s <= 0.0 {
                        ok = false;
                        break 'outer;
                    }
                    l[i * d + i] = s.sqrt();
                } else {
                    l[i * d + j] = s / l[j * d + j];
                }
            }
        }
        if ok {
            let mut z = b.clone();
            for i in 0..d {
                for k in 0..i {
                    z[i] -= l[i * d + k] * z[k];
                }
                z[i] /= l[i * d + i];
            }
            for i in (0..d).rev() {
                for k in i + 1..d {
                    z[i] -= l[k * d + i] * z[k];
                }
                z[i] /= l[i * d + i];
            }
            return z;
        }
        jitter = if jitter == 0.0 {
            1e-10 * trace
        } else {
            jitter * 100.0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn data(n: usize) -> (Vec<Vec<f32>>, Vec<f32>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let x: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..n).map(|_| rng.random::<f32>() * 4.0).collect())
            .collect();
        let y = (0..n)
            .map(|i| 1.0 + 2.0 * x[0][i] - 0.5 * x[1][i] + 0.01 * rng.random::<f32>())
            .collect();
        (x, y)
    }

    #[test]
    fn ridge_recovers_coefficients() {
        let (x, y) = data(5000);
        let cols: Vec<&[f32]> = x.iter().map(|c| c.as_slice()).collect();
        let rows: Vec<u32> = (0..5000).collect();
        let m = LinearModel::fit_ridge(&cols, &rows, &y, 1e-6);
        let raw = [
            m.coef[0] / m.scales[0],
            m.coef[1] / m.scales[1],
            m.coef[2] / m.scales[2],
        ];
        assert!(
            (raw[0] - 2.0).abs() < 1e-2 && (raw[1] + 0.5).abs() < 1e-2 && raw[2].abs() < 1e-2,
            "{raw:?}"
        );
        let imp = m.coef_importance();
        assert!(imp[0] > imp[1] && imp[1] > imp[2]);
        assert!((m.predict_row(&[1.0, 1.0, 1.0]) - 2.5).abs() < 0.02);
    }

    #[test]
    fn logistic_separates_and_is_thread_independent() {
        let (x, y) = data(3000);
        let yb: Vec<f32> = y.iter().map(|v| (*v > 4.0) as i32 as f32).collect();
        let cols: Vec<&[f32]> = x.iter().map(|c| c.as_slice()).collect();
        let rows: Vec<u32> = (0..3000).collect();
        let fit = |t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(|| LinearModel::fit_logistic(&cols, &rows, &yb, 1.0, 25))
        };
        let m = fit(2);
        assert_eq!(m, fit(1));
        let p = m.predict(&cols, &rows);
        let l: Vec<f64> = yb.iter().map(|v| *v as f64).collect();
        assert!(crate::metrics::auc(&p, &l).unwrap() > 0.99);
    }

    #[test]
    fn cholesky_handles_singular_systems() {
        let x = solve_spd(vec![1.0, 1.0, 1.0, 1.0], vec![2.0, 2.0]);
        assert!((x[0] + x[1] - 2.0).abs() < 1e-3);
    }
}
