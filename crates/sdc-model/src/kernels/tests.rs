use burn::tensor::{Device, FloatDType, Tensor, TensorData};

use super::*;

#[allow(deprecated)] // ndarray is this crate's reference CPU backend
fn cpu_devices() -> [Device; 2] {
    [Device::ndarray().autodiff(), Device::flex().autodiff()]
}

/// A `[n, c, h, w]` input of distinct-looking values with repeats (ties for the max-pool),
/// tracked for gradients on an autodiff device.
fn input(shape: [usize; 4], device: &Device, dtype: FloatDType) -> Tensor<4> {
    let len = shape.iter().product();
    let values: Vec<f32> = (0..len)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 4.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(values, shape), device).cast(dtype);
    if device.is_autodiff() {
        x.require_grad()
    } else {
        x
    }
}

/// Fixed weights for a scalar loss `sum(out * r)`, so every output's gradient differs.
fn weights<const D: usize>(like: &Tensor<D>) -> Tensor<D> {
    let dims = like.dims();
    let len = dims.iter().product();
    let values: Vec<f32> = (0..len)
        .map(|i| ((i * 13 % 7) as f32 - 3.0) / 2.0)
        .collect();
    Tensor::<D>::from_data(TensorData::new(values, dims), &like.device()).cast(like.dtype())
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.try_into_vec_as::<f64>().expect("a float tensor")
}

/// Each of `ours` within `tolerance * (1 + |reference|)` of `reference`, value by value, with as
/// many values; `names` name the vectors in the messages.
fn assert_close<const N: usize>(
    names: [&str; N],
    ours: &[Vec<f64>],
    reference: &[Vec<f64>],
    tolerance: f64,
    case: &str,
) {
    for (what, (got, want)) in names.iter().zip(ours.iter().zip(reference)) {
        assert_eq!(got.len(), want.len(), "{case} {what}: lengths");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= tolerance * (1.0 + w.abs()),
                "{case} {what}: {g} vs {w}"
            );
        }
    }
}

/// The output and the input gradient of `op` under the loss `sum(op(x) * r)`.
fn forward_backward<const D: usize>(
    x: &Tensor<4>,
    op: impl Fn(Tensor<4>) -> Tensor<D>,
) -> (Vec<f64>, Vec<f64>) {
    let out = op(x.clone());
    let grads = (out.clone() * weights(&out)).sum().backward();
    let dx = x.grad(&grads).expect("x is tracked");
    (values(out), values(dx))
}

/// Shapes and windows: the mosaic CNN's 2x2 pool and 3x3 convolutions, odd sides that floor,
/// padding, a kernel as wide as the padded input.
const CASES: [([usize; 4], usize, usize); 5] = [
    ([2, 3, 6, 8], 2, 0),
    ([2, 2, 7, 5], 2, 1),
    ([1, 2, 7, 7], 3, 1),
    ([3, 1, 5, 6], 3, 0),
    ([1, 1, 1, 1], 1, 0),
];

#[test]
fn im2col_and_its_gradient_match_burns_slices_and_stack() {
    for device in cpu_devices() {
        for (shape, kernel, padding) in CASES {
            for dtype in [FloatDType::F32, FloatDType::F64] {
                let x = input(shape, &device, dtype);
                let ours = forward_backward(&x, |x| im2col(x, kernel, padding));
                let burns = forward_backward(&x, |x| im2col_composed(x, kernel, padding));
                // Patches are copies, so equal bit for bit; each pixel's gradient sums the
                // same k*k terms in another order.
                assert_eq!(ours.0, burns.0, "{device:?} {shape:?} k{kernel} p{padding}");
                for (a, b) in ours.1.iter().zip(&burns.1) {
                    assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
                }
            }
        }
    }
}

