"""The conversion report: memory, Flash and MACs, per layer and in total."""
from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Graph
from .ops import lookup
from .passes.patch import receptive_field
from .planner import MemoryPlan


@dataclass
class LayerRow:
    index: int  # operator index in the model file
    kind: str
    output_shape: tuple[int, ...]
    macs: int
    live_bytes: int  # activation + scratch bytes live while the op runs, each counted whole
    sram_bytes: int  # arena bytes in use while the op runs (outputs may overwrite inputs)
    weight_bytes: int  # constant inputs of the op (weights, bias)


@dataclass
class Report:
    model: str
    #: the static arena (every activation, input and output, and scratch) and the state
    peak_sram_bytes: int
    flash_bytes: int  # constant model data in the generated code (kernel code not included)
    macs: int
    lower_bound_bytes: int = 0  # no layer-by-layer plan of this op order needs less
    layers: list[LayerRow] = field(default_factory=list)
    #: the patch stage (passes/patch/options.py PatchSummary), when convert() was given `patch`
    patch: object = None
    arena_bytes: int = 0  # the arena alone
    #: the state a streaming model keeps between invokes (resource variables), in a buffer of
    #: its own beside the arena
    state_bytes: int = 0
    #: (kept bytes, new bytes per invoke, buffer bytes) of each state kept as a ring buffer
    rings: list = field(default_factory=list)

    @property
    def input_streamed(self) -> bool:
        return bool(self.patch and self.patch.streamed)

    def to_markdown(self) -> str:
        lines = [
            f"Model: {self.model}",
            "",
            "| # | op | output | MACs | live tensors (B) | arena in use (B) | weights (B) |",
            "|---:|---|---|---:|---:|---:|---:|",
        ]
        for r in self.layers:
            shape = "x".join(map(str, r.output_shape))
            lines.append(f"| {r.index} | {r.kind} | {shape} | {r.macs:,} | {r.live_bytes:,} | "
                         f"{r.sram_bytes:,} | {r.weight_bytes:,} |")
        arena = self.arena_bytes or self.peak_sram_bytes - self.state_bytes
        gap = arena / self.lower_bound_bytes - 1 if self.lower_bound_bytes else 0
        counted = ("input streamed (not in SRAM), output included" if self.input_streamed
                   else "input and output included")
        if self.state_bytes:
            lines += ["", f"Peak SRAM: {self.peak_sram_bytes:,} B = arena {arena:,} B ({counted}) "
                          f"+ state {self.state_bytes:,} B (resource variables, kept between "
                          "invokes)"]
        else:
            lines += ["", f"Peak SRAM: {self.peak_sram_bytes:,} B (static arena; {counted})"]
        for keep, step, capacity in self.rings:
            every = (capacity - keep) // step
            lines.append(f"Ring buffer: {keep:,} B of state read in place with the {step:,} B "
                         f"appended per invoke ({capacity:,} B buffer; the kept bytes move "
                         + ("at the end of every invoke)" if every == 1 else
                            f"once every {every} invokes)"))
        lines += self._patch_lines() or [
            f"Lower bound for layer-by-layer execution: {self.lower_bound_bytes:,} B "
            f"(the {'arena' if self.state_bytes else 'plan'} is {gap:.1%} above it)"]
        lines += [
            f"Flash (model data): {self.flash_bytes:,} B (weights, biases, requantization "
            "constants; kernel code not included)",
            f"MACs: {self.macs:,}",
        ]
        return "\n".join(lines)

    def _patch_lines(self) -> list[str]:
        p = self.patch
        if p is None:
            return []
        if not p.stages:
            return [f"Patch stage: none (no split lowers the peak of {p.layer_by_layer_bytes:,} "
                    "B within the MAC budget)"]
        lines = []
        for s in p.stages:
            rf_h, rf_w = receptive_field(s.ops)
            lines.append(
                f"Patch stage: operators #{s.ops[0].index}-#{s.ops[-1].index} ({len(s.ops)} "
                f"layers) in {s.patches_text}, output {'x'.join(map(str, s.output.shape))}, "
                f"receptive field {rf_h}x{rf_w} pixels of its input; {s.extra_macs:,} extra "
                f"MACs (+{s.extra_macs / max(p.model_macs, 1):.1%} of the model)")
        streamed = ("" if p.streamed_bytes is None else
                    f", {p.streamed_bytes:,} B with it streamed "
                    f"({p.streamed_bytes / p.layer_by_layer_bytes:.2f}x)")
        lines.append(
            f"Peak SRAM layer by layer: {p.layer_by_layer_bytes:,} B; with patches: "
            f"{p.in_sram_bytes:,} B with the input in SRAM "
            f"({p.in_sram_bytes / p.layer_by_layer_bytes:.2f}x){streamed}"
            + (f"; {p.extra_macs:,} extra MACs in all (+{p.extra_macs / max(p.model_macs, 1):.1%})"
               if len(p.stages) > 1 else ""))
        return lines

    def __str__(self):
        return self.to_markdown()


def build_report(graph: Graph, plan: MemoryPlan, flash_bytes: int, patch=None) -> Report:
    rows = []
    for pos, op in enumerate(graph.ops):
        weights = sum(t.nbytes for t in op.inputs if t is not None and t.is_const)
        kind = op.kind + ("+ADD" if "residual" in op.params else "")
        if op.kind == "PATCH_STAGE":
            stage = op.params["stage"]
            weights = sum(t.nbytes for o in stage.ops for t in o.inputs
                          if t is not None and t.is_const)
            kind = f"PATCH_STAGE {stage.describe()}"
        rows.append(LayerRow(op.index, kind, op.outputs[0].shape, lookup(op.kind).macs(op),
                             plan.live_bytes(pos), plan.high_water(pos), weights))
    return Report(graph.source, plan.arena_bytes + plan.state_bytes, flash_bytes,
                  sum(r.macs for r in rows), plan.lower_bound_bytes, rows, patch,
                  arena_bytes=plan.arena_bytes, state_bytes=plan.state_bytes,
                  rings=[(r.keep, r.step, r.capacity) for r in graph.rings])
