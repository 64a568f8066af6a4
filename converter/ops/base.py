"""What every operator defines, and the checks they share.

One operator's whole contract lives in its own module under `ops/`: which builtin kinds it
handles, how it reads its options, what it accepts (`prepare`, which also derives the integer
parameters), its cost, and the C call it emits. Adding an op touches one file.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..errors import ConversionError
from ..ir import DTYPE_BYTES, Op, Tensor
from ..quant import ACTIVATION_NAMES, activation_range


@dataclass(frozen=True)
class Window:
    """What an output pixel of a window op (convolutions, pooling) reads of its first input,
    as (rows, columns) pairs: kernel size, stride, dilation, the padding before the first row
    and column, and the input's size."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int]
    size: tuple[int, int]


class OpDef:
    #: builtin operator names handled by this definition
    kinds: tuple[str, ...] = ()
    #: engine_c kernel families the emitted call needs (engine_c/src/tme_<family>.c)
    kernels: tuple[str, ...] = ()
    #: True when the output shares the input's bytes (RESHAPE): no code, no new buffer
    alias = False
    #: True when the kernel reads element i of its inputs, then writes element i, in order
    elementwise = False
    #: made by the converter's passes, never read from a .tflite file
    internal = False
    #: why a builtin that TFLite defines is refused (TFLite Micro has no kernel for it, so no
    #: reference to be bit-exact with): the reader stops with this, naming the op
    refused: str | None = None
    #: what the operator table (operators.py) says of the op's output memory, where the rules
    #: it derives it from do not apply (the resource-variable ops, whose data is the state)
    memory_note: str | None = None

    def families(self, op: Op) -> tuple[str, ...]:
        """The engine_c kernel families this op's emitted code needs."""
        return self.kernels

    def parse_options(self, opts) -> dict:
        """Read the flatbuffer options table (None when the op has none) into a plain dict."""
        return {}

    def prepare(self, op: Op) -> None:
        """Check that the op is supported and fill `op.params`; raise `fail(op, ...)` if not."""

    def shape_params(self, op: Op) -> dict:
        """The params `prepare` derives from the op's shapes and options alone (no constant data,
        no quantization): all that its MACs, scratch and overlap depend on. `prepare` takes
        them after its checks; the search's cost model takes only them."""
        return {}

    def macs(self, op: Op) -> int:
        return 0

    def shares_input(self, op: Op) -> int | None:
        """Index of the input whose first bytes the output must occupy exactly (an in-place
        kernel), or None."""
        return None

    def scratch_bytes(self, op: Op) -> int:
        return 0

    def overlap_slack(self, op: Op, index: int) -> int | None:
        """How far the output may reach into input `index` when that input dies here.

        The generated kernel writes its output in order while it still reads the input; the
        output may start at (input offset + slack) or lower without overwriting input bytes it
        has yet to read (negative: it must start that far below). None: no overlap allowed.
        """
        x, y = op.inputs[index], op.outputs[0]
        if self.elementwise and x.size == y.size:
            return elementwise_slack(y.size, DTYPE_BYTES[x.dtype], DTYPE_BYTES[y.dtype])
        return None

    def window(self, op: Op) -> Window | None:
        """The window an output pixel reads of input 0, for a window op; None for the others
        (elementwise or whole-tensor ops). Patch stages grow regions by it."""
        return None

    def region_params(self, op: Op, in_region, out_region) -> dict:
        """The params that change when the op runs on rows [top, bottom) and columns [left,
        right) of its output (`out_region`), reading `in_region` of input 0 (patch stages):
        a window op's sizes and the padding left inside the region; an elementwise op's count
        of elements."""
        h, w = out_region[1] - out_region[0], out_region[3] - out_region[2]
        win = self.window(op)
        if win is None:
            return {"size": h * w * op.outputs[0].shape[3]}
        return dict(in_h=in_region[1] - in_region[0], in_w=in_region[3] - in_region[2],
                    out_h=h, out_w=w, pad_top=win.pad[0] - out_region[0] * win.stride[0]
                    + in_region[0], pad_left=win.pad[1] - out_region[2] * win.stride[1]
                    + in_region[2])

    def emit(self, op: Op, c) -> str:
        """The C statement(s) that run the op; `c` is the emitter's context (see emit.py)."""
        raise NotImplementedError


