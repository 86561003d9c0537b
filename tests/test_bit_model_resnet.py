"""Native BiT ResNet-v2: official naming, parameter counts, and the forward pass checked
against an independent re-implementation of the recipe written with raw TF ops."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from bit_tfx.models.bit import resnet_v2, weights

R50, R101, R152 = (3, 4, 6, 3), (3, 4, 23, 3), (3, 8, 36, 3)


def expected_names(units, head=False):
    """The official .npz names, generated from the recipe's naming rules only."""
    names = {"resnet/root_block/standardized_conv2d/kernel",
             "resnet/group_norm/gamma", "resnet/group_norm/beta"}
    for b, n in enumerate(units, start=1):
        for u in range(1, n + 1):
            p = f"resnet/block{b}/unit{u:02d}/"
            for part in "abc":
                names |= {p + part + "/standardized_conv2d/kernel",
                          p + part + "/group_norm/gamma", p + part + "/group_norm/beta"}
            if u == 1:
                names.add(p + "a/proj/standardized_conv2d/kernel")
    if head:
        names |= {"resnet/head/conv2d/kernel", "resnet/head/conv2d/bias"}
    return names


def expected_params(units, wf, classes=0):
    """Parameter count of the published architecture, from the recipe's shapes."""
    root = int(64 * wf)
    total, cin = 7 * 7 * 3 * root, root
    for b, n in enumerate(units):
        f = root * 2 ** b
        for u in range(n):
            total += 2 * cin                      # GN a (gamma, beta)
            total += cin * 4 * f if u == 0 else 0  # projection
            total += cin * f + 2 * f + 9 * f * f + 2 * f + f * 4 * f
            cin = 4 * f
    total += 2 * cin                              # final GN
    return total + (cin * classes + classes if classes else 0)


@pytest.fixture(scope="module")
def r50x1():
    """R50x1 with the 21,843-way BiT-M head at 224x224 (built once: names, counts, FLOPs)."""
    return resnet_v2.build("R50x1", num_classes=21843, input_shape=(224, 224, 3),
                           kernel_initializer="zeros")


def test_official_names_r50x1_exact_set_and_shapes(r50x1):
    official = resnet_v2.official_variables(r50x1)
    assert set(official) == expected_names(R50, head=True)
    shape = {n: resnet_v2.official_shape(n, v) for n, v in official.items()}
    assert shape["resnet/root_block/standardized_conv2d/kernel"] == (7, 7, 3, 64)
    assert shape["resnet/block1/unit01/a/group_norm/gamma"] == (64,)     # GN of the unit input
    assert shape["resnet/block1/unit01/a/proj/standardized_conv2d/kernel"] == (1, 1, 64, 256)
    assert shape["resnet/block2/unit01/a/group_norm/gamma"] == (256,)
    assert shape["resnet/block2/unit01/b/group_norm/gamma"] == (128,)    # GN before conv b
    assert shape["resnet/block2/unit01/b/standardized_conv2d/kernel"] == (3, 3, 128, 128)
    assert shape["resnet/block4/unit03/c/standardized_conv2d/kernel"] == (1, 1, 512, 2048)
    assert shape["resnet/group_norm/gamma"] == (2048,)
    assert shape["resnet/head/conv2d/kernel"] == (1, 1, 2048, 21843)
    # keras variable names are the official names without the prefix
    for name, var in official.items():
        assert var.name == resnet_v2.keras_name(name)


@pytest.mark.parametrize("arch", ["tiny", "small"])
def test_smoke_variant_names_follow_the_same_scheme(arch):
    a = resnet_v2.get_arch(arch)
    assert a.smoke and a.root_filters == 32
    model = resnet_v2.build(arch)
    assert set(resnet_v2.official_variables(model)) == expected_names(a.units)


def test_parameter_count_r50x1(r50x1):
    # R50x1 feature extractor 23.5M; with the 21,843-way BiT-M head 68.3M (timm model card
    # of resnetv2_50x1_bit.goog_in21k).
    assert expected_params(R50, 1) == 23_500_352
    assert round(expected_params(R50, 1, 21843) / 1e6, 1) == 68.3
    assert resnet_v2.count_params(r50x1) == expected_params(R50, 1, 21843) == 68_256_659
    assert r50x1.get_layer("pre_logits").output_shape == (None, 2048)


