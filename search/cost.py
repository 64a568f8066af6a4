"""The exact cost of an architecture: peak SRAM, Flash and MACs of the code the converter
generates for it, computed without TensorFlow.

Two paths give the same numbers (a test checks it on random architectures):

- ``method="converter"``: the converter itself. `arch_graph` builds the IR the `.tflite`
  reader would produce for the int8 model of the architecture; `legalize` and `fuse` (residual
  ADD into the projection conv, in-place depthwise choice) run on it, then `plan_memory`.
  A few hundred ms for an MCUNet-sized network (the in-place choice plans it several times).
- ``method="fast"`` (default): the same graph after fusion, built directly as a list of
  buffers; each op's memory behaviour (`overlap_slack`, `scratch_bytes`) and MACs come from the
  converter's own op definitions (cached per layer shape); the in-place choice is
  `passes.inplace`'s rule; the placement trials run in C (`search.fastplan`), exactly as
  `planner.place`. About 2 ms.

Flash is the constant data the converter emits for the model (int8 weights, int32 biases: exact;
per-channel requantization multipliers and shifts: 5 bytes per output channel, an upper bound,
as the emitter stores identical arrays once) plus an estimate of the code (`search.codesize`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..converter.ir import Op, Quant, Tensor
from ..converter.ops import lookup
from ..converter.ops.base import same_padding, window_output_size
from ..converter.ops.conv import SKIP_INPUT
from ..converter.placement import Buffer, EXHAUSTIVE_BUFFERS
from . import fastplan
from .codesize import code_bytes as _code_bytes
from .graph import arch_graph
from .space import Arch

__all__ = ["Cost", "cost", "converter_graph", "fused_layers"]


@dataclass(frozen=True)
class Cost:
    """What an architecture costs on a microcontroller, with the converter's code generator."""

    peak_sram_bytes: int  # the static arena (input, output, activations, scratch)
    flash_bytes: int  # weight_bytes + requant_bytes + code_bytes
    macs: int
    weight_bytes: int  # int8 weights and int32 biases, as emitted (exact)
    requant_bytes: int  # per-channel int32 multipliers, int8 shifts (upper bound: before dedup)
    code_bytes: int  # kernels + per-layer calls and parameter structs (measured estimate)
    params: int  # number of weights and biases
    fit: object = field(default=None, compare=False)  # devices.Fit when a device was given

    @property
    def model_data_bytes(self) -> int:
        """Constant data of the generated code: what `convert(...).report.flash_bytes` counts
        (up to the deduplication of identical requantization arrays)."""
        return self.weight_bytes + self.requant_bytes

    @property
    def fits(self) -> bool | None:
        return None if self.fit is None else self.fit.fits


def _device(device):
    """A device from the catalogue (`tflm_mcunet.devices`), by name, spec or Device."""
    from ..devices import get_device  # imported lazily: the catalogue is another module's

    return get_device(device)


