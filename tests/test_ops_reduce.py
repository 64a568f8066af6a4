"""REDUCE_MAX, REDUCE_MIN and SUM over any axes, ARG_MAX and ARG_MIN along one: bit-exact with
TFLite Micro, and refused where TFLite Micro fails.

Flatbuffer models of several reductions side by side (shapes of rank 1 to 4, axes positive,
negative and repeated, with and without keep_dims, random quantization), and models from the
TFLite converter (Keras' GlobalMaxPooling2D, tf.reduce_min, tf.reduce_sum).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
from tflm_mcunet.tflm import TFLMError, run_tflm

from conftest import compare_with_tflm
from flatbuffer_models import ModelBuilder
from test_ops_nonlinear import _rejected, rep

_dirs = itertools.count()

#: (input shape, axes, keep_dims)
REDUCTIONS = [((1, 5, 6, 3), [1, 2], True), ((1, 5, 6, 3), [2, 1], False),
              ((2, 3, 4), [-1], False), ((4, 7), [0], True), ((1, 3, 4, 5), [3, 1, 3], False),
              ((6,), [0], False), ((1, 4, 4, 8), [3], True), ((3, 2, 5), [0, 1, 2], True)]


@pytest.fixture
def out_dir(tmp_path):
    return lambda: tmp_path / f"c{next(_dirs)}"


def reduced_shape(shape, axes, keep):
    gone = {a % len(shape) for a in axes}
    return [1 if k in gone else d for k, d in enumerate(shape)] if keep else \
        [d for k, d in enumerate(shape) if k not in gone]


def reductions_model(kind: str, cases, rng) -> tuple[bytes, list]:
    """One `kind` op per case, side by side; (model, the input shapes)."""
    b = ModelBuilder()
    inputs, outputs = [], []
    for k, (shape, axes, keep) in enumerate(cases):
        scale, zp = float(np.exp(rng.uniform(np.log(1e-3), np.log(2.0)))), \
            int(rng.integers(-128, 128))
        out_scale, out_zp = scale, zp
        if kind == "SUM":
            count = int(np.prod(shape)) // max(int(np.prod(reduced_shape(shape, axes, True))), 1)
            out_scale = scale * float(rng.uniform(0.2, 1.5)) * max(count, 1) ** 0.5
            out_zp = int(rng.integers(-128, 128))
        x = b.tensor(f"x{k}", shape, "int8", scale, zp)
        y = b.tensor(f"y{k}", reduced_shape(shape, axes, keep), "int8", out_scale, out_zp)
        b.op(kind, [x, b.const(f"axes{k}", np.array(axes, np.int32).reshape(-1), "int32")], [y],
             "ReducerOptions", keepDims=keep)
        inputs.append(x)
        outputs.append(y)
    return b.build(inputs, outputs, f"{kind} x {len(cases)}"), [c[0] for c in cases]


def random_batches(shapes, rng, count=4):
    batches = [[rng.integers(-128, 128, s).astype(np.int8) for s in shapes] for _ in range(count)]
    batches.append([np.full(s, -128, np.int8) for s in shapes])
    batches.append([np.full(s, 127, np.int8) for s in shapes])
    return batches


@pytest.mark.tflm
@pytest.mark.parametrize("kind", ["REDUCE_MAX", "REDUCE_MIN", "SUM"])
def test_reductions_over_any_axes(out_dir, kind):
    rng = np.random.default_rng(len(kind))
    model, shapes = reductions_model(kind, REDUCTIONS, rng)
    compare_with_tflm(model, out_dir(), random_batches(shapes, rng), all_paths=True)


@pytest.mark.tflm
def test_sum_of_many_extreme_values(out_dir):
    """4,096 values of 127 or -128 and tiny output scales: the sum saturates the int8 output;
    input zero points at both ends."""
    rng = np.random.default_rng(7)
    b = ModelBuilder()
    ins, outs = [], []
    for k, (zp, out_scale) in enumerate([(-128, 1e-4), (127, 1e-4), (0, 40.0), (5, 0.3)]):
        x = b.tensor(f"x{k}", (1, 64, 64, 1), "int8", 0.01, zp)
        y = b.tensor(f"y{k}", (1, 1), "int8", out_scale, -3)
        b.op("SUM", [x, b.const(f"axes{k}", [1, 2], "int32")], [y], "ReducerOptions",
             keepDims=False)
        ins.append(x)
        outs.append(y)
    compare_with_tflm(b.build(ins, outs), out_dir(),
                      random_batches([(1, 64, 64, 1)] * 4, rng, count=2))


@pytest.mark.tflm
@pytest.mark.parametrize("kind", ["REDUCE_MAX", "REDUCE_MIN"])
@pytest.mark.parametrize("out_scale,out_zp", [(0.1, 3), (0.05, -7)])
def test_max_min_refuse_requantization(out_dir, kind, out_scale, out_zp):
    b = ModelBuilder()
    x = b.tensor("x", (1, 4, 4, 2), "int8", 0.05, 3)
    y = b.tensor("y", (1, 2), "int8", out_scale, out_zp)
    b.op(kind, [x, b.const("axes", [1, 2], "int32")], [y], "ReducerOptions", keepDims=False)
    model = b.build([x], [y])
    _rejected(model, out_dir(), kind, "differ")
    with pytest.raises(TFLMError):
        run_tflm(model, np.zeros((1, 4, 4, 2), np.int8))


def test_reduction_refuses_axes_out_of_range(out_dir):
    b = ModelBuilder()
    x = b.tensor("x", (1, 4, 2), "int8", 0.05, 3)
    y = b.tensor("y", (1, 4, 2), "int8", 0.05, 3)
    b.op("SUM", [x, b.const("axes", [3], "int32")], [y], "ReducerOptions", keepDims=True)
    _rejected(b.build([x], [y]), out_dir(), "SUM", "out of range")


@pytest.mark.tf
def test_converted_global_max_pooling(bit_exact, tfk):
    _, keras, quantize = tfk
    keras.utils.set_random_seed(5)
    inp = keras.Input((7, 6, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.GlobalMaxPooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(4)(x))
    conversion = bit_exact(quantize.quantize_keras(model, rep((7, 6, 3), -1.0, 1.0)), samples=6)
    assert "REDUCE_MAX" in {op.kind for op in conversion.graph.ops}


@pytest.mark.tf
@pytest.mark.parametrize("name,axes", [("min", [1]), ("sum", [2, 3]), ("sum", [1])])
def test_converted_reduce_min_and_sum(bit_exact, tfk, name, axes):
    tf, _, quantize = tfk
    fn = {"min": tf.reduce_min, "sum": tf.reduce_sum}[name]
    shape = (1, 4, 5, 6)
    model = quantize.quantize_tf_function(lambda x: fn(x, axis=axes), shape,
                                          rep(shape[1:], -2.0, 3.0))
    conversion = bit_exact(model, samples=6)
    assert [op.kind for op in conversion.graph.ops] == \
        [{"min": "REDUCE_MIN", "sum": "SUM"}[name]]


def arg_model(cases) -> tuple[bytes, list]:
    """cases: (kind, input shape, axis, axis dtype, output dtype), side by side."""
    b = ModelBuilder()
    ins, outs = [], []
    for k, (kind, shape, axis, axis_dtype, out_dtype) in enumerate(cases):
        x = b.tensor(f"x{k}", shape, "int8", 0.05, k - 3)
        out_shape = [d for j, d in enumerate(shape) if j != axis % len(shape)]
        y = b.tensor(f"y{k}", out_shape, out_dtype)
        options = "ArgMaxOptions" if kind == "ARG_MAX" else "ArgMinOptions"
        b.op(kind, [x, b.const(f"axis{k}", [axis], axis_dtype)], [y], options,
             outputType=fb.TensorType.INT32 if out_dtype == "int32" else fb.TensorType.INT64)
        ins.append(x)
        outs.append(y)
    return b.build(ins, outs, "arg min max"), [c[1] for c in cases]


@pytest.mark.tflm
def test_arg_max_and_min(out_dir):
    cases = [(kind, shape, axis, axis_dtype, out_dtype)
             for kind in ("ARG_MAX", "ARG_MIN")
             for shape, axis, axis_dtype, out_dtype in [
                 ((1, 4, 5, 10), 3, "int32", "int32"), ((1, 4, 5, 10), -3, "int32", "int32"),
                 ((7,), 0, "int32", "int32"), ((3, 6), 0, "int32", "int32")]]
    model, shapes = arg_model(cases)
    rng = np.random.default_rng(3)
    # small value ranges: many ties, where the first index must win
    batches = [[rng.integers(-2, 3, s).astype(np.int8) for s in shapes] for _ in range(3)]
    compare_with_tflm(model, out_dir(), batches + random_batches(shapes, rng, count=2),
                      all_paths=True)


@pytest.mark.tf
def test_converted_arg_max(bit_exact, tfk, out_dir):
    """tf.argmax with int32 indices converts; with its default int64 ones TFLite Micro fails,
    and the error says how to ask for int32."""
    tf, _, quantize = tfk
    shape = (1, 4, 5, 6)
    model = quantize.quantize_tf_function(
        lambda x: tf.argmax(x * 2.0, axis=3, output_type=tf.int32), shape,
        rep(shape[1:], -1.0, 1.0))
    conversion = bit_exact(model, samples=6)
    assert "ARG_MAX" in {op.kind for op in conversion.graph.ops}
    model64 = quantize.quantize_tf_function(lambda x: tf.argmax(x * 2.0, axis=3), shape,
                                            rep(shape[1:], -1.0, 1.0))
    with pytest.raises(TFLMError):
        run_tflm(model64, np.zeros(shape, np.int8))
    _rejected(model64, out_dir(), "ARG_MAX", "output_type=tf.int32")
