//! The backward passes of [`KernelOps`], recorded on Burn's autodiff graph.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::{AutodiffBackend, Backend, TensorMetadata, tensor::FloatTensor};

use super::{AdamScalars, ConvGeometry, KernelOps};

/// The backward pass of a one-input operation: `input_grad(grad, state)` registered on the
/// input, where the input is tracked.
fn backward_unary<B: Backend, S>(
    ops: Ops<S, 1>,
    grads: &mut Gradients,
    input_grad: impl FnOnce(FloatTensor<B>, S) -> FloatTensor<B>,
) {
    let [parent] = ops.parents;
    let grad = grads.consume::<B>(&ops.node);
    if let Some(node) = parent {
        grads.register::<B>(node.id, input_grad(grad, ops.state));
    }
}

/// `im2col`'s backward pass: the patch gradient added back onto the pixels (`col2im`).
#[derive(Debug)]
struct Im2col;

/// `[c, h, w]` of the input, kernel, padding.
type ConvState = ([usize; 3], usize, usize);

impl<B: Backend + KernelOps> Backward<B, 1> for Im2col {
    type State = ConvState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward_unary::<B, _>(ops, grads, |grad, ([c, h, w], kernel, padding)| {
            B::col2im(grad, c, h, w, kernel, padding)
        });
    }
}

/// `col2im`'s backward pass: its adjoint, `im2col`.
#[derive(Debug)]
struct Col2im;

impl<B: Backend + KernelOps> Backward<B, 1> for Col2im {
    type State = (usize, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward_unary::<B, _>(ops, grads, |grad, (kernel, padding)| {
            B::im2col(grad, kernel, padding)
        });
    }
}

/// The backward pass of a one-input operation whose state is its checkpointed input and `T`:
/// `input_grad(x, grad, t)` registered on the input.
fn backward_from_input<B: Backend, T>(
    ops: Ops<(NodeId, T), 1>,
    grads: &mut Gradients,
    checkpointer: &mut Checkpointer,
    input_grad: impl FnOnce(FloatTensor<B>, FloatTensor<B>, T) -> FloatTensor<B>,
) {
    let [parent] = ops.parents;
    let grad = grads.consume::<B>(&ops.node);
    let (x_state, t) = ops.state;
    let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
    if let Some(node) = parent {
        grads.register::<B>(node.id, input_grad(x, grad, t));
    }
}

/// Registers each gradient on its parent where the parent is tracked; `id` reads a parent's
/// node id (Burn's node type is private to burn-autodiff, so it is never named here).
fn register_each<B: Backend, P, const N: usize>(
    grads: &mut Gradients,
    parents: [Option<P>; N],
    tensors: [FloatTensor<B>; N],
    id: impl Fn(&P) -> NodeId,
) {
    for (parent, grad) in parents.into_iter().zip(tensors) {
        if let Some(node) = parent {
            grads.register::<B>(id(&node), grad);
        }
    }
}

/// `max_pool`'s backward pass: each output's gradient to the input it came from.
#[derive(Debug)]
struct MaxPool;

impl<B: Backend + KernelOps> Backward<B, 1> for MaxPool {
    /// The input (checkpointed), kernel and padding.
    type State = (NodeId, (usize, usize));

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        backward_from_input::<B, _>(ops, grads, checkpointer, |x, grad, (kernel, padding)| {
            B::max_pool_backward(x, grad, kernel, padding)
        });
    }
}

/// `batch_norm_relu`'s backward pass, to the input, the scale and the shift.
#[derive(Debug)]
struct BatchNormRelu;

impl<B: Backend + KernelOps> Backward<B, 3> for BatchNormRelu {
    /// The input (checkpointed), gamma, beta, the batch statistics, the pool windows'
    /// choices, and the pool's kernel and padding.
    type State = (NodeId, [FloatTensor<B>; 4], (usize, usize));

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [x_parent, gamma_parent, beta_parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, [gamma, beta, stats, choice], (pool, pool_padding)) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let (dx, dgamma, dbeta) =
            B::batch_norm_relu_backward(x, gamma, beta, stats, choice, grad, pool, pool_padding);
        let parents = [x_parent, gamma_parent, beta_parent];
        register_each::<B, _, 3>(grads, parents, [dx, dgamma, dbeta], |node| node.id);
    }
}

/// `conv_bias`'s backward pass, to the input, the weights and the bias.
#[derive(Debug)]
struct ConvBias;

impl<B: Backend + KernelOps> Backward<B, 3> for ConvBias {
    /// The input, the weights as `[1, o, c k k]`, and the input's geometry.
    type State = (FloatTensor<B>, FloatTensor<B>, ConvGeometry);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_parent, weight_parent, bias_parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (input, weight_rows, geometry) = ops.state;
        let want_x = x_parent.is_some();
        let (dx, dweight, dbias) =
            B::conv_bias_backward(input, weight_rows, grad, geometry, want_x);
        let parents = [x_parent, weight_parent, bias_parent];
        register_each::<B, _, 3>(grads, parents, [dx, dweight, dbias], |node| node.id);
    }
}

