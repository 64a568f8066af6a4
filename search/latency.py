"""Speed of a generated model on a Cortex-M: the instructions its invoke executes, predicted
layer by layer from the layer's shape, so that the search can reject networks too slow for a
device before training them.

Each layer of the generated `model.c` is one function (the kernels of tme_gemm.h and
tme_dwconv.h inlined and specialised to it), and each kind of layer runs a known loop nest: a
layer's instructions are nearly linear in a few counts of that nest. Per kind (`kind()`):

| kind | the kernel | features (instructions = sum of coefficient x feature) |
|---|---|---|
| conv_im2col | the first conv (k x k, im2col rows) | macs, outputs, pixels, 1 |
| conv_1x1 | expansion / projection / feature mix, 2+ output pixels (asm loop) | macs, outputs, inputs, pixels, loop, 1 |
| conv_1x1_residual | projection with the residual ADD fused (C loop, asm steps) | macs, outputs, inputs, pixels, 1 |
| conv_1x1_pixel | a 1x1 conv of one output pixel, residual or not | macs, outputs, inputs, residual, 1 |
| dw_raster_s1, dw_raster_s2 | depthwise, all channels of a pixel, 4 at a time | taps, outputs, pixels, weights, 1 |
| dw_inplace_s1 | depthwise in place: a channel at a time through a ring of rows | steps, ring, groups, channels, 1 |
| dw_inplace_s2 | the same, stride 2 (few in the training networks: fewer features) | steps, ring, channels |
| mean | global average pooling (tme_mean_hw_s8) | inputs, channels, 1 |
| fully_connected | the classifier (one row) | macs, outputs, 1 |

macs: multiply-accumulates as the kernel runs them (the reduction padded to a multiple of 4);
outputs / inputs: values written / read and widened to 16 bits (pixels x channels); pixels:
output pixels; loop: iterations of the asm k loop (k > 32: macs / (16 x its unroll));
taps: channel-taps inside the input, over all outputs (padding taps are skipped); weights:
channels x k x k (the weights split into 16-bit lanes per channel group); in place (after
`inplace_is_faster`'s model in converter/ops/conv.py): steps, its estimate of the tap
instructions per channel (4 output pixels at a time, padding taps included) x channels; ring:
input values copied into the ring; groups: groups of 4 output pixels x channels; residual:
outputs of a fused ADD. Plus `invoke`: the instructions of the invoke call outside the layers.

The depthwise kernels pick their variant by the kernel's size and stride, and the converter
picks in place or raster (passes/inplace.py: in place where the DSP kernel is faster and the
arena stays the same); `predict_inplace` is its speed rule alone (`inplace_is_faster`),
which agrees with the converter's choice on 97% of the depthwise layers of random
architectures (2490 of 2553 over 150) (the others: a stride-2 layer at the arena's peak, kept raster).

How the table was measured (`benchmarks.cost_model.measure_latency()` repeats it;
`python -m tflm_mcunet.benchmarks.search_space --latency` prints the table and the errors):
the architectures of `cost_model.TRAINING` and `HELD_OUT` are converted as for a device with
the core (the converter's passes and planner, zero weights, one random input: the kernels'
loops do not depend on the values), built as the QEMU benchmark firmware with the core's DSP
flags (`tflm-mcunet bench --target qemu-m7 --builds dsp`: `Device.cflags("dsp")`, -O2
-fno-schedule-insns), run once on QEMU's mps2-an500, every translation block counted by the
benchmarks' plugin (`benchmarks.toolchain`); a layer's count is its function's plus its share
of the library functions it calls (memcpy, tme_mean_hw_s8). Per kind, a least-squares fit
(`fit`) on the `TRAINING` networks' layers (weighted by 1 / sqrt(count), so that small layers
count too).

Instructions are not cycles: QEMU counts instructions and models no timing. On a Cortex-M7 the
two are close for this code (dual issue on one side, load-use stalls and Flash wait states on
the other: docs/cortex-m.md's table puts our instruction counts at 0.5-0.8x the cycles TinyEngine
publishes for the same networks); a Cortex-M4 issues one instruction a cycle at best and takes
2 cycles for most loads, so there the count is a lower bound of the cycles.

Only the Cortex-M7 is measured (QEMU's Cortex-M4 board, mps2-an386, would need its own
firmware): other cores take its table, an approximation (the same C built for a Cortex-M4 runs
nearly the same instructions; its cycles are more). Measured on the held-out networks: within
5% per network (`MEASURED`; docs/latency.md has the table).
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

__all__ = ["MEASURED", "DEFAULT_CORE", "KINDS", "kind", "features", "op_instructions",
           "graph_instructions", "predict_inplace", "fit", "table_in_use"]

DEFAULT_CORE = "cortex-m7"

#: features of each kind, in the order of the fit
KINDS = {
    "conv_im2col": ("macs", "outputs", "pixels", "one"),
    "conv_1x1": ("macs", "outputs", "inputs", "pixels", "loop", "one"),
    "conv_1x1_residual": ("macs", "outputs", "inputs", "pixels", "one"),
    "conv_1x1_pixel": ("macs", "outputs", "inputs", "residual", "one"),
    "dw_raster_s1": ("taps", "outputs", "pixels", "weights", "one"),
    "dw_raster_s2": ("taps", "outputs", "pixels", "weights", "one"),
    "dw_inplace_s1": ("steps", "ring", "groups", "channels", "one"),
    # too few stride-2 in-place layers in the training networks (5) for more features
    "dw_inplace_s2": ("steps", "ring", "channels"),
    "mean": ("inputs", "channels", "one"),
    "fully_connected": ("macs", "outputs", "one"),
}

#: per core: "invoke", the instructions of the invoke outside the layers; "kinds", per kind the
#: coefficients of its features; Cortex-M7 (QEMU mps2-an500), arm-none-eabi-gcc 12.2.1, -O2,
#: measured 2026-12-07 with `python -m tflm_mcunet.benchmarks.search_space --latency`.
#: Other cores take the Cortex-M7 table (an approximation: see above).
MEASURED: dict = {
    "cortex-m7": {
        "invoke": 59,
        "kinds": {
            "conv_im2col": {"macs": 1.325, "outputs": 0.04731, "pixels": 103.4, "one": 335.8},
            "conv_1x1": {"macs": 1.043, "outputs": 8.468, "inputs": 1.611, "pixels": 11.17,
                "loop": 4.283, "one": 38.91},
            "conv_1x1_residual": {"macs": 1.169, "outputs": 23.55, "inputs": 0.5209,
                "pixels": 73.6, "one": -179.6},
            "conv_1x1_pixel": {"macs": 1.431, "outputs": 19.3, "inputs": 1.472, "residual": 15.17,
                "one": 352.2},
            "dw_raster_s1": {"taps": 2.414, "outputs": 20.42, "pixels": -62.65, "weights": 1.841,
                "one": 99.76},
            "dw_raster_s2": {"taps": 2.358, "outputs": 14.97, "pixels": -67.82, "weights": 2.059,
                "one": 2504.0},
            "dw_inplace_s1": {"steps": 1.078, "ring": -4.481, "groups": 65.35, "channels": 923.9,
                "one": -2846.0},
            "dw_inplace_s2": {"steps": 1.274, "ring": 2.835, "channels": 1968.0},
            "mean": {"inputs": 6.879, "channels": 54.78, "one": 18.95},
            "fully_connected": {"macs": 1.54, "outputs": 12.61, "one": 206.0},
        },
        # measured invoke instructions of the HELD_OUT networks (not fitted on)
        "held_out": {
            (0.2, 48, 10, 110): 3595737,
            (0.3, 64, 10, 111): 6636248,
            (0.4, 96, 10, 112): 27943875,
            (0.5, 80, 10, 113): 19653176,
            (0.3, 32, 10, 114): 1883919,
            (0.4, 48, 10, 115): 7052281,
            (0.3, 96, 10, 116): 18622338,
            (0.5, 64, 10, 117): 10820581,
        },
    },
}


def kind(op, inplace: bool | None = None) -> str:
    """The kind of a fused search-space op (CONV_2D, DEPTHWISE_CONV_2D, MEAN,
    FULLY_CONNECTED); `inplace`: a depthwise op's kernel (default: its "inplace" param)."""
    p = op.params
    if op.kind == "CONV_2D":
        if p["k_h"] * p["k_w"] > 1:
            return "conv_im2col"
        if p["out_h"] * p["out_w"] == 1:
            return "conv_1x1_pixel"
        return "conv_1x1_residual" if "residual" in p else "conv_1x1"
    if op.kind == "DEPTHWISE_CONV_2D":
        inplace = p.get("inplace", False) if inplace is None else inplace
        return f"dw_{'inplace' if inplace else 'raster'}_s{min(p['stride_h'], 2)}"
    if op.kind in ("MEAN", "FULLY_CONNECTED"):
        return op.kind.lower()
    raise ValueError(f"no speed model for {op.kind} (op #{op.index})")


