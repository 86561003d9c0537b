"""BiT ResNet-v2 (GroupNorm + Weight Standardisation) in plain tf_keras (Keras 2).

Why a native model: the official TF2 code overrides a private Keras attribute that current
Keras no longer has, and its loader hard-codes 21,843 classes. This module rebuilds the
architecture of docs/models.md (and /work/shared/reference/bit-recipe.md) from public
Keras API only, as a functional model whose layer names ARE the official .npz names, so
loading and saving official weights is a plain name lookup (see `official_variables`).

Layout (F = bottleneck width of the block, wf = width factor):
  root:  zero-pad 3, 7x7/2 conv 64*wf (no bias), zero-pad 1, 3x3/2 max-pool. No norm/act.
  unit:  x' = relu(GN_a(x)); shortcut = proj(x') on each block's first unit, else x;
         a = conv1x1 F (x'); b = conv3x3 F, stride s, zero-pad 1 (relu(GN_b(a)));
         c = conv1x1 4F (relu(GN_c(b))); out = c + shortcut.
  blocks: F = 64*wf, 128*wf, 256*wf, 512*wf; stride (1, 2, 2, 2) on the first unit's 3x3.
  head:  GN, ReLU, global average pool (pre-logits, 2048*wf), Dense zero-initialised.

The model returned by `build` takes images scaled to [-1, 1] (what the .npz weights were
trained on); `bit_tfx.models.bit.factory` wraps it so callers feed [0, 1].
"""
import contextlib
import contextvars
import functools
import re
from typing import Dict, Optional, Tuple

import tensorflow as tf
import tf_keras as keras

from . import archs
from .archs import Arch, ArchError  # noqa: F401  (the model's API)

# Official .npz prefix; every native variable maps to PREFIX + layer name + "/" + weight.
PREFIX = "resnet/"
HEAD_NAME = "head/conv2d"          # the official head is stored as a 1x1 conv
PRE_LOGITS_NAME = "pre_logits"
GN_GROUPS = 32
GN_EPSILON = 1e-5
WS_EPSILON = 1e-10
STRIDES = (1, 2, 2, 2)
SCALING_LAYER = "bit_input_scaling"  # the first layer of a model that takes [0, 1]


def get_arch(name) -> Arch:
    """'R50x1' .. 'R152x4' (case-insensitive) or a smoke variant ('tiny', 'small'): a row
    of the one architecture table (archs.py)."""
    return archs.get(name)


def arch_from_shapes(shapes: Dict[str, Tuple[int, ...]]) -> Arch:
    """The architecture that an official-naming weight dict was saved from.

    Width from the root conv's filters, depth from the unit names of each block. Returns a
    named Arch when it matches one, else an anonymous one (e.g. a custom smoke model).
    """
    root = shapes.get(PREFIX + "root_block/standardized_conv2d/kernel")
    if root is None or len(root) != 4:
        raise ArchError("cannot infer the architecture: no resnet/root_block/"
                        "standardized_conv2d/kernel array with 4 dimensions")
    width = root[3] / 64
    units = []
    for b in range(1, 5):
        pat = re.compile(rf"^{PREFIX}block{b}/unit(\d+)/c/standardized_conv2d/kernel$")
        units.append(sum(1 for n in shapes if pat.match(n)))
    units = tuple(units)
    for arch in archs.ARCHITECTURES.values():
        if arch.units == units and arch.width == width:
            return arch
    if min(units) < 1:
        raise ArchError(f"cannot infer the architecture: units per block {units}")
    return Arch(f"custom-{'-'.join(map(str, units))}-w{width:g}", units, width, smoke=True)


# --- layers ---------------------------------------------------------------------------

def standardize_kernel_moments(kernel):
    """The straightforward weight standardisation: tf.nn.moments, then (w - mean) / std."""
    mean, var = tf.nn.moments(kernel, axes=[0, 1, 2], keepdims=True)
    return (kernel - mean) / tf.sqrt(var + WS_EPSILON)


