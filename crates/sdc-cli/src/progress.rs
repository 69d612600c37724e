//! What `sdc train` shows while it trains: a bar that moves inside long epochs, the latest
//! metrics, an ETA only when there is an honest one, logs that print above the bar
//! (`tracing-indicatif`), no colours or bar when stderr is not a terminal, and Ctrl-C (or
//! SIGTERM) that checkpoints before it exits.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::ProgressStyle;
use sdc_train::{EpochRecord, ExperimentConfig, TrainObserver};
use tracing::Span;
use tracing_indicatif::IndicatifLayer;
use tracing_indicatif::filter::{IndicatifFilter, hide_indicatif_span_fields};
use tracing_indicatif::span_ext::IndicatifSpanExt as _;
use tracing_subscriber::fmt::format::DefaultFields;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Installs the logger: `level` unless `RUST_LOG` says otherwise, to stderr, printed above any
/// progress bar; ANSI colours only on a terminal and without `NO_COLOR`.
pub fn init_logging(level: &str) {
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let bars = IndicatifLayer::new()
        .with_span_field_formatter(hide_indicatif_span_fields(DefaultFields::new()));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(bars.get_stderr_writer())
                .with_ansi(ansi)
                .with_target(false)
                .with_filter(filter),
        )
        .with(bars.with_filter(IndicatifFilter::new(false)))
        .init();
}

/// Set by the first Ctrl-C / SIGTERM: training stops after the epoch in progress, with a
/// checkpoint. A second one exits at once (status 130); the run then resumes from its last
/// checkpoint.
#[derive(Clone, Default)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
    announced: Arc<AtomicBool>,
}

impl Interrupt {
    /// Installs the handlers for SIGINT, SIGTERM and SIGQUIT.
    pub fn install() -> Result<Self> {
        let interrupt = Self::default();
        for &signal in signal_hook::consts::TERM_SIGNALS {
            // The shutdown is registered first, so it sees the flag before this signal sets
            // it: the first signal only sets the flag, the second exits.
            signal_hook::flag::register_conditional_shutdown(signal, 130, interrupt.flag.clone())
                .and_then(|_| signal_hook::flag::register(signal, interrupt.flag.clone()))
                .with_context(|| format!("installing the handler of signal {signal}"))?;
        }
        Ok(interrupt)
    }

    /// Whether a signal came; the first call that sees it says what happens next.
    fn requested(&self) -> bool {
        let requested = self.flag.load(Ordering::SeqCst);
        if requested && !self.announced.swap(true, Ordering::SeqCst) {
            tracing_indicatif::suspend_tracing_indicatif(|| {
                eprintln!(
                    "sdc: stopping after this epoch, with a checkpoint (Ctrl-C again to exit now)"
                )
            });
        }
        requested
    }
}

/// Epochs still needed for the loss to reach `threshold`, extrapolating the trend of
/// log(loss) over the last few epochs `(epoch, loss)`; `None` when there are fewer than three
/// points or the loss is not falling.
pub fn epochs_to_threshold(history: &[(usize, f64)], threshold: f64) -> Option<f64> {
    const WINDOW: usize = 5;
    let recent = &history[history.len().saturating_sub(WINDOW)..];
    if recent.len() < 3 || threshold <= 0.0 || recent.iter().any(|&(_, l)| l.is_nan() || l <= 0.0) {
        return None;
    }
    let (&(_, last), n) = (recent.last()?, recent.len() as f64);
    if last <= threshold {
        return Some(0.0);
    }
    let points: Vec<(f64, f64)> = recent.iter().map(|&(e, l)| (e as f64, l.ln())).collect();
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = sxy / sxx;
    (slope < 0.0).then(|| (threshold.ln() - last.ln()) / slope)
}

/// `sdc train`'s observer: the progress bar (a tracing span's bar, hidden when not a terminal)
/// and the interrupt flag.
pub struct TrainProgress {
    span: Span,
    interrupt: Option<Interrupt>,
    threshold: Option<f64>,
    max_epochs: usize,
    first_epoch: usize,
    started: Instant,
    history: Vec<(usize, f64)>,
    metrics: String,
    last_draw: Instant,
}

