//! Aggregation over the runs of a grid point or an experiment, on plain numbers: seed-mean
//! training curves, merged histograms, and the pivot of a table into the series of a trend
//! figure. Reading the runs from disk is the caller's job.

use std::collections::BTreeMap;

use crate::stats::{Stats, describe};

/// The mean over runs of per-run curves `(epoch, value)` (each in epoch order), at every epoch
/// from 1 to the last any run reached. A run that stopped early keeps its last value; an epoch
/// is left out until every run has a value.
pub fn seed_mean_curve(curves: &[Vec<(usize, f64)>]) -> Vec<(f64, f64)> {
    let last_epoch = curves
        .iter()
        .filter_map(|c| c.last().map(|x| x.0))
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    for epoch in 1..=last_epoch {
        let at: Vec<f64> = curves
            .iter()
            .filter_map(|c| c.iter().take_while(|x| x.0 <= epoch).last().map(|x| x.1))
            .collect();
        if !at.is_empty() && at.len() == curves.len() {
            out.push((epoch as f64, at.iter().sum::<f64>() / at.len() as f64));
        }
    }
    out
}

/// The bin-wise sum of histograms with the same bins; `None` when their bin counts differ.
pub fn merge_histograms<'a>(histograms: impl IntoIterator<Item = &'a [u64]>) -> Option<Vec<u64>> {
    let mut merged: Option<Vec<u64>> = None;
    for counts in histograms {
        match &mut merged {
            None => merged = Some(counts.to_vec()),
            Some(sum) if sum.len() == counts.len() => {
                for (s, c) in sum.iter_mut().zip(counts) {
                    *s += c;
                }
            }
            Some(_) => return None,
        }
    }
    merged
}

/// A table pivoted into the series of a trend figure.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendPivot {
    /// The values of the trend axis, in order of first appearance.
    pub ticks: Vec<String>,
    /// `(label of the other axes' values, our stats per tick)`, in order of first appearance.
    pub ours: Vec<(String, Vec<Stats>)>,
    /// Every run's value per tick, one entry per series of `ours`.
    pub runs: Vec<Vec<Vec<f64>>>,
    /// The same for the paper's numbers, only for series where the paper gives one.
    pub paper: Vec<(String, Vec<Option<f64>>)>,
}

/// Pivots grid points (`labels[i]`: one value per column) and their cells (our runs' values and
/// the paper's number) along column `axis`: one series per combination of the other columns
/// (`"sdc"` when there is no other column), one tick per value of the axis.
pub fn pivot_trend(
    columns: &[String],
    labels: &[Vec<String>],
    cells: &[(Vec<f64>, Option<f64>)],
    axis: usize,
) -> TrendPivot {
    let mut ticks: Vec<String> = Vec::new();
    for label in labels {
        if !ticks.contains(&label[axis]) {
            ticks.push(label[axis].clone());
        }
    }
    let mut order: Vec<String> = Vec::new();
    let mut ours: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    let mut paper: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for (label, (values, reference)) in labels.iter().zip(cells) {
        let key = columns
            .iter()
            .zip(label)
            .enumerate()
            .filter(|(i, _)| *i != axis)
            .map(|(_, (c, v))| format!("{c}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let key = if key.is_empty() {
            "sdc".to_string()
        } else {
            key
        };
        if !order.contains(&key) {
            order.push(key.clone());
        }
        let tick = ticks
            .iter()
            .position(|t| t == &label[axis])
            .expect("every label's tick was collected above");
        ours.entry(key.clone())
            .or_insert_with(|| vec![Vec::new(); ticks.len()])[tick] = values.clone();
        paper.entry(key).or_insert_with(|| vec![None; ticks.len()])[tick] = *reference;
    }
    TrendPivot {
        ticks,
        ours: order
            .iter()
            .map(|k| (k.clone(), ours[k].iter().map(|v| describe(v)).collect()))
            .collect(),
        runs: order.iter().map(|k| ours[k].clone()).collect(),
        paper: order
            .iter()
            .filter(|k| paper[*k].iter().any(Option::is_some))
            .map(|k| (k.clone(), paper[k].clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_stopped_early_keeps_its_last_value() {
        let curves = vec![
            vec![(1, 10.0), (2, 20.0)],
            vec![(1, 30.0), (2, 40.0), (3, 50.0)],
        ];
        assert_eq!(
            seed_mean_curve(&curves),
            vec![(1.0, 20.0), (2.0, 30.0), (3.0, 35.0)]
        );
        // An epoch before a run's first logged one waits for it.
        let sparse = vec![vec![(2, 10.0)], vec![(1, 30.0), (2, 40.0)]];
        assert_eq!(seed_mean_curve(&sparse), vec![(2.0, 25.0)]);
        assert!(seed_mean_curve(&[]).is_empty());
    }

    #[test]
    fn histograms_merge_bin_by_bin_and_refuse_other_bins() {
        let (a, b) = ([1u64, 2, 3], [4u64, 5, 6]);
        assert_eq!(
            merge_histograms([a.as_slice(), b.as_slice()]),
            Some(vec![5, 7, 9])
        );
        assert_eq!(merge_histograms([a.as_slice(), [1u64].as_slice()]), None);
        assert_eq!(merge_histograms(std::iter::empty()), None);
    }

    #[test]
    fn a_two_axis_table_pivots_into_one_series_per_other_value() {
        let columns = vec!["k".to_string(), "m".to_string()];
        let labels: Vec<Vec<String>> = [("0", "5"), ("1", "5"), ("0", "9"), ("1", "9")]
            .iter()
            .map(|(k, m)| vec![k.to_string(), m.to_string()])
            .collect();
        let cells: Vec<(Vec<f64>, Option<f64>)> = [10.0, 20.0, 30.0, 40.0]
            .iter()
            .enumerate()
            .map(|(i, &v)| (vec![v], (i == 0).then_some(88.5)))
            .collect();
        let pivot = pivot_trend(&columns, &labels, &cells, 0);
        assert_eq!(pivot.ticks, vec!["0", "1"]);
        let means: Vec<(String, Vec<f64>)> = pivot
            .ours
            .iter()
            .map(|(k, s)| (k.clone(), s.iter().map(|x| x.mean).collect()))
            .collect();
        assert_eq!(
            means,
            vec![
                ("m=5".to_string(), vec![10.0, 20.0]),
                ("m=9".to_string(), vec![30.0, 40.0])
            ]
        );
        assert_eq!(pivot.runs[1], vec![vec![30.0], vec![40.0]]);
        assert_eq!(
            pivot.paper,
            vec![("m=5".to_string(), vec![Some(88.5), None])],
            "only series with a paper number"
        );
        let single = pivot_trend(&columns[..1], &[vec!["0".into()]], &cells[..1], 0);
        assert_eq!(single.ours[0].0, "sdc");
    }
}
