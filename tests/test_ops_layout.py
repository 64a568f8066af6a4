"""TRANSPOSE, SLICE, SPACE_TO_DEPTH, DEPTH_TO_SPACE (strided copies) and EXPAND_DIMS (no
code, but kept in the graph): bit-exact with TFLite Micro, bad parameters refused with the op named.

Flatbuffer models of several ops side by side (ranks 1 to 5, int32 and int64
parameters, -1 sizes, input and output quantized differently: TFLite Micro copies the bytes),
and models from the TFLite converter.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from tflm_mcunet.tflm import TFLMError, run_tflm

from conftest import compare_with_tflm
from flatbuffer_models import ModelBuilder
from test_ops_nonlinear import _rejected, rep

_dirs = itertools.count()


@pytest.fixture
def out_dir(tmp_path):
    return lambda: tmp_path / f"c{next(_dirs)}"


def side_by_side(cases) -> tuple[bytes, list]:
    """cases: (kind, input shape, output shape, [(const values, dtype), ...], options name,
    option fields); one op each, side by side; (model, input shapes)."""
    rng = np.random.default_rng(len(cases))
    b = ModelBuilder()
    ins, outs = [], []
    for k, (kind, shape, out_shape, consts, options, fields) in enumerate(cases):
        x = b.tensor(f"x{k}", shape, "int8", float(rng.uniform(0.01, 0.1)),
                     int(rng.integers(-128, 128)))
        y = b.tensor(f"y{k}", out_shape, "int8", float(rng.uniform(0.01, 0.1)),
                     int(rng.integers(-128, 128)))
        params = [b.const(f"p{k}_{j}", np.asarray(v, dtype), dtype)
                  for j, (v, dtype) in enumerate(consts)]
        b.op(kind, [x] + params, [y], options, **fields)
        ins.append(x)
        outs.append(y)
    return b.build(ins, outs, "layout ops"), [c[1] for c in cases]


def batches(shapes, count=3, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.integers(-128, 128, s).astype(np.int8) for s in shapes] for _ in range(count)]


def transpose_case(shape, perm, dtype="int32"):
    out = [shape[p % len(shape)] for p in perm]
    return ("TRANSPOSE", shape, out, [(perm, dtype)], "TransposeOptions", {})


def slice_case(shape, begin, size, dtype="int32"):
    out = [d - b if s == -1 else s for b, s, d in zip(begin, size, shape)]
    return ("SLICE", shape, out, [(begin, dtype), (size, dtype)], "SliceOptions", {})


def block_case(kind, shape, block):
    n, h, w, c = shape
    out = [n, h // block, w // block, c * block * block] if kind == "SPACE_TO_DEPTH" else \
        [n, h * block, w * block, c // (block * block)]
    options = "SpaceToDepthOptions" if kind == "SPACE_TO_DEPTH" else "DepthToSpaceOptions"
    return (kind, shape, out, [], options, {"blockSize": block})


@pytest.mark.tflm
def test_transpose_any_permutation(out_dir):
    cases = [transpose_case((3, 5), [1, 0]), transpose_case((2, 3, 4), [2, 0, 1]),
             transpose_case((1, 4, 5, 3), [0, 3, 1, 2]),
             transpose_case((1, 4, 5, 3), [0, 2, 1, 3]),
             transpose_case((2, 3, 4, 5), [3, 2, 1, 0]),
             transpose_case((2, 3, 2, 3, 2), [4, 1, 3, 0, 2]),
             transpose_case((1, 4, 5, 3), [0, 3, 2, 1])]
    model, shapes = side_by_side(cases)
    compare_with_tflm(model, out_dir(), batches(shapes), all_paths=True)


@pytest.mark.tflm
def test_slice_boxes(out_dir):
    cases = [slice_case((10,), [3], [5]), slice_case((4, 6), [1, 2], [-1, 3]),
             slice_case((1, 6, 7, 5), [0, 2, 1, 1], [1, 3, -1, 4]),
             slice_case((1, 6, 7, 5), [0, 0, 0, 4], [-1, -1, -1, 1], "int64"),
             slice_case((2, 3, 4, 5, 2), [1, 0, 2, 1, 0], [1, 3, 2, 3, 2]),
             slice_case((1, 4, 4, 8), [0, 0, 0, 0], [1, 4, 4, 8])]
    model, shapes = side_by_side(cases)
    compare_with_tflm(model, out_dir(), batches(shapes), all_paths=True)


@pytest.mark.tflm
def test_space_to_depth_and_back(out_dir):
    cases = [block_case("SPACE_TO_DEPTH", (1, 4, 6, 3), 2),
             block_case("SPACE_TO_DEPTH", (1, 6, 9, 2), 3),
             block_case("SPACE_TO_DEPTH", (2, 4, 4, 1), 4),
             block_case("DEPTH_TO_SPACE", (1, 2, 3, 12), 2),
             block_case("DEPTH_TO_SPACE", (1, 3, 2, 18), 3),
             block_case("DEPTH_TO_SPACE", (2, 1, 1, 16), 4)]
    model, shapes = side_by_side(cases)
    compare_with_tflm(model, out_dir(), batches(shapes), all_paths=True)


@pytest.mark.parametrize("case,words", [
    (transpose_case((2, 3, 4), [0, 0, 1]), ["TRANSPOSE", "not a permutation"]),
    (("TRANSPOSE", (2, 3), (2, 3), [([1, 0], "int32")], "TransposeOptions", {}),
     ["TRANSPOSE", "permuted"]),
    (transpose_case((2, 1, 3, 2, 2, 3), [5, 0, 4, 1, 3, 2]), ["TRANSPOSE", "1 to 5"]),
    (transpose_case((1, 4, 5, 3), [0, -1, 1, 2]), ["TRANSPOSE", "0 to 3"]),
    (transpose_case((1, 4, 5, 3), [0, 3, 1, 2], "int64"), ["TRANSPOSE", "int32"]),
    (slice_case((4, 6), [2, 2], [3, 3]), ["SLICE", "outside"]),
    (slice_case((4, 6), [0], [2]), ["SLICE", "one value per input axis"]),
    (block_case("SPACE_TO_DEPTH", (1, 5, 4, 2), 2), ["SPACE_TO_DEPTH", "multiples"]),
    (block_case("DEPTH_TO_SPACE", (1, 2, 2, 6), 2), ["DEPTH_TO_SPACE", "multiple"]),
])
def test_bad_layout_parameters_are_refused(out_dir, case, words):
    kind, shape, out_shape, consts, options, fields = case
    if kind == "SLICE" and len(consts[0][0]) == len(shape):
        out_shape = (3, 3)  # the shape the bad slice asks for
    if kind == "SPACE_TO_DEPTH":
        out_shape = (1, 2, 2, 8)
    if kind == "DEPTH_TO_SPACE":
        out_shape = (1, 4, 4, 1)
    model, _ = side_by_side([(kind, shape, out_shape, consts, options, fields)])
    _rejected(model, out_dir(), *words)


@pytest.mark.tflm
@pytest.mark.parametrize("axis", [0, 2, -1])
def test_expand_dims_then_transpose(out_dir, axis):
    """EXPAND_DIMS has no code of its own: the TRANSPOSE after it reads its input's bytes."""
    b = ModelBuilder()
    x = b.tensor("x", (2, 3, 4), "int8", 0.05, 3)
    shape = [2, 3, 4]
    shape.insert(axis % 4, 1)
    e = b.tensor("e", shape, "int8", 0.05, 3)
    b.op("EXPAND_DIMS", [x, b.const("axis", [axis], "int32")], [e], "ExpandDimsOptions")
    y = b.tensor("y", [shape[p] for p in (3, 0, 2, 1)], "int8", 0.05, 3)
    b.op("TRANSPOSE", [e, b.const("perm", [3, 0, 2, 1], "int32")], [y], "TransposeOptions")
    compare_with_tflm(b.build([x], [y]), out_dir(), batches([(2, 3, 4)]))