def params_window(op: Op) -> Window:
    """The Window of a window op's params (k_h, stride_h, dil_h, pad_top, in_h and the _w
    ones; no dilation: 1), as its `prepare` or `shape_params` derived them."""
    p = op.params
    return Window((p["k_h"], p["k_w"]), (p["stride_h"], p["stride_w"]),
                  (p.get("dil_h", 1), p.get("dil_w", 1)), (p["pad_top"], p["pad_left"]),
                  (p["in_h"], p["in_w"]))


def fail(op: Op, message: str) -> ConversionError:
    return ConversionError(message, op_index=op.index, op_kind=op.kind)


def expect_inputs(op: Op, count: int, *, const: tuple[int, ...] = (), optional: int = 0) -> None:
    """`count` inputs, then up to `optional` more (TFLite Micro checks the exact number)."""
    if not count <= len(op.inputs) <= count + optional or \
            any(op.inputs[i] is None for i in range(count)):
        expected = f"{count} to {count + optional}" if optional else f"{count}"
        raise fail(op, f"expects {expected} input tensors, has {len(op.inputs)}")
    for i in const:
        if not op.inputs[i].is_const:
            raise fail(op, f"input {i} ({op.inputs[i].name!r}) must be a constant tensor")
    if len(op.outputs) != 1:
        raise fail(op, f"expects 1 output tensor, has {len(op.outputs)}")


def expect_dtype(op: Op, tensor: Tensor, dtypes: str | tuple[str, ...], role: str) -> None:
    dtypes = (dtypes,) if isinstance(dtypes, str) else dtypes
    if tensor.dtype not in dtypes:
        raise fail(op, f"{role} tensor {tensor.name!r} is {tensor.dtype}; supported: "
                       f"{', '.join(dtypes)} (convert the model with full int8 quantization)")


def expect_per_tensor(op: Op, tensor: Tensor, role: str) -> None:
    if tensor.quant is None:
        raise fail(op, f"{role} tensor {tensor.name!r} has no quantization parameters")
    if tensor.quant.per_channel:
        raise fail(op, f"{role} tensor {tensor.name!r} is quantized per channel; "
                       "only weights may be per channel")
    if not (np.isfinite(tensor.quant.scale).all() and (tensor.quant.scale > 0).all()):
        raise fail(op, f"{role} tensor {tensor.name!r} has an invalid scale "
                       f"{tensor.quant.scale.tolist()} (must be finite and > 0)")


def expect_int8_activation(op: Op, tensor: Tensor, role: str) -> None:
    expect_dtype(op, tensor, "int8", role)
    expect_per_tensor(op, tensor, role)


def expect_rank(op: Op, tensor: Tensor, ranks: tuple[int, ...], role: str) -> None:
    if len(tensor.shape) not in ranks:
        raise fail(op, f"{role} tensor {tensor.name!r} has shape {list(tensor.shape)}; "
                       f"supported ranks: {', '.join(map(str, ranks))}")


def expect_batch1(op: Op, tensor: Tensor, role: str) -> None:
    if tensor.shape and tensor.shape[0] != 1:
        raise fail(op, f"{role} tensor {tensor.name!r} has batch {tensor.shape[0]}; "
                       "generated code runs one sample at a time (batch 1)")


def expect_unary_int8(op: Op) -> tuple[Tensor, Tensor]:
    """(input, output) of an elementwise int8 op whose output has the input's shape."""
    expect_inputs(op, 1)
    x, y = op.inputs[0], op.outputs[0]
    expect_int8_activation(op, x, "input")
    expect_int8_activation(op, y, "output")
    if x.size != y.size:
        raise fail(op, f"output shape {list(y.shape)} does not match the input shape "
                       f"{list(x.shape)}")
    return x, y


def expect_weighted_int8(op: Op) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
    """(input, constant weights, optional bias, output) of an int8 layer with weights."""
    expect_inputs(op, 2, const=(1,), optional=1)
    x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    expect_int8_activation(op, x, "input")
    expect_int8_activation(op, y, "output")
    return x, w, bias, y


