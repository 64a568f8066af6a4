"""MUL, SOFTMAX, LOGISTIC, TANH, HARD_SWISH, RELU and RELU6: bit-exact with TFLite Micro.

Two kinds of models:

- built directly as flatbuffers (no TensorFlow): many copies of one op side by side, each with
  its own quantization, converted and compiled once and fed every int8 value. This exercises
  every kernel and its preparation math across scales and zero points cheaply;
- quantized by the TFLite converter from small TF functions, with representative data of
  several ranges (tiny, usual, large) so that the quantization parameters vary as in real use.
"""
from __future__ import annotations

import itertools

import flatbuffers
import numpy as np
import pytest

from tflm_mcunet import ConversionError, convert
from tflm_mcunet.tflm import TFLMError, run_tflm
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from conftest import compare_with_tflm

_dirs = itertools.count()


# ------------------------------------------------------------------------------------------
# flatbuffer models without TensorFlow
# ------------------------------------------------------------------------------------------

def _tensor(name, shape, scale, zero_point, dtype=fb.TensorType.INT8):
    t = fb.TensorT()
    t.name, t.shape, t.type, t.buffer = name, list(shape), dtype, 0
    q = fb.QuantizationParametersT()
    q.scale, q.zeroPoint = [float(np.float32(scale))], [int(zero_point)]
    t.quantization = q
    return t


_OPTIONS = {
    "MUL": ("MulOptions", lambda o, kw: setattr(o, "fusedActivationFunction",
                                                 kw.get("activation", 0))),
    "SOFTMAX": ("SoftmaxOptions", lambda o, kw: setattr(o, "beta", kw.get("beta", 1.0))),
    "SUB": ("SubOptions", lambda o, kw: setattr(o, "fusedActivationFunction",
                                                 kw.get("activation", 0))),
    "LEAKY_RELU": ("LeakyReluOptions", lambda o, kw: setattr(o, "alpha", kw.get("alpha", 0.2))),
}


def parallel_model(kind: str, ops: list[dict]) -> bytes:
    """A model of independent `kind` ops side by side.

    Each entry of `ops`: ``inputs`` = [(shape, scale, zero_point), ...], ``output`` =
    (shape, scale, zero_point), optional option values (``activation``, ``beta``). The model
    inputs are every op's inputs in order; its outputs every op's output.
    """
    code = getattr(fb.BuiltinOperator, kind)
    opcode = fb.OperatorCodeT()
    opcode.builtinCode, opcode.deprecatedBuiltinCode, opcode.version = code, min(code, 127), 1
    tensors, operators, graph_in, graph_out = [], [], [], []
    for k, spec in enumerate(ops):
        op = fb.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [], []
        for j, (shape, scale, zp) in enumerate(spec["inputs"]):
            tensors.append(_tensor(f"in{k}_{j}", shape, scale, zp))
            op.inputs.append(len(tensors) - 1)
            graph_in.append(len(tensors) - 1)
        shape, scale, zp = spec["output"]
        tensors.append(_tensor(f"out{k}", shape, scale, zp))
        op.outputs.append(len(tensors) - 1)
        graph_out.append(len(tensors) - 1)
        if kind in _OPTIONS:
            name, setter = _OPTIONS[kind]
            options = getattr(fb, name + "T")()
            setter(options, spec)
            op.builtinOptionsType = getattr(fb.BuiltinOptions, name)
            op.builtinOptions = options
        operators.append(op)
    sub = fb.SubGraphT()
    sub.tensors, sub.operators, sub.inputs, sub.outputs = tensors, operators, graph_in, graph_out
    sub.name = "main"
    model = fb.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [opcode], [sub]
    model.buffers = [fb.BufferT()]
    model.description = f"{len(ops)} x {kind}"
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def every_int8(host_inputs: int, shape=(1, 256), seed=0) -> list[list[np.ndarray]]:
    """Batches that feed every int8 value to every input (in two orders), plus the extremes."""
    rng = np.random.default_rng(seed)
    ramp = np.arange(-128, 128, dtype=np.int8).reshape(shape)
    shuffled = [rng.permutation(ramp.reshape(-1)).reshape(shape) for _ in range(host_inputs)]
    return [[ramp] * host_inputs, shuffled,
            [np.full(shape, -128, np.int8)] * host_inputs,
            [np.full(shape, 127, np.int8)] * host_inputs]


def log_uniform(rng, lo, hi, n):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


@pytest.fixture
def out_dir(tmp_path):
    return lambda: tmp_path / f"c{next(_dirs)}"