/// `dense`'s backward pass, to the inputs, the weights and the bias.
#[derive(Debug)]
struct Dense;

impl<B: Backend + KernelOps> Backward<B, 3> for Dense {
    /// The inputs, the weights and, for a layer followed by ReLU, its output.
    type State = (FloatTensor<B>, FloatTensor<B>, Option<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_parent, weight_parent, bias_parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, weight, output) = ops.state;
        let want_x = x_parent.is_some();
        let relu = output.is_some();
        // Without ReLU the output is not read; the gradient stands in.
        let output = output.unwrap_or_else(|| grad.clone());
        let (dx, dweight, dbias) = B::dense_backward(x, weight, output, grad, want_x, relu);
        let parents = [x_parent, weight_parent, bias_parent];
        register_each::<B, _, 3>(grads, parents, [dx, dweight, dbias], |node| node.id);
    }
}

/// `swap_last`'s backward pass: the gradient swapped back.
#[derive(Debug)]
struct SwapLast;

impl<B: Backend + KernelOps> Backward<B, 1> for SwapLast {
    type State = ();

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward_unary::<B, _>(ops, grads, |grad, ()| B::swap_last(grad));
    }
}

/// `softmax`'s backward pass.
#[derive(Debug)]
struct Softmax;

impl<B: Backend + KernelOps> Backward<B, 1> for Softmax {
    /// The scores and the weights.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward_unary::<B, _>(ops, grads, |grad, (z, alpha)| {
            B::softmax_rows_backward(z, alpha, grad)
        });
    }
}

/// `weighted_average`'s backward pass.
#[derive(Debug)]
struct WeightedAverage;

impl<B: Backend + KernelOps> Backward<B, 2> for WeightedAverage {
    /// The weights, the vectors and their layout.
    type State = (FloatTensor<B>, FloatTensor<B>, bool);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [alpha_parent, x_parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (alpha, x, feature_major) = ops.state;
        let want = [alpha_parent.is_some(), x_parent.is_some()];
        let (dalpha, dx) = B::weighted_average_backward(alpha, x, grad, feature_major, want);
        register_each::<B, _, 2>(grads, [alpha_parent, x_parent], [dalpha, dx], |node| {
            node.id
        });
    }
}

/// `tanh`'s backward pass.
#[derive(Debug)]
struct Tanh;

impl<B: Backend + KernelOps> Backward<B, 1> for Tanh {
    /// The input (checkpointed) and `exp(2 clamp(x))` from the forward pass.
    type State = (NodeId, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        backward_from_input::<B, _>(ops, grads, checkpointer, |x, grad, exp2| {
            B::tanh_backward(x, exp2, grad)
        });
    }
}

