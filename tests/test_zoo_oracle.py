"""The model zoo and the TFLite Micro oracle.

- every zoo model builds and quantizes to a pure int8 graph (slow: whole models);
- ``run_tflm`` and ``run_tflm_batch`` agree, are deterministic, and the zoo models are not
  degenerate (different inputs give different outputs);
- a crashing TFLM child becomes a ``TFLMError``;
- ``tflm_arena_report`` finds the smallest arena that works.

Built models are cached as files (``cached_zoo_tflite``) in the pytest cache folder (a temp
folder when the cache plugin is off); the file name carries a hash of the zoo and quantizer
sources and the TF/Keras versions, so stale files are never used.
"""
from __future__ import annotations

import numpy as np
import pytest

from tflm_mcunet.benchmarks import zoo
from tflm_mcunet.tflm import (
    TFLMError,
    model_op_names,
    run_tflm,
    run_tflm_batch,
    tflm_arena_report,
)

schema = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")

# Every op the int8 zoo may contain with TF 2.18-2.21. A new op here means converter work.
ZOO_OPS = {
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "ADD",
    "AVERAGE_POOL_2D",
    "MEAN",
    "FULLY_CONNECTED",
    "SOFTMAX",
    "RESHAPE",
    "PAD",
}


# --------------------------------------------------------------------------------------------
# helpers and fixtures
# --------------------------------------------------------------------------------------------

def _model(data: bytes):
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))


def _activation_types(data: bytes) -> dict[str, set[int]]:
    """TensorType of graph inputs/outputs and of every non-constant tensor an op touches."""
    m = _model(data)
    sg = m.subgraphs[0]

    def constant(i: int) -> bool:
        buf = m.buffers[sg.tensors[i].buffer]
        return buf.data is not None and len(buf.data) > 0

    types: dict[str, set[int]] = {"io": set(), "activations": set()}
    for i in list(sg.inputs) + list(sg.outputs):
        types["io"].add(sg.tensors[i].type)
    for op in sg.operators:
        for i in list(op.inputs) + list(op.outputs):
            if i >= 0 and not constant(i):
                types["activations"].add(sg.tensors[i].type)
    return types


def _random_int8_inputs(data: bytes, count: int, seed: int) -> list[list[np.ndarray]]:
    m = _model(data)
    sg = m.subgraphs[0]
    rng = np.random.default_rng(seed)
    shapes = [tuple(int(d) for d in sg.tensors[i].shape) for i in sg.inputs]
    return [[rng.integers(-128, 128, s, dtype=np.int8) for s in shapes] for _ in range(count)]