@pytest.mark.tflm
def test_logistic_every_value_many_scales(out_dir):
    rng = np.random.default_rng(1)
    scales = list(log_uniform(rng, 1e-3, 2.0, 26)) + [1 / 16, 0.1, 8 / 255, 0.5, 1.0, 4.0, 60.0,
                                                      2.0**-20]
    ops = [dict(inputs=[((1, 256), s, int(rng.integers(-128, 128)))],
                output=((1, 256), 1 / 256, -128)) for s in scales]
    ops[0]["inputs"][0] = ((1, 256), 0.05, -128)
    ops[1]["inputs"][0] = ((1, 256), 0.05, 127)
    # TFLM reads neither the output scale (it assumes 1/256) nor do we
    ops[2]["output"] = ((1, 256), 0.5, -128)
    compare_with_tflm(parallel_model("LOGISTIC", ops), out_dir(), every_int8(len(ops)))


@pytest.mark.tflm
def test_tanh_every_value_many_scales(out_dir):
    rng = np.random.default_rng(4)
    scales = list(log_uniform(rng, 1e-3, 2.0, 26)) + [1 / 32, 0.1, 8 / 255, 0.5, 1.0, 4.0, 60.0,
                                                      2.0**-20]
    ops = [dict(inputs=[((1, 256), s, int(rng.integers(-128, 128)))],
                output=((1, 256), 1 / 128, 0)) for s in scales]
    ops[0]["inputs"][0] = ((1, 256), 0.05, -128)
    ops[1]["inputs"][0] = ((1, 256), 0.05, 127)
    # TFLM reads neither the output scale (it assumes 1/128) nor its zero point, nor do we
    ops[2]["output"] = ((1, 256), 0.5, -128)
    ops[3]["output"] = ((1, 256), 1 / 128, 17)
    compare_with_tflm(parallel_model("TANH", ops), out_dir(), every_int8(len(ops)), all_paths=True)


@pytest.mark.tflm
def test_hard_swish_every_value_many_scales(out_dir):
    rng = np.random.default_rng(2)
    ops = []
    for s in list(log_uniform(rng, 1e-4, 2.0, 28)) + [3 / 256, 6 / 255, 20 / 255, 0.3]:
        ratio = float(log_uniform(rng, 1 / 100, 4.0, 1)[0])  # output scale / input scale
        ops.append(dict(inputs=[((1, 256), s, int(rng.integers(-128, 128)))],
                        output=((1, 256), s * ratio, int(rng.integers(-128, 128)))))
    # output multiplier near 1 (exponent 0): the int16 arithmetic wraps like the reference
    for s, zp_out in ((0.05, 127), (0.05, -128), (0.2, 100)):
        ops.append(dict(inputs=[((1, 256), s, 0)], output=((1, 256), s / 127.5, zp_out)))
    # tiny scales: the int16 RoundingDivideByPOT by 16 or more
    ops.append(dict(inputs=[((1, 256), 1e-7, 3)], output=((1, 256), 1e-7, -5)))
    ops.append(dict(inputs=[((1, 256), 0.01, 3)], output=((1, 256), 60.0, -5)))
    compare_with_tflm(parallel_model("HARD_SWISH", ops), out_dir(), every_int8(len(ops)))


@pytest.mark.tflm
def test_relu_every_value_many_scales(out_dir):
    rng = np.random.default_rng(3)
    ops = []
    for s in log_uniform(rng, 1e-3, 4.0, 30):
        ratio = float(log_uniform(rng, 1 / 8, 8.0, 1)[0])
        ops.append(dict(inputs=[((1, 256), s, int(rng.integers(-128, 128)))],
                        output=((1, 256), s * ratio, int(rng.integers(-128, 128)))))
    ops.append(dict(inputs=[((1, 256), 0.1, 5)], output=((1, 256), 0.1, 5)))
    ops.append(dict(inputs=[((1, 256), 0.1, 5)], output=((1, 256), 0.05, -128)))
    compare_with_tflm(parallel_model("RELU", ops), out_dir(), every_int8(len(ops)))


@pytest.mark.tflm
def test_relu6_every_value_many_scales(out_dir):
    rng = np.random.default_rng(4)
    ops = []
    for s in list(log_uniform(rng, 1e-3, 4.0, 28)) + [6 / 255, 0.047, 0.0235294, 1 / 8]:
        ops.append(dict(inputs=[((1, 256), s, int(rng.integers(-128, 128)))],
                        output=((1, 256), float(log_uniform(rng, 1e-2, 1.0, 1)[0]),
                                int(rng.integers(-128, 128)))))
    compare_with_tflm(parallel_model("RELU6", ops), out_dir(), every_int8(len(ops)))


