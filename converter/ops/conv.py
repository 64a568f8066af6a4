"""CONV_2D and DEPTHWISE_CONV_2D: int8 activations, int8 weights (per channel), int32 bias."""
from __future__ import annotations

import functools

import numpy as np

from ..quant import f32, requant_multiplier
from .base import (PADDING_NAMES, OpDef, Window, elementwise_slack, expect_batch1,
                   expect_dtype, expect_rank, expect_weighted_int8, expect_window_padding, fail,
                   fused_activation_range, nhwc, params_window, raster_window_slack,
                   same_padding, window_output_size)


def channel_multipliers(op, in_scale: float, out_scale: float, weights, channels: int):
    """Per-output-channel (multiplier, shift) arrays, as PopulateConvolutionQuantizationParams
    (the shifts, within [-31, 31], as int8: they stay in Flash, a byte each)."""
    scales = weights.quant.scale
    if scales.size not in (1, channels):
        raise fail(op, f"weights {weights.name!r} have {scales.size} scales for {channels} "
                       "output channels")
    if not (np.isfinite(scales).all() and (scales > 0).all()):
        raise fail(op, f"weights {weights.name!r} have an invalid scale (must be finite and > 0)")
    mults, shifts = [], []
    for i in range(channels):
        real = f32(in_scale) * f32(scales[i if scales.size > 1 else 0]) / f32(out_scale)
        m, s = requant_multiplier(real, f"output channel {i}")
        mults.append(m)
        shifts.append(s)
    return np.array(mults, np.int32), np.array(shifts, np.int8)


def requant_shifts(multipliers, shifts) -> tuple[int, np.ndarray]:
    """The shifts a kernel's epilogue reads, and its `right_shift` flag. When every channel
    has a multiplier in [2^30, 2^31) and a shift of -2 or less (a scale below 1/4, as almost
    always), the kernels take the short form tme_requant_right, which reads -shift - 2 (the
    flag is 1); otherwise TFLite's shifts as they are (0)."""
    m, sh = np.asarray(multipliers, np.int64), np.asarray(shifts, np.int8)
    if ((m >= 1 << 30) & (sh <= -2)).all():
        return 1, (-sh.astype(np.int16) - 2).astype(np.int8)
    return 0, sh


def check_weights(op, weights, bias, channels: int, axis: int) -> None:
    expect_dtype(op, weights, "int8", "weights")
    if weights.quant is None:
        raise fail(op, f"weights {weights.name!r} are not quantized")
    if weights.quant.per_channel and weights.quant.axis != axis:
        raise fail(op, f"weights {weights.name!r} are quantized along axis {weights.quant.axis}; "
                       f"expected the output-channel axis {axis}")
    if np.any(weights.quant.zero_point != 0):
        raise fail(op, f"weights {weights.name!r} have a non-zero zero point; int8 weights must "
                       "be symmetric")
    if bias is not None:
        expect_dtype(op, bias, "int32", "bias")
        if not bias.is_const or bias.size != channels:
            raise fail(op, f"bias {bias.name!r} must be a constant of {channels} int32 values")
    # no input may make the int32 sum of (x - zero point) * w overflow (|x - zp| <= 255)
    if weights.is_const and weights.data.ndim > axis:
        others = tuple(k for k in range(weights.data.ndim) if k != axis)
        worst = int(np.abs(weights.data.astype(np.int64)).sum(axis=others).max(initial=0)) * 255
        if worst > 2**31 - 1:
            raise fail(op, f"weights {weights.name!r} can overflow the int32 accumulator (up to "
                           f"{worst:,} for some inputs; TFLite Micro overflows too): the layer "
                           "sums too many terms, split it")


