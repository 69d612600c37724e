//! The memory a configured model would take, checked before any weight is drawn: a width of
//! `9223372036854775807` is a clear error naming the key, not a capacity overflow.

use sdc_io::{Budget, TooLarge};

use crate::ConvLayerConfig;
use crate::conv::stack_shapes;
use crate::model::ModelConfig;
use crate::nets::as_image;

/// Bytes held per parameter while training: f64 weights, gradients and two Adam moments.
const BYTES_PER_PARAMETER: u64 = 4 * 8;

/// Dense weights and biases of a chain of layer widths; `None` on overflow.
fn dense_parameters(widths: &[usize]) -> Option<u64> {
    widths.windows(2).try_fold(0u64, |acc, w| {
        let (fan_in, fan_out) = (w[0] as u64, w[1] as u64);
        acc.checked_add(fan_in.checked_add(1)?.checked_mul(fan_out)?)
    })
}

/// Parameters of one network: its convolution blocks read from `input_shape` (exact), then dense
/// layers from the flattened (or globally pooled) output through `hidden` to `outputs`. `None`
/// on overflow. The shapes must have been validated.
fn network_parameters(
    layers: &[ConvLayerConfig],
    input_shape: &[usize],
    global_pool: bool,
    hidden: &[usize],
    outputs: usize,
) -> Option<u64> {
    let (conv, dense_in) = if layers.is_empty() {
        let flat = input_shape
            .iter()
            .try_fold(1usize, |acc, &s| acc.checked_mul(s))?;
        (0u64, flat)
    } else {
        let image = as_image(input_shape).ok()?;
        let shapes = stack_shapes(layers, image).ok()?;
        let (conv, _) = layers
            .iter()
            .try_fold((0u64, image[0]), |(acc, c_in), layer| {
                let per = (c_in as u64)
                    .checked_mul(layer.kernel as u64)?
                    .checked_mul(layer.kernel as u64)?
                    .checked_add(1)?
                    .checked_mul(layer.channels as u64)?;
                Some((acc.checked_add(per)?, layer.channels))
            })?;
        let [c, h, w] = shapes.last()?.1;
        let dense_in = if global_pool {
            c
        } else {
            c.checked_mul(h)?.checked_mul(w)?
        };
        (conv, dense_in)
    };
    let mut widths = vec![dense_in];
    widths.extend_from_slice(hidden);
    widths.push(outputs);
    conv.checked_add(dense_parameters(&widths)?)
}

/// Checks that the model `config` builds for segments of `segment_shape` and `n_classes`
/// labels fits in `budget`; the error names the widths responsible. The shapes must have been
/// validated (only the sizes are checked here).
pub(crate) fn check(
    config: &ModelConfig,
    segment_shape: &[usize],
    n_classes: usize,
    budget: Budget,
) -> Result<(), TooLarge> {
    let show = |v: &[usize]| format!("{v:?}");
    let focus = network_parameters(
        &config.focus.conv,
        segment_shape,
        false,
        &config.focus.hidden,
        1,
    );
    budget.check(
        "model.focus.hidden",
        show(&config.focus.hidden),
        "the focus network's weights, gradients and optimiser state",
        focus,
        BYTES_PER_PARAMETER,
    )?;
    let classifier = config
        .averaged_shape(segment_shape)
        .ok()
        .and_then(|averaged| {
            network_parameters(
                &config.classifier.conv,
                &averaged,
                config.classifier.global_pool,
                &config.classifier.hidden,
                n_classes,
            )
        });
    budget.check(
        "model.classifier.hidden",
        show(&config.classifier.hidden),
        "the classification network's weights, gradients and optimiser state",
        classifier,
        BYTES_PER_PARAMETER,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paper_models_fit_and_absurd_widths_are_named() {
        let budget = Budget::of(1 << 30);
        let config = ModelConfig::default();
        check(&config, &[5], 3, budget).expect("Architecture 2 is tiny");

        let mut huge = ModelConfig::default();
        huge.classifier.hidden = vec![usize::MAX];
        let err = check(&huge, &[5], 3, budget)
            .expect_err("overflow")
            .to_string();
        assert!(
            err.starts_with("model.classifier.hidden = [18446744073709551615] needs more than"),
            "{err}"
        );

        let mut wide = ModelConfig::default();
        wide.focus.hidden = vec![1_000_000_000];
        let err = check(&wide, &[5], 3, budget)
            .expect_err("too big")
            .to_string();
        assert!(
            err.starts_with("model.focus.hidden = [1000000000] needs"),
            "{err}"
        );
        assert!(
            err.contains("this machine has 1 GiB") || err.contains("1.0 GiB"),
            "{err}"
        );
    }
}