def _inside(out_n: int, in_n: int, k: int, stride: int, pad: int) -> int:
    """Taps of a window inside the input, summed over the outputs (one axis)."""
    return sum(min(in_n, o * stride - pad + k) - max(0, o * stride - pad)
               for o in range(out_n))


def features(op, kind_: str) -> tuple[float, ...]:
    """The features of `KINDS[kind_]` for `op` (its shape params)."""
    p = op.params
    if kind_ == "mean":
        return (p["count"] * p["channels"], p["channels"], 1)
    if kind_ == "fully_connected":
        return (p["in_depth"] * p["out_depth"], p["out_depth"], 1)
    pixels = p["out_h"] * p["out_w"]
    if kind_.startswith("conv"):
        k4 = -(-p["in_c"] * p["k_h"] * p["k_w"] // 4) * 4
        macs, outputs = pixels * p["out_c"] * k4, pixels * p["out_c"]
        if kind_ == "conv_im2col":
            return (macs, outputs, pixels, 1)
        if kind_ == "conv_1x1_pixel":
            return (macs, outputs, k4, outputs * ("residual" in p), 1)
        if kind_ == "conv_1x1_residual":
            return (macs, outputs, pixels * k4, pixels, 1)
        unroll = 4 if k4 % 16 == 0 else 2 if k4 % 8 == 0 else 1
        return (macs, outputs, pixels * k4, pixels, macs / (16 * unroll) if k4 > 32 else 0, 1)
    c, k_h, k_w, s = p["out_c"], p["k_h"], p["k_w"], p["stride_w"]
    if kind_.startswith("dw_raster"):
        taps = (_inside(p["out_h"], p["in_h"], k_h, p["stride_h"], p["pad_top"])
                * _inside(p["out_w"], p["in_w"], k_w, s, p["pad_left"]))
        return (c * taps, c * pixels, pixels, c * k_h * k_w, 1)
    # in place: inplace_is_faster's count of a kernel row's tap instructions for 4 pixels
    taps = [len(range(ph, k_w, s)) for ph in range(s)]
    per_row = sum(3 * n + 4 if n % 2 else 3 * n + 2 + -(-n // 4) for n in taps)
    groups = p["out_h"] * -(-p["out_w"] // 4)
    every = dict(steps=c * groups * k_h * per_row, ring=c * p["in_h"] * p["in_w"],
                 groups=c * groups, channels=c, one=1)
    return tuple(every[name] for name in KINDS[kind_])


def _table(core: str | None) -> dict:
    if not MEASURED:
        raise RuntimeError("search.latency has no measured table: run `python -m "
                           "tflm_mcunet.benchmarks.search_space --latency` and paste its MEASURED")
    return MEASURED.get(core or DEFAULT_CORE, MEASURED[DEFAULT_CORE])


def op_instructions(op, core: str | None = None, inplace: bool | None = None) -> float:
    """Predicted instructions of one fused op on `core` (default Cortex-M7)."""
    k = kind(op, inplace)
    coef = _table(core)["kinds"][k]
    return float(sum(coef[name] * f for name, f in zip(KINDS[k], features(op, k))))


def _shape_key(op) -> tuple:
    """All that `features`, `kind` and `inplace_is_faster` read of a fused op (in_c, out_c,
    count... are its shapes'): a key cheaper to build than one of all its params."""
    p = op.params
    return (op.kind, op.inputs[0].shape, op.outputs[0].shape, p.get("k_h"), p.get("k_w"),
            p.get("stride_h"), p.get("stride_w"), p.get("pad_top"), p.get("pad_left"),
            "residual" in p)


#: caches of the cost model's hot path, by `_shape_key` (the search sees each shape many times)
_FASTER: dict[tuple, bool] = {}
_OP_INSTRUCTIONS: dict[tuple, float] = {}  # (core, in place, shape key) -> instructions


def predict_inplace(op, key: tuple | None = None) -> bool:
    """Does the converter run this depthwise candidate in place on a DSP core? Its speed rule
    (`inplace_is_faster`), cached by shape."""
    key = key or _shape_key(op)
    faster = _FASTER.get(key)
    if faster is None:
        from ..converter.ops import lookup

        faster = _FASTER[key] = lookup("DEPTHWISE_CONV_2D").inplace_is_faster(op)
    return faster


def graph_instructions(graph, core: str | None = None, candidates=None) -> int:
    """Predicted instructions of the invoke of a fused search-space graph (layer by layer).
    `candidates`: the depthwise ops that may run in place (`inplace_candidates(graph)`), whose
    kernel is then predicted (`predict_inplace`); None: the ops' own "inplace" params (a graph
    the converter made with dsp=True)."""
    core = core or DEFAULT_CORE
    total = _table(core)["invoke"]
    may = None if candidates is None else {id(op) for op in candidates}
    for op in graph.ops:
        key = _shape_key(op)
        if op.kind != "DEPTHWISE_CONV_2D":
            inplace = None
        elif may is None:
            inplace = bool(op.params.get("inplace"))
        else:
            inplace = id(op) in may and predict_inplace(op, key)
        cached = (core, inplace, key)
        n = _OP_INSTRUCTIONS.get(cached)
        if n is None:
            n = _OP_INSTRUCTIONS[cached] = op_instructions(op, core, inplace)
        total += n
    return int(round(total))


def fit(samples: list[tuple[str, tuple, int]]) -> dict[str, dict[str, float]]:
    """Per kind, the least-squares coefficients of (kind, features, instructions) samples,
    each weighted by 1 / sqrt(instructions): relative errors of small layers count too."""
    table = {}
    for k, names in KINDS.items():
        rows = [(f, n) for kk, f, n in samples if kk == k]
        if len(rows) < len(names):
            raise ValueError(f"{len(rows)} {k} layers measured: too few to fit {names}")
        a = np.array([f for f, _ in rows], float)
        y = np.array([n for _, n in rows], float)
        w = 1 / np.sqrt(np.maximum(y, 1))
        coef = np.linalg.lstsq(a * w[:, None], y * w, rcond=None)[0]
        table[k] = {name: float(f"{c:.4g}") for name, c in zip(names, coef)}
    return table


@contextmanager
def table_in_use(core: str, table: dict):
    """Predict with `table` as `MEASURED[core]` inside the block (a table just measured)."""
    saved = MEASURED.get(core)
    MEASURED[core] = table
    _OP_INSTRUCTIONS.clear()
    try:
        yield
    finally:
        if saved is None:
            del MEASURED[core]
        else:
            MEASURED[core] = saved
        _OP_INSTRUCTIONS.clear()