def expect_window_padding(op: Op) -> None:
    """A window op's padding: the two TFLite Micro runs."""
    if op.options["padding"] not in ("SAME", "VALID"):
        raise fail(op, f"padding {op.options['padding']} is not supported (SAME, VALID)")


def expect_binary_int8(op: Op):
    """(a, b, out, dims, strides_a, strides_b) of an int8 op broadcasting two inputs (<= 4-D)."""
    expect_inputs(op, 2)
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    for t, role in ((a, "first input"), (b, "second input"), (y, "output")):
        expect_int8_activation(op, t, role)
    if max(len(a.shape), len(b.shape), len(y.shape)) > 4:
        raise fail(op, "broadcasting over more than 4 dimensions is not supported")
    dims = [1] * (4 - len(y.shape)) + list(y.shape)
    padded = [[1] * (4 - len(t.shape)) + list(t.shape) for t in (a, b)]
    if any(d not in (1, o) for p in padded for d, o in zip(p, dims)) or \
            [max(p, q) for p, q in zip(*padded)] != dims:
        raise fail(op, f"output shape {list(y.shape)} is not the broadcast of the input shapes "
                       f"{list(a.shape)} and {list(b.shape)}")

    def strides(shape):  # element strides, 0 along broadcast dimensions
        result, step = [0] * 4, 1
        for k in reversed(range(4)):
            result[k] = step if shape[k] == dims[k] and dims[k] > 1 else 0
            step *= shape[k]
        return result

    return a, b, y, dims, strides(padded[0]), strides(padded[1])


def elementwise_slack(count: int, in_bytes: int = 1, out_bytes: int = 1) -> int:
    """Slack of a kernel that reads element i, then writes element i, in order."""
    step = in_bytes - out_bytes  # writing element i may not reach input element i + 1
    return step if step >= 0 else step * count


@functools.lru_cache(maxsize=1 << 16)  # asked for the same shapes again and again (the search)
def raster_window_slack(in_w: int, in_c: int, out_h: int, out_w: int, out_c: int,
                        stride_h: int, stride_w: int, pad_top: int, pad_left: int) -> int:
    """Slack of a window kernel (conv, depthwise, pool) writing NHWC output pixels in raster
    order, all channels of a pixel at a time: the output pixel q may not reach the first input
    byte that pixel q or any later pixel still reads (its window's top-left corner)."""
    oy, ox = np.divmod(np.arange(out_h * out_w, dtype=np.int64), out_w)
    first = (np.maximum(oy * stride_h - pad_top, 0) * in_w
             + np.maximum(ox * stride_w - pad_left, 0)) * in_c
    still_needed = np.minimum.accumulate(first[::-1])[::-1]
    written_end = (np.arange(out_h * out_w, dtype=np.int64) + 1) * out_c
    return int(np.min(still_needed - written_end))


def fused_activation_range(op: Op) -> tuple[int, int]:
    """Clamp range of the op's fused activation on its int8 output."""
    act = op.options.get("activation", 0)
    out = op.outputs[0]
    rng = activation_range(act, out.scale, out.zero_point)
    if rng is None:
        raise fail(op, f"fused activation {ACTIVATION_NAMES.get(act, act)} is not supported "
                       "(supported: NONE, RELU, RELU6, RELU_N1_TO_1)")
    return rng


def same_padding(in_size: int, out_size: int, stride: int, dilation: int, kernel: int) -> int:
    """Leading pad of TFLite's SAME padding; the extra pixel of odd totals goes after."""
    effective = (kernel - 1) * dilation + 1
    total = max((out_size - 1) * stride + effective - in_size, 0)
    return total // 2


def window_output_size(padding: str, in_size: int, stride: int, dilation: int, kernel: int) -> int:
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size - effective + stride) // stride


PADDING_NAMES = {0: "SAME", 1: "VALID"}


def nhwc(t: Tensor) -> tuple[int, int, int, int]:
    """(N, H, W, C) of a rank-4 tensor."""
    if len(t.shape) != 4:
        raise ConversionError(f"tensor {t.name!r} has shape {list(t.shape)}; expected 4-D NHWC")
    n, h, w, ch = t.shape
    return n, h, w, ch
