//! Named metrics of a run's summary (`train.ftpt`, `test.accuracy`, `epochs`,
//! `best.train.ftpt`): what experiment specs name and sweeps aggregate.

use crate::run::RunSummary;

/// Accuracy above which a run counts among the paper's "best runs" (docs/paper-notes.md, Metrics, AAAI tables).
pub const BEST_RUN_ACCURACY: f64 = 95.0;

/// The value of metric `name` (`train.ftpt`, `test.accuracy`, `epochs`, ...) in a summary.
/// `best.<split>.<field>` is the same value for runs whose accuracy on that split is above
/// [`BEST_RUN_ACCURACY`] and absent for the others, so its mean is over the "best runs".
pub fn metric_value(summary: &RunSummary, name: &str) -> Option<f64> {
    if let Some(inner) = name.strip_prefix("best.") {
        let split = inner.split_once('.')?.0;
        let accuracy = metric_value(summary, &format!("{split}.accuracy"))?;
        return (accuracy > BEST_RUN_ACCURACY)
            .then(|| metric_value(summary, inner))
            .flatten();
    }
    if name == "epochs" {
        return Some(summary.epochs as f64);
    }
    let (split, field) = name.split_once('.')?;
    let m = match split {
        "train" => Some(&summary.train),
        "test" => summary.test.as_ref(),
        _ => None,
    }?;
    let s = &m.summary;
    Some(match field {
        "loss" => m.loss,
        "accuracy" => s.accuracy,
        "ftpt" => s.rates.ftpt,
        "ffpt" => s.rates.ffpt,
        "ftpf" => s.rates.ftpf,
        "ffpf" => s.rates.ffpf,
        "max_ge_half" => s.share_max_ge_half,
        "sparsity" => s.sparsity_value,
        "simplex_distance" => s.simplex_distance,
        "entropy" => s.entropy_bits,
        "alpha_at_true" => s.mean_alpha_at_true,
        _ => return None,
    })
}

/// The metric names [`metric_value`] knows.
pub fn is_known_metric(name: &str) -> bool {
    const FIELDS: [&str; 11] = [
        "loss",
        "accuracy",
        "ftpt",
        "ffpt",
        "ftpf",
        "ffpf",
        "max_ge_half",
        "sparsity",
        "simplex_distance",
        "entropy",
        "alpha_at_true",
    ];
    if let Some(inner) = name.strip_prefix("best.") {
        return inner != "epochs" && is_known_metric(inner);
    }
    name == "epochs"
        || name.split_once('.').is_some_and(|(split, field)| {
            matches!(split, "train" | "test") && FIELDS.contains(&field)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_metrics() {
        assert!(is_known_metric("train.ftpt"));
        assert!(is_known_metric("test.entropy"));
        assert!(is_known_metric("epochs"));
        assert!(!is_known_metric("train.fptp"));
        assert!(!is_known_metric("valid.ftpt"));
        assert!(is_known_metric("best.train.ftpt"));
        assert!(!is_known_metric("best.epochs"));
        assert!(!is_known_metric("best.valid.ftpt"));
    }
}