#[test]
fn max_pool_and_its_gradient_match_burns_max_pool2d() {
    for device in cpu_devices() {
        for (shape, kernel, padding) in CASES {
            if 2 * padding > kernel {
                continue;
            }
            for dtype in [FloatDType::F32, FloatDType::F64] {
                // After ReLU, as in the networks: ties at zero in many windows.
                let x = input(shape, &device, dtype);
                let relu = |x: Tensor<4>| burn::tensor::activation::relu(x);
                let ours = forward_backward(&x, |x| max_pool(relu(x), kernel, padding));
                let burns = forward_backward(&x, |x| max_pool_composed(relu(x), kernel, padding));
                assert_eq!(
                    ours, burns,
                    "{device:?} {shape:?} k{kernel} p{padding} {dtype:?}"
                );
            }
        }
    }
}

#[test]
fn ndarray_and_flex_give_the_same_bits() {
    let [ndarray, flex] = cpu_devices();
    for (shape, kernel, padding) in CASES {
        let run = |device: &Device| {
            let x = input(shape, device, FloatDType::F32);
            (
                forward_backward(&x, |x| im2col(x, kernel, padding)),
                forward_backward(&x, |x| max_pool(x, kernel, kernel / 2)),
            )
        };
        assert_eq!(run(&ndarray), run(&flex), "{shape:?} k{kernel} p{padding}");
    }
}

#[test]
fn strided_views_and_untracked_tensors_run_the_kernels() {
    #[allow(deprecated)] // ndarray is this crate's reference CPU backend
    let devices = [Device::flex(), Device::ndarray()];
    for device in devices {
        // A transposed view: not contiguous in memory.
        let x = input([2, 3, 6, 4], &device, FloatDType::F32).swap_dims(2, 3);
        let contiguous = Tensor::<4>::from_data(x.to_data(), &device);
        assert_eq!(
            values(im2col(x.clone(), 3, 1)),
            values(im2col_composed(contiguous.clone(), 3, 1)),
            "{device:?}"
        );
        assert_eq!(
            values(max_pool(x, 2, 0)),
            values(max_pool_composed(contiguous, 2, 0)),
            "{device:?}"
        );
    }
}

#[test]
fn only_flex_and_ndarray_in_f32_or_f64_take_the_kernels() {
    let flex = Device::flex();
    assert!(use_kernels(&flex, DType::F32));
    assert!(use_kernels(&flex.clone().autodiff(), DType::F64));
    assert!(!use_kernels(&flex, DType::F16));
}

/// `relu(BatchStatNorm)` from Burn's operations, the reference for the fused kernel.
fn batch_norm_relu_composed(x: Tensor<4>, gamma: Tensor<1>, beta: Tensor<1>) -> Tensor<4> {
    let norm = crate::conv::BatchStatNorm {
        gamma: burn::module::Param::from_tensor(gamma),
        beta: burn::module::Param::from_tensor(beta),
    };
    burn::tensor::activation::relu(norm.forward(x))
}

/// Output and gradients (x, gamma, beta) of a BatchNorm-ReLU under `sum(out * r)`.
fn batch_norm_case(
    device: &Device,
    shape: [usize; 4],
    dtype: FloatDType,
    op: impl Fn(Tensor<4>, Tensor<1>, Tensor<1>) -> Tensor<4>,
) -> [Vec<f64>; 4] {
    let x = input(shape, device, dtype);
    let c = shape[1];
    let param = |values: Vec<f32>| {
        Tensor::<1>::from_data(TensorData::new(values, [c]), device)
            .cast(dtype)
            .require_grad()
    };
    let gamma = param((0..c).map(|i| 0.5 + i as f32 * 0.3).collect());
    let beta = param((0..c).map(|i| i as f32 * 0.2 - 0.1).collect());
    let out = op(x.clone(), gamma.clone(), beta.clone());
    let grads = (out.clone() * weights(&out)).sum().backward();
    let grad = |t: &Tensor<1>| values(t.grad(&grads).expect("tracked"));
    [
        values(out),
        values(x.grad(&grads).expect("tracked")),
        grad(&gamma),
        grad(&beta),
    ]
}

fn fused(x: Tensor<4>, gamma: Tensor<1>, beta: Tensor<1>) -> Tensor<4> {
    batch_norm_relu(x, gamma, beta, 1e-5, 0, 0).expect("a CPU device")
}