@pytest.mark.tf
@pytest.mark.parametrize("name", ["transpose", "slice", "space_to_depth", "depth_to_space"])
def test_converted_layout_ops(bit_exact, tfk, name):
    tf, _, quantize = tfk
    fn, kind = {
        "transpose": (lambda x: tf.transpose(x, [0, 2, 3, 1]), "TRANSPOSE"),
        "slice": (lambda x: tf.slice(x, [0, 1, 2, 0], [1, 2, 3, 8]), "SLICE"),
        "space_to_depth": (lambda x: tf.nn.space_to_depth(x, 2), "SPACE_TO_DEPTH"),
        "depth_to_space": (lambda x: tf.nn.depth_to_space(x, 2), "DEPTH_TO_SPACE"),
    }[name]
    shape = (1, 4, 6, 8)
    model = quantize.quantize_tf_function(lambda x: fn(x * 2.0), shape, rep(shape[1:], -1.0, 1.0))
    conversion = bit_exact(model, samples=4)
    assert kind in {op.kind for op in conversion.graph.ops}


@pytest.mark.tflm
@pytest.mark.parametrize("kind", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
def test_resize_every_option(out_dir, kind):
    cases = []
    for (shape, size), align, half in itertools.product(
            [((1, 3, 4, 2), (6, 8)), ((1, 7, 5, 3), (3, 2)), ((2, 5, 5, 1), (7, 11)),
             ((1, 1, 4, 2), (1, 9)), ((1, 6, 6, 4), (6, 6))],
            [False, True], [False, True]):
        if align and half:
            continue  # TFLite's converter never writes both; TFLM computes it anyway
        options = "ResizeNearestNeighborOptions" if kind == "RESIZE_NEAREST_NEIGHBOR" else \
            "ResizeBilinearOptions"
        cases.append((kind, shape, (shape[0], *size, shape[3]), [(list(size), "int32")], options,
                      {"alignCorners": align, "halfPixelCenters": half}))
    model, shapes = side_by_side(cases)
    compare_with_tflm(model, out_dir(), batches(shapes), all_paths=True)


@pytest.mark.tf
@pytest.mark.parametrize("size", [(10, 8), (7, 3)])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_converted_resizing(bit_exact, tfk, size, interpolation):
    _, keras, quantize = tfk
    keras.utils.set_random_seed(2)
    inp = keras.Input((5, 4, 3))
    x = keras.layers.Conv2D(6, 3, padding="same")(inp)
    x = keras.layers.Resizing(*size, interpolation=interpolation)(x)
    model = keras.Model(inp, keras.layers.Conv2D(2, 3)(x))
    conversion = bit_exact(quantize.quantize_keras(model, rep((5, 4, 3), -1.0, 1.0)), samples=4)
    kind = {"nearest": "RESIZE_NEAREST_NEIGHBOR", "bilinear": "RESIZE_BILINEAR"}[interpolation]
    assert kind in {op.kind for op in conversion.graph.ops}


@pytest.mark.tf
def test_converted_bilinear_upsampling(bit_exact, tfk):
    """Keras 3's UpSampling2D with bilinear interpolation becomes RESIZE_BILINEAR (the nearest
    one becomes TILE, below)."""
    _, keras, quantize = tfk
    keras.utils.set_random_seed(3)
    inp = keras.Input((5, 4, 3))
    x = keras.layers.UpSampling2D(2, interpolation="bilinear")(
        keras.layers.Conv2D(6, 3, padding="same")(inp))
    model = keras.Model(inp, x)
    conversion = bit_exact(quantize.quantize_keras(model, rep((5, 4, 3), -1.0, 1.0)), samples=4)
    assert "RESIZE_BILINEAR" in {op.kind for op in conversion.graph.ops}


@pytest.mark.tf
def test_upsampling_tile_is_refused_with_the_way_out(tfk, out_dir):
    """Keras 3's UpSampling2D becomes TILE, which TFLite Micro cannot run: the error says so
    and names the layer to use instead."""
    _, keras, quantize = tfk
    inp = keras.Input((5, 4, 3))
    x = keras.layers.UpSampling2D(2)(keras.layers.Conv2D(6, 3, padding="same")(inp))
    model = quantize.quantize_keras(keras.Model(inp, x), rep((5, 4, 3), -1.0, 1.0))
    with pytest.raises(TFLMError):
        run_tflm(model, np.zeros((1, 5, 4, 3), np.int8))
    _rejected(model, out_dir(), "TILE", "TFLite Micro has no TILE kernel", "Resizing")


def mirror_case(shape, pads, mode, dtype="int32"):
    out = [d + a + b for d, (a, b) in zip(shape, pads)]
    return ("MIRROR_PAD", shape, out, [(pads, dtype)], "MirrorPadOptions", {"mode": mode})


def gather_case(shape, indices, axis, dtype="int32"):
    indices = np.asarray(indices)
    k = axis % len(shape)
    out = list(shape[:k]) + list(indices.shape) + list(shape[k + 1:])
    return ("GATHER", shape, out, [(indices, dtype)], "GatherOptions",
            {"axis": axis, "batchDims": 0})


@pytest.mark.tflm
def test_mirror_pad_reflect_and_symmetric(out_dir):
    cases = []
    for mode in (0, 1):  # REFLECT, SYMMETRIC
        limit = 1 - mode  # REFLECT pads at most size - 1
        cases += [mirror_case((6,), [[2, 3]], mode),
                  mirror_case((3, 4), [[2 - limit, 0], [1, 3 - limit]], mode),
                  mirror_case((1, 4, 5, 3), [[0, 0], [1, 1], [2, 2], [0, 0]], mode),
                  mirror_case((1, 4, 5, 3), [[0, 0], [3 + mode, 0], [0, 4 + mode], [1, 1]], mode,
                              "int64")]
    model, shapes = side_by_side(cases)
    compare_with_tflm(model, out_dir(), batches(shapes), all_paths=True)


@pytest.mark.tflm
def test_gather_constant_indices(out_dir):
    cases = [gather_case((5,), [4, 0, 0, 2], 0), gather_case((4, 6), [[1, 3], [5, 0]], 1),
             gather_case((1, 4, 5, 3), [2, 0, 1], 3), gather_case((1, 4, 5, 3), [3, 3], -3),
             gather_case((3, 2, 4), [2, 1, 0, 1], 0),
             gather_case((1, 4, 5, 3), [[4], [1]], 2)]
    model, shapes = side_by_side(cases)
    compare_with_tflm(model, out_dir(), batches(shapes), all_paths=True)


@pytest.mark.parametrize("case,words", [
    (mirror_case((1, 4, 5, 3), [[0, 0], [4, 0], [0, 0], [0, 0]], 0), ["MIRROR_PAD", "REFLECT"]),
    (mirror_case((1, 4, 5, 3), [[0, 0], [0, 5], [0, 0], [0, 0]], 1), ["MIRROR_PAD", "SYMMETRIC"]),
    (gather_case((4, 6), [1, 6], 1), ["GATHER", "outside"]),
    (gather_case((4, 6), [1, -1], 1), ["GATHER", "outside"]),
    (gather_case((4, 6), [1, 2], 1, "int64"), ["GATHER", "int32"]),
])
def test_bad_indexed_copies_are_refused(out_dir, case, words):
    model, _ = side_by_side([case])
    _rejected(model, out_dir(), *words)


@pytest.mark.tf
@pytest.mark.parametrize("name", ["reflect", "symmetric", "gather"])
def test_converted_indexed_copies(bit_exact, tfk, name):
    tf, _, quantize = tfk
    fn, kind = {
        "reflect": (lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]], mode="REFLECT"),
                    "MIRROR_PAD"),
        "symmetric": (lambda x: tf.pad(x, [[0, 0], [2, 0], [0, 3], [0, 0]], mode="SYMMETRIC"),
                      "MIRROR_PAD"),
        "gather": (lambda x: tf.gather(x, [3, 0, 0, 2], axis=3), "GATHER"),
    }[name]
    shape = (1, 4, 5, 4)
    model = quantize.quantize_tf_function(lambda x: fn(x * 2.0), shape, rep(shape[1:], -1.0, 1.0))
    conversion = bit_exact(model, samples=4)
    assert kind in {op.kind for op in conversion.graph.ops}