def test_parameter_count_r101x1_and_arch_inference():
    model = resnet_v2.build("R101x1", kernel_initializer="zeros")
    assert resnet_v2.count_params(model) == expected_params(R101, 1) == 42_492_480
    assert model.output_shape == (None, 2048)
    shp = {n: resnet_v2.official_shape(n, v)
           for n, v in resnet_v2.official_variables(model).items()}
    assert resnet_v2.arch_from_shapes(shp).name == "R101x1"


def test_parameter_count_r152x4():
    model = resnet_v2.build("R152x4", kernel_initializer="zeros", input_shape=(32, 32, 3))
    assert resnet_v2.count_params(model) == expected_params(R152, 4) == 928_340_224
    assert model.output_shape == (None, 8192)
    del model
    keras.backend.clear_session()


def test_all_architecture_names_resolve():
    for depth, units in (("50", R50), ("101", R101), ("152", R152)):
        for wf in (1, 2, 3, 4):
            a = resnet_v2.get_arch(f"r{depth}x{wf}")
            assert a.name == f"R{depth}x{wf}" and a.units == units and a.feature_dim == 2048 * wf
    for bad in ("R50x5", "R34x1", "", "tiny2"):
        with pytest.raises(resnet_v2.ArchError):
            resnet_v2.get_arch(bad)


def test_arch_inferred_from_shapes_of_a_smoke_model():
    tiny = resnet_v2.build("tiny")
    shp = {n: tuple(v.shape) for n, v in resnet_v2.official_variables(tiny).items()}
    assert resnet_v2.arch_from_shapes(shp).name == "tiny"


# --- the forward pass against an independent reference --------------------------------

def _ws(w):
    mean = tf.reduce_mean(w, axis=[0, 1, 2], keepdims=True)
    var = tf.reduce_mean(tf.square(w - mean), axis=[0, 1, 2], keepdims=True)
    return (w - mean) / tf.sqrt(var + 1e-10)


def _conv(x, w, stride=1, pad=0):
    x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    return tf.nn.conv2d(x, _ws(tf.constant(w)), stride, "VALID")