impl TrainProgress {
    /// A bar for training `config` (none when `quiet`); `interrupt` stops training gracefully.
    pub fn new(config: &ExperimentConfig, quiet: bool, interrupt: Option<Interrupt>) -> Self {
        let span = if quiet {
            Span::none()
        } else {
            tracing::info_span!("train", indicatif.pb_show = tracing::field::Empty)
        };
        let style = ProgressStyle::with_template("epoch {pos}/{len} [{elapsed}] {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        span.pb_set_style(&style);
        span.pb_set_length(config.train.max_epochs as u64);
        span.pb_start();
        Self {
            span,
            interrupt,
            threshold: config.train.stop.as_ref().map(|s| s.loss),
            max_epochs: config.train.max_epochs,
            first_epoch: 1,
            started: Instant::now(),
            history: Vec::new(),
            metrics: String::new(),
            last_draw: Instant::now(),
        }
    }

    /// The time left, when it can be said: for a loss threshold only from a falling loss.
    fn eta(&self, epoch: usize) -> String {
        let done = epoch + 1 - self.first_epoch;
        let per_epoch = self.started.elapsed().as_secs_f64() / done.max(1) as f64;
        let remaining = self.max_epochs.saturating_sub(epoch) as f64;
        let human = |epochs: f64| {
            indicatif::HumanDuration(Duration::from_secs_f64(epochs * per_epoch)).to_string()
        };
        match self.threshold {
            None => format!("ETA {}", human(remaining)),
            Some(threshold) => match epochs_to_threshold(&self.history, threshold) {
                Some(needed) => format!(
                    "ETA ~{} (loss trend to {threshold})",
                    human(needed.min(remaining))
                ),
                None => format!(
                    "ETA unknown (loss not yet falling to {threshold}; at most {})",
                    human(remaining)
                ),
            },
        }
    }
}

impl TrainObserver for TrainProgress {
    fn on_start(&mut self, first_epoch: usize, max_epochs: usize) {
        self.first_epoch = first_epoch;
        self.max_epochs = max_epochs;
        self.started = Instant::now();
        self.span.pb_set_length(max_epochs as u64);
        self.span
            .pb_set_position(first_epoch.saturating_sub(1) as u64);
    }

    fn on_batch(&mut self, epoch: usize, done: usize, total: usize) {
        if let Some(interrupt) = &self.interrupt {
            interrupt.requested();
        }
        // Redraw at most a few times a second: short epochs never pay for it.
        if self.last_draw.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last_draw = Instant::now();
        self.span.pb_set_message(&format!(
            "{}  epoch {epoch}: batch {done}/{total}",
            self.metrics
        ));
    }

    fn on_epoch(&mut self, record: &EpochRecord) {
        let loss = record
            .train
            .as_ref()
            .map_or(record.running_loss, |t| t.loss);
        self.history.push((record.epoch, loss));
        if let Some(train) = &record.train {
            let s = &train.summary;
            self.metrics = format!(
                "loss {:.4}  acc {:.1}  FTPT {:.1}  FFPT {:.1}",
                train.loss, s.accuracy, s.rates.ftpt, s.rates.ffpt
            );
        }
        self.span.pb_set_position(record.epoch as u64);
        self.span
            .pb_set_message(&format!("{}  {}", self.metrics, self.eta(record.epoch)));
    }

    fn should_stop(&mut self) -> bool {
        self.interrupt.as_ref().is_some_and(Interrupt::requested)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_extrapolates_a_falling_loss_and_refuses_a_flat_one() {
        // loss = e^{-epoch/2}: from epoch 6 (0.0498) to 0.01 is 2 ln(4.98) = 3.2 epochs.
        let falling: Vec<(usize, f64)> = (1..=6).map(|e| (e, (-(e as f64) / 2.0).exp())).collect();
        let needed = epochs_to_threshold(&falling, 0.01).expect("falling");
        assert!((needed - 3.2104).abs() < 1e-3, "{needed}");
        let flat: Vec<(usize, f64)> = (1..=6).map(|e| (e, 0.5)).collect();
        assert_eq!(epochs_to_threshold(&flat, 0.01), None);
        let rising: Vec<(usize, f64)> = (1..=6).map(|e| (e, e as f64)).collect();
        assert_eq!(epochs_to_threshold(&rising, 0.01), None);
        assert_eq!(epochs_to_threshold(&falling[..2], 0.01), None, "too few");
        assert_eq!(
            epochs_to_threshold(&[(1, 0.5), (2, 0.1), (3, 0.005)], 0.01),
            Some(0.0)
        );
        assert_eq!(
            epochs_to_threshold(&[(1, 0.5), (2, f64::NAN), (3, 0.2)], 0.01),
            None
        );
    }
}
