"""SUB, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, LEAKY_RELU and PRELU: bit-exact with TFLite Micro;
RELU_N1_TO_1 and RELU_0_TO_1, which TFLite Micro has no kernel for, refused by name.

As in test_ops_nonlinear.py: flatbuffer models of many copies of one op side by side, each with
its own quantization, fed every int8 value (every pair of values, for the binary ops, by
broadcasting [256, 1] against [1, 256]); and models from the TFLite converter (Keras layers and
TF functions), with representative data of several ranges.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from tflm_mcunet.converter.quant import quantize_multiplier
from tflm_mcunet.tflm import TFLMError, run_tflm

from conftest import compare_with_tflm
from test_ops_nonlinear import (BINARY_CASES, _rejected, check_converted_binary, every_int8,
                                log_uniform, parallel_model, rep)

pytestmark = [pytest.mark.tf]  # the tiers: tests/conftest.py

_dirs = itertools.count()
RAMP = np.arange(-128, 128, dtype=np.int8)


@pytest.fixture
def out_dir(tmp_path):
    return lambda: tmp_path / f"c{next(_dirs)}"


def every_pair(ops) -> list[list[np.ndarray]]:
    """One batch: every op's first input [256, 1] and second [1, 256] hold every int8 value."""
    return [[a for _ in ops for a in (RAMP.reshape(256, 1), RAMP.reshape(1, 256))]]


def pair_ops(rng, count, output_scale, activations=(0,)):
    """`count` binary ops over every pair of int8 values, random scales and zero points;
    output_scale(s1, s2) gives the output scale."""
    ops = []
    for k in range(count):
        s1, s2 = (float(s) for s in log_uniform(rng, 1e-3, 1.0, 2))
        zps = rng.integers(-128, 128, 3)
        ops.append(dict(inputs=[((256, 1), s1, zps[0]), ((1, 256), s2, zps[1])],
                        output=((256, 256), output_scale(s1, s2), zps[2]),
                        activation=activations[k % len(activations)]))
    return ops


@pytest.mark.tflm
def test_sub_every_pair_many_scales(out_dir):
    rng = np.random.default_rng(11)
    ops = pair_ops(rng, 12, lambda s1, s2: max(s1, s2) * float(log_uniform(rng, 1 / 16, 8, 1)[0]),
                   activations=(0, 1, 3, 2))
    # equal scales (multipliers of exactly 1/2), and an output scale just above the limit
    ops.append(dict(inputs=[((256, 1), 0.1, 0), ((1, 256), 0.1, 0)], output=((256, 256), 0.1, 0)))
    ops.append(dict(inputs=[((256, 1), 0.5, -128), ((1, 256), 0.25, 127)],
                    output=((256, 256), 2.0**-19 * 1.01, 5)))
    compare_with_tflm(parallel_model("SUB", ops), out_dir(), every_pair(ops), all_paths=True)


@pytest.mark.tflm
def test_sub_rescale_factors_are_computed_in_double(out_dir):
    """Scales whose rescale factors give other multipliers when computed in float32 (as some
    TFLite Micro sources write them) than in double: the runtime computes them in double."""
    rng, f = np.random.default_rng(1), np.float32
    ops = []
    while len(ops) < 12:
        s1, s2 = (float(f(s)) for s in log_uniform(rng, 1e-3, 1.0, 2))
        so = float(f(max(s1, s2) * float(log_uniform(rng, 1 / 16, 8, 1)[0])))
        twice, twice_f = 2 * max(s1, s2), f(2) * max(f(s1), f(s2))
        double = (s1 / twice, s2 / twice, twice / ((1 << 20) * so))
        single = (f(s1) / twice_f, f(s2) / twice_f, twice_f / (f(1 << 20) * f(so)))
        if any(quantize_multiplier(d) != quantize_multiplier(float(s))
               for d, s in zip(double, single)):
            ops.append(dict(inputs=[((256, 1), s1, 3), ((1, 256), s2, -5)],
                            output=((256, 256), so, 7)))
    compare_with_tflm(parallel_model("SUB", ops), out_dir(), every_pair(ops))