@pytest.mark.tflm
def test_mul_every_pair_many_scales(out_dir):
    """Each op multiplies every int8 value by every int8 value (a 256 x 256 outer product by
    broadcasting [256, 1] with [1, 256]), with its own scales, zero points and activation."""
    rng = np.random.default_rng(5)
    ops = []
    for k in range(12):
        s1, s2 = log_uniform(rng, 1e-3, 1.0, 2)
        so = s1 * s2 * 128 * float(log_uniform(rng, 1 / 16, 4.0, 1)[0])
        zps = rng.integers(-128, 128, 3)
        ops.append(dict(inputs=[((256, 1), s1, zps[0]), ((1, 256), s2, zps[1])],
                        output=((256, 256), so, zps[2]), activation=[0, 1, 3, 2][k % 4]))
    ramp = np.arange(-128, 128, dtype=np.int8)
    batch = [a for _ in ops for a in (ramp.reshape(256, 1), ramp.reshape(1, 256))]
    compare_with_tflm(parallel_model("MUL", ops), out_dir(), [batch])


@pytest.mark.parametrize("shape_a,shape_b", [
    ((1, 4, 5, 8), (1, 1, 1, 8)),       # squeeze-and-excitation
    ((1, 1, 1, 8), (1, 4, 5, 8)),       # the same, operands swapped
    ((1, 4, 5, 8), (1, 4, 1, 8)),
    ((1, 4, 1, 8), (1, 1, 5, 1)),       # both operands broadcast
    ((2, 3, 4), (3, 1)),                # rank < 4, different ranks
    ((7,), (1,)),                       # one value
    ((1, 3, 6), (1, 3, 6)),             # no broadcast
])
@pytest.mark.tflm
def test_mul_broadcast_shapes(out_dir, shape_a, shape_b):
    out = np.broadcast_shapes(shape_a, shape_b)
    ops = [dict(inputs=[(shape_a, 0.02, 3), (shape_b, 0.05, -7)], output=(out, 0.004, -2)),
           dict(inputs=[(shape_a, 0.3, -128), (shape_b, 0.01, 127)], output=(out, 0.02, 10),
                activation=1)]
    rng = np.random.default_rng(6)
    batches = [[rng.integers(-128, 128, s, dtype=np.int8) for _ in ops for s in (shape_a, shape_b)]
               for _ in range(3)]
    compare_with_tflm(parallel_model("MUL", ops), out_dir(), batches)


def softmax_batches(shape, n_inputs, seed):
    rng = np.random.default_rng(seed)
    batches = [[rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(n_inputs)]
               for _ in range(3)]
    # (TFLM aborts on a CHECK when a row's sum of exps reaches 512: 512 equal values)
    batches.append([np.full(shape, -128, np.int8)] * n_inputs)
    batches.append([np.full(shape, 127, np.int8)] * n_inputs)
    # a few large values over a low floor: the diff_min cut-off and the rounding of the sum
    peaky = np.full(shape, -100, np.int8)
    peaky[..., ::7] = 120
    peaky[..., 1::11] = 119
    batches.append([peaky] * n_inputs)
    return batches


@pytest.mark.tflm
@pytest.mark.parametrize("shape", [(1, 10), (16, 3, 40), (1, 1, 1, 300), (2, 1), (4, 511)])
def test_softmax_many_scales_and_betas(out_dir, shape):
    rng = np.random.default_rng(7)
    params = [(float(s), 1.0) for s in log_uniform(rng, 1e-3, 2.0, 8)]
    params += [(0.1, 0.5), (0.05, 2.0), (1 / 16, 1.0), (0.25, 1e-3), (1e-5, 1.0), (30.0, 1.0),
               (0.01, 1e4)]
    ops = [dict(inputs=[(shape, s, int(rng.integers(-128, 128)))], output=(shape, 1 / 256, -128),
                beta=beta) for s, beta in params]
    compare_with_tflm(parallel_model("SOFTMAX", ops), out_dir(), softmax_batches(shape, len(ops), 8))


