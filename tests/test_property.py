"""Property test: random small Keras graphs of the supported ops, quantized to int8 with a
representative dataset, give the same output bytes in our C as in TFLite Micro."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf, pytest.mark.tflm]  # the tiers: tests/conftest.py
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from conftest import check_bit_exact  # noqa: E402

from tflm_mcunet.converter import ConversionError  # noqa: E402
from tflm_mcunet.quantize import quantize_keras  # noqa: E402

EXAMPLES = int(os.environ.get("TFLM_MCUNET_PROPERTY_EXAMPLES", "60"))
ACTIVATIONS = [None, "relu", "relu6"]


@st.composite
def graphs(draw):
    """A recipe: input shape, a list of blocks, and a head."""
    h = draw(st.integers(4, 14))
    w = draw(st.integers(4, 14))
    c = draw(st.integers(1, 6))
    blocks = draw(st.lists(st.sampled_from(
        ["conv", "depthwise", "pool", "residual", "concat", "pad", "pointwise", "se",
         "hard_swish", "sigmoid", "relu", "subtract", "leaky_relu", "clip", "squared_diff",
         "minmax", "tanh", "global_max", "prelu", "resize"]),
        min_size=1, max_size=5))
    params = [dict(kernel=draw(st.sampled_from([1, 3, 5, 7])), stride=draw(st.sampled_from([1, 2])),
                   padding=draw(st.sampled_from(["same", "valid"])),
                   act=draw(st.sampled_from(ACTIVATIONS)), out=draw(st.integers(1, 8)),
                   avg=draw(st.booleans())) for _ in blocks]
    head = draw(st.sampled_from(["none", "gap_dense", "flatten_dense", "gap", "softmax"]))
    scale = draw(st.sampled_from([0.05, 1.0, 6.0]))
    seed = draw(st.integers(0, 2**16))
    return (h, w, c), list(zip(blocks, params)), head, scale, seed


def build(recipe) -> keras.Model:
    shape, blocks, head, _, seed = recipe
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    x = inp

    def fits(p):  # VALID windows need room; SAME ones always fit
        return p["padding"] == "same" or min(x.shape[1], x.shape[2]) >= p["kernel"]

    for kind, p in blocks:
        if kind == "conv" and fits(p):
            x = layers.Conv2D(p["out"], p["kernel"], strides=p["stride"], padding=p["padding"],
                              activation=p["act"])(x)
        elif kind == "depthwise" and fits(p):
            x = layers.DepthwiseConv2D(p["kernel"], strides=p["stride"], padding=p["padding"],
                                       activation=p["act"])(x)
        elif kind == "pointwise":
            x = layers.Conv2D(p["out"], 1, activation=p["act"])(x)
        elif kind == "pool" and min(x.shape[1], x.shape[2]) >= 2:
            pool = layers.AveragePooling2D if p["avg"] else layers.MaxPooling2D
            x = pool(2, strides=p["stride"], padding=p["padding"])(x)
        elif kind == "residual":
            branch = layers.Conv2D(x.shape[-1], 3, padding="same", activation="relu")(x)
            branch = layers.Conv2D(x.shape[-1], 1)(branch)
            x = layers.Add()([x, branch])
            if p["act"]:
                x = layers.Activation(p["act"])(x)
        elif kind == "concat":
            a = layers.Conv2D(p["out"], 1, activation="relu")(x)
            b = layers.DepthwiseConv2D(3, padding="same")(x)
            x = layers.Concatenate()([a, b])
        elif kind == "se":  # squeeze-and-excitation: gate the channels by a sigmoid
            gate = layers.GlobalAveragePooling2D(keepdims=True)(x)
            gate = layers.Conv2D(max(x.shape[-1] // 2, 1), 1, activation="relu")(gate)
            gate = layers.Conv2D(x.shape[-1], 1, activation="sigmoid")(gate)
            x = layers.Multiply()([x, gate])
        elif kind == "subtract":  # a branch off the input, subtracted from it (SUB)
            branch = layers.Conv2D(x.shape[-1], 1, activation=p["act"])(x)
            x = layers.Subtract()([x, branch] if p["avg"] else [branch, x])
        elif kind == "leaky_relu":
            x = layers.LeakyReLU(negative_slope=0.1 * p["kernel"])(layers.Conv2D(p["out"], 1)(x))
        elif kind == "clip":  # ReLU(max_value): RELU, MINIMUM, RELU
            x = layers.ReLU(max_value=0.5 * p["kernel"])(layers.Conv2D(p["out"], 1)(x))
        elif kind == "squared_diff":  # (x - spatial mean)^2: MEAN, SQUARED_DIFFERENCE
            mean = layers.GlobalAveragePooling2D(keepdims=True)(x)
            x = layers.Lambda(lambda t: tf.math.squared_difference(t[0], t[1]))([x, mean])
        elif kind == "minmax":  # MAXIMUM / MINIMUM of two branches
            branch = layers.DepthwiseConv2D(3, padding="same")(x)
            x = (layers.Maximum() if p["avg"] else layers.Minimum())([x, branch])
        elif kind in ("hard_swish", "sigmoid", "relu", "tanh"):
            x = layers.Activation(kind)(layers.Conv2D(p["out"], 1)(x))
        elif kind == "prelu":  # a slope per channel
            x = layers.PReLU(alpha_initializer=keras.initializers.RandomUniform(-0.5, 0.5),
                             shared_axes=[1, 2])(layers.Conv2D(p["out"], 1)(x))
        elif kind == "resize":  # RESIZE_BILINEAR / _NEAREST_NEIGHBOR (UpSampling2D is TILE)
            x = layers.Resizing(x.shape[1] + p["stride"], x.shape[2] * 2 - 1,
                                interpolation="bilinear" if p["avg"] else "nearest")(x)
        elif kind == "global_max":  # REDUCE_MAX over height and width
            x = layers.GlobalMaxPooling2D(keepdims=True)(x)
        elif kind == "pad":
            x = layers.ZeroPadding2D(((1, p["stride"] - 1), (p["kernel"] // 2, 1)))(x)
    if head == "gap":
        x = layers.GlobalAveragePooling2D()(x)
    elif head == "gap_dense":
        x = layers.Dense(5, activation="relu")(layers.GlobalAveragePooling2D()(x))
    elif head == "flatten_dense":
        x = layers.Dense(4)(layers.Flatten()(x))
    elif head == "softmax":
        x = layers.Softmax()(layers.Dense(6)(layers.GlobalAveragePooling2D()(x)))
    return keras.Model(inp, x)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs())
def test_random_graphs_are_bit_exact(recipe):
    shape, _, _, scale, seed = recipe
    model = build(recipe)
    data = np.random.default_rng(seed).uniform(-scale, scale, (12, *shape)).astype(np.float32)
    tflite = quantize_keras(model, data)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            # (the AVX2 path: test_ops.py and the zoo models of test_sanitizers.py)
            check_bit_exact(tflite, os.path.join(tmp, "c"), samples=3, seed=seed, all_paths=True,
                            skip_paths=("avx2",))
        except ConversionError as e:
            # a graph whose activations all but vanish: the quantizer gives a softmax input a
            # scale TFLite Micro aborts on, so there is no oracle to compare with
            assert "TFLite Micro aborts on it" in str(e), e
            reject()