/// The values' bits, so that NaNs compare equal.
fn bits(values: &[Vec<f64>]) -> Vec<Vec<u64>> {
    values
        .iter()
        .map(|v| v.iter().map(|f| f.to_bits()).collect())
        .collect()
}

#[test]
fn batch_norm_relu_with_its_pool_is_the_two_kernels_bit_for_bit() {
    // Windows that tile the planes, that leave rows and columns out, padded ones, and a
    // kernel too wide to record choices (`host::MAX_CHOICE_KERNEL`: two kernels after all).
    let cases = [
        ([4, 3, 6, 8], 2, 0),
        ([2, 2, 7, 5], 2, 0),
        ([2, 2, 7, 5], 2, 1),
        ([3, 2, 8, 7], 3, 1),
        ([2, 3, 5, 6], 3, 0),
        ([2, 1, 17, 16], 16, 0),
    ];
    for device in cpu_devices() {
        for (shape, pool, padding) in cases {
            for dtype in [FloatDType::F32, FloatDType::F64] {
                for nan in [false, true] {
                    let case = |op: &dyn Fn(Tensor<4>, Tensor<1>, Tensor<1>) -> Tensor<4>| {
                        let op = |x: Tensor<4>, gamma, beta| {
                            // A NaN in the first channel of the second sample's first row.
                            let x = if nan {
                                let [_, _, _, w] = shape;
                                let mask =
                                    Tensor::<4>::zeros(shape, &x.device()).bool().slice_assign(
                                        [1..2, 0..1, 0..1, 0..w],
                                        Tensor::<4>::ones([1, 1, 1, w], &x.device()).bool(),
                                    );
                                x.mask_fill(mask, f64::NAN)
                            } else {
                                x
                            };
                            op(x, gamma, beta)
                        };
                        bits(&batch_norm_case(&device, shape, dtype, op))
                    };
                    let one = case(&|x, gamma, beta| {
                        batch_norm_relu(x, gamma, beta, 1e-5, pool, padding).expect("a CPU device")
                    });
                    let two =
                        case(&|x, gamma, beta| max_pool(fused(x, gamma, beta), pool, padding));
                    let what =
                        format!("{device:?} {shape:?} pool {pool} p{padding} {dtype:?} nan {nan}");
                    assert_eq!(one, two, "{what}");
                }
            }
        }
    }
}