@pytest.fixture(scope="module")
def tiny_tflite() -> bytes:
    """A small conv/depthwise/add/pool/dense/softmax model: the fast oracle tests use it."""
    pytest.importorskip("tensorflow")
    import keras

    from tflm_mcunet.quantize import quantize_keras

    keras.utils.set_random_seed(3)
    L = keras.layers
    inp = keras.Input((12, 12, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    y = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.Add()([x, y])
    x = L.AveragePooling2D(2)(x)
    x = L.Flatten()(x)
    x = L.Dense(5, activation="softmax")(x)
    model = keras.Model(inp, x)
    rng = np.random.default_rng(0)
    return quantize_keras(model, rng.uniform(-1, 1, (8, 12, 12, 3)).astype(np.float32))


# --------------------------------------------------------------------------------------------
# fast tests: quantizer and oracle on a tiny model
# --------------------------------------------------------------------------------------------

def test_zoo_registry_is_complete():
    names = zoo.zoo_names()
    assert names[:5] == [
        "mobilenet_v2_0.35_96",
        "ds_cnn",
        "resnet8",
        "mobilenet_v1_0.25_96",
        "fc_autoencoder",
    ]
    assert set(names[5:]) == set(zoo.ARCHS) == {
        "mbv2-w0.35-r144",
        "mcunet-in1",
        "mcunet-in3",
        "proxyless-w0.3-r176",
    }
    for name in names:
        assert all(isinstance(d, int) and d > 0 for d in zoo.input_shape(name))
    assert zoo.input_shape("mcunet-in3") == (176, 176, 3)
    with pytest.raises(KeyError):
        zoo.input_shape("nope")


def test_tiny_model_is_int8(tiny_tflite):
    types = _activation_types(tiny_tflite)
    assert types["io"] == {schema.TensorType.INT8}
    assert types["activations"] == {schema.TensorType.INT8}
    assert set(model_op_names(tiny_tflite)) <= ZOO_OPS


@pytest.mark.tflm
def test_float_io_keeps_float_edges():
    pytest.importorskip("tensorflow")
    import keras

    from tflm_mcunet.quantize import quantize_keras

    inp = keras.Input((6, 6, 2))
    model = keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same")(inp))
    rng = np.random.default_rng(1)
    data = quantize_keras(model, rng.uniform(-1, 1, (4, 6, 6, 2)).astype(np.float32), float_io=True)
    ops = model_op_names(data)
    assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE" and "CONV_2D" in ops
    assert _activation_types(data)["io"] == {schema.TensorType.FLOAT32}
    (out,) = run_tflm(data, rng.uniform(-1, 1, (1, 6, 6, 2)).astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (1, 6, 6, 3)


@pytest.mark.tflm
def test_tf_function_inputs_and_outputs_keep_their_order():
    tf = pytest.importorskip("tensorflow")

    from tflm_mcunet.quantize import quantize_tf_function

    def fn(a, b):
        return [tf.concat([a, b], axis=-1), tf.nn.avg_pool(a, 2, 2, "VALID")]

    rng = np.random.default_rng(2)
    data = quantize_tf_function(
        fn,
        [(1, 4, 4, 3), (1, 4, 4, 2)],
        [rng.uniform(-1, 1, (6, 4, 4, 3)), rng.uniform(-1, 1, (6, 4, 4, 2))],
    )
    m = _model(data)
    sg = m.subgraphs[0]
    assert [tuple(sg.tensors[i].shape) for i in sg.inputs] == [(1, 4, 4, 3), (1, 4, 4, 2)]
    assert [tuple(sg.tensors[i].shape) for i in sg.outputs] == [(1, 4, 4, 5), (1, 2, 2, 3)]
    outs = run_tflm(data, _random_int8_inputs(data, 1, 0)[0])
    assert [o.shape for o in outs] == [(1, 4, 4, 5), (1, 2, 2, 3)]


@pytest.mark.tflm
def test_run_and_batch_agree_and_are_deterministic(tiny_tflite):
    inputs = _random_int8_inputs(tiny_tflite, 3, seed=5)
    batch = run_tflm_batch(tiny_tflite, inputs + [inputs[0]])
    assert len(batch) == 4 and all(len(outs) == 1 for outs in batch)
    single = run_tflm(tiny_tflite, inputs[1][0])
    np.testing.assert_array_equal(single[0], batch[1][0])
    np.testing.assert_array_equal(batch[0][0], batch[3][0])
    assert batch[0][0].dtype == np.int8 and batch[0][0].shape == (1, 5)
    # other integer dtypes are accepted when the values fit; the shape comes from the model
    again = run_tflm(tiny_tflite, [inputs[1][0].astype(np.int32).reshape(12, 12, 3)])
    np.testing.assert_array_equal(again[0], single[0])


@pytest.mark.tflm
def test_model_from_path(tiny_tflite, tmp_path):
    path = tmp_path / "tiny.tflite"
    path.write_bytes(tiny_tflite)
    x = _random_int8_inputs(tiny_tflite, 1, seed=6)[0]
    np.testing.assert_array_equal(run_tflm(path, x)[0], run_tflm(str(path), x)[0])


@pytest.mark.tflm
def test_bad_inputs_are_value_errors(tiny_tflite):
    with pytest.raises(ValueError, match="dtype"):
        run_tflm(tiny_tflite, np.zeros((1, 12, 12, 3), np.float32))
    with pytest.raises(ValueError, match="elements"):
        run_tflm(tiny_tflite, np.zeros((1, 12, 12, 2), np.int8))
    with pytest.raises(ValueError, match="input"):
        run_tflm(tiny_tflite, [np.zeros((1, 12, 12, 3), np.int8)] * 2)


@pytest.mark.tflm
def test_crashing_child_raises_tflm_error(tiny_tflite):
    x = np.zeros((1, 12, 12, 3), np.int8)
    # An arena too small for the allocator itself makes TFLM dereference NULL: SIGSEGV.
    with pytest.raises(TFLMError, match=r"SIG|exit"):
        run_tflm(tiny_tflite, x, arena_size=64)


def test_malformed_model_raises_tflm_error(tiny_tflite):
    with pytest.raises(TFLMError):
        run_tflm(tiny_tflite[: len(tiny_tflite) // 3], np.zeros((1, 12, 12, 3), np.int8))
    with pytest.raises(TFLMError):
        run_tflm(b"not a flatbuffer at all", np.zeros(1, np.int8))


def _check_arena_report(data: bytes, x: list[np.ndarray]) -> dict:
    report = tflm_arena_report(data)
    head, tail, total = (report[k] for k in ("arena_head_bytes", "arena_tail_bytes",
                                             "arena_total_bytes"))
    low = report["min_working_arena_bytes"]
    assert head > 0 and tail > 0 and total == head + tail
    assert low % 16 == 0
    # The minimum is at least the persistent tail and at most a little above TFLM's own total
    # (planner scratch while planning, alignment).
    assert tail < low <= total + max(8192, total // 2)
    assert low <= report["report_arena_size"]
    reference = run_tflm(data, x)
    np.testing.assert_array_equal(run_tflm(data, x, arena_size=low)[0], reference[0])
    with pytest.raises(TFLMError):
        run_tflm(data, x, arena_size=low - 16)
    return report


@pytest.mark.tflm
def test_arena_report_tiny(tiny_tflite):
    _check_arena_report(tiny_tflite, _random_int8_inputs(tiny_tflite, 1, seed=7)[0])


# --------------------------------------------------------------------------------------------
# slow tests: the whole zoo
# --------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.zoo_names())
def test_zoo_model_is_pure_int8(name, zoo_tflite):
    data = zoo_tflite(name)
    types = _activation_types(data)
    assert types["io"] == {schema.TensorType.INT8}, name
    assert types["activations"] == {schema.TensorType.INT8}, name
    ops = model_op_names(data)
    print(f"{name}: {sorted(set(ops))}")
    assert set(ops) <= ZOO_OPS, f"{name}: unexpected ops {set(ops) - ZOO_OPS}"
    m = _model(data)
    assert len(m.subgraphs) == 1
    sg = m.subgraphs[0]
    assert tuple(sg.tensors[sg.inputs[0]].shape) == (1,) + zoo.input_shape(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.zoo_names())
def test_zoo_oracle_is_deterministic_and_not_degenerate(name, zoo_tflite):
    data = zoo_tflite(name)
    inputs = _random_int8_inputs(data, 3, seed=11)
    batch = run_tflm_batch(data, inputs + [inputs[0]])
    np.testing.assert_array_equal(batch[0][0], batch[3][0])
    single = run_tflm(data, inputs[2])
    np.testing.assert_array_equal(single[0], batch[2][0])
    distinct = {outs[0].tobytes() for outs in batch[:3]}
    assert len(distinct) > 1, f"{name}: the same output for different inputs"
    # not a constant tensor either
    assert any(len(np.unique(outs[0])) > 1 for outs in batch[:3]), name


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.zoo_names())
def test_zoo_arena_report(name, zoo_tflite):
    data = zoo_tflite(name)
    report = _check_arena_report(data, _random_int8_inputs(data, 1, seed=13)[0])
    print(
        f"{name}: TFLM head {report['arena_head_bytes']} tail {report['arena_tail_bytes']} "
        f"total {report['arena_total_bytes']} min working {report['min_working_arena_bytes']}"
    )


@pytest.mark.slow
def test_cached_zoo_tflite_reuses_the_file(zoo_tflite, zoo_dir):
    data = zoo_tflite("resnet8")
    files = sorted(zoo_dir.glob("resnet8-s0-*.tflite"))
    assert files and any(f.read_bytes() == data for f in files)
    assert zoo.cached_zoo_tflite("resnet8", zoo_dir) == data
