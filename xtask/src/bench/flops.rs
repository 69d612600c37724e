//! The arithmetic of one training step, for the report's *limit* column: floating-point
//! operations per training mosaic in the matrix products and convolutions of the focus and
//! classification networks.
//!
//! Convention: a multiply-add is 2 operations; forward + backward is 3 times the forward
//! (the backward pass takes one product for the input gradient and one for the weight
//! gradient per forward product). Element-wise work (activations, BatchNorm, softmax,
//! max-pool, Adam) is not counted: it is small next to the products and bounded by memory,
//! not arithmetic.

use sdc_model::{ConvLayerConfig, ModelConfig};

/// Forward multiply-add operations (x2) of one network on one input of `input_shape`: its
/// convolutions, then its dense layers to `outputs`. `None` when the shapes do not fit.
fn network_forward(
    convs: &[ConvLayerConfig],
    global_pool: bool,
    hidden: &[usize],
    outputs: usize,
    input_shape: &[usize],
) -> Option<f64> {
    let mut flops = 0.0;
    let dense_in = if convs.is_empty() {
        input_shape.iter().product::<usize>()
    } else {
        let mut shape = match *input_shape {
            [c, h, w] => [c, h, w],
            [h, w] => [1, h, w],
            _ => return None,
        };
        for layer in convs {
            let (conv, pooled) = layer.shapes(shape).ok()?;
            let [o, ho, wo] = conv;
            flops += 2.0 * (shape[0] * layer.kernel * layer.kernel * o * ho * wo) as f64;
            shape = pooled;
        }
        if global_pool {
            shape[0]
        } else {
            shape.iter().product()
        }
    };
    let mut widths = vec![dense_in];
    widths.extend_from_slice(hidden);
    widths.push(outputs);
    flops += widths
        .windows(2)
        .map(|w| 2.0 * (w[0] * w[1]) as f64)
        .sum::<f64>();
    Some(flops)
}

/// Operations of forward + backward for one mosaic of `m` segments of `segment_shape` with
/// `n_classes` classes: the focus network on every segment, the classifier on the average.
pub(crate) fn training_flops_per_mosaic(
    config: &ModelConfig,
    segment_shape: &[usize],
    m: usize,
    n_classes: usize,
) -> Option<f64> {
    let focus = network_forward(
        &config.focus.conv,
        false,
        &config.focus.hidden,
        1,
        segment_shape,
    )?;
    let averaged = config.averaged_shape(segment_shape).ok()?;
    let classifier = network_forward(
        &config.classifier.conv,
        config.classifier.global_pool,
        &config.classifier.hidden,
        n_classes,
        &averaged,
    )?;
    Some(3.0 * (m as f64 * focus + classifier))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::models::BenchModel;

    #[test]
    fn architecture_2_at_layer_0_is_about_7_kflop_per_mosaic() {
        // focus 5-6-12-1 on 9 segments: 2 (30 + 72 + 12) * 9 = 2052; classifier 5-6-12-3:
        // 2 (30 + 72 + 36) = 276; forward + backward: 3 * 2328.
        let config = BenchModel::SyntheticLayer0.base_config().expect("config");
        let flops = training_flops_per_mosaic(&config.model, &[5], 9, 3).expect("fits");
        assert_eq!(flops, 3.0 * 2328.0);
        // Layer 1: the classifier reads the 6 tanh features: 2 (36 + 72 + 36) = 288.
        let config = BenchModel::SyntheticLayer1.base_config().expect("config");
        let flops = training_flops_per_mosaic(&config.model, &[5], 9, 3).expect("fits");
        assert_eq!(flops, 3.0 * (2052.0 + 288.0));
    }

    #[test]
    fn convolutions_count_every_output_pixel() {
        let config = BenchModel::MnistMosaic.base_config().expect("config");
        // focus: conv 1->8 3x3 on 28x28 -> 26x26, pool -> 13x13; conv 8->16 -> 11x11, pool 5x5;
        // dense 400-32-1.
        let focus = 2.0 * (9.0 * 8.0 * 676.0 + 72.0 * 16.0 * 121.0) + 2.0 * (400.0 * 32.0 + 32.0);
        // classifier (padding 1): conv 1->8 on 28x28 -> 28x28, pool 14x14; conv 8->16 -> 14x14,
        // pool 7x7; dense 784-32-n_classes.
        let classifier =
            2.0 * (9.0 * 8.0 * 784.0 + 72.0 * 16.0 * 196.0) + 2.0 * (784.0 * 32.0 + 32.0 * 3.0);
        let flops = training_flops_per_mosaic(&config.model, &[1, 28, 28], 9, 3).expect("fits");
        assert_eq!(flops, 3.0 * (9.0 * focus + classifier));
    }

    #[test]
    fn the_papers_cifar_cnns_take_about_6_gflop_per_mosaic() {
        let config = BenchModel::Cifar10Mosaic.base_config().expect("config");
        // focus (no padding but the last conv): 3->32 30x30, 32->64 28x28 pool 14, 64->64 12x12,
        // 64->128 10x10 pool 5, 128->256 3x3, 256->256 (padding 1) 3x3 pool 1; dense 256-64-32-10-1.
        let conv = |c_in: f64, c_out: f64, side: f64| 2.0 * 9.0 * c_in * c_out * side * side;
        let focus = conv(3.0, 32.0, 30.0)
            + conv(32.0, 64.0, 28.0)
            + conv(64.0, 64.0, 12.0)
            + conv(64.0, 128.0, 10.0)
            + conv(128.0, 256.0, 3.0)
            + conv(256.0, 256.0, 3.0)
            + 2.0 * (256.0 * 64.0 + 64.0 * 32.0 + 32.0 * 10.0 + 10.0);
        // classifier (padding 1, pools with padding 1): 32x32, pool 17x17, pool 9x9; global
        // average pool, dense 512-128-3.
        let classifier = conv(3.0, 128.0, 32.0)
            + conv(128.0, 128.0, 32.0)
            + conv(128.0, 256.0, 17.0)
            + conv(256.0, 256.0, 17.0)
            + conv(256.0, 512.0, 9.0)
            + conv(512.0, 512.0, 9.0)
            + 2.0 * (512.0 * 128.0 + 128.0 * 3.0);
        let flops = training_flops_per_mosaic(&config.model, &[3, 32, 32], 9, 3).expect("fits");
        assert_eq!(flops, 3.0 * (9.0 * focus + classifier));
        assert!((5.5e9..6.5e9).contains(&flops), "{flops:e}");
    }
}
