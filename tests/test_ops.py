"""Every supported op alone, over shapes, strides, paddings and activations: the generated C
gives the same bytes as TFLite Micro."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf, pytest.mark.tflm]  # the tiers: tests/conftest.py
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from tflm_mcunet.quantize import quantize_keras, quantize_tf_function  # noqa: E402


def rep(shape, n=16, lo=-1.0, hi=1.0, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, (n, *shape)).astype(np.float32)


def keras_model(input_shape, *layer_list, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape)
    x = inp
    for layer in layer_list:
        x = layer(x)
    return keras.Model(inp, x)


@pytest.mark.parametrize("kernel,stride,padding,activation,size", [
    (1, 1, "same", None, 8), (3, 1, "same", "relu", 9), (3, 2, "same", "relu6", 10),
    (3, 2, "same", None, 9), (5, 2, "valid", None, 11), (7, 2, "same", "relu6", 16),
    ((3, 1), (2, 1), "same", None, 7), ((1, 5), 1, "valid", "relu", 8),
])
@pytest.mark.parametrize("filters", [6, 16])  # 16: whole vectors of the AVX2 path
def test_conv2d(bit_exact, kernel, stride, padding, activation, size, filters):
    m = keras_model((size, size + 1, 3), layers.Conv2D(filters, kernel, strides=stride,
                                                       padding=padding, activation=activation))
    bit_exact(quantize_keras(m, rep((size, size + 1, 3))), all_paths=True)


def test_conv2d_dilated_and_no_bias(bit_exact):
    m = keras_model((12, 12, 4), layers.Conv2D(5, 3, dilation_rate=2, padding="same",
                                               use_bias=False))
    bit_exact(quantize_keras(m, rep((12, 12, 4))), all_paths=True)


@pytest.mark.parametrize("kernel,stride,padding,activation,multiplier,size", [
    (3, 1, "same", "relu6", 1, 8), (3, 2, "same", None, 1, 9), (5, 2, "same", "relu", 1, 10),
    (7, 1, "valid", None, 1, 11), (3, 1, "same", None, 2, 6), (5, 2, "valid", "relu6", 1, 12),
])
@pytest.mark.parametrize("raster", [False, True])
def test_depthwise_conv2d(bit_exact, monkeypatch, kernel, stride, padding, activation, multiplier,
                          size, raster):
    if raster:  # the raster kernel even where running in place would save memory
        from tflm_mcunet.converter.passes import fuse

        monkeypatch.setattr(fuse, "choose_inplace_depthwise", lambda graph, dsp=False: None)
    channels = 40 if raster else 4  # raster: 16-channel groups of the AVX2 path and a tail
    m = keras_model((size, size, channels), layers.DepthwiseConv2D(
        kernel, strides=stride, padding=padding, depth_multiplier=multiplier,
        activation=activation))
    bit_exact(quantize_keras(m, rep((size, size, channels))), all_paths=True)


@pytest.mark.parametrize("activation,use_bias,shape", [
    (None, True, (20,)), ("relu", True, (33,)), ("relu6", False, (16,)), (None, True, (4, 6)),
])
def test_fully_connected(bit_exact, activation, use_bias, shape):
    m = keras_model(shape, layers.Dense(7, activation=activation, use_bias=use_bias))
    bit_exact(quantize_keras(m, rep(shape)), all_paths=True)


@pytest.mark.parametrize("shape_a,shape_b,activation", [
    ((6, 6, 8), (6, 6, 8), None), ((5, 7, 3), (5, 7, 3), "relu"), ((4, 4, 8), (1, 1, 8), None),
    ((4, 4, 8), (4, 1, 8), "relu6"),
])
def test_add(bit_exact, shape_a, shape_b, activation):
    def fn(a, b):
        y = a + b
        return tf.nn.relu(y) if activation == "relu" else (
            tf.nn.relu6(y) if activation == "relu6" else y)
    model = quantize_tf_function(fn, [(1, *shape_a), (1, *shape_b)],
                                 [rep(shape_a), rep(shape_b, seed=1, lo=-3.0, hi=7.0)])
    bit_exact(model)


@pytest.mark.parametrize("pool", ["avg", "max"])
@pytest.mark.parametrize("size,stride,padding,input_hw", [
    (2, 2, "valid", (8, 8)), (3, 2, "same", (9, 10)), (3, 1, "same", (5, 5)),
    ((2, 3), (1, 2), "valid", (7, 9)), (3, 3, "same", (10, 10)),
])
def test_pooling(bit_exact, pool, size, stride, padding, input_hw):
    cls = layers.AveragePooling2D if pool == "avg" else layers.MaxPooling2D
    shape = (*input_hw, 5)
    m = keras_model(shape, layers.Conv2D(5, 1), cls(size, strides=stride, padding=padding))
    bit_exact(quantize_keras(m, rep(shape)))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("hw", [(7, 7), (3, 5), (12, 12)])
def test_mean(bit_exact, keepdims, hw):
    shape = (*hw, 6)
    m = keras_model(shape, layers.Conv2D(6, 1), layers.GlobalAveragePooling2D(keepdims=keepdims))
    bit_exact(quantize_keras(m, rep(shape)))


@pytest.mark.parametrize("paddings", [
    [[0, 0], [1, 1], [1, 1], [0, 0]], [[0, 0], [0, 1], [2, 0], [0, 0]],
    [[0, 0], [1, 2], [0, 0], [1, 3]],
])
def test_pad(bit_exact, paddings):
    shape = (6, 5, 3)
    fn = lambda x: tf.pad(x, paddings)  # noqa: E731  (pads with the zero point)
    bit_exact(quantize_tf_function(fn, (1, *shape), rep(shape, lo=-0.5, hi=3.0)))


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenation(bit_exact, axis):
    shape = (4, 4, 3)
    fn = lambda a, b: tf.concat([tf.nn.relu6(a), tf.nn.relu6(b * 2.0)], axis=axis)  # noqa: E731
    bit_exact(quantize_tf_function(fn, [(1, *shape), (1, *shape)], [rep(shape), rep(shape)]))


def test_flatten_reshape_folds_shape_arithmetic(bit_exact):
    m = keras_model((5, 4, 3), layers.Conv2D(4, 3), layers.Flatten(), layers.Dense(6))
    bit_exact(quantize_keras(m, rep((5, 4, 3))))


def test_reshape_and_squeeze(bit_exact):
    fn = lambda x: tf.squeeze(tf.reshape(tf.nn.relu(x), (1, 1, 12, 4)), axis=1)  # noqa: E731
    bit_exact(quantize_tf_function(fn, (1, 6, 8), rep((6, 8))))


@pytest.mark.parametrize("shape", [(8, 8, 3), (10,)])
def test_float_edges(bit_exact, shape):
    layer = layers.Conv2D(4, 3, padding="same") if len(shape) == 3 else layers.Dense(5)
    m = keras_model(shape, layer)
    bit_exact(quantize_keras(m, rep(shape), float_io=True), all_paths=True)


@pytest.mark.parametrize("lo,hi", [(-0.01, 0.01), (-50.0, 50.0), (0.0, 3.0)])
def test_extreme_scales(bit_exact, lo, hi):
    m = keras_model((6, 6, 3), layers.Conv2D(4, 3, padding="same", activation="relu"),
                    layers.DepthwiseConv2D(3), layers.GlobalAveragePooling2D(), layers.Dense(3))
    bit_exact(quantize_keras(m, rep((6, 6, 3), lo=lo, hi=hi)), all_paths=True)


def _depthwise_chain(kernel, stride, size):
    return keras_model((size, size, 24), layers.Conv2D(32, 1, activation="relu"),
                       layers.DepthwiseConv2D(kernel, strides=stride, padding="same",
                                              activation="relu6"),
                       layers.DepthwiseConv2D(3, padding="same"), layers.Conv2D(16, 1))


@pytest.mark.parametrize("kernel,size", [(3, 6), (5, 8), (7, 9)])
def test_inplace_depthwise_chain(bit_exact, kernel, size):
    """Few pixels, many channels: the depthwise layers overwrite their inputs in place where
    that lowers the arena."""
    m = _depthwise_chain(kernel, 1, size)
    conversion = bit_exact(quantize_keras(m, rep((size, size, 24))), all_paths=True)
    assert any(op.params.get("inplace") for op in conversion.graph.ops)


@pytest.mark.parametrize("kernel,stride,size,pad", [
    (3, 1, 6, "same"), (3, 2, 7, "same"), (5, 1, 8, "valid"), (7, 2, 9, "same"),
    (5, 2, 10, "valid"), (3, 2, 20, "same"), (3, 1, 19, "same"), (7, 1, 23, "same"),
])
def test_inplace_depthwise_kernel_every_shape(bit_exact, monkeypatch, kernel, stride, size, pad):
    """Every depthwise candidate forced in place (the converter keeps in place only where it
    saves memory): strides, paddings, rows wider than a vector of 16."""
    from tflm_mcunet.converter.passes import fuse, inplace

    def everything_in_place(graph, dsp=False):
        for op in inplace.inplace_candidates(graph):
            op.params["inplace"] = True

    monkeypatch.setattr(fuse, "choose_inplace_depthwise", everything_in_place)
    m = keras_model((size, size, 24), layers.Conv2D(32, 1, activation="relu"),
                    layers.DepthwiseConv2D(kernel, strides=stride, padding=pad,
                                           activation="relu6"),
                    layers.DepthwiseConv2D(3, padding="same"), layers.Conv2D(16, 1))
    conversion = bit_exact(quantize_keras(m, rep((size, size, 24))), all_paths=True)
    assert sum(bool(op.params.get("inplace")) for op in conversion.graph.ops) == 2


def test_inplace_output_rows_only_overwrite_input_rows_already_read():
    """The in-place kernel writes each output row over the input at once: for every TFLite
    padding (at most k - 1) and stride that holds, and a layer where it would not gets the
    raster kernel."""
    from tflm_mcunet.converter.ops.base import same_padding, window_output_size
    from tflm_mcunet.converter.ops.conv import inplace_rows_are_read_first

    for size, k, s, padding in itertools.product(range(1, 24), range(1, 8), (1, 2, 3),
                                                 ("SAME", "VALID")):
        out = window_output_size(padding, size, s, 1, k)
        if out < 1:
            continue
        pad = same_padding(size, out, s, 1, k) if padding == "SAME" else 0
        p = dict(in_h=size, in_w=size + 1, out_h=out, out_w=window_output_size(
            padding, size + 1, s, 1, k), k_h=k, stride_h=s, pad_top=pad, dil_h=1)
        assert inplace_rows_are_read_first(p), p
    # padding past the window's reach: output row 1 would land on input row 1 unread, so the
    # layer is no candidate for the in-place kernel (the raster one takes it)
    from tflm_mcunet.converter.ir import Op
    from tflm_mcunet.converter.ops import lookup

    p = dict(in_h=6, in_w=6, out_h=6, out_w=6, k_h=1, k_w=1, stride_h=1, stride_w=1, pad_top=1,
             pad_left=0, dil_h=1, dil_w=1, depth_multiplier=1)
    assert not inplace_rows_are_read_first(p)
    depthwise = lookup("DEPTHWISE_CONV_2D")
    assert not depthwise.can_run_inplace(Op(0, "DEPTHWISE_CONV_2D", [], [], params=p))
    assert depthwise.can_run_inplace(Op(0, "DEPTHWISE_CONV_2D", [], [], params=dict(p, pad_top=0)))


def test_residual_add_is_fused_into_the_projection(bit_exact):
    inp = keras.Input((10, 10, 8))
    x = layers.Conv2D(24, 1, activation="relu6")(inp)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = layers.Conv2D(8, 1)(x)
    m = keras.Model(inp, layers.Add()([inp, x]))
    conversion = bit_exact(quantize_keras(m, rep((10, 10, 8))), all_paths=True)
    kinds = [row.kind for row in conversion.report.layers]
    assert "ADD" not in kinds and "CONV_2D+ADD" in kinds


def test_residual_add_is_fused_into_a_depthwise_convolution(bit_exact):
    inp = keras.Input((9, 9, 24))  # 24 channels: a 16-channel group of the AVX2 path and a tail
    x = layers.DepthwiseConv2D(3, padding="same")(inp)
    m = keras.Model(inp, layers.Add()([x, inp]))
    conversion = bit_exact(quantize_keras(m, rep((9, 9, 24))), all_paths=True)
    kinds = [row.kind for row in conversion.report.layers]
    assert kinds == ["DEPTHWISE_CONV_2D+ADD"], kinds


def test_pad_is_fused_into_the_convolution(bit_exact):
    m = keras_model((9, 9, 4), layers.ZeroPadding2D(((2, 1), (1, 2))),
                    layers.Conv2D(6, 3, strides=2))
    conversion = bit_exact(quantize_keras(m, rep((9, 9, 4))), all_paths=True)
    assert [op.kind for op in conversion.graph.ops] == ["CONV_2D"]
