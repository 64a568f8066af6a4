"""Extreme but valid quantization: the bytes of TFLite Micro, or a clear error; never
undefined behaviour in the generated C.

Untrained or badly calibrated networks give rescale factors far from 1 (an output scale
1e-6 of the input's, 1e-12 ...), biases saturated at the int32 limits (tiny weight scales),
weights all at +-127. Each case is one operator; the cases the converter accepts are put side
by side into one model, built with -fsanitize=address,undefined, fed every int8 value and
compared with TFLite Micro (run in a child process: it aborts on some of these). The cases
the converter rejects must be rejected with a message naming the operator.
"""
from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

from flatbuffer_models import ACT, PADDING, ModelBuilder
from sanitize import build_sanitized, run_sanitized
from tflm_mcunet import ConversionError, convert
from tflm_mcunet.converter.pipeline import generate
from tflm_mcunet.tflm import TFLMError, run_tflm_batch

SHAPE = (1, 4, 4, 16)  # 256 values: every int8 value once in the ramp sample
INT32_MAX, INT32_MIN = 2**31 - 1, -2**31


def _conv(b, rng, x, kind, in_scale, w_scale, out_scale, *, weights="random", bias="random",
          act=None, out_zp=0, kernel=3):
    c = SHAPE[3]
    shape = {"CONV_2D": (c, kernel, kernel, c), "DEPTHWISE_CONV_2D": (1, kernel, kernel, c),
             "FULLY_CONNECTED": (c, int(np.prod(SHAPE[1:])))}[kind]
    w = {"random": rng.integers(-127, 128, shape), "max": np.full(shape, 127),
         "min": np.full(shape, -127), "zero": np.zeros(shape, int)}[weights]
    b_values = {"random": rng.integers(-1000, 1000, c), "max": np.full(c, INT32_MAX),
                "min": np.full(c, INT32_MIN), "mixed": np.resize([INT32_MAX, INT32_MIN, 0], c)
                }[bias]
    axis = 3 if kind == "DEPTHWISE_CONV_2D" else 0
    wt = b.const("w", w, "int8", np.full(c, w_scale), 0, axis=axis)
    bt = b.const("b", b_values, "int32", np.full(c, in_scale * w_scale), 0)
    if kind == "FULLY_CONNECTED":
        y = b.tensor("y", (1, c), "int8", out_scale, out_zp)
        b.op(kind, [x, wt, bt], [y], "FullyConnectedOptions", fusedActivationFunction=ACT[act])
        return y
    y = b.tensor("y", SHAPE, "int8", out_scale, out_zp)
    fields = dict(padding=PADDING["SAME"], strideH=1, strideW=1, dilationHFactor=1,
                  dilationWFactor=1, fusedActivationFunction=ACT[act])
    if kind == "CONV_2D":
        b.op(kind, [x, wt, bt], [y], "Conv2DOptions", **fields)
    else:
        b.op(kind, [x, wt, bt], [y], "DepthwiseConv2DOptions", depthMultiplier=1, **fields)
    return y


def _binary(b, kind, x, s1, z1, s2, z2, out_scale, out_zp, act=None):
    other = b.tensor("x2", SHAPE, "int8", s2, z2)
    # the second operand is a model input too: `case_inputs` feeds it a shuffled ramp
    y = b.tensor("y", SHAPE, "int8", out_scale, out_zp)
    options = {"ADD": "AddOptions", "MUL": "MulOptions"}[kind]
    b.op(kind, [x, other], [y], options, fusedActivationFunction=ACT[act])
    return y, other


def _unary(b, kind, x, out_scale, out_zp, **options):
    y = b.tensor("y", SHAPE if kind != "MEAN" else (1, 1, 1, SHAPE[3]), "int8", out_scale,
                 out_zp)
    if kind == "MEAN":
        axes = b.const("axes", [1, 2], "int32")
        b.op(kind, [x, axes], [y], "ReducerOptions", keepDims=True)
    elif kind == "SOFTMAX":
        b.op(kind, [x], [y], "SoftmaxOptions", beta=options.get("beta", 1.0))
    else:
        b.op(kind, [x], [y])
    return y


