"""STRIDED_SLICE on activations, SPLIT, SPLIT_V and QUANTIZE to uint8 alone: the generated C
gives the same bytes as TFLite Micro."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf, pytest.mark.tflm]  # the tiers: tests/conftest.py
import tensorflow as tf  # noqa: E402

from conftest import compare_with_tflm  # noqa: E402

from tflm_mcunet.converter.reader import read_tflite  # noqa: E402
from tflm_mcunet.quantize import quantize_tf_function  # noqa: E402


def rep(shape, n=16, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n, *shape)).astype(np.float32)


def kinds(model: bytes) -> list[str]:
    return [op.kind for op in read_tflite(model).ops]


@pytest.mark.parametrize("name,slicer,shape", [
    ("tail of a window", lambda x: x[:, 3:, :], (8, 40)),
    ("negative begin", lambda x: x[:, -2:], (7, 19, 8)),
    ("strides and reversal", lambda x: x[:, 1:6:2, ::-1, :], (7, 6, 5)),
    ("shrunk axis", lambda x: x[:, 2, :, 1:3], (4, 5, 3)),
    ("every other channel, 3-D", lambda x: x[:, 1:, ::2], (4, 7)),
])
def test_strided_slice(bit_exact, name, slicer, shape):
    # the relu before the slice keeps the slice on an activation (not folded)
    model = quantize_tf_function(lambda x: slicer(tf.nn.relu(x)), (1, *shape), rep(shape))
    assert "STRIDED_SLICE" in kinds(model), name
    bit_exact(model)


@pytest.mark.parametrize("sizes,axis", [(3, 2), ([1, 3, 2], -1), ([2, -1], 1)])
def test_split_and_split_v(bit_exact, sizes, axis):
    shape = (4, 6, 6)
    model = quantize_tf_function(lambda x: list(tf.split(tf.nn.relu(x) * 2.0, sizes, axis=axis)),
                                 (1, *shape), rep(shape))
    assert ("SPLIT" if isinstance(sizes, int) else "SPLIT_V") in kinds(model)
    bit_exact(model)


@pytest.mark.parametrize("io", ["output", "input and output"])
def test_quantize_to_and_from_uint8(bit_exact, tmp_path, io):
    """inference_output_type = tf.uint8 ends the model with a QUANTIZE int8 -> uint8;
    inference_input_type = tf.uint8 starts it with a QUANTIZE uint8 -> int8."""
    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def fn(x):
        return tf.sigmoid(tf.matmul(x, tf.constant(np.linspace(-2, 2, 24, dtype=np.float32)
                                                   .reshape(8, 3))))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s[None]] for s in rep((8,)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8 if io == "input and output" else tf.int8
    converter.inference_output_type = tf.uint8
    model = converter.convert()
    graph = read_tflite(model)
    assert graph.ops[-1].kind == "QUANTIZE" and graph.outputs[0].dtype == "uint8"
    if io == "input and output":
        assert graph.ops[0].kind == "QUANTIZE" and graph.inputs[0].dtype == "uint8"
        rng = np.random.default_rng(0)
        samples = [[rng.integers(0, 256, (1, 8), dtype=np.uint8)] for _ in range(8)]
        samples += [[np.zeros((1, 8), np.uint8)], [np.full((1, 8), 255, np.uint8)]]
        compare_with_tflm(model, tmp_path / "c", samples)
    else:
        bit_exact(model, samples=8)


def test_strided_slice_of_five_dimensions_is_refused_as_tflite_micro_does():
    from tflm_mcunet.converter.errors import ConversionError
    from tflm_mcunet.converter.pipeline import load_graph

    shape = (2, 3, 4, 5)
    model = quantize_tf_function(lambda x: tf.nn.relu(x)[:, :, 1:, :, ::2], (1, *shape),
                                 rep(shape))
    with pytest.raises(ConversionError, match=r"operator #\d+ \(STRIDED_SLICE\).*1 to 4"):
        load_graph(model)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_unpack(bit_exact, axis):
    """tf.unstack: UNPACK into the slices along an axis (as an unrolled GRU reads its steps)."""
    shape = (3, 4, 5)
    model = quantize_tf_function(
        lambda x: [t * 1.5 for t in tf.unstack(tf.nn.relu(x) * 2.0, axis=axis)], (1, *shape),
        rep(shape))
    assert "UNPACK" in kinds(model)
    bit_exact(model)


def test_unrolled_gru(bit_exact):
    """Keras' GRU unrolled (UNPACK, FULLY_CONNECTED, SPLIT, STRIDED_SLICE, ADD, SUB, MUL,
    LOGISTIC, TANH), as the issue that asked for these operators put it."""
    import keras

    keras.utils.set_random_seed(1)
    inp = keras.Input((6, 5))
    x = keras.layers.Dense(3)(keras.layers.GRU(8, unroll=True)(inp))
    from tflm_mcunet.quantize import quantize_keras

    model = quantize_keras(keras.Model(inp, x),
                           np.random.default_rng(0).uniform(-1, 1, (16, 6, 5)).astype("f4"))
    assert {"UNPACK", "SPLIT", "TANH", "LOGISTIC", "SUB"} <= set(kinds(model))
    bit_exact(model, samples=8)