def cost(arch: Arch, device=None, patch=None, *, stream_input: bool = False,
         method: str = "fast") -> Cost:
    """Peak SRAM, Flash and MACs of `arch` as converted by tflm-mcunet.

    `device` (a name such as "stm32f746", a spec or a `Device`) selects the core the code size
    is measured for and fills `Cost.fit` (the arena plus the firmware's stack reserve against
    the SRAM; model data plus code against the Flash). `patch` and `stream_input` are
    `convert()`'s: None (layer by layer), "auto" or {"split": L, "patches": n} (or a list) for
    patch-based inference (MCUNetV2); then the converter's own passes choose and plan the patch
    stages (method "converter"), and MACs include the halos recomputed. `method`:
    "fast" (default, layer by layer only) or "converter" (the converter's passes and planner on
    the IR; same numbers, ~200x slower).
    """
    dev = _device(device) if device is not None else None
    extra_layers = 0
    if patch is not None or stream_input:
        from ..converter.passes.patch import apply_patches
        from ..converter.planner import plan_memory

        graph, _ = converter_graph(arch)
        graph, summary = apply_patches(graph, patch, stream_input=stream_input)
        sram = plan_memory(graph).arena_bytes
        macs = sum(lookup(op.kind).macs(op) for op in graph.ops)
        for stage in summary.stages:  # each distinct patch layer is a function of its own
            extra_layers += _patch_functions(stage) - len(stage.ops)
    elif method == "fast":
        layers = fused_layers(arch)
        if len(layers.ops) + 1 > EXHAUSTIVE_BUFFERS:
            sram = layers.arena()
        else:  # tiny graphs: the planner tries every order; let it
            sram = _converter_arena(arch)
        macs = layers.macs
    elif method == "converter":
        graph, plan = converter_graph(arch)
        sram = plan.arena_bytes
        macs = sum(lookup(op.kind).macs(op) for op in graph.ops)
    else:
        raise ValueError(f"method must be 'fast' or 'converter', not {method!r}")
    weights, requant, params, layer_count, residuals = _flash(arch)
    code = _code_bytes(layer_count + extra_layers, residuals,
                       core=dev.core if dev is not None else None)
    fit = None
    if dev is not None:
        from ..converter.targets import DEFAULT_STACK_BYTES

        fit = dev.fit(sram, weights + requant, stack_bytes=DEFAULT_STACK_BYTES, code_bytes=code)
    return Cost(sram, weights + requant + code, macs, weights, requant, code, params, fit)


# ---------------------------------------------------------------------------------------------
# the converter's path
# ---------------------------------------------------------------------------------------------

def _patch_functions(stage) -> int:
    """Layers of a patch stage with distinct parameters over the patches (each a function of
    the generated code; patches of the same shape share theirs)."""
    return len({(op.index, repr(sorted((k, v) for k, v in op.params.items()
                                       if isinstance(v, int))))
                for steps in stage.steps for op in steps if op.kind not in
                ("REGION_COPY", "READ_INPUT")})


def converter_graph(arch: Arch, *, dsp: bool = False):
    """(graph, plan): the IR of `arch` after the converter's legalize and fuse passes, and the
    converter's memory plan of it (what `generate` would emit; `dsp`: for a Cortex-M device,
    the same arena)."""
    from ..converter.passes.fuse import fuse
    from ..converter.passes.legalize import legalize
    from ..converter.planner import plan_memory

    graph = arch_graph(arch)
    legalize(graph)
    fuse(graph, dsp=dsp)
    return graph, plan_memory(graph)


def _converter_arena(arch: Arch) -> int:
    return converter_graph(arch)[1].arena_bytes


# ---------------------------------------------------------------------------------------------
# Flash
# ---------------------------------------------------------------------------------------------

