"""Legalize: fold static shape arithmetic, check data flow, check every op and derive its params."""
from __future__ import annotations

from ..errors import ConversionError
from ..ir import Graph
from ..ops import lookup


def fold_constants(graph: Graph) -> None:
    """Evaluate ops whose result is known at conversion time and drop them from the graph."""
    kept = []
    for op in graph.ops:
        definition = lookup(op.kind)
        evaluate = getattr(definition, "evaluate", None)
        ready = getattr(definition, "ready", None)
        known = (ready(op) if ready else
                 all(t is None or t.is_const for t in op.inputs))
        if evaluate is not None and known and len(op.outputs) == 1:
            try:
                value = evaluate(op)
            except ConversionError:
                raise
            except Exception as e:  # bad indices and the like in a hostile file
                raise ConversionError(f"cannot fold {op.kind} at conversion time: {e}",
                                      op_index=op.index, op_kind=op.kind) from e
            out = op.outputs[0]
            out.data = value.reshape(out.shape) if value.size == out.size else value
            out.shape = tuple(out.data.shape)
        else:
            kept.append(op)
    graph.ops = kept


def check_data_flow(graph: Graph) -> None:
    """Every activation is written once, before it is read (no cycles, no dangling reads)."""
    written = {id(t) for t in graph.inputs}
    for op in graph.ops:
        for t in op.inputs:
            if t is not None and not t.is_const and id(t) not in written:
                raise ConversionError(
                    f"reads tensor {t.index} ({t.name!r}) before any operator writes it "
                    "(cycle or missing producer)", op_index=op.index, op_kind=op.kind)
        for t in op.outputs:
            if id(t) in written or t.is_const:
                raise ConversionError(f"writes tensor {t.index} ({t.name!r}), which is already "
                                      "written or constant", op_index=op.index, op_kind=op.kind)
            written.add(id(t))
    for t in graph.outputs:
        if not t.is_const and id(t) not in written:
            raise ConversionError(f"model output {t.index} ({t.name!r}) is never written")


def prepare_ops(graph: Graph) -> None:
    for op in graph.ops:
        lookup(op.kind).prepare(op)


def legalize(graph: Graph) -> None:
    fold_constants(graph)
    check_data_flow(graph)
    prepare_ops(graph)
