//! Attention maps: from focus scores to weights on the simplex.

use burn::tensor::{Tensor, activation};
use serde::{Deserialize, Serialize};

/// How focus scores `[batch, m]` become attention weights `alpha` `[batch, m]` (rows on the
/// probability simplex).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AttentionMap {
    /// `alpha = softmax(s / temperature)`, the paper's map.
    Softmax {
        /// Divides the scores before the softmax; 1 reproduces the paper.
        #[serde(default = "one")]
        temperature: f64,
    },
}

fn one() -> f64 {
    1.0
}

impl Default for AttentionMap {
    fn default() -> Self {
        Self::Softmax { temperature: 1.0 }
    }
}

impl AttentionMap {
    /// Short name used in tables and file names.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Softmax { .. } => "softmax",
        }
    }

    /// Checks the map's parameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Softmax { temperature } => {
                if !(temperature.is_finite() && *temperature > 0.0) {
                    return Err(format!(
                        "attention.temperature = {temperature}: must be a finite number > 0"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Maps scores `[batch, m]` to weights `[batch, m]`, normalising over the segments.
    pub fn apply(&self, scores: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Softmax { temperature } => {
                let scores = if *temperature == 1.0 {
                    scores
                } else {
                    scores.div_scalar(*temperature)
                };
                activation::softmax(scores, 1)
            }
        }
    }
}