def standardize_kernel_fused(kernel):
    """Same maths, one centring pass reused for the variance and a multiply by rsqrt."""
    centred = kernel - tf.reduce_mean(kernel, axis=[0, 1, 2], keepdims=True)
    var = tf.reduce_mean(tf.square(centred), axis=[0, 1, 2], keepdims=True)
    return centred * tf.math.rsqrt(var + WS_EPSILON)


def _stats_dtype(dtype):
    """Statistics in float32 for 16-bit compute (mixed precision), else the compute dtype."""
    return tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype


WS_FORMULATIONS = {"moments": standardize_kernel_moments, "fused": standardize_kernel_fused}
# The library default. bench/model_speed.py (docs/models.md, "Benchmark") measured no
# speed difference between the two (WS is ~0.1 % of a training step's FLOPs) and equal
# distance to a float64 run, so the straightforward formulation stays.
DEFAULT_WS = "moments"


class StandardizedConv2D(keras.layers.Conv2D):
    """Conv2D whose kernel is standardised per output channel on every call.

    w_hat = (w - mean) / sqrt(var + 1e-10), mean/var over (h, w, in). The stored variable is
    the raw kernel (as in the official files). Only the public `convolution_op` is
    overridden. Under mixed precision the statistics are computed in float32.
    """

    def __init__(self, *args, ws="default", **kwargs):
        super().__init__(*args, **kwargs)
        self.ws = DEFAULT_WS if ws == "default" else ws
        if self.ws not in WS_FORMULATIONS:
            raise ArchError(f"unknown weight standardisation {ws!r}: {sorted(WS_FORMULATIONS)}")

    def convolution_op(self, inputs, kernel):
        # `kernel` may be an AutoCastVariable (reports float32, reads as the compute dtype).
        k = WS_FORMULATIONS[self.ws](tf.cast(kernel, _stats_dtype(inputs.dtype)))
        return super().convolution_op(inputs, tf.cast(k, inputs.dtype))

    def get_config(self):
        return {**super().get_config(), "ws": self.ws}


