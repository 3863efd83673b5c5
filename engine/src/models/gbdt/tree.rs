//! A regression tree as stored in model files, and prediction from raw values or bin codes.

use serde::{Deserialize, Serialize};

/// A node: an internal split or a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Node {
    /// Rows with `x[feature]` missing or `≤ threshold` go to `left`, others to `right`.
    Split {
        /// Feature position in the model's feature list.
        feature: u32,
        /// Raw threshold.
        threshold: f32,
        /// Equivalent bin code threshold (`code ≤ bin` goes left).
        bin: u8,
        /// Left child node index.
        left: u32,
        /// Right child node index.
        right: u32,
        /// Loss reduction of this split (for gain importance).
        gain: f64,
    },
    /// A leaf contributing `value` (learning rate already applied).
    Leaf {
        /// Output.
        value: f64,
    },
}

/// A tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes, root first.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Output for a row of raw values in model feature order.
    pub fn predict_raw(&self, x: &[f32]) -> f64 {
        let mut i = 0usize;
        loop {
            match &self.nodes[i] {
                Node::Leaf { value } => return *value,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    ..
                } => {
                    let v = x[*feature as usize];
                    i = if v.is_nan() || v <= *threshold {
                        *left
                    } else {
                        *right
                    } as usize;
                }
            }
        }
    }

    /// Output for row `row` of binned columns, `cols[k]` being the model's k-th feature.
    pub fn predict_binned(&self, cols: &[&[u8]], row: usize) -> f64 {
        let mut i = 0usize;
        loop {
            match &self.nodes[i] {
                Node::Leaf { value } => return *value,
                Node::Split {
                    feature,
                    bin,
                    left,
                    right,
                    ..
                } => {
                    i = if cols[*feature as usize][row] <= *bin {
                        *left
                    } else {
                        *right
                    } as usize;
                }
            }
        }
    }

    /// Adds each split's gain to `out[feature]`.
    pub fn add_gain(&self, out: &mut [f64]) {
        for n in &self.nodes {
            if let Node::Split { feature, gain, .. } = n {
                out[*feature as usize] += gain;
            }
        }
    }
}
