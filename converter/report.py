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
    live_bytes: int  # activation + scratch bytes live while the op runs
    weight_bytes: int  # constant inputs of the op (weights, bias)


@dataclass
class Report:
    model: str
    peak_sram_bytes: int  # the static arena: every activation, input and output, and scratch
    flash_bytes: int  # constant model data in the generated code (kernel code not included)
    macs: int
    layers: list[LayerRow] = field(default_factory=list)

    def to_markdown(self) -> str:
        lines = [
            f"Model: {self.model}",
            "",
            "| # | op | output | MACs | live SRAM (B) | weights (B) |",
            "|---:|---|---|---:|---:|---:|",
        ]
        for r in self.layers:
            shape = "x".join(map(str, r.output_shape))
            lines.append(f"| {r.index} | {r.kind} | {shape} | {r.macs:,} | {r.live_bytes:,} | "
                         f"{r.weight_bytes:,} |")
        lines += [
            "",
            f"Peak SRAM: {self.peak_sram_bytes:,} B (static arena; input and output included)",
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
        rows.append(LayerRow(op.index, op.kind, op.outputs[0].shape, lookup(op.kind).macs(op),
                             plan.live_bytes(pos), weights))
    return Report(graph.source, plan.arena_bytes, flash_bytes, sum(r.macs for r in rows), rows)