#[test]
fn batch_norm_relu_and_its_gradients_match_burns_operations() {
    for device in cpu_devices() {
        // Pixels per plane below, at and above the kernel's eight lanes.
        for shape in [[4, 3, 5, 5], [2, 2, 2, 4], [3, 4, 1, 3]] {
            for dtype in [FloatDType::F32, FloatDType::F64] {
                let ours = batch_norm_case(&device, shape, dtype, fused);
                let burns = batch_norm_case(&device, shape, dtype, batch_norm_relu_composed);
                // In f64 the reference is the less exact one: Burn 0.22.1's autodiff takes the
                // gradient of `div_scalar(count)` as a product with `1 / count` rounded to f32
                // (a relative error up to 6e-8 in dx; where checked, the kernel's dx agreed with
                // PyTorch's f64 to 1e-15).
                let tolerance = if dtype == FloatDType::F32 { 2e-5 } else { 1e-7 };
                for (what, (a, b)) in ["output", "dx", "dgamma", "dbeta"]
                    .iter()
                    .zip(ours.iter().zip(&burns))
                {
                    for (a, b) in a.iter().zip(b) {
                        let scale = b.abs().max(1.0);
                        assert!(
                            (a - b).abs() <= tolerance * scale,
                            "{what} {device:?} {shape:?} {dtype:?}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn batch_norm_relu_is_the_same_on_ndarray_and_flex_and_keeps_nan() {
    let [ndarray, flex] = cpu_devices();
    let shape = [3, 2, 4, 5];
    assert_eq!(
        batch_norm_case(&ndarray, shape, FloatDType::F32, fused),
        batch_norm_case(&flex, shape, FloatDType::F32, fused)
    );
    let pooled = |x, gamma, beta| batch_norm_relu(x, gamma, beta, 1e-5, 2, 0).expect("a CPU");
    assert_eq!(
        batch_norm_case(&ndarray, shape, FloatDType::F32, pooled),
        batch_norm_case(&flex, shape, FloatDType::F32, pooled)
    );
    // A NaN input poisons its channel's statistics, so the whole channel is NaN, as in
    // Burn's own operations: a diverged run is never hidden by ReLU.
    let device = Device::flex();
    let mut x = vec![1.0f32; 2 * 2 * 3];
    x[0] = f32::NAN;
    let x = Tensor::<4>::from_data(TensorData::new(x, [2, 2, 1, 3]), &device);
    let ones = Tensor::<1>::ones([2], &device);
    let out = values(fused(x, ones.clone(), ones.zeros_like()));
    let nan = |mut range: std::ops::Range<usize>| range.all(|i| out[i].is_nan());
    assert!(nan(0..3) && nan(6..9), "{out:?}");
    assert!(!nan(3..6));
}

/// Output and input gradient of `op` on a `[4, 6]` input spanning the clamp (exactly ±20 and
/// beyond), zero, tiny and ordinary values, under `sum(op(x) * r)`.
fn tanh_case(
    device: &Device,
    dtype: FloatDType,
    op: impl Fn(Tensor<2>) -> Tensor<2>,
) -> (Vec<f64>, Vec<f64>) {
    let mut values_in: Vec<f32> = vec![-30.0, -20.0, -19.5, 20.0, 20.5, 1e9, 0.0, -0.0, 1e-8];
    values_in.extend((0..15).map(|i| (i as f32 - 7.0) * 0.77));
    let x = Tensor::<2>::from_data(TensorData::new(values_in, [4, 6]), device)
        .cast(dtype)
        .require_grad();
    let out = op(x.clone());
    let grads = (out.clone() * weights(&out)).sum().backward();
    (values(out), values(x.grad(&grads).expect("x is tracked")))
}

fn tanh_kernel(x: Tensor<2>) -> Tensor<2> {
    tanh(x).expect("a CPU device")
}

#[test]
fn tanh_and_its_gradient_are_burns_composition_bit_for_bit() {
    for device in cpu_devices() {
        for dtype in [FloatDType::F32, FloatDType::F64] {
            let ours = tanh_case(&device, dtype, tanh_kernel);
            let burns = tanh_case(&device, dtype, crate::nets::tanh_composed);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&ours.0), bits(&burns.0), "{device:?} {dtype:?} values");
            assert_eq!(
                bits(&ours.1),
                bits(&burns.1),
                "{device:?} {dtype:?} gradient"
            );
            // And it is tanh: within a few units in the last place of libm's.
            for (i, y) in ours.0.iter().enumerate().skip(9) {
                let x = (i as f64 - 9.0 - 7.0) * f64::from(0.77f32);
                assert!((y - x.tanh()).abs() < 1e-6, "{y} vs tanh({x})");
            }
        }
    }
}

#[test]
fn tanh_keeps_nan_and_runs_on_untracked_tensors() {
    let [ndarray, flex] = cpu_devices();
    assert_eq!(
        tanh_case(&ndarray, FloatDType::F32, tanh_kernel),
        tanh_case(&flex, FloatDType::F32, tanh_kernel)
    );
    let device = Device::flex();
    let x = Tensor::<1>::from_data(TensorData::new(vec![f32::NAN, 0.5], [2]), &device);
    let y = values(tanh(x).expect("a CPU device"));
    assert!(
        y[0].is_nan() && (y[1] - 0.5f64.tanh()).abs() < 1e-6,
        "{y:?}"
    );
}

/// `im2col`, Burn's `matmul` and broadcast `+`: the composition [`conv_bias`] replaces.
fn conv_bias_composed(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    padding: usize,
) -> Tensor<4> {
    let [o, c, k, _] = weight.dims();
    let [n, _, h, w] = x.dims();
    let (ho, wo) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let cols = im2col(x, k, padding);
    let out = weight.reshape([1, o, c * k * k]).matmul(cols) + bias.reshape([1, o, 1]);
    out.reshape([n, o, ho, wo])
}

/// The output and the gradients of `x`, the weights and the bias of `conv(x, w, b)` under the
/// loss `sum(out * r)`, as bits.
fn conv_case(
    device: &Device,
    (shape, kernel, padding): ([usize; 4], usize, usize),
    dtype: FloatDType,
    conv: impl Fn(Tensor<4>, Tensor<4>, Tensor<1>, usize) -> Tensor<4>,
) -> [Vec<u64>; 4] {
    let x = input(shape, device, dtype);
    let channels = 3;
    let weight = input([channels, shape[1], kernel, kernel], device, dtype);
    let bias: Vec<f32> = (0..channels).map(|i| i as f32 * 0.75 - 1.0).collect();
    let bias = Tensor::<1>::from_data(TensorData::new(bias, [channels]), device)
        .cast(dtype)
        .require_grad();
    let out = conv(x.clone(), weight.clone(), bias.clone(), padding);
    let grads = (out.clone() * weights(&out)).sum().backward();
    let bits = |v: Vec<f64>| v.into_iter().map(f64::to_bits).collect();
    [
        bits(values(out)),
        bits(values(x.grad(&grads).expect("x is tracked"))),
        bits(values(weight.grad(&grads).expect("weights are tracked"))),
        bits(values(bias.grad(&grads).expect("the bias is tracked"))),
    ]
}

#[test]
fn conv_bias_is_the_composition_bit_for_bit_in_halves_or_whole() {
    for device in cpu_devices() {
        // One sample (no halves), an odd batch, and the kernels' other cases.
        let cases = [([1, 2, 6, 5], 3, 1), ([5, 2, 6, 5], 3, 1)]
            .into_iter()
            .chain(
                CASES
                    .into_iter()
                    .filter(|&(shape, k, p)| shape[2] + 2 * p >= k),
            );
        for case in cases {
            for dtype in [FloatDType::F32, FloatDType::F64] {
                let burns = conv_case(&device, case, dtype, conv_bias_composed);
                // Runs of the patch matrix's size (the default at these sizes), of one sample
                // and of two.
                for (lend, run) in [true, false]
                    .into_iter()
                    .flat_map(|l| [(l, 0), (l, 1), (l, 2)])
                {
                    let _lending = sdc_io::cores::lending(lend);
                    let _any_size = halves::any_size();
                    let _runs = convolution::runs_of(run);
                    let ours = conv_case(&device, case, dtype, conv_bias);
                    for (what, (a, b)) in ["output", "dx", "dweight", "dbias"]
                        .iter()
                        .zip(ours.iter().zip(&burns))
                    {
                        let how = format!("lent {lend}, runs of {run}");
                        assert_eq!(a, b, "{what} {device:?} {case:?} {dtype:?} {how}");
                    }
                }
            }
        }
    }
}

/// An operation on images, for tests that run several.
type ImageOp = fn(Tensor<4>) -> Tensor<4>;

#[test]
fn every_kernel_gives_the_same_bits_in_halves_as_whole() {
    fn norm(x: Tensor<4>, pool: usize) -> Tensor<4> {
        let c = x.dims()[1];
        let device = x.device();
        let gamma = Tensor::<1>::from_data(TensorData::new(vec![1.5f32; c], [c]), &device);
        let beta = Tensor::<1>::from_data(TensorData::new(vec![0.25f32; c], [c]), &device);
        batch_norm_relu(x, gamma, beta, 1e-5, pool, 0).expect("a CPU device")
    }
    let ops: [(&str, ImageOp); 5] = [
        ("im2col", |x| {
            let [n, c, h, w] = x.dims();
            im2col(x, 3, 1).reshape([n, c * 9, h, w])
        }),
        ("max_pool", |x| max_pool(x, 2, 0)),
        ("batch_norm_relu", |x| norm(x, 0)),
        ("batch_norm_relu with a pool", |x| norm(x, 2)),
        ("tanh", |x| tanh(x).expect("a CPU device")),
    ];
    for device in cpu_devices() {
        for shape in [[5, 3, 6, 8], [2, 1, 7, 5], [1, 2, 4, 4]] {
            let x = input(shape, &device, FloatDType::F32);
            for (name, op) in ops {
                let whole = {
                    let _lending = sdc_io::cores::lending(false);
                    forward_backward(&x, op)
                };
                let _lending = sdc_io::cores::lending(true);
                let _any_size = halves::any_size();
                let halves = forward_backward(&x, op);
                let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&halves.0),
                    bits(&whole.0),
                    "{name} {device:?} {shape:?}"
                );
                assert_eq!(
                    bits(&halves.1),
                    bits(&whole.1),
                    "{name} {device:?} {shape:?}"
                );
            }
        }
    }
}

/// A `[dims]` tensor of distinct-looking values, tracked on an autodiff device.
fn tracked<const D: usize>(
    dims: [usize; D],
    salt: usize,
    device: &Device,
    dtype: FloatDType,
) -> Tensor<D> {
    let len = dims.iter().product();
    let values: Vec<f32> = (0..len)
        .map(|i| (((i + salt) * 29 % 19) as f32 - 9.0) / 6.0)
        .collect();
    let t = Tensor::<D>::from_data(TensorData::new(values, dims), device).cast(dtype);
    if device.is_autodiff() {
        t.require_grad()
    } else {
        t
    }
}

/// The output and the gradients (inputs, weights, bias) of one dense layer (followed by ReLU
/// when `relu`) under `sum(out * r)`, by the kernel on `device` or by Burn's matrix product
/// and `relu` on `reference`.
fn dense_case(
    [r, i, o, n]: [usize; 4],
    device: &Device,
    dtype: FloatDType,
    composed: bool,
    relu: bool,
) -> [Vec<f64>; 4] {
    let x = tracked([r, i, n], 1, device, dtype);
    let w = tracked([r, i, o], 2, device, dtype);
    let b = tracked([r, 1, o], 3, device, dtype);
    let out = if composed {
        let pre = w.clone().swap_dims(1, 2).matmul(x.clone()) + b.clone().swap_dims(1, 2);
        if relu {
            burn::tensor::activation::relu(pre)
        } else {
            pre
        }
    } else {
        dense_features(x.clone(), w.clone(), Some(b.clone()), relu)
    };
    let grads = (out.clone() * weights(&out)).sum().backward();
    let grad = |t: &Tensor<3>| values(t.grad(&grads).expect("tracked"));
    [values(out), grad(&x), grad(&w), grad(&b)]
}

#[test]
fn dense_layers_are_the_matrix_product_and_the_same_bits_on_both_cpu_backends() {
    // The MLPs' shapes (5-6-12-1 on a mini-batch's segments), a row count that is no multiple
    // of the kernels' chunks, several models, one row.
    let shapes = [
        [1, 5, 6, 2250],
        [3, 12, 1, 37],
        [2, 6, 12, 250],
        [1, 1, 1, 1],
    ];
    for dtype in [FloatDType::F32, FloatDType::F64] {
        let tolerance = if dtype == FloatDType::F32 {
            1e-4
        } else {
            1e-12
        };
        for (shape, relu) in shapes.into_iter().flat_map(|s| [(s, false), (s, true)]) {
            let [ndarray, flex] = cpu_devices();
            let ours = dense_case(shape, &flex, dtype, false, relu);
            assert_eq!(
                dense_case(shape, &ndarray, dtype, false, relu),
                ours,
                "{shape:?} {dtype:?}: ndarray and flex differ"
            );
            let reference = dense_case(shape, &flex, FloatDType::F64, true, relu);
            let case = format!("{shape:?} relu {relu} {dtype:?}");
            assert_close(
                ["out", "dx", "dw", "db"],
                &ours,
                &reference,
                tolerance,
                &case,
            );
        }
    }
}

#[test]
fn a_dense_layer_without_bias_or_autodiff_is_the_matrix_product() {
    let device = Device::flex();
    let x = tracked([2, 3, 40], 4, &device, FloatDType::F32);
    let w = tracked([2, 3, 4], 5, &device, FloatDType::F32);
    let ours = values(dense_features(x.clone(), w.clone(), None, false));
    let want = values(w.swap_dims(1, 2).matmul(x));
    assert_eq!(ours.len(), want.len());
    for (g, w) in ours.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{g} vs {w}");
    }
}

/// The weights and the score and vector gradients of the attention head (softmax, then the
/// weighted average) under `sum(out * r) + sum(alpha * r')`, for scores `[r b, m]` and vectors
/// `[r, w, b m]`: by the kernels on `device`, or by Burn's operations (`reference`).
fn attention_case(
    [r, b, m, w]: [usize; 4],
    device: &Device,
    dtype: FloatDType,
    reference: bool,
) -> [Vec<f64>; 4] {
    let z = tracked([r * b, m], 6, device, dtype);
    let x = tracked([r, w, b * m], 7, device, dtype);
    let (alpha, out) = if reference {
        let alpha = burn::tensor::activation::softmax(z.clone(), 1).reshape([r, b, m]);
        let out = (x.clone().reshape([r, w, b, m]) * alpha.clone().unsqueeze_dim::<4>(1))
            .sum_dim(3)
            .reshape([r, w, b]);
        (alpha, out)
    } else {
        let alpha = softmax(z.clone()).expect("a CPU device").reshape([r, b, m]);
        (alpha.clone(), weighted_average_features(alpha, x.clone()))
    };
    let loss = (out.clone() * weights(&out)).sum() + (alpha.clone() * weights(&alpha)).sum();
    let grads = loss.backward();
    let grad_z = values(z.grad(&grads).expect("tracked"));
    let grad_x = values(x.grad(&grads).expect("tracked"));
    [values(alpha), values(out), grad_z, grad_x]
}

#[test]
fn the_attention_head_is_burns_softmax_and_average_and_the_same_bits_on_both_cpu_backends() {
    for dtype in [FloatDType::F32, FloatDType::F64] {
        let tolerance = if dtype == FloatDType::F32 {
            1e-5
        } else {
            1e-13
        };
        for shape in [[2, 250, 9, 5], [1, 3, 1, 1], [3, 7, 4, 12]] {
            let [ndarray, flex] = cpu_devices();
            let ours = attention_case(shape, &flex, dtype, false);
            assert_eq!(
                attention_case(shape, &ndarray, dtype, false),
                ours,
                "{shape:?} {dtype:?}: ndarray and flex differ"
            );
            let reference = attention_case(shape, &flex, FloatDType::F64, true);
            let case = format!("{shape:?} {dtype:?}");
            let names = ["alpha", "average", "dz", "dx"];
            assert_close(names, &ours, &reference, tolerance, &case);
        }
    }
}

#[test]
fn the_row_major_average_is_the_feature_major_one_bit_for_bit() {
    let device = Device::flex();
    let (r, b, m, w) = (2, 5, 9, 3);
    let alpha = tracked([r * b, m], 8, &device, FloatDType::F32);
    let rows = tracked([r * b, m, w], 9, &device, FloatDType::F32);
    let by_rows = weighted_average(alpha.clone(), rows.clone()).expect("a CPU device");
    // [r b, m, w] -> [r, w, b m]
    let cols = rows.reshape([r, b * m, w]).swap_dims(1, 2);
    let by_cols = weighted_average_features(alpha.reshape([r, b, m]), cols);
    // [r, w, b] -> [r b, w]
    assert_eq!(
        values(by_rows),
        values(by_cols.swap_dims(1, 2).reshape([r * b, w]))
    );
}

#[test]
fn swapping_the_last_axes_is_burns_swap_dims_with_its_gradient() {
    for device in cpu_devices() {
        for dims in [[2, 2250, 5], [3, 40, 37], [1, 1, 1]] {
            let x = tracked(dims, 10, &device, FloatDType::F32);
            let ours = swap_last(x.clone());
            assert_eq!(values(ours.clone()), values(x.clone().swap_dims(1, 2)));
            let grads = (ours.clone() * weights(&ours)).sum().backward();
            let want = weights(&ours).swap_dims(1, 2);
            assert_eq!(values(x.grad(&grads).expect("tracked")), values(want));
        }
    }
}