@pytest.mark.tflm
def test_softmax_all_values_in_a_row(out_dir):
    """Rows holding every int8 value once: every difference to the maximum occurs."""
    ops = [dict(inputs=[((2, 256), s, 0)], output=((2, 256), 1 / 256, -128), beta=b)
           for s, b in ((0.02, 1.0), (0.1, 1.0), (0.5, 1.0), (0.01, 3.0), (0.2, 0.1))]
    rng = np.random.default_rng(9)
    ramp = np.arange(-128, 128, dtype=np.int8)
    batch = [np.stack([ramp, rng.permutation(ramp)]) for _ in ops]
    compare_with_tflm(parallel_model("SOFTMAX", ops), out_dir(), [batch])


# ------------------------------------------------------------------------------------------
# what TFLite Micro rejects, the converter rejects with a clear error
# ------------------------------------------------------------------------------------------

def _rejected(model: bytes, out_dir, *words):
    with pytest.raises(ConversionError) as info:
        convert(model, out_dir)
    message = str(info.value)
    for word in words:
        assert word in message, message
    assert not out_dir.exists()  # nothing half-written
    return message


@pytest.mark.tflm
def test_softmax_rejects_output_quantization_tflm_rejects(out_dir):
    for scale, zp in ((1 / 256, 0), (1 / 128, -128), (1 / 256 * (1 + 1e-6), -128)):
        model = parallel_model("SOFTMAX", [dict(inputs=[((1, 8), 0.1, 0)],
                                                output=((1, 8), scale, zp))])
        _rejected(model, out_dir(), "operator #0 (SOFTMAX)", "1/256", "-128")
        with pytest.raises(TFLMError):
            run_tflm(model, np.zeros((1, 8), np.int8))


@pytest.mark.tflm
def test_softmax_rejects_beta_times_scale_tflm_aborts_on(out_dir):
    model = parallel_model("SOFTMAX", [dict(inputs=[((1, 8), 1e-8, 0)],
                                            output=((1, 8), 1 / 256, -128))])
    _rejected(model, out_dir(), "SOFTMAX", "beta")
    with pytest.raises(TFLMError):
        run_tflm(model, np.zeros((1, 8), np.int8))


@pytest.mark.tflm
def test_logistic_rejects_output_zero_point(out_dir):
    model = parallel_model("LOGISTIC", [dict(inputs=[((1, 8), 0.1, 0)],
                                             output=((1, 8), 1 / 256, 0))])
    _rejected(model, out_dir(), "LOGISTIC", "-128")
    with pytest.raises(TFLMError):
        run_tflm(model, np.zeros((1, 8), np.int8))


@pytest.mark.tflm
def test_hard_swish_rejects_output_scale_below_input_scale_over_128(out_dir):
    model = parallel_model("HARD_SWISH", [dict(inputs=[((1, 8), 1.0, 0)],
                                               output=((1, 8), 1 / 512, 0))])
    _rejected(model, out_dir(), "HARD_SWISH", "output scale")
    with pytest.raises(TFLMError):
        run_tflm(model, np.zeros((1, 8), np.int8))


def test_mul_rejects_unsupported_fused_activation(out_dir):
    model = parallel_model("MUL", [dict(inputs=[((1, 8), 0.1, 0), ((1, 8), 0.1, 0)],
                                        output=((1, 8), 0.1, 0), activation=4)])
    _rejected(model, out_dir(), "MUL", "TANH")


def test_mul_rejects_shapes_that_do_not_broadcast(out_dir):
    model = parallel_model("MUL", [dict(inputs=[((1, 3), 0.1, 0), ((1, 4), 0.1, 0)],
                                        output=((1, 4), 0.1, 0))])
    _rejected(model, out_dir(), "MUL", "broadcast")


# ------------------------------------------------------------------------------------------
# models from the TFLite converter
# ------------------------------------------------------------------------------------------

#: representative data ranges: tiny, usual, large, lopsided
RANGES = [(-0.01, 0.01), (-4.0, 4.0), (-100.0, 100.0), (-0.5, 8.0)]
ACTIVATIONS = {"sigmoid": "LOGISTIC", "tanh": "TANH", "hard_swish": "HARD_SWISH",
               "relu": "RELU", "relu6": "RELU6", "softmax": "SOFTMAX"}


def rep(shape, lo, hi, n=24, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, (n, *shape)).astype(np.float32)