@pytest.mark.tf
@pytest.mark.parametrize("kernel,strides,padding,activation", [
    (3, 2, "same", None), (3, 2, "valid", "relu"), (2, 2, "same", None), (4, 3, "valid", None),
    (5, 1, "same", "relu6"), ((3, 2), (2, 1), "same", None)])
def test_converted_transpose_conv(bit_exact, tfk, kernel, strides, padding, activation):
    """Keras' Conv2DTranspose (TRANSPOSE_CONV): kernels larger and smaller than the stride,
    SAME and VALID, with and without bias and a fused activation."""
    _, keras, quantize = tfk
    keras.utils.set_random_seed(4)
    inp = keras.Input((5, 4, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(inp)
    x = keras.layers.Conv2DTranspose(5, kernel, strides=strides, padding=padding,
                                     activation=activation, use_bias=padding == "same")(x)
    model = keras.Model(inp, x)
    conversion = bit_exact(quantize.quantize_keras(model, rep((5, 4, 3), -1.0, 1.0)), samples=4)
    assert "TRANSPOSE_CONV" in {op.kind for op in conversion.graph.ops}


@pytest.mark.tflm
@pytest.mark.parametrize("activation", [0, 1, 3])  # NONE, RELU, RELU6
def test_transpose_conv_fused_activation(out_dir, activation):
    """The options' fused activation (the TFLite converter writes a separate RELU instead)."""
    rng = np.random.default_rng(activation)
    b = ModelBuilder()
    x = b.tensor("x", (1, 3, 4, 2), "int8", 0.05, 3)
    w = b.const("w", rng.integers(-127, 128, (4, 3, 3, 2)), "int8",
                rng.uniform(0.005, 0.02, 4), 0, axis=0)
    bias = b.const("bias", rng.integers(-300, 300, 4), "int32", 0.05 * 0.01, 0)
    y = b.tensor("y", (1, 7, 9, 4), "int8", 0.02, -10)
    b.op("TRANSPOSE_CONV", [b.const("shape", [1, 7, 9, 4], "int32"), w, x, bias], [y],
         "TransposeConvOptions", padding=1, strideH=2, strideW=2,
         fusedActivationFunction=activation)
    compare_with_tflm(b.build([x], [y]), out_dir(), batches([(1, 3, 4, 2)], count=4),
                      all_paths=True)
