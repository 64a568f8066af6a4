"""The conversion report: memory, Flash and MACs, per layer and in total."""
from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Graph
from .ops import lookup
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
    peak_sram_bytes: int  # the static arena: every activation, input and output, and scratch
    flash_bytes: int  # constant model data in the generated code (kernel code not included)
    macs: int
    lower_bound_bytes: int = 0  # no layer-by-layer plan of this op order needs less
    layers: list[LayerRow] = field(default_factory=list)

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
        gap = self.peak_sram_bytes / self.lower_bound_bytes - 1 if self.lower_bound_bytes else 0
        lines += [
            "",
            f"Peak SRAM: {self.peak_sram_bytes:,} B (static arena; input and output included)",
            f"Lower bound for layer-by-layer execution: {self.lower_bound_bytes:,} B "
            f"(the plan is {gap:.1%} above it)",
            f"Flash (model data): {self.flash_bytes:,} B (weights, biases, requantization "
            "constants; kernel code not included)",
            f"MACs: {self.macs:,}",
        ]
        return "\n".join(lines)

    def __str__(self):
        return self.to_markdown()


def build_report(graph: Graph, plan: MemoryPlan, flash_bytes: int) -> Report:
    rows = []
    for pos, op in enumerate(graph.ops):
        weights = sum(t.nbytes for t in op.inputs if t is not None and t.is_const)
        kind = op.kind + ("+ADD" if "residual" in op.params else "")
        rows.append(LayerRow(op.index, kind, op.outputs[0].shape, lookup(op.kind).macs(op),
                             plan.live_bytes(pos), plan.high_water(pos), weights))
    return Report(graph.source, plan.arena_bytes, flash_bytes, sum(r.macs for r in rows),
                  plan.lower_bound_bytes, rows)