def gemm_constants(weights: np.ndarray, bias: np.ndarray | None, zero_point: int):
    """Weights [out_c][k] -> ([out_c][k4] zero-padded rows, the folded int32 bias) for the
    tme_gemm kernels: bias[oc] - (zero_point + 128) * sum_k w[oc][k], wrapping like int32."""
    w = np.asarray(weights, np.int8).reshape(weights.shape[0], -1)
    out_c, k = w.shape
    k4 = -(-k // 4) * 4
    padded = np.zeros((out_c, k4), np.int8)
    padded[:, :k] = w
    folded = w.astype(np.int64).sum(axis=1) * -(int(zero_point) + 128)
    if bias is not None:
        folded += np.asarray(bias, np.int64).reshape(-1)
    folded = ((folded + 2**31) % 2**32 - 2**31).astype(np.int32)
    return padded, folded


def gemm_scratch_bytes(rows: int, k: int) -> int:
    """Scratch of tme_gemm_s8: a block of rows (4 of k4 bytes on the portable path, 2 of k4
    16-bit values on the DSP path; one row of either when there is one)."""
    k4 = -(-k // 4) * 4
    return 4 * k4 if rows > 1 else 2 * k4


def gemm_scratch(op, c) -> str:
    """The scratch argument of tme_gemm_s8: the DSP kernel reads its rows 8 bytes at a time
    (LDRD, which faults on Cortex-M below 4-byte alignment; the C path promises 8), and the
    planner aligns every buffer to 16."""
    assert c.scratch_offset(op) % 8 == 0, f"op {op.index}: gemm scratch not 8-byte aligned"
    return f"(uint8_t *){c.scratch(op)}"


#: the fields of tme_conv_params, all in op.params
CONV_FIELDS = ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h",
               "stride_w", "dil_h", "dil_w", "pad_top", "pad_left", "depth_multiplier",
               "in_offset", "out_offset", "act_min", "act_max")
#: input slot of the skip tensor of a residual ADD fused into the convolution (passes/fuse.py)
SKIP_INPUT = 3


def residual_arguments(op, c) -> tuple[str, str]:
    """The (residual params, skip tensor) arguments of a conv kernel: a fused residual ADD's
    `tme_residual_params` and the skip input, or NULL, NULL."""
    if "residual" not in op.params:
        return "NULL", "NULL"
    r = op.params["residual"]
    params = c.params("tme_residual_params", op, {"add": r["add"],
                                                  "conv_is_first": r["conv_is_first"]},
                      suffix="residual")
    return "&" + params, c.ptr(op.inputs[SKIP_INPUT])


class _ConvBase(OpDef):
    kernels = ("conv", "add")
    depthwise = False

    def parse_options(self, o) -> dict:
        opts = dict(padding=PADDING_NAMES.get(o.Padding(), o.Padding()), stride_h=o.StrideH(),
                    stride_w=o.StrideW(), dil_h=o.DilationHFactor(), dil_w=o.DilationWFactor(),
                    activation=o.FusedActivationFunction())
        if self.depthwise:
            opts["depth_multiplier"] = o.DepthMultiplier()
        return opts

    def window(self, op) -> Window:
        return params_window(op)

    def prepare(self, op) -> None:
        x, w, bias, y = expect_weighted_int8(op)
        expect_rank(op, x, (4,), "input")
        expect_rank(op, w, (4,), "weights")
        expect_batch1(op, x, "input")
        o = op.options
        expect_window_padding(op)
        if min(o["stride_h"], o["stride_w"], o["dil_h"], o["dil_w"]) < 1:
            raise fail(op, "strides and dilations must be >= 1")
        _, in_h, in_w, in_c = nhwc(x)
        _, out_h, out_w, out_c = nhwc(y)
        if self.depthwise:
            _, k_h, k_w, w_c = w.shape
            dm = in_c and out_c // in_c
            if w_c != out_c or dm < 1 or in_c * dm != out_c:
                raise fail(op, f"weights {list(w.shape)} do not match input channels {in_c} and "
                               f"output channels {out_c}")
            if o["depth_multiplier"] != dm:  # TFLite Micro's kernel loops over the option
                raise fail(op, f"depth multiplier {o['depth_multiplier']} does not match the "
                               f"{in_c} input and {out_c} output channels")
            axis = 3
        else:
            w_out, k_h, k_w, w_in = w.shape
            if w_out != out_c:
                raise fail(op, f"weights {list(w.shape)} do not give {out_c} output channels")
            if w_in != in_c:
                raise fail(op, f"grouped convolution (input channels {in_c}, weights {w_in}) "
                               "is not supported")
            axis = 0
        check_weights(op, w, bias, out_c, axis)
        exp_h = window_output_size(o["padding"], in_h, o["stride_h"], o["dil_h"], k_h)
        exp_w = window_output_size(o["padding"], in_w, o["stride_w"], o["dil_w"], k_w)
        if (exp_h, exp_w) != (out_h, out_w):
            raise fail(op, f"output {out_h}x{out_w} does not match the {o['padding']} window "
                           f"output {exp_h}x{exp_w}")
        geometry = self.shape_params(op)
        pad = max(geometry["pad_top"], geometry["pad_left"])
        if pad > 32767:  # TFLite Micro keeps paddings in int16
            raise fail(op, f"SAME padding of {pad} pixels is beyond the 16 bits TFLite Micro "
                           "keeps it in (a huge kernel or dilation)")
        act_min, act_max = fused_activation_range(op)
        mult, shift = channel_multipliers(op, x.scale, y.scale, w, out_c)
        op.params.update(geometry, in_offset=-x.zero_point, out_offset=y.zero_point,
                         act_min=act_min, act_max=act_max)
        op.params["multiplier"], op.params["shift"] = mult, shift

    def shape_params(self, op) -> dict:
        """Sizes, window, SAME paddings and depth multiplier."""
        (_, in_h, in_w, in_c), (_, k_h, k_w, _) = op.inputs[0].shape, op.inputs[1].shape
        _, out_h, out_w, out_c = op.outputs[0].shape
        o = op.options
        pad_top = pad_left = 0
        if o["padding"] == "SAME":
            pad_top = same_padding(in_h, out_h, o["stride_h"], o["dil_h"], k_h)
            pad_left = same_padding(in_w, out_w, o["stride_w"], o["dil_w"], k_w)
        return dict(in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c,
                    k_h=k_h, k_w=k_w, stride_h=o["stride_h"], stride_w=o["stride_w"],
                    dil_h=o["dil_h"], dil_w=o["dil_w"], pad_top=pad_top, pad_left=pad_left,
                    depth_multiplier=out_c // in_c if self.depthwise else 1)

    def macs(self, op) -> int:
        p = op.params
        per_output = p["k_h"] * p["k_w"] * (1 if self.depthwise else p["in_c"])
        return p["out_h"] * p["out_w"] * p["out_c"] * per_output

    def shares_input(self, op) -> int | None:
        return 0 if op.params.get("inplace") else None

    def scratch_bytes(self, op) -> int:
        p = op.params
        return p["out_h"] * p["out_w"] if p.get("inplace") else 0

    def overlap_slack(self, op, index: int) -> int | None:
        p = op.params
        if p.get("inplace"):
            return None
        if index == 0:
            return raster_window_slack(p["in_w"], p["in_c"], p["out_h"], p["out_w"], p["out_c"],
                                       p["stride_h"], p["stride_w"], p["pad_top"],
                                       p["pad_left"])
        if index == SKIP_INPUT:  # read element by element just before the same element is written
            return elementwise_slack(op.outputs[0].size)
        return None

    def emit(self, op, c) -> str:
        """The generic kernel of tme_conv.h: a depthwise layer with a depth multiplier above 1
        (never in place: can_run_inplace); Conv2D and the others have their own emit."""
        x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
        bias = op.inputs[2] if len(op.inputs) > 2 else None
        params = c.params("tme_conv_params", op, {k: op.params[k] for k in CONV_FIELDS})
        weights = (f"{c.ptr(w)}, {c.ptr(bias)}, {c.const(op.params['multiplier'], op, 'mult')}, "
                   f"{c.const(op.params['shift'], op, 'shift')}")
        residual, skip = residual_arguments(op, c)
        return (f"tme_depthwise_conv2d_s8(&{params}, {c.ptr(x)}, {weights}, {residual}, {skip}, "
                f"{c.ptr(y)});")


class Conv2D(_ConvBase):
    """A matrix product (tme_gemm.h): every output pixel's window, copied a block of pixels at
    a time into scratch (im2col; the pixel itself for 1x1 stride 1), times the weights."""
    kinds = ("CONV_2D",)
    kernels = ("gemm", "add")

    def scratch_bytes(self, op) -> int:
        p = op.params
        return gemm_scratch_bytes(p["out_h"] * p["out_w"], p["k_h"] * p["k_w"] * p["in_c"])

    def emit(self, op, c) -> str:
        x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
        bias = op.inputs[2] if len(op.inputs) > 2 else None
        p = op.params
        direct = (p["k_h"] == p["k_w"] == p["stride_h"] == p["stride_w"] == 1
                  and p["pad_top"] == p["pad_left"] == 0
                  and (p["in_h"], p["in_w"]) == (p["out_h"], p["out_w"]))
        weights, folded = gemm_constants(w.data, None if bias is None else bias.data,
                                         x.zero_point)
        fields = dict(rows=p["out_h"] * p["out_w"], k=p["k_h"] * p["k_w"] * p["in_c"],
                      k4=weights.shape[1], out_c=p["out_c"], im2col=int(not direct),
                      **{k: p[k] for k in ("in_h", "in_w", "in_c", "out_w", "k_h", "k_w",
                                           "stride_h", "stride_w", "dil_h", "dil_w", "pad_top",
                                           "pad_left")},
                      pad_value=x.zero_point + 128,
                      **{k: p[k] for k in ("out_offset", "act_min", "act_max")})
        fields["right_shift"], shifts = requant_shifts(p["multiplier"], p["shift"])
        params = c.params("tme_gemm_params", op, fields)
        residual, skip = residual_arguments(op, c)
        return c.function(op, (
            f"tme_gemm_s8(&{params}, {c.ptr(x)}, {c.const(weights, op, 'weights')}, "
            f"{c.const(folded, op, 'bias')}, {c.const(p['multiplier'], op, 'mult')}, "
            f"{c.const(shifts, op, 'shift')}, {residual}, {skip}, "
            f"{gemm_scratch(op, c)}, {c.ptr(y)});"))


def _interior(out_n: int, in_n: int, k: int, s: int, d: int, pad: int) -> tuple[int, int]:
    """Output positions [lo, hi) whose window lies inside the input along one axis."""
    lo = min(out_n, -(-pad // s))
    last = in_n - 1 - (k - 1) * d + pad  # the window of position o starts at o * s - pad
    hi = last // s + 1 if last >= 0 else 0
    return lo, max(lo, min(out_n, hi))


def inplace_geometry(p: dict) -> dict:
    """The ring of tme_dw_inplace_s8: values per stride phase of a padded input row, and the
    scratch bytes (k_h padded 16-bit input rows)."""
    s = p["stride_w"]
    columns = -(-p["out_w"] // 16) * 16  # the kernel may compute whole groups of 16 columns
    padded = max(p["pad_left"] + p["in_w"], (columns - 1) * s + (p["k_w"] - 1) * p["dil_w"] + 1)
    ring_w = -(-padded // s) + 1  # + 1: the DSP kernel reads taps in pairs
    return dict(ring_w=ring_w, scratch=2 * p["k_h"] * s * ring_w)


def _inplace_words(n: int) -> int:
    """64-bit weight words of a stride phase of n taps in tme_dw_pairs (tme_dw_words)."""
    return (n + 1) // 2 if n % 2 else (n + 3) // 4


def inplace_rows_are_read_first(p: dict) -> bool:
    """Does every output row of tme_dw_inplace_s8 overwrite only input rows already in its
    ring? The kernel reads a channel's input row once, for the first window that reaches it,
    and writes each output row over the input as soon as it is computed. (TFLite's paddings
    are at most k - 1 and an output row is at most an input row wide: always true.)"""
    return _rows_read_first(*(p[k] for k in ("in_h", "in_w", "out_h", "out_w", "k_h",
                                             "stride_h", "dil_h", "pad_top")))


@functools.lru_cache(maxsize=1 << 16)  # asked for the same shapes again and again (the search)
def _rows_read_first(in_h, in_w, out_h, out_w, k_h, stride_h, dil_h, pad_top) -> bool:
    last_read = min(in_h - 1, (out_h - 1) * stride_h - pad_top + (k_h - 1) * dil_h)
    for q in range(out_h):
        covered = ((q + 1) * out_w - 1) // in_w  # the last input row output row q overwrites
        in_ring = q * stride_h - pad_top + (k_h - 1) * dil_h
        if min(covered, last_read) > in_ring:
            return False
    return True


#: the fields of tme_dw_params taken from op.params as they are
_DW_FIELDS = ("in_h", "in_w", "out_h", "out_w", "k_h", "k_w", "stride_h", "stride_w", "dil_h",
              "dil_w", "pad_top", "pad_left")


class DepthwiseConv2D(_ConvBase):
    """Depth multiplier 1: tme_dwconv.h, in raster order or in place (passes/inplace.py
    chooses); other depth multipliers: the generic kernel of tme_conv.c."""
    kinds = ("DEPTHWISE_CONV_2D",)
    kernels = ("dwconv", "conv", "add")
    depthwise = True

    def inplace_scratch_bytes(self, op) -> int:
        """Scratch of the in-place kernel, were the op run in place."""
        return inplace_geometry(op.params)["scratch"]

    def can_run_inplace(self, op) -> bool:
        p = op.params
        # the DSP kernel holds a channel's weights as at most 28 words of 64 bits (7x7 at
        # stride 1: TME_DW_PAIRS, tme_dw_pairs), at most 16 taps a stride phase (TME_DW_TAPS_MAX)
        taps = [len(range(ph, p["k_w"], p["stride_w"])) for ph in range(p["stride_w"])]
        words = p["k_h"] * sum(_inplace_words(n) for n in taps)
        return (p["depth_multiplier"] == 1 and p["dil_h"] == p["dil_w"] == 1
                and "residual" not in p and words <= 28 and max(taps) <= 16
                and inplace_rows_are_read_first(p))

    def scratch_bytes(self, op) -> int:
        return self.inplace_scratch_bytes(op) if op.params.get("inplace") else 0

    def inplace_is_faster(self, op) -> bool:
        """On an Arm DSP core, is the in-place kernel likely the faster one? A model of the
        instructions per channel of either DSP kernel (counts on Cortex-M7 follow it within
        ~30%): the in-place one copies each input row into its ring (~3 instructions a value)
        and computes every tap of 4 output pixels at a time, padding taps too: per stride
        phase of n taps of a kernel row 3n + 4 instructions (n odd: 2n + 2 multiplies, loads
        of x and weight pairs) or 3n + 2 + n / 4 (n even), and 38 more per group for its
        requantization; the raster one computes only the taps inside the input, 4 channels
        per 10 instructions a tap, and its requantization and channel constants cost more per
        output."""
        p = op.params
        taps = [len(range(ph, p["k_w"], p["stride_w"])) for ph in range(p["stride_w"])]
        per_group_row = sum(3 * n + 4 if n % 2 else 3 * n + 2 + -(-n // 4) for n in taps)
        groups = -(-p["out_w"] // 4)
        ring = (8 * p["k_h"] * p["k_w"] + p["in_h"] * (3 * p["in_w"] + 20)
                + p["out_h"] * (groups * (p["k_h"] * per_group_row + 38) + 30))

        def inside(out_n, in_n, k, stride, pad):  # taps inside the input, over all outputs
            return sum(sum(0 <= o * stride - pad + i < in_n for i in range(k))
                       for o in range(out_n))
        taps = (inside(p["out_h"], p["in_h"], p["k_h"], p["stride_h"], p["pad_top"])
                * inside(p["out_w"], p["in_w"], p["k_w"], p["stride_w"], p["pad_left"]))
        raster = 2.5 * taps + 11 * p["out_h"] * p["out_w"]
        return ring < raster

    def emit(self, op, c) -> str:
        p = op.params
        if p["depth_multiplier"] != 1:
            return super().emit(op, c)
        x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
        bias = op.inputs[2] if len(op.inputs) > 2 else None
        oy_lo, oy_hi = _interior(p["out_h"], p["in_h"], p["k_h"], p["stride_h"], p["dil_h"],
                                 p["pad_top"])
        ox_lo, ox_hi = _interior(p["out_w"], p["in_w"], p["k_w"], p["stride_w"], p["dil_w"],
                                 p["pad_left"])
        ring_w = inplace_geometry(p)["ring_w"] if p.get("inplace") else 0
        fields = dict({k: p[k] for k in _DW_FIELDS}, c=p["out_c"], oy_lo=oy_lo, oy_hi=oy_hi,
                      ox_lo=ox_lo, ox_hi=ox_hi,
                      **{k: p[k] for k in ("in_offset", "out_offset", "act_min", "act_max")},
                      ring_w=ring_w)
        fields["right_shift"], shifts = requant_shifts(p["multiplier"], p["shift"])
        fields = {k: fields[k] for k in ("in_h", "in_w", "c", "out_h", "out_w", "k_h", "k_w",
                                         "stride_h", "stride_w", "dil_h", "dil_w", "pad_top",
                                         "pad_left", "oy_lo", "oy_hi", "ox_lo", "ox_hi",
                                         "in_offset", "out_offset", "act_min", "act_max",
                                         "ring_w", "right_shift")}
        params = c.params("tme_dw_params", op, fields)
        biases = (np.asarray(bias.data, np.int32) if bias is not None
                  else np.zeros(p["out_c"], np.int32))
        consts = (f"{c.ptr(w)}, {c.const(biases, op, 'bias')}, "
                  f"{c.const(p['multiplier'], op, 'mult')}, {c.const(shifts, op, 'shift')}")
        if p.get("inplace"):  # x and y start at the same arena byte (the planner's exact pair)
            assert c.ptr(x) == c.ptr(y), f"op {op.index} in place, its output planned elsewhere"
            return c.function(op, f"tme_dw_inplace_s8(&{params}, {c.ptr(x)}, {consts}, "
                                  f"(uint8_t *){c.scratch(op)});")
        residual, skip = residual_arguments(op, c)
        return c.function(op, f"tme_dw_s8(&{params}, {c.ptr(x)}, {consts}, {residual}, {skip}, "
                              f"{c.ptr(y)});")