impl<B: Backend + KernelOps, C: CheckpointStrategy> KernelOps for Autodiff<B, C> {
    fn im2col(x: FloatTensor<Self>, kernel: usize, padding: usize) -> FloatTensor<Self> {
        let shape = x.primitive().shape();
        let chw = [shape[1], shape[2], shape[3]];
        match Im2col.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(
                (chw, kernel, padding),
                B::im2col(x.into_primitive(), kernel, padding),
            ),
            OpsKind::UnTracked(prep) => prep.finish(B::im2col(x.into_primitive(), kernel, padding)),
        }
    }

    fn col2im(
        cols: FloatTensor<Self>,
        channels: usize,
        height: usize,
        width: usize,
        kernel: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let run = |cols| B::col2im(cols, channels, height, width, kernel, padding);
        match Col2im
            .prepare::<C>([cols.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((kernel, padding), run(cols.into_primitive())),
            OpsKind::UnTracked(prep) => prep.finish(run(cols.into_primitive())),
        }
    }

    fn max_pool(x: FloatTensor<Self>, kernel: usize, padding: usize) -> FloatTensor<Self> {
        match MaxPool.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let out = B::max_pool(x.into_primitive(), kernel, padding);
                prep.finish((x_state, (kernel, padding)), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::max_pool(x.into_primitive(), kernel, padding))
            }
        }
    }

    fn max_pool_backward(
        _x: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _kernel: usize,
        _padding: usize,
    ) -> FloatTensor<Self> {
        unreachable!("sdc never differentiates a max-pool's backward pass")
    }

    fn batch_norm_relu(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
        pool: usize,
        pool_padding: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let nodes = [x.node(), gamma.node(), beta.node()];
        let inner = |t: FloatTensor<B>| Autodiff::<B, C>::from_inner(t);
        match BatchNormRelu.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let (gamma, beta) = (gamma.into_primitive(), beta.into_primitive());
                let (y, stats, choice) = B::batch_norm_relu(
                    x.into_primitive(),
                    gamma.clone(),
                    beta.clone(),
                    eps,
                    pool,
                    pool_padding,
                );
                let saved = [gamma, beta, stats.clone(), choice.clone()];
                let y = prep.finish((x_state, saved, (pool, pool_padding)), y);
                (y, inner(stats), inner(choice))
            }
            OpsKind::UnTracked(prep) => {
                let (y, stats, choice) = B::batch_norm_relu(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    eps,
                    pool,
                    pool_padding,
                );
                (prep.finish(y), inner(stats), inner(choice))
            }
        }
    }

    fn batch_norm_relu_backward(
        _x: FloatTensor<Self>,
        _gamma: FloatTensor<Self>,
        _beta: FloatTensor<Self>,
        _stats: FloatTensor<Self>,
        _choice: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _pool: usize,
        _pool_padding: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("sdc never differentiates a BatchNorm's backward pass")
    }

    fn tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match Tanh.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let (y, exp2) = B::tanh_keeping_exp(x.into_primitive());
                prep.finish((x_state, exp2), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::tanh(x.into_primitive())),
        }
    }

    fn conv_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let shape = x.primitive().shape();
        let geometry = ConvGeometry {
            chw: [shape[1], shape[2], shape[3]],
            kernel: weight.primitive().shape()[2],
            padding,
        };
        let nodes = [x.node(), weight.node(), bias.node()];
        let run = |x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>| {
            B::conv_bias(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                padding,
            )
        };
        let (out, input, weight_rows) =
            match ConvBias.prepare::<C>(nodes).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let (out, input, weight_rows) = run(x, weight, bias);
                    let state = (input.clone(), weight_rows.clone(), geometry);
                    (prep.finish(state, out), input, weight_rows)
                }
                OpsKind::UnTracked(prep) => {
                    let (out, input, weight_rows) = run(x, weight, bias);
                    (prep.finish(out), input, weight_rows)
                }
            };
        (out, Self::from_inner(input), Self::from_inner(weight_rows))
    }

    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        match Dense.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (x, weight) = (x.into_primitive(), weight.into_primitive());
                let out = B::dense(x.clone(), weight.clone(), bias.into_primitive(), relu);
                prep.finish((x, weight, relu.then(|| out.clone())), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::dense(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                relu,
            )),
        }
    }

    fn swap_last(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match SwapLast.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((), B::swap_last(x.into_primitive())),
            OpsKind::UnTracked(prep) => prep.finish(B::swap_last(x.into_primitive())),
        }
    }

    fn softmax_rows(z: FloatTensor<Self>) -> FloatTensor<Self> {
        match Softmax.prepare::<C>([z.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let z = z.into_primitive();
                let alpha = B::softmax_rows(z.clone());
                prep.finish((z, alpha.clone()), alpha)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::softmax_rows(z.into_primitive())),
        }
    }

    fn softmax_rows_backward(
        _z: FloatTensor<Self>,
        _alpha: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        unreachable!("sdc never differentiates the softmax's backward pass")
    }

    fn weighted_average(
        alpha: FloatTensor<Self>,
        x: FloatTensor<Self>,
        feature_major: bool,
    ) -> FloatTensor<Self> {
        let nodes = [alpha.node(), x.node()];
        match WeightedAverage
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (alpha, x) = (alpha.into_primitive(), x.into_primitive());
                let out = B::weighted_average(alpha.clone(), x.clone(), feature_major);
                prep.finish((alpha, x, feature_major), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::weighted_average(
                alpha.into_primitive(),
                x.into_primitive(),
                feature_major,
            )),
        }
    }

    fn weighted_average_backward(
        _alpha: FloatTensor<Self>,
        _x: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _feature_major: bool,
        _want: [bool; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("sdc never differentiates a weighted average's backward pass")
    }

    fn dense_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _output: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _want_x: bool,
        _relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("sdc never differentiates a dense layer's backward pass")
    }

    fn conv_bias_backward(
        _input: FloatTensor<Self>,
        _weight_rows: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _geometry: ConvGeometry,
        _want_x: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("sdc never differentiates a convolution's backward pass")
    }

    fn tanh_keeping_exp(_x: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("the Autodiff backend's tanh keeps its exponentials itself")
    }

    fn tanh_backward(
        _x: FloatTensor<Self>,
        _exp2: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        unreachable!("sdc never differentiates tanh's backward pass")
    }

    fn adam_step(
        _param: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _m1: FloatTensor<Self>,
        _m2: FloatTensor<Self>,
        _first: bool,
        _scalars: AdamScalars,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("`kernels::adam_step` takes tensors without autodiff")
    }
}