def _gn(x, gamma, beta):
    n, h, w, c = x.shape
    g = tf.reshape(x, [n, h, w, 32, c // 32])
    mean = tf.reduce_mean(g, axis=[1, 2, 4], keepdims=True)
    var = tf.reduce_mean(tf.square(g - mean), axis=[1, 2, 4], keepdims=True)
    return tf.reshape((g - mean) / tf.sqrt(var + 1e-5), [n, h, w, c]) * gamma + beta


def reference_forward(p, x, units):
    """BiT ResNet-v2 as the recipe states it, reading the official names directly."""
    relu = tf.nn.relu
    x = _conv(x, p["resnet/root_block/standardized_conv2d/kernel"], 2, 3)
    x = tf.nn.max_pool2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, "VALID")
    for b, n in enumerate(units, start=1):
        for u in range(1, n + 1):
            q = f"resnet/block{b}/unit{u:02d}/"
            stride = 2 if (u == 1 and b > 1) else 1
            pre = relu(_gn(x, p[q + "a/group_norm/gamma"], p[q + "a/group_norm/beta"]))
            proj = q + "a/proj/standardized_conv2d/kernel"
            shortcut = _conv(pre, p[proj], stride) if proj in p else x
            a = _conv(pre, p[q + "a/standardized_conv2d/kernel"])
            a = relu(_gn(a, p[q + "b/group_norm/gamma"], p[q + "b/group_norm/beta"]))
            bb = _conv(a, p[q + "b/standardized_conv2d/kernel"], stride, 1)
            bb = relu(_gn(bb, p[q + "c/group_norm/gamma"], p[q + "c/group_norm/beta"]))
            x = _conv(bb, p[q + "c/standardized_conv2d/kernel"]) + shortcut
    x = relu(_gn(x, p["resnet/group_norm/gamma"], p["resnet/group_norm/beta"]))
    feats = tf.reduce_mean(x, axis=[1, 2])
    return feats @ p["resnet/head/conv2d/kernel"][0, 0] + p["resnet/head/conv2d/bias"]


def random_official_arrays(model, seed=0):
    """Every variable random (GN gamma around 1, non-zero head), in the official naming."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, var in resnet_v2.official_variables(model).items():
        shape = resnet_v2.official_shape(name, var)
        value = rng.normal(0, 0.2, shape).astype(np.float32)
        if name.endswith("gamma"):
            value += 1.0
        out[name] = value
    return out


def test_forward_matches_reference_implementation():
    model = resnet_v2.build("small", num_classes=5)
    arrays = random_official_arrays(model)
    weights.load_npz(model, arrays)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    got = model(x).numpy()
    want = reference_forward(arrays, tf.constant(x), resnet_v2.get_arch("small").units).numpy()
    assert np.abs(want).max() > 0.1
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_shapes_and_strides_total_32():
    model = resnet_v2.build("tiny", input_shape=(64, 64, 3))
    spatial = {layer.name: layer.output_shape[1] for layer in model.layers
               if layer.name.endswith("/add")}
    assert [spatial[f"block{b}/unit01/add"] for b in (1, 2, 3, 4)] == [16, 8, 4, 2]
    assert model.output_shape == (None, 1024)


def test_ws_formulations_identical():
    x = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    a = resnet_v2.build("tiny", num_classes=4, ws="moments")
    b = resnet_v2.build("tiny", num_classes=4, ws="fused")
    arrays = random_official_arrays(a, seed=3)
    weights.load_npz(a, arrays)
    weights.load_npz(b, arrays)
    # identical up to float32 rounding (outputs of magnitude ~5 here)
    np.testing.assert_allclose(a(x).numpy(), b(x).numpy(), rtol=1e-5, atol=1e-5)
    k = tf.random.normal((3, 3, 16, 8))
    assert float(tf.reduce_max(tf.abs(resnet_v2.standardize_kernel_moments(k)
                                      - resnet_v2.standardize_kernel_fused(k)))) < 1e-5


def test_zero_head_and_kernel_standardisation_of_zero_kernel():
    model = resnet_v2.build("tiny", num_classes=7, kernel_initializer="zeros")
    out = model(np.zeros((1, 32, 32, 3), np.float32)).numpy()
    assert np.all(out == 0.0)   # zero head; a zero kernel standardises to 0, not NaN
    head = model.get_layer(resnet_v2.HEAD_NAME)
    assert np.all(head.kernel.numpy() == 0) and np.all(head.bias.numpy() == 0)


def test_groupnorm_rejects_channels_not_divisible_by_32():
    layer = resnet_v2.GroupNorm()
    with pytest.raises(resnet_v2.ArchError, match="divisible by 32"):
        layer(tf.zeros((1, 4, 4, 48)))


def test_mixed_precision_builds_and_outputs_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = resnet_v2.build("tiny", num_classes=3)
        out = model(np.zeros((1, 32, 32, 3), np.float32))
        assert out.dtype == tf.float32
        assert all(v.dtype == tf.float32 for v in model.variables)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_flops_r50x1_224(r50x1):
    # ~4.1 G multiply-adds of convolutions at 224x224 (ResNet-50 family) + the head.
    macs = resnet_v2.flops_per_image(r50x1) / 2
    assert 4.0e9 < macs - 2048 * 21843 < 4.2e9


@pytest.mark.parametrize("shape,loc", [((2, 8, 8, 64), 0.0), ((3, 5, 7, 32), 3.0), ((1, 4, 4, 128), -20.0)])
def test_group_norm_gradient_is_autodiffs_of_the_recipe(shape, loc):
    """The hand-written GroupNorm gradient (resnet_v2.group_norm) against autodiff through the
    recipe's formula (group_norm_reference): values, d/dx, d/dgamma, d/dbeta, also for inputs
    whose mean is far from 0 (where a shortcut like E[x^2] - E[x]^2 would lose digits)."""
    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(loc, 1.5, shape).astype(np.float32))
    gamma = tf.Variable(rng.normal(1, 0.3, shape[-1]).astype(np.float32))
    beta = tf.Variable(rng.normal(0, 0.3, shape[-1]).astype(np.float32))
    upstream = tf.constant(rng.normal(0, 1, shape).astype(np.float32))
    results = []
    for fn in (resnet_v2.group_norm, resnet_v2.group_norm_reference):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x, gamma, beta)
            loss = tf.reduce_sum(tf.nn.relu(y) * upstream)
        results.append([y] + tape.gradient(loss, [x, gamma, beta]))
    for got, want in zip(*results):
        assert float(tf.reduce_max(tf.abs(want))) > 1.0
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