def cases():
    """(label, builder function(b, rng, x) -> list of output tensors, input scale, input zp)."""
    out = []
    conv_kinds = ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"]
    # rescale factor in * w / out from 1e-15 to 1e12: tiny (flushed to zero), near 2^-31,
    # near 1, large (left shifts up to 30 and 31), too large (>= 2^31)
    for kind, real in itertools.product(conv_kinds, [1e-15, 3e-10, 1e-6, 1.0, 1e3, 1e6, 2.0**30,
                                                     2.0**31 * 0.9999, 2.0**31, 1e12]):
        out.append((f"{kind} rescale {real:g}", lambda b, rng, x, kind=kind, real=real: [
            _conv(b, rng, x, kind, 0.5, 0.01, 0.005 / real, out_zp=-3)], 0.5, 7))
    # saturated biases (a tiny weight scale), all weights at the int8 limit
    for kind, weights, bias in itertools.product(conv_kinds, ["random", "max", "min", "zero"],
                                                 ["max", "min", "mixed"]):
        out.append((f"{kind} weights {weights} bias {bias}",
                    lambda b, rng, x, kind=kind, w=weights, bias=bias: [
                        _conv(b, rng, x, kind, 0.02, 1e-9, 0.05, weights=w, bias=bias,
                              out_zp=5)], 0.02, -128))
    for kind, real in itertools.product(["CONV_2D", "FULLY_CONNECTED"], [1e3, 2.0**30]):
        out.append((f"{kind} weights max bias max rescale {real:g}",
                    lambda b, rng, x, kind=kind, real=real: [
                        _conv(b, rng, x, kind, 1.0, 1.0, 1.0 / real, weights="max", bias="max",
                              out_zp=127)], 1.0, -128))
    # fused activations with an output scale too small for their bounds
    for scale in (1e-9, 1e-30, 1e-45):
        out.append((f"CONV_2D relu6 output scale {scale:g}", lambda b, rng, x, s=scale: [
            _conv(b, rng, x, "CONV_2D", 1.0, 1.0, s, act="relu6")], 1.0, 0))
    # ADD and MUL: operands of very different scales, tiny and huge output scales
    for kind, (s1, s2, so) in itertools.product(["ADD", "MUL"], [
            (1.0, 1e-6, 1.0), (1e-6, 1.0, 1e-9), (1.0, 1.0, 1e-6), (1.0, 1.0, 1e-9),
            (1e3, 1e3, 1e-4), (1e-3, 1e-3, 1e6), (0.1, 0.1, 2.0**-40), (3e38, 1.0, 1.0)]):
        out.append((f"{kind} scales {s1:g} {s2:g} -> {so:g}",
                    lambda b, rng, x, kind=kind, s1=s1, s2=s2, so=so: list(_binary(
                        b, kind, x, s1, 3, s2, -9, so, 11)), s1, 3))
    # one-input ops
    for kind, (si, so, zo) in itertools.product(["MEAN", "QUANTIZE", "RELU"], [
            (1.0, 1e-9, 0), (1.0, 1e-6, 100), (1e-9, 1.0, 0), (1e-3, 1e6, -128),
            (1.0, 2.0**-31, 0), (1e30, 1e-8, 0)]):
        out.append((f"{kind} {si:g} -> {so:g}", lambda b, rng, x, kind=kind, so=so, zo=zo: [
            _unary(b, kind, x, so, zo)], si, -1))
    for si in (1e-12, 1e-6, 1e3, 1e12):
        out.append((f"RELU6 input scale {si:g}", lambda b, rng, x: [
            _unary(b, "RELU6", x, 1.0, 0)], si, 0))
        out.append((f"LOGISTIC input scale {si:g}", lambda b, rng, x: [
            _unary(b, "LOGISTIC", x, 1 / 256, -128)], si, 0))
        out.append((f"TANH input scale {si:g}", lambda b, rng, x: [
            _unary(b, "TANH", x, 1 / 128, 0)], si, 0))
        for so in (si * 1e-6, si, si * 1e6):
            out.append((f"HARD_SWISH {si:g} -> {so:g}", lambda b, rng, x, so=so: [
                _unary(b, "HARD_SWISH", x, so, 0)], si, 0))
        for beta in (1.0, 1e6):
            out.append((f"SOFTMAX input scale {si:g} beta {beta:g}", lambda b, rng, x, beta=beta: [
                _unary(b, "SOFTMAX", x, 1 / 256, -128, beta=beta)], si, 0))
    return out