@pytest.mark.parametrize("lo,hi", RANGES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_converted_activation(bit_exact, tfk, name, lo, hi):
    tf, keras, quantize = tfk
    fn = {"sigmoid": tf.sigmoid, "tanh": tf.tanh, "hard_swish": keras.activations.hard_swish,
          "relu": tf.nn.relu, "relu6": tf.nn.relu6, "softmax": tf.nn.softmax}[name]
    shape = (1, 3, 5, 12)
    model = quantize.quantize_tf_function(lambda x: fn(x), shape, rep(shape[1:], lo, hi))
    conversion = bit_exact(model, samples=6, seed=len(name))
    assert [op.kind for op in conversion.graph.ops] == [ACTIVATIONS[name]]


#: (first input shape, second input shape, activation after the op) of the binary-op tests
BINARY_CASES = [
    ((1, 6, 6, 16), (1, 1, 1, 16), None),
    ((1, 6, 6, 16), (1, 6, 6, 16), "relu"),
    ((1, 5, 8), (1, 1, 8), "relu6"),
]


def check_converted_binary(bit_exact, tfk, kind, fn, shape_a, shape_b, post, range_a, range_b):
    """fn(a, b), then the activation `post`, converted by TFLite: one `kind` op with the
    activation fused, bit-exact."""
    tf, _, quantize = tfk
    post_fn = {"relu": tf.nn.relu, "relu6": tf.nn.relu6}.get(post, lambda v: v)
    model = quantize.quantize_tf_function(
        lambda a, b: post_fn(fn(a, b)), [shape_a, shape_b],
        [rep(shape_a[1:], *range_a), rep(shape_b[1:], *range_b, seed=1)])
    conversion = bit_exact(model, samples=6)
    assert [op.kind for op in conversion.graph.ops] == [kind]  # activation fused


@pytest.mark.parametrize("lo,hi", RANGES[:3])
@pytest.mark.parametrize("shape_a,shape_b,post", BINARY_CASES)
def test_converted_mul(bit_exact, tfk, shape_a, shape_b, post, lo, hi):
    check_converted_binary(bit_exact, tfk, "MUL", lambda a, b: a * b, shape_a, shape_b, post,
                           (lo, hi), (0.0, 1.0))


@pytest.mark.parametrize("constant", [np.linspace(-2.0, 3.0, 8).astype(np.float32),
                                      np.float32(0.37)])
def test_converted_mul_by_constant(bit_exact, tfk, constant):
    shape = (1, 4, 4, 8)
    model = tfk[2].quantize_tf_function(lambda x: x * constant, shape, rep(shape[1:], -3.0, 3.0))
    conversion = bit_exact(model, samples=6)
    assert [op.kind for op in conversion.graph.ops] == ["MUL"]


def test_squeeze_and_excitation_block(bit_exact, tfk):
    """Conv, hard-swish, SE gate (mean, 1x1 convs with relu and sigmoid, broadcast multiply),
    softmax: the ops of this file in the shape MCUNet and MobileNetV3 use them."""
    _, keras, quantize = tfk
    keras.utils.set_random_seed(3)
    layers = keras.layers
    inp = keras.Input((8, 8, 3))
    x = layers.Conv2D(16, 3, padding="same")(inp)
    x = layers.Activation("hard_swish")(x)
    gate = layers.GlobalAveragePooling2D(keepdims=True)(x)
    gate = layers.Conv2D(4, 1, activation="relu")(gate)
    gate = layers.Conv2D(16, 1, activation="sigmoid")(gate)
    x = layers.Multiply()([x, gate])
    x = layers.Conv2D(10, 1)(x)
    x = layers.Softmax()(x)
    model = keras.Model(inp, x)
    tflite = quantize.quantize_keras(model, rep((8, 8, 3), -1.0, 1.0))
    conversion = bit_exact(tflite, samples=6)
    kinds = {op.kind for op in conversion.graph.ops}
    assert {"HARD_SWISH", "LOGISTIC", "MUL", "SOFTMAX"} <= kinds, kinds


@pytest.mark.parametrize("lo,hi", RANGES[:3])
def test_converted_elu_float_island(bit_exact, tfk, lo, hi):
    """Keras' elu stays float between DEQUANTIZE and QUANTIZE (a float island): the float ELU
    gives TFLite Micro's floats, the int8 around it its bytes."""
    _, keras, quantize = tfk
    keras.utils.set_random_seed(6)
    inp = keras.Input((5, 4, 3))
    x = keras.layers.Activation("elu")(keras.layers.Conv2D(8, 3, padding="same")(inp))
    model = keras.Model(inp, keras.layers.Conv2D(4, 1)(x))
    conversion = bit_exact(quantize.quantize_keras(model, rep((5, 4, 3), lo, hi)), samples=8)
    assert [op.kind for op in conversion.graph.ops][1:4] == ["DEQUANTIZE", "ELU", "QUANTIZE"]