def group_norm_reference(x, gamma, beta, groups=GN_GROUPS, epsilon=GN_EPSILON):
    """The recipe's formula as TensorFlow ops, differentiated by autodiff: the definition that
    `group_norm` is tested against, and what exports trace (`autodiff_group_norm`). It was the
    layer until TensorFlow's profiler showed its autodiff gradient at ~45 % of a `small`
    training step with oneDNN on (docs/benchmarks.md, "Where a training step's time goes")."""
    shape = tf.shape(x)
    grouped = tf.reshape(x, tf.concat([shape[:-1], [groups, x.shape[-1] // groups]], 0))
    mean, var = tf.nn.moments(grouped, axes=[1, 2, 4], keepdims=True)
    normed = tf.reshape((grouped - mean) * tf.math.rsqrt(var + epsilon), shape)
    return normed * gamma + beta


def _per_channel(per_group, channels_per_group):
    """[n, G] -> [n, 1, C]: each group's value repeated over its channels."""
    return tf.expand_dims(tf.repeat(per_group, channels_per_group, axis=1), 1)


def _group_sum(per_channel, groups):
    """[n, C] -> [n, G]: sums over each group's channels."""
    return tf.reduce_sum(tf.reshape(per_channel, [tf.shape(per_channel)[0], groups, -1]), axis=2)


def _group_norm_forward(x, gamma, beta, groups, epsilon):
    """(y, d, inv_c): the normalised output, the centred input d = x - mean as [n, h*w, C] (a
    reshape, no copy) and rsqrt(var + eps) per (example, group) repeated per channel [n, 1, C].
    Every reduction is a per-channel sum over h*w followed by a sum over the group's channels
    on the small [n, C] result, and every broadcast is of an [n, 1, C] or (C,) tensor: Eigen's
    fast paths (a reduction over axes (h*w, channels-in-group) at once, or a broadcast of an
    [n, 1, G, 1] tensor, took twice the time on 2 cores)."""
    shape = tf.shape(x)
    channels = x.shape[-1]
    per_group = channels // groups
    x3 = tf.reshape(x, [shape[0], -1, channels])
    size = tf.cast(tf.shape(x3)[1] * per_group, x.dtype)                      # M
    mean = _group_sum(tf.reduce_sum(x3, axis=1), groups) / size              # [n, G]
    d = x3 - _per_channel(mean, per_group)
    var = _group_sum(tf.reduce_sum(tf.square(d), axis=1), groups) / size
    inv_c = _per_channel(tf.math.rsqrt(var + epsilon), per_group)            # [n, 1, C]
    y = d * (inv_c * gamma) + beta
    return tf.reshape(y, shape), d, inv_c


def _group_norm_backward(dy, d, inv_c, gamma, groups):
    """(dx, dgamma, dbeta) from the forward's d and inv_c; see `group_norm`."""
    per_group = d.shape[-1] // groups
    dy3 = tf.reshape(dy, tf.shape(d))
    size = tf.cast(tf.shape(d)[1] * per_group, d.dtype)                      # M
    sum_dy = tf.reduce_sum(dy3, axis=1)                                       # [n, C]
    sum_dy_d = tf.reduce_sum(dy3 * d, axis=1)                                 # [n, C]
    inv = inv_c[:, 0, :]
    a = _per_channel(_group_sum(sum_dy * gamma, groups) / size, per_group)   # [n, 1, C]
    b = _per_channel(_group_sum(sum_dy_d * gamma, groups) / size, per_group)
    dx = dy3 * (inv_c * gamma) - d * (b * inv_c * inv_c * inv_c) - a * inv_c
    dgamma = tf.reduce_sum(sum_dy_d * inv, axis=0)
    dbeta = tf.reduce_sum(sum_dy, axis=0)
    return tf.reshape(dx, tf.shape(dy)), dgamma, dbeta


@functools.lru_cache(maxsize=None)
def _group_norm(groups, epsilon):
    """The custom-gradient function for one (groups, epsilon), kept Python numbers (static
    shapes)."""

    @tf.custom_gradient
    def fn(x, gamma, beta):
        y, d, inv_c = _group_norm_forward(x, gamma, beta, groups, epsilon)

        def grad(dy):
            return _group_norm_backward(dy, d, inv_c, gamma, groups)
        return y, grad
    return fn


_EXPORTING = contextvars.ContextVar("bit_tfx_exporting", default=False)


@contextlib.contextmanager
def autodiff_group_norm():
    """Within: GroupNorm layers traced use `group_norm_reference` (the same forward values, to
    float32 rounding; gradients by autodiff). The export traces under it: a SavedModel holding
    the hand-written gradient stores a gradient function per traced call (the demo's export
    took 110 s instead of 60 and the Evaluator's load 26 s instead of 19), and one saved without
    them cannot differentiate the closure; a TF Hub backbone fine-tuned from the export
    differentiates the recipe's ops with TensorFlow's own gradients."""
    token = _EXPORTING.set(True)
    try:
        yield
    finally:
        _EXPORTING.reset(token)


def group_norm(x, gamma, beta, groups=GN_GROUPS, epsilon=GN_EPSILON):
    """Group normalisation of NHWC `x` (channels divisible by `groups`), gamma/beta of shape
    (C,): the recipe's (x - mean) / sqrt(var + eps) * gamma + beta with mean and var over
    (h, w, channels in the group), with its gradient written out rather than derived by
    autodiff from tf.nn.moments (~20 ops: Tile, Neg, RealDiv, re-broadcasts; ~45 % of the
    `small` backbone's training step). With d = x - mean, inv = rsqrt(var + eps), M = h*w*c/G
    and sums over each (example, group):
        y  = d * (inv * gamma) + beta                      (d kept for the backward pass)
        dx = inv * (dy*gamma - sum(dy*gamma)/M - d*inv^2 * sum(dy*gamma*d)/M)
    built from two per-(example, channel) sums over h*w (of dy and of dy*d), so the full-size
    work is a handful of elementwise passes. Values and gradients are checked against autodiff
    of `group_norm_reference` (tests/test_bit_model_resnet.py)."""
    return _group_norm(int(groups), float(epsilon))(
        x, tf.convert_to_tensor(gamma), tf.convert_to_tensor(beta))


class GroupNorm(keras.layers.Layer):
    """Group normalisation over (h, w, channels-in-group), 32 groups, eps 1e-5.

    Own layer (rather than keras.layers.GroupNormalization) so that the weights are exactly
    `gamma` and `beta` of shape (C,), the statistics are float32 under mixed precision, and
    the maths is visibly the recipe's. gamma = 1, beta = 0 at init.
    """

    def __init__(self, groups=GN_GROUPS, epsilon=GN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.groups:
            raise ArchError(f"{self.name}: GroupNorm needs channels divisible by "
                            f"{self.groups}, got {channels}")
        self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")
        super().build(input_shape)

    def call(self, x):
        dtype, stats = x.dtype, _stats_dtype(x.dtype)
        normalise = group_norm_reference if _EXPORTING.get() else group_norm
        out = normalise(tf.cast(x, stats), tf.cast(self.gamma, stats), tf.cast(self.beta, stats),
                        self.groups, self.epsilon)
        return tf.cast(out, dtype)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "epsilon": self.epsilon}


def from_unit_range(images):
    """[0, 1] floats -> [-1, 1], the range the official weights (and `build` models) expect:
    2x - 1, which is (p - 127.5) / 127.5 for pixels p = 255x. The one home of this mapping."""
    return images * 2.0 - 1.0


class UnitRangeInput(keras.layers.Layer):
    """`from_unit_range` as the first layer of a model fed [0, 1] (named SCALING_LAYER)."""

    def call(self, images):
        return from_unit_range(images)


def takes_unit_range(model) -> bool:
    """True for a model whose first step is UnitRangeInput (it is fed [0, 1])."""
    return any(layer.name == SCALING_LAYER for layer in model.layers)


def with_unit_input(native, input_shape=None, name="bit_native") -> keras.Model:
    """[0, 1] images -> UnitRangeInput -> `native` (a `build` model, fed [-1, 1])."""
    images = keras.Input(shape=input_shape or native.input_shape[1:], name="images")
    return keras.Model(images, native(UnitRangeInput(name=SCALING_LAYER)(images)), name=name)


# --- model ----------------------------------------------------------------------------

def _conv(filters, kernel, name, stride=1, ws="default", init="glorot_uniform"):
    return StandardizedConv2D(filters, kernel, strides=stride, padding="valid",
                              use_bias=False, name=name + "/standardized_conv2d", ws=ws,
                              kernel_initializer=init)


def _unit(x, filters, stride, name, ws, init):
    """One pre-activation bottleneck unit; `name` is e.g. 'block2/unit01'."""
    pre = keras.layers.ReLU(name=name + "/a/relu")(GroupNorm(name=name + "/a/group_norm")(x))
    if stride != 1 or x.shape[-1] != 4 * filters:
        shortcut = _conv(4 * filters, 1, name + "/a/proj", stride=stride, ws=ws, init=init)(pre)
    else:
        shortcut = x
    a = _conv(filters, 1, name + "/a", ws=ws, init=init)(pre)
    a = keras.layers.ReLU(name=name + "/b/relu")(GroupNorm(name=name + "/b/group_norm")(a))
    a = keras.layers.ZeroPadding2D(1, name=name + "/b/pad")(a)
    b = _conv(filters, 3, name + "/b", stride=stride, ws=ws, init=init)(a)
    b = keras.layers.ReLU(name=name + "/c/relu")(GroupNorm(name=name + "/c/group_norm")(b))
    c = _conv(4 * filters, 1, name + "/c", ws=ws, init=init)(b)
    return keras.layers.Add(name=name + "/add")([c, shortcut])


def build(arch="R50x1", num_classes: Optional[int] = None, input_shape=(None, None, 3),
          ws="default", kernel_initializer="glorot_uniform", name="resnet") -> keras.Model:
    """A BiT ResNet-v2 taking images in [-1, 1].

    kernel_initializer: for the raw conv kernels (Keras' default, as the official TF2 code).
    Weight standardisation makes the forward pass independent of its scale; "zeros" builds
    fastest when only shapes matter (a zero kernel standardises to zero, not NaN).

    num_classes 0/None: feature extractor returning pre-logits (2048 * wf). Otherwise a
    Dense head (stored as resnet/head/conv2d) with kernel and bias initialised to zero.
    Under a mixed-precision global policy the output is cast back to float32.
    """
    arch = get_arch(arch)
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 0):
        raise ArchError(f"num_classes must be a non-negative int or None, got {num_classes!r}")
    images = keras.Input(shape=input_shape, name="images")
    x = keras.layers.ZeroPadding2D(3, name="root_block/pad_conv")(images)
    x = _conv(arch.root_filters, 7, "root_block", stride=2, ws=ws, init=kernel_initializer)(x)
    x = keras.layers.ZeroPadding2D(1, name="root_block/pad_pool")(x)
    x = keras.layers.MaxPool2D(3, strides=2, padding="valid", name="root_block/pool")(x)
    for b, (units, stride) in enumerate(zip(arch.units, STRIDES), start=1):
        for u in range(1, units + 1):
            x = _unit(x, arch.filters(b), stride if u == 1 else 1, f"block{b}/unit{u:02d}", ws,
                      kernel_initializer)
    x = keras.layers.ReLU(name="relu")(GroupNorm(name="group_norm")(x))
    x = keras.layers.GlobalAveragePooling2D(name=PRE_LOGITS_NAME)(x)
    if num_classes:
        x = keras.layers.Dense(num_classes, kernel_initializer="zeros",
                               bias_initializer="zeros", name=HEAD_NAME)(x)
    if x.dtype != tf.float32:
        x = keras.layers.Activation("linear", dtype="float32", name="float32_output")(x)
    model = keras.Model(images, x, name=name)
    model.bit_arch = arch  # read by weights.py / hub.py / factory.py
    return model


# --- official names <-> keras variables -------------------------------------------------

def _weight_layers(model):
    """All leaf layers holding weights, descending into nested models."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _weight_layers(layer)
        elif layer.weights:
            yield layer


def official_variables(model) -> Dict[str, tf.Variable]:
    """{official .npz name: keras variable} for a native BiT model (or one nesting it).

    The head's Dense kernel is (C, K) here and (1, 1, C, K) in the files; weights.py
    reshapes. Raises ArchError for layers that have no official name (e.g. a hub layer).
    """
    out = {}
    for layer in _weight_layers(model):
        if isinstance(layer, StandardizedConv2D):
            pairs = [("kernel", layer.kernel)]
        elif isinstance(layer, GroupNorm):
            pairs = [("gamma", layer.gamma), ("beta", layer.beta)]
        elif isinstance(layer, keras.layers.Dense) and layer.name == HEAD_NAME:
            pairs = [("kernel", layer.kernel), ("bias", layer.bias)]
        else:
            raise ArchError(f"layer {layer.name!r} ({type(layer).__name__}) has weights but "
                            "no official BiT name: not a native BiT model")
        for short, var in pairs:
            name = f"{PREFIX}{layer.name}/{short}"
            if name in out:
                raise ArchError(f"two variables map to the official name {name}")
            out[name] = var
    return out


def official_shape(name: str, var) -> Tuple[int, ...]:
    """The shape the official file stores for this variable (head kernel as a 1x1 conv)."""
    shape = tuple(var.shape)
    if name == f"{PREFIX}{HEAD_NAME}/kernel":
        return (1, 1) + shape
    return shape


def keras_name(official: str) -> str:
    """Official name -> keras variable name ('resnet/block1/../kernel' -> 'block1/../kernel:0')."""
    if not official.startswith(PREFIX):
        raise ArchError(f"{official!r} is not an official BiT name (no {PREFIX!r} prefix)")
    return official[len(PREFIX):] + ":0"


def count_params(model) -> int:
    return int(sum(int(tf.size(v)) for v in model.weights))


def flops_per_image(model) -> int:
    """Forward FLOPs per image (2 x multiply-adds) of convs and the head, from static shapes.

    Needs a model built with a fixed input size. GN, ReLU, pooling and the additions are
    left out (well under 1 % of the total).
    """
    total = 0
    for layer in _weight_layers(model):
        if isinstance(layer, StandardizedConv2D):
            _, h, w, cout = layer.output_shape
            kh, kw, cin, _ = layer.kernel.shape
            if h is None or w is None:
                raise ArchError("flops_per_image needs a model built with a fixed input size")
            total += 2 * h * w * cout * kh * kw * cin
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    return total
