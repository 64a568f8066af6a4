"""The exact cost of an architecture: peak SRAM, Flash and MACs of the code the converter
generates for it, computed without TensorFlow.

Two paths give the same numbers (tests check it on random architectures):

- ``method="converter"``: the converter itself. `arch_graph` builds the IR the `.tflite`
  reader would produce for the int8 model of the architecture; `legalize` and `fuse` (residual
  ADD into the projection conv, in-place depthwise choice) run on it, then `plan_memory`.
  About 25 ms for an MCUNet-sized network (`prepare` derives every channel's requantization,
  the in-place choice plans the graph several times).
- ``method="fast"`` (default): the same fused graph, put together from layers built once per
  shape (`arch_graph`'s builder, the op definitions' `shape_params` instead of the whole
  `prepare`, the fuse pass); then the in-place choice's memory half
  (`passes.inplace.choose_inplace_for_memory`) and the converter's planner, whose placement
  runs in C. Nothing of the planning is written again here. About 1.3 ms (1.6 ms while the
  cache of layer shapes fills).

Speed: `Cost.instructions` predicts the instructions of the generated code's invoke on the
device's core, layer by layer from the layers' shapes (`search.latency`: a linear model per kind
of kernel fitted on QEMU counts of the generated firmware, within a few % per network on the
networks it was not fitted on); `Cost.latency_ms` turns them into milliseconds at the device's
clock. About 0.15 ms of the fast path's time.

Flash is the constant data the converter emits for the model (int8 weights, int32 biases: exact;
per-channel requantization multipliers and shifts: 5 bytes per output channel, an upper bound,
as the emitter stores identical arrays once) plus an estimate of the code (`search.codesize`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..converter.ir import Graph, Op, Tensor
from ..converter.ops import lookup
from ..converter.passes.fuse import fuse, fuse_pad_into_conv, fuse_residual_add
from ..converter.passes.inplace import choose_inplace_for_memory, inplace_candidates
from ..converter.passes.legalize import legalize
from ..converter.planner import plan_memory
from ..devices import get_device
from .codesize import code_bytes as _code_bytes
from .graph import Layer, arch_graph, arch_layers, input_shape, layer_graph
from .latency import graph_instructions
from .space import Arch

__all__ = ["Cost", "cost", "converter_graph", "fused_graph"]


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
    #: predicted instructions of the invoke on the device's core (`search.latency`; Cortex-M7
    #: when no device is given); None for patch-based inference, which the model does not know.
    #: Not compared: the fast path predicts the depthwise kernels the converter picks
    instructions: int | None = field(default=None, compare=False)
    fit: object = field(default=None, compare=False)  # devices.Fit when a device was given

    @property
    def model_data_bytes(self) -> int:
        """Constant data of the generated code: what `convert(...).report.flash_bytes` counts
        (up to the deduplication of identical requantization arrays)."""
        return self.weight_bytes + self.requant_bytes

    @property
    def fits(self) -> bool | None:
        return None if self.fit is None else self.fit.fits

    @property
    def latency_ms(self) -> float | None:
        """Predicted milliseconds of one inference at the device's clock (`clock_mhz`), taking
        one instruction a cycle: close on a Cortex-M7 (dual issue against stalls and Flash wait
        states), optimistic on a Cortex-M4, which takes 2 cycles for most loads (its count is
        predicted with the Cortex-M7 table: the same code, built for the M4, runs nearly the
        same instructions). None without a device, its clock or `instructions`."""
        if self.fit is None or self.instructions is None or not self.fit.device.clock_mhz:
            return None
        return self.instructions / self.fit.device.clock_mhz / 1000


def cost(arch: Arch, device=None, patch=None, *, stream_input: bool = False,
         method: str = "fast") -> Cost:
    """Peak SRAM, Flash, MACs and predicted instructions of `arch` as converted by tflm-mcunet.

    `device` (a name such as "stm32f746", a spec or a `Device`) selects the core the code size
    and the instructions are predicted for and fills `Cost.fit` (the arena plus the firmware's stack reserve against
    the SRAM; model data plus code against the Flash). `patch` and `stream_input` are
    `convert()`'s: None (layer by layer), "auto" or {"split": L, "patches": n} (or a list) for
    patch-based inference (MCUNetV2); then the converter's own passes choose and plan the patch
    stages (method "converter"), and MACs include the halos recomputed. `method`:
    "fast" (default, layer by layer only) or "converter" (the converter's passes and planner on
    the IR; same memory and MACs, ~20x slower; its instructions follow the converter's own
    choice of depthwise kernels where the fast path predicts it).
    """
    dev = get_device(device) if device is not None else None
    core = dev.core if dev is not None else None
    layers = arch_layers(arch)
    extra_layers = 0
    instructions = None
    if patch is not None or stream_input:
        from ..converter.passes.patch import apply_patches

        graph, _ = converter_graph(arch)
        graph, summary = apply_patches(graph, patch, stream_input=stream_input)
        sram = plan_memory(graph).arena_bytes
        macs = _macs(graph)
        for stage in summary.stages:  # each distinct patch layer is a function of its own
            extra_layers += _patch_functions(stage) - len(stage.ops)
    elif method == "fast":
        graph = fused_graph(arch, layers)
        candidates = inplace_candidates(graph)
        _, sram = choose_inplace_for_memory(graph, candidates)
        macs = _macs(graph)
        # the speed half of the in-place choice is predicted per op (predict_inplace)
        instructions = graph_instructions(graph, core, candidates)
    elif method == "converter":
        # dsp=True: the converter's kernels for a Cortex-M core (the arena is the same)
        graph, plan = converter_graph(arch, dsp=True)
        sram = plan.arena_bytes
        macs = _macs(graph)
        instructions = graph_instructions(graph, core)
    else:
        raise ValueError(f"method must be 'fast' or 'converter', not {method!r}")
    weights, requant, params, layer_count, residuals = _flash(arch, layers)
    code = _code_bytes(layer_count + extra_layers, residuals,
                       core=dev.core if dev is not None else None)
    fit = None
    if dev is not None:
        from ..converter.targets import DEFAULT_STACK_BYTES

        fit = dev.fit(sram, weights + requant, stack_bytes=DEFAULT_STACK_BYTES, code_bytes=code)
    return Cost(sram, weights + requant + code, macs, weights, requant, code, params,
                instructions=instructions, fit=fit)


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
    graph = arch_graph(arch)
    legalize(graph)
    fuse(graph, dsp=dsp)
    return graph, plan_memory(graph)


def _macs(graph: Graph) -> int:
    return sum(lookup(op.kind).macs(op) for op in graph.ops)


# ---------------------------------------------------------------------------------------------
# Flash
# ---------------------------------------------------------------------------------------------

def _flash(arch: Arch, layers: list[Layer]) -> tuple[int, int, int, int, int]:
    """(weight + bias bytes, requantization bytes, parameter count, layers with code, fused
    residual adds) of `arch` and its `arch_layers`."""
    weights = channels = residuals = params = 0
    out_channels = [arch.input_channels] + [layer.channels for layer in layers]
    for layer in layers:
        if layer.kind == "MEAN":  # parameters only, no arrays
            continue
        depthwise = layer.kind == "DEPTHWISE_CONV_2D"
        taps = layer.kernel * layer.kernel * (1 if depthwise else out_channels[layer.source])
        params += (taps + 1) * layer.channels
        # the matrix-product kernels store each output channel's weights padded to 4 bytes
        weights += layer.channels * (taps if depthwise else -(-taps // 4) * 4)
        channels += layer.channels
        residuals += layer.skip is not None
    return weights + 4 * channels, 5 * channels, params, len(layers), residuals


# ---------------------------------------------------------------------------------------------
# the fast path: the fused graph from layers built once per shape
# ---------------------------------------------------------------------------------------------

#: a layer's shapes and options -> (its operator after fusion, that op's input, its skip input)
_FUSED_LAYERS: dict[tuple, tuple[Op, Tensor, Tensor | None]] = {}


def _fused_layer(layer: Layer, in_shape: tuple, skip_shape: tuple | None):
    """One layer as `fuse` leaves it (a residual ADD in the projection's epilogue), with the
    params `prepare` derives from its shapes: built by `arch_graph`'s builder and the fuse pass,
    once per shape."""
    key = (layer.kind, layer.channels, layer.kernel, layer.stride, layer.relu6, in_shape,
           skip_shape)
    found = _FUSED_LAYERS.get(key)
    if found is None:
        graph = layer_graph(layer, in_shape, skip_shape)
        for op in graph.ops:
            op.params.update(lookup(op.kind).shape_params(op))
        fuse_pad_into_conv(graph)
        fuse_residual_add(graph)
        [op] = graph.ops  # (a layer is one operator after fusion)
        x, *skip = graph.inputs
        found = _FUSED_LAYERS[key] = (op, x, skip[0] if skip else None)
    return found


def fused_graph(arch: Arch, layers: list[Layer] | None = None) -> Graph:
    """The graph `legalize` and `fuse` make of `arch_graph(arch)`, before the in-place choice,
    as far as the planner and the MACs look: the same operators, activations, constants and
    shape params (`shape_params`); no quantization params (a test compares it with
    `converter_graph`). `layers`: `arch_layers(arch)`, when the caller has them."""
    first = Tensor(0, "input", input_shape(arch), "int8")
    outputs = [first]
    ops = []
    for k, layer in enumerate(layers or arch_layers(arch)):
        x = outputs[layer.source]
        skip = None if layer.skip is None else outputs[layer.skip]
        op, op_x, op_skip = _fused_layer(layer, x.shape, None if skip is None else skip.shape)
        swap = {id(op_x): x, id(op_skip): skip} if skip is not None else {id(op_x): x}
        y = op.outputs[0]
        y = Tensor(k + 1, y.name, y.shape, y.dtype, y.quant)
        ops.append(Op(k, op.kind, [swap.get(id(t), t) for t in op.inputs], [y], op.options,
                      dict(op.params)))  # (a copy: the in-place choice marks it)
        outputs.append(y)
    return Graph(outputs, ops, [first], [outputs[-1]], source=f"arch:{arch.label()}")