@pytest.mark.tflm
def test_squared_difference_every_pair_many_scales(out_dir):
    rng = np.random.default_rng(12)
    # the output scale from the square of the input range (as the TFLite converter gives it),
    # up to far smaller (saturating) and larger; a left-shifting output multiplier included
    ops = pair_ops(rng, 12, lambda s1, s2: (max(s1, s2) * 128) ** 2 / 128
                   * float(log_uniform(rng, 1 / 64, 4, 1)[0]))
    ops.append(dict(inputs=[((256, 1), 0.5, 0), ((1, 256), 0.5, 0)],
                    output=((256, 256), 1e-3, -128)))
    ops.append(dict(inputs=[((256, 1), 0.01, -128), ((1, 256), 1.0, 127)],
                    output=((256, 256), 500.0, -128)))
    compare_with_tflm(parallel_model("SQUARED_DIFFERENCE", ops), out_dir(), every_pair(ops),
                      all_paths=True)


@pytest.mark.tflm
@pytest.mark.parametrize("kind", ["MAXIMUM", "MINIMUM"])
def test_maximum_minimum_every_pair(out_dir, kind):
    """TFLite Micro compares the raw int8 values whatever the quantization: so do we (inputs
    and output of different scales and zero points included)."""
    rng = np.random.default_rng(13)
    ops = pair_ops(rng, 3, lambda s1, s2: s1)
    ops.append(dict(inputs=[((256, 1), 0.05, -3), ((1, 256), 0.05, -3)],
                    output=((256, 256), 0.05, -3)))
    compare_with_tflm(parallel_model(kind, ops), out_dir(), every_pair(ops), all_paths=True)