CASES = cases()


def build(selected) -> tuple[bytes, list[str], list[list[int]]]:
    """The selected cases side by side in one model: the model, the role of each model input
    and, for each case, the indices of its model inputs."""
    b = ModelBuilder()
    inputs, outputs, roles, owned = [], [], [], []
    for label, make, in_scale, in_zp in selected:
        x = b.tensor("x", SHAPE, "int8", in_scale, in_zp)
        result = make(b, np.random.default_rng(zlib.crc32(label.encode())), x)
        owned.append([len(inputs)])
        inputs.append(x)
        roles.append("ramp")
        outputs.append(result[0])
        for extra in result[1:]:  # a second operand
            owned[-1].append(len(inputs))
            inputs.append(extra)
            roles.append("shuffled")
    return b.build(inputs, outputs, "extreme quantization"), roles, owned


def samples(roles, seed=0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    ramp = np.arange(-128, 128, dtype=np.int8).reshape(SHAPE)
    batches = [[ramp if r == "ramp" else rng.permutation(ramp.reshape(-1)).reshape(SHAPE)
                for r in roles]]
    batches.append([rng.permutation(ramp.reshape(-1)).reshape(SHAPE) for _ in roles])
    batches.append([np.full(SHAPE, -128, np.int8)] * len(roles))
    batches.append([np.full(SHAPE, 127, np.int8)] * len(roles))
    return batches


@pytest.mark.tflm
def test_extreme_quantization_gives_tflm_bytes_or_a_clear_error(tmp_path, record_property):
    accepted, rejected = [], []
    for case in CASES:
        model, _, _ = build([case])
        try:
            generate(model, name="case.tflite")
            accepted.append(case)
        except ConversionError as e:
            message = str(e)
            assert message.startswith("case.tflite: operator #0 ("), message
            assert message.count("operator #") == 1, message
            assert "\n" not in message
            rejected.append((case[0], message))
    # what must be rejected is rejected, what TFLite Micro computes is converted
    labels = {label for label, _ in rejected}
    for must in ("CONV_2D rescale 2.14748e+09", "FULLY_CONNECTED rescale 1e+12",
                 "CONV_2D relu6 output scale 1e-30", "ADD scales 1 1 -> 1e-06"):
        assert must in labels, sorted(labels)
    for must in ("CONV_2D rescale 1.07374e+09", "CONV_2D weights max bias max",
                 "ADD scales 1 1e-06 -> 1", "MEAN 1 -> 1e-09", "MUL scales 1 1 -> 1e-09"):
        assert must in {c[0] for c in accepted}, must

    model, roles, owned = build(accepted)
    conversion = convert(model, tmp_path / "c")
    exe = build_sanitized(tmp_path / "c")
    batches = samples(roles)
    ours = run_sanitized(exe, conversion, batches)  # fails on any sanitizer report
    try:
        reference = run_tflm_batch(model, batches)
    except TFLMError:  # TFLM aborts on some case: run the cases one by one
        reference = None
    tflm_aborts, mismatches = [], []
    for k, case in enumerate(accepted):
        if reference is not None:
            ref = [sample[k] for sample in reference]
        else:
            single, _, _ = build([case])
            try:
                ref = [sample[0] for sample in run_tflm_batch(
                    single, [[batch[i] for i in owned[k]] for batch in batches])]
            except TFLMError:
                tflm_aborts.append(case[0])  # no bytes to compare: ours only ran clean
                continue
        if any(ours[n][k].tobytes() != ref[n].tobytes() for n in range(len(batches))):
            mismatches.append(case[0])
    record_property("extreme_cases", dict(accepted=len(accepted), rejected=len(rejected),
                                          tflm_aborts=len(tflm_aborts)))
    for label, message in rejected:
        print(f"  rejected {label}: {message}")
    print(f"\nextreme quantization: {len(accepted)} cases converted and bit-exact under "
          f"ASan+UBSan ({len(tflm_aborts)} of them abort TFLite Micro: {tflm_aborts}), "
          f"{len(rejected)} rejected with a clear error")
    assert not mismatches, mismatches
    # TFLite Micro aborts on what it cannot compute: the converter must reject those too
    assert not tflm_aborts, tflm_aborts