def _flash(arch: Arch) -> tuple[int, int, int, int, int]:
    """(weight + bias bytes, requantization bytes, parameter count, layers with code, fused
    residual adds)."""
    weights = channels = layers = residuals = params = 0

    def conv(cin, cout, k, depthwise=False):
        nonlocal weights, channels, layers, params
        count = k * k * cin if depthwise else k * k * cin * cout
        params += count + cout
        # the matrix-product kernels store each output channel's weights padded to 4 bytes
        weights += count if depthwise else cout * -(-(k * k * cin) // 4) * 4
        channels += cout
        layers += 1

    conv(arch.input_channels, arch.first_conv, arch.first_kernel)
    for b in arch.blocks():
        if b["expand"] != 1:
            conv(b["in"], b["mid"], 1)
        conv(b["mid"], b["mid"], b["kernel"], depthwise=True)
        conv(b["mid"], b["out"], 1)
        residuals += b["residual"]
    if arch.feature_mix:
        conv(arch.stages[-1].out, arch.feature_mix, 1)
    conv(arch.last_channels, arch.classes, 1)  # the classifier
    layers += 1  # MEAN: parameters only, no arrays
    return weights + 4 * channels, 5 * channels, params, layers, residuals


# ---------------------------------------------------------------------------------------------
# the fast path: the fused graph as buffers, the op definitions' own memory behaviour
# ---------------------------------------------------------------------------------------------

_SCALE = Quant(np.array([0.05], np.float32), np.array([0], np.int64))
_LAYER_CACHE: dict[tuple, "_LayerInfo"] = {}


@dataclass
class _LayerInfo:
    macs: int
    out_bytes: int
    slack_in: int | None  # overlap_slack of input 0 (not in place)
    slack_skip: int | None  # overlap_slack of the fused residual's skip input
    inplace_ok: bool  # passes.inplace's test on the op's shape (dm 1, in place is cheaper)
    inplace_scratch: int  # scratch_bytes when in place
    params: dict  # the op params the above were derived from (those `prepare` sets)
    scratch: int = 0  # scratch_bytes when not in place (im2col rows of the GEMM kernels)


def _tensor(shape) -> Tensor:
    return Tensor(0, "", tuple(shape), "int8", _SCALE)


def _layer(kind: str, in_shape: tuple, out_c: int, kernel: int, stride: int,
           residual: bool) -> _LayerInfo:
    """What the converter's op definition says about one layer (cached by shape). The params
    are what `prepare` derives (a test compares them with `prepare`'s)."""
    key = (kind, in_shape, out_c, kernel, stride, residual)
    info = _LAYER_CACHE.get(key)
    if info is not None:
        return info
    definition = lookup(kind)
    _, h, w, c = in_shape if len(in_shape) == 4 else (1, 1, 1, in_shape[-1])
    x = _tensor(in_shape)
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        oh = window_output_size("SAME", h, stride, 1, kernel)
        ow = window_output_size("SAME", w, stride, 1, kernel)
        y = _tensor((1, oh, ow, out_c))
        params = dict(in_h=h, in_w=w, in_c=c, out_h=oh, out_w=ow, out_c=out_c, k_h=kernel,
                      k_w=kernel, stride_h=stride, stride_w=stride, dil_h=1, dil_w=1,
                      pad_top=same_padding(h, oh, stride, 1, kernel),
                      pad_left=same_padding(w, ow, stride, 1, kernel), depth_multiplier=1)
        inputs = [x, None, None] + ([_tensor(y.shape)] if residual else [])
        op = Op(0, kind, inputs, [y], {}, params)
        slack_in = definition.overlap_slack(op, 0)
        slack_skip = definition.overlap_slack(op, SKIP_INPUT) if residual else None
        macs = definition.macs(op)
        inplace_ok, scratch = False, 0
        if kind == "DEPTHWISE_CONV_2D" and not residual:
            raster_extra = max(0, -slack_in)
            op.params = dict(params, inplace=True)
            scratch = definition.scratch_bytes(op)
            inplace_ok = scratch < raster_extra  # passes.inplace.inplace_is_cheaper
            if definition.shares_input(op) != 0:  # pragma: no cover - converter changed
                raise RuntimeError("in-place depthwise no longer shares input 0; update "
                                   "search.cost")
    elif kind == "MEAN":
        y = _tensor((1, c))
        params = dict(count=h * w, channels=c)
        op = Op(0, kind, [x, None], [y], {}, params)
        slack_in, slack_skip = definition.overlap_slack(op, 0), None
        macs, inplace_ok, scratch = definition.macs(op), False, 0
    elif kind == "FULLY_CONNECTED":
        y = _tensor((1, out_c))
        params = dict(batches=1, in_depth=in_shape[-1], out_depth=out_c)
        op = Op(0, kind, [x, None, None], [y], {}, params)
        slack_in, slack_skip = definition.overlap_slack(op, 0), None
        macs, inplace_ok, scratch = definition.macs(op), False, 0
    else:  # pragma: no cover
        raise ValueError(kind)
    plain = Op(0, kind, op.inputs, op.outputs, {}, dict(op.params, inplace=False))
    if definition.shares_input(plain) is not None:
        # pragma: no cover - the converter changed; the tests against it say so too
        raise RuntimeError(f"{kind} now runs in place; update search.cost")
    info = _LayerInfo(macs, int(np.prod(y.shape)), slack_in, slack_skip, inplace_ok, scratch,
                      {k: v for k, v in params.items() if k != "inplace"},
                      scratch=definition.scratch_bytes(plain))
    _LAYER_CACHE[key] = info
    return info


@dataclass
class _FusedOp:
    kind: str
    x: int  # buffer index of input 0
    skip: int | None  # buffer index of the fused residual's skip input
    info: _LayerInfo
    inplace_candidate: bool  # passes.inplace: depthwise whose input has no other reader


@dataclass
class FusedLayers:
    """The graph after `fuse`, as buffers: buffer 0 is the input, buffer k + 1 the output of
    op k (the last one is the model output)."""

    ops: list[_FusedOp]
    sizes: list[int]

    @property
    def macs(self) -> int:
        return sum(op.info.macs for op in self.ops)

    def arena(self, *, use_c: bool = True) -> int:
        """The arena `plan_memory` gives after `choose_inplace_depthwise`."""
        chosen = [k for k, op in enumerate(self.ops)
                  if op.inplace_candidate and op.info.inplace_ok]
        without = fastplan.best_arena(*self._buffers(set()), use_c=use_c)
        if not chosen:
            return without
        with_inplace = fastplan.best_arena(*self._buffers(set(chosen)), use_c=use_c)
        return without if with_inplace > without else with_inplace

    def _buffers(self, inplace: set[int]):
        """planner.lifetimes and planner.overlap_permissions for this chain of ops."""
        end = len(self.ops) - 1
        bufs = [Buffer("", size, max(k - 1, 0), max(k - 1, 0)) for k, size in
                enumerate(self.sizes)]
        for pos, op in enumerate(self.ops):
            for src in (op.x, op.skip):
                if src is not None:
                    bufs[src].last = max(bufs[src].last, pos)
        out = bufs[-1]
        out.last, out.pinned = end, True
        allowed, exact = {}, set()
        scratch = []
        for pos, op in enumerate(self.ops):
            y = bufs[pos + 1]
            for index, src in ((0, op.x), (SKIP_INPUT, op.skip)):
                if src is None:
                    continue
                s = bufs[src]
                if s.pinned or s.last != pos:
                    continue
                if index == 0 and pos in inplace:
                    allowed[(id(y), id(s))] = 0
                    exact.add((id(y), id(s)))
                    continue
                slack = (None if pos in inplace else
                         op.info.slack_in if index == 0 else op.info.slack_skip)
                if slack is not None:
                    key = (id(y), id(s))
                    allowed[key] = min(slack, allowed.get(key, slack))
            if pos in inplace:
                scratch.append(Buffer("", op.info.inplace_scratch, pos, pos))
            elif op.info.scratch:
                scratch.append(Buffer("", op.info.scratch, pos, pos))
        return bufs + scratch, allowed, exact


def fused_layers(arch: Arch) -> FusedLayers:
    """The fused graph of `arch` (what `legalize` + `fuse` make of `arch_graph(arch)`)."""
    ops: list[_FusedOp] = []
    sizes = [arch.resolution * arch.resolution * arch.input_channels]
    shapes = [(1, arch.resolution, arch.resolution, arch.input_channels)]

    def add(kind, x, out_c, kernel=1, stride=1, skip=None, candidate=False):
        info = _layer(kind, shapes[x], out_c, kernel, stride, skip is not None)
        ops.append(_FusedOp(kind, x, skip, info, candidate))
        sizes.append(info.out_bytes)
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            _, h, w, _ = shapes[x]
            shapes.append((1, -(-h // stride), -(-w // stride), out_c))
        else:
            shapes.append((1, out_c))
        return len(sizes) - 1

    x = add("CONV_2D", 0, arch.first_conv, arch.first_kernel, arch.first_stride)
    for b in arch.blocks():
        block_in = x
        if b["expand"] != 1:
            x = add("CONV_2D", x, b["mid"])
        # in place only if nothing else reads the input (an expand-1 residual block's input
        # is also the skip of its projection)
        x = add("DEPTHWISE_CONV_2D", x, b["mid"], b["kernel"], b["stride"],
                candidate=b["expand"] != 1 or not b["residual"])
        x = add("CONV_2D", x, b["out"], skip=block_in if b["residual"] else None)
    if arch.feature_mix:
        x = add("CONV_2D", x, arch.feature_mix)
    x = add("MEAN", x, shapes[x][-1])
    add("FULLY_CONNECTED", x, arch.classes)
    return FusedLayers(ops, sizes)