@pytest.mark.tflm
@pytest.mark.parametrize("kind", ["SUB", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM"])
@pytest.mark.parametrize("shape_a,shape_b", [
    ((1, 4, 5, 8), (1, 1, 1, 8)),
    ((1, 1, 1, 8), (1, 4, 5, 8)),       # operands swapped
    ((1, 4, 1, 8), (1, 1, 5, 1)),       # both operands broadcast
    ((2, 3, 4), (3, 1)),                # rank < 4, different ranks
    ((7,), (1,)),                       # one value
    ((1, 3, 6), (1, 3, 6)),             # no broadcast
])
def test_binary_broadcast_shapes(out_dir, kind, shape_a, shape_b):
    out = np.broadcast_shapes(shape_a, shape_b)
    so = 2e-3 if kind == "SQUARED_DIFFERENCE" else 0.06
    ops = [dict(inputs=[(shape_a, 0.02, 3), (shape_b, 0.05, -7)], output=(out, so, -2)),
           dict(inputs=[(shape_a, 0.3, -128), (shape_b, 0.01, 127)], output=(out, so * 4, 10),
                activation=1)]
    rng = np.random.default_rng(14)
    batches = [[rng.integers(-128, 128, s, dtype=np.int8) for _ in ops for s in (shape_a, shape_b)]
               for _ in range(3)]
    batches.append([np.full(s, v, np.int8) for _ in ops for s, v in ((shape_a, -128),
                                                                      (shape_b, 127))])
    compare_with_tflm(parallel_model(kind, ops), out_dir(), batches)


@pytest.mark.tflm
def test_leaky_relu_every_value_many_scales_and_alphas(out_dir):
    rng = np.random.default_rng(15)
    ops = []
    alphas = [0.2, 0.01, 0.3, 0.0, -0.5, 1.0, 3.0, 1e-6, 0.1, 0.5, -2.0, 0.2]
    for alpha in alphas:
        s = float(log_uniform(rng, 1e-3, 4.0, 1)[0])
        ops.append(dict(inputs=[((1, 256), s, int(rng.integers(-128, 128)))],
                        output=((1, 256), s * float(log_uniform(rng, 1 / 8, 8.0, 1)[0]),
                                int(rng.integers(-128, 128))), alpha=alpha))
    ops.append(dict(inputs=[((1, 256), 0.1, 5)], output=((1, 256), 0.1, 5), alpha=0.2))
    compare_with_tflm(parallel_model("LEAKY_RELU", ops), out_dir(), every_int8(len(ops)),
                      all_paths=True)


#: (input scale, output scale, alpha, zero point) where the identity or the alpha multiplier
#: computed in float32 (as some TFLite Micro sources write it) changes output values against
#: double; zero point -128 exercises the identity side, 127 the alpha side
_LEAKY_FLOAT32_TRAPS = [
    (0.004266488831490278, 0.0032063962426036596, 0.3816365599632263, 127),
    (0.11556925624608994, 0.08548677712678909, 0.37642598152160645, 127),
    (0.47598373889923096, 0.8491356372833252, 0.934639573097229, 127),
    (0.19683338701725006, 0.33646732568740845, -0.5200009942054749, -128),
    (0.40912434458732605, 0.2061728984117508, -0.14520509541034698, -128),
    (0.0038940603844821453, 0.010284586809575558, 0.06760156154632568, -128),
    (0.032428078353405, 0.06380992382764816, 0.6876206994056702, 127),
    (0.002457177499309182, 0.0024368702434003353, -0.7434178590774536, -128),
]


@pytest.mark.tflm
def test_leaky_relu_rescale_factors_are_computed_in_double(out_dir):
    ops = [dict(inputs=[((1, 256), s, zp)], output=((1, 256), so, zp), alpha=alpha)
           for s, so, alpha, zp in _LEAKY_FLOAT32_TRAPS]
    compare_with_tflm(parallel_model("LEAKY_RELU", ops), out_dir(), every_int8(len(ops)))


# ------------------------------------------------------------------------------------------
# what TFLite Micro refuses, the converter refuses with a clear error
# ------------------------------------------------------------------------------------------

@pytest.mark.tflm
@pytest.mark.parametrize("kind", ["RELU_N1_TO_1", "RELU_0_TO_1"])
def test_relu_clamps_without_a_tflm_kernel_are_refused(out_dir, kind):
    model = parallel_model(kind, [dict(inputs=[((1, 8), 0.1, 0)], output=((1, 8), 0.1, 0))])
    message = _rejected(model, out_dir(), f"operator #0 ({kind})", "TFLite Micro has no kernel",
                        "MINIMUM")
    assert "Supported int8 operators" not in message
    with pytest.raises(TFLMError):
        run_tflm(model, np.zeros((1, 8), np.int8))


@pytest.mark.tflm
def test_sub_refuses_an_output_scale_tflm_aborts_on(out_dir):
    model = parallel_model("SUB", [dict(inputs=[((1, 8), 1.0, 0), ((1, 8), 0.5, 0)],
                                        output=((1, 8), 2.0**-20, 0))])
    _rejected(model, out_dir(), "operator #0 (SUB)", "output scale", "2^20")
    with pytest.raises(TFLMError):
        run_tflm(model, [np.zeros((1, 8), np.int8)] * 2)


def test_leaky_relu_refuses_a_rescale_factor_beyond_int32(out_dir):
    model = parallel_model("LEAKY_RELU", [dict(inputs=[((1, 8), 1.0, 0)],
                                               output=((1, 8), 1e-12, 0), alpha=0.2)])
    _rejected(model, out_dir(), "operator #0 (LEAKY_RELU)", "2^31")


@pytest.mark.parametrize("kind", ["SUB", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM"])
def test_binary_ops_refuse_shapes_that_do_not_broadcast(out_dir, kind):
    model = parallel_model(kind, [dict(inputs=[((1, 3), 0.1, 0), ((1, 4), 0.1, 0)],
                                       output=((1, 4), 0.1, 0))])
    _rejected(model, out_dir(), kind, "broadcast")


# ------------------------------------------------------------------------------------------
# models from the TFLite converter
# ------------------------------------------------------------------------------------------

RANGES = [(-0.01, 0.01), (-4.0, 4.0), (-100.0, 100.0)]


@pytest.mark.parametrize("lo,hi", RANGES)
@pytest.mark.parametrize("shape_a,shape_b,post", BINARY_CASES)
def test_converted_sub(bit_exact, tfk, shape_a, shape_b, post, lo, hi):
    check_converted_binary(bit_exact, tfk, "SUB", lambda a, b: a - b, shape_a, shape_b, post,
                           (lo, hi), (lo / 2, hi * 2))


@pytest.mark.parametrize("lo,hi", RANGES)
def test_converted_squared_difference(bit_exact, tfk, lo, hi):
    """(x - mean(x))^2 over height and width, as a variance or an instance norm computes it."""
    tf, _, quantize = tfk
    shape = (1, 4, 5, 8)
    model = quantize.quantize_tf_function(
        lambda x: tf.math.squared_difference(x, tf.reduce_mean(x, axis=[1, 2], keepdims=True)),
        shape, rep(shape[1:], lo, hi))
    conversion = bit_exact(model, samples=6)
    assert [op.kind for op in conversion.graph.ops] == ["MEAN", "SQUARED_DIFFERENCE"]


@pytest.mark.parametrize("fn,kinds", [
    ("minimum", ["MINIMUM"]), ("maximum", ["MAXIMUM"]),
    ("clip", ["MINIMUM", "MAXIMUM"]),              # tf.clip_by_value to other bounds than +-1
    ("relu_max", ["RELU", "MINIMUM", "RELU"]),     # keras ReLU(max_value=...)
])
def test_converted_minimum_maximum(bit_exact, tfk, fn, kinds):
    tf, keras, quantize = tfk
    shape = (1, 4, 4, 8)
    fns = {"minimum": lambda a, b: tf.minimum(a, b), "maximum": lambda a, b: tf.maximum(a, b),
           "clip": lambda a: tf.clip_by_value(a, -2.0, 3.0),
           "relu_max": lambda a: keras.layers.ReLU(max_value=2.0)(a)}
    if fn in ("minimum", "maximum"):
        model = quantize.quantize_tf_function(
            fns[fn], [shape, (1, 1, 1, 8)], [rep(shape[1:], -3.0, 3.0),
                                             rep((1, 1, 8), -1.0, 2.0, seed=1)])
    else:
        model = quantize.quantize_tf_function(fns[fn], shape, rep(shape[1:], -5.0, 5.0))
    conversion = bit_exact(model, samples=6, all_paths=True)
    assert [op.kind for op in conversion.graph.ops] == kinds


@pytest.mark.parametrize("alpha", [0.3, 0.01])
@pytest.mark.parametrize("lo,hi", RANGES[1:] + [(-0.5, 8.0)])
def test_converted_leaky_relu(bit_exact, tfk, alpha, lo, hi):
    _, keras, quantize = tfk
    keras.utils.set_random_seed(5)
    inp = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(inp)
    x = keras.layers.LeakyReLU(negative_slope=alpha)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    model = quantize.quantize_keras(keras.Model(inp, keras.layers.ReLU(negative_slope=alpha)(x)),
                                    rep((6, 6, 3), lo, hi))
    conversion = bit_exact(model, samples=6)
    assert [op.kind for op in conversion.graph.ops].count("LEAKY_RELU") == 2


def test_converted_clip_to_unit_range_is_refused(tfk, tmp_path):
    """tf.clip_by_value(x, -1, 1) on a model input becomes RELU_N1_TO_1, which TFLite Micro
    has no kernel for: refused, naming the op."""
    tf, _, quantize = tfk
    shape = (1, 8)
    model = quantize.quantize_tf_function(lambda x: tf.clip_by_value(x, -1.0, 1.0), shape,
                                          rep(shape[1:], -2.0, 2.0))
    _rejected(model, tmp_path / "c", "RELU_N1_TO_1", "TFLite Micro has no kernel")


@pytest.mark.tflm
def test_prelu_every_pair_many_scales(out_dir):
    """Every input value against every alpha value, random scales and zero points (alpha's
    scale as Keras' slopes get it: a small one, and a large one), output scales around the
    input's."""
    rng = np.random.default_rng(17)
    ops = pair_ops(rng, 12, lambda s1, s2: s1 * float(log_uniform(rng, 1 / 4, 4, 1)[0]))
    ops.append(dict(inputs=[((256, 1), 0.02, -128), ((1, 256), 1 / 127, 0)],
                    output=((256, 256), 0.02, -128)))
    ops.append(dict(inputs=[((256, 1), 0.05, 127), ((1, 256), 2.0, -5)],
                    output=((256, 256), 0.5, 3)))
    compare_with_tflm(parallel_model("PRELU", ops), out_dir(), every_pair(ops), all_paths=True)


@pytest.mark.parametrize("shared_axes", [None, [1, 2]])
def test_converted_prelu(bit_exact, tfk, shared_axes):
    _, keras, quantize = tfk
    keras.utils.set_random_seed(9)
    inp = keras.Input((6, 5, 4))
    x = keras.layers.Conv2D(8, 3, padding="same")(inp)
    x = keras.layers.PReLU(alpha_initializer=keras.initializers.RandomUniform(-0.5, 0.5),
                           shared_axes=shared_axes)(x)
    model = keras.Model(inp, keras.layers.Conv2D(3, 1)(x))
    conversion = bit_exact(quantize.quantize_keras(model, rep((6, 5, 4), -1.0, 1.0)), samples=6)
    assert "PRELU" in {op.kind for op in conversion.graph.ops}
