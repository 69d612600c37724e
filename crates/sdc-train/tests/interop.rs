//! Interop: `score` on the predictions a native run exported equals `eval_run` on that run, and
//! a run's model exports to safetensors under its module paths.

use sdc_interp::FocusCriterion;
use sdc_train::score::{ScoreSources, score};
use sdc_train::{ExperimentConfig, Silent, eval_run, run_experiment};

fn tiny() -> ExperimentConfig {
    let overrides: Vec<String> = [
        "name=tiny",
        "data.n_train=300",
        "data.n_test=120",
        "data.n_base=1000",
        "train.max_epochs=4",
        "train.batch_size=50",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ExperimentConfig::default_with(&overrides).expect("valid config")
}

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON")
}

#[test]
fn score_of_exported_predictions_equals_eval_and_weights_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let config = tiny();
    run_experiment(&config, &run, &mut Silent).expect("training succeeds");
    let reports = eval_run(&run, None, None).expect("eval");
    assert_eq!(reports.len(), 2);
    let splits = config.data.load().expect("data");
    for (report, dataset) in reports.iter().zip([&splits.train, &splits.test]) {
        let mut eval_summary = json(&report.predictions_csv.with_file_name("summary.json"));
        eval_summary
            .as_object_mut()
            .expect("an object")
            .remove("loss")
            .expect("eval writes the loss");
        // Everything from the CSV alone, then labels and J from the dataset as .npz.
        let from_csv = ScoreSources {
            alpha: report.predictions_csv.clone(),
            ..Default::default()
        };
        let npz = dir.path().join(format!("{}.npz", report.split));
        sdc_data::save_npz(dataset, &serde_json::Value::Null, &npz).expect("npz");
        let from_data = ScoreSources {
            data: Some(npz),
            ..from_csv.clone()
        };
        for (i, sources) in [from_csv, from_data].iter().enumerate() {
            let out = dir.path().join(format!("score-{}-{i}", report.split));
            let inputs = sources.read().expect("inputs read");
            let scored = score(&inputs, FocusCriterion::Argmax, 20, &out).expect("score");
            assert_eq!(json(&scored.summary_json), eval_summary, "{}", report.split);
            assert_eq!(scored.summary, report.metrics.summary);
            assert_eq!(
                std::fs::read(&scored.predictions_csv).expect("score csv"),
                std::fs::read(&report.predictions_csv).expect("eval csv"),
                "{}: predictions.csv differs",
                report.split
            );
            assert_eq!(
                scored.alpha_at_true.counts.iter().sum::<u64>(),
                dataset.len() as u64
            );
        }
    }

    let weights = dir.path().join("model.safetensors");
    let tensors = sdc_train::export::export_weights(&run, &weights).expect("export");
    let names: Vec<(&str, &[usize])> = tensors
        .iter()
        .map(|t| (t.name.as_str(), t.shape.as_slice()))
        .collect();
    // Dataset 2 (d = 5, 3 classes), Architecture 2: hidden [6, 12] in both networks,
    // Linear weights in PyTorch's [out, in] layout.
    assert_eq!(
        names,
        vec![
            ("classifier.hidden.0.bias", &[6][..]),
            ("classifier.hidden.0.weight", &[6, 5][..]),
            ("classifier.hidden.1.bias", &[12][..]),
            ("classifier.hidden.1.weight", &[12, 6][..]),
            ("classifier.output.bias", &[3][..]),
            ("classifier.output.weight", &[3, 12][..]),
            ("focus.hidden.0.bias", &[6][..]),
            ("focus.hidden.0.weight", &[6, 5][..]),
            ("focus.hidden.1.bias", &[12][..]),
            ("focus.hidden.1.weight", &[12, 6][..]),
            ("focus.output.bias", &[1][..]),
            ("focus.output.weight", &[1, 12][..]),
        ]
    );
    let bytes = std::fs::read(&weights).expect("written");
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).expect("safetensors");
    let meta = header.metadata().as_ref().expect("metadata");
    assert!(meta["sdc_config"].contains("name = \"tiny\""), "{meta:?}");
}
