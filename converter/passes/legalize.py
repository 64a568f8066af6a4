"""Legalize: fold static shape arithmetic, check data flow, check every op and derive its params."""
from __future__ import annotations

import numpy as np

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
            value = np.asarray(value)
            if value.dtype.name != out.dtype:
                raise ConversionError(f"folds to {value.dtype.name} values, but its output "
                                      f"{out.name!r} is {out.dtype}", op_index=op.index,
                                      op_kind=op.kind)
            if value.shape != tuple(out.shape):  # TFLite Micro checks the output shape too
                raise ConversionError(f"folds to shape {list(value.shape)}, but its output "
                                      f"{out.name!r} has shape {list(out.shape)}",
                                      op_index=op.index, op_kind=op.kind)
            out.data = value
        else:
            kept.append(op)
    graph.ops = kept


def check_data_flow(graph: Graph) -> None:
    """Every activation is written once, before it is read (no cycles, no dangling reads); a
    state variable holds a value from the start and may be written (assigned) again."""
    written = {id(t) for t in graph.inputs + graph.state}
    for op in graph.ops:
        for t in op.inputs:
            if t is not None and not t.is_const and id(t) not in written:
                raise ConversionError(
                    f"reads tensor {t.index} ({t.name!r}) before any operator writes it "
                    "(cycle or missing producer)", op_index=op.index, op_kind=op.kind)
        for t in op.outputs:
            if t.is_state and op.kind == "ASSIGN_VARIABLE":
                continue
            if id(t) in written or t.is_const or t.is_state:
                raise ConversionError(f"writes tensor {t.index} ({t.name!r}), which is already "
                                      "written or constant", op_index=op.index, op_kind=op.kind)
            written.add(id(t))
    for t in graph.outputs:
        if not t.is_const and id(t) not in written:
            raise ConversionError(f"model output {t.index} ({t.name!r}) is never written")
    for role, tensors in (("input", graph.inputs), ("output", graph.outputs)):
        for t in tensors:
            if t.is_const:
                raise ConversionError(f"model {role} {t.index} ({t.name!r}) is a constant "
                                      "tensor; model inputs and outputs must be activations")


#: what an activation may hold: int8 inside the model, float32 (or uint8) at its edges, int32
#: indices (ARG_MAX, ARG_MIN); int64 passes here so that the op writing it says why it cannot
ACTIVATION_DTYPES = ("int8", "float32", "int32", "int64", "uint8")
#: no activation tensor may be larger (16 MiB is beyond any microcontroller's SRAM; the
#: converter's own work on a tensor stays bounded)
MAX_ACTIVATION_BYTES = 1 << 24


def check_activations(graph: Graph) -> None:
    """Every tensor that lives in the arena has a supported type and a sane, non-empty size."""
    for t in graph.activations():
        if t.dtype not in ACTIVATION_DTYPES:
            raise ConversionError(f"tensor {t.index} ({t.name!r}) is {t.dtype}; activations must "
                                  "be int8 (float32 or uint8 at the model's edges, int32 indices)")
        if 0 in t.shape:
            raise ConversionError(f"tensor {t.index} ({t.name!r}) has an empty shape "
                                  f"{list(t.shape)}; empty tensors are not supported")
        if t.nbytes > MAX_ACTIVATION_BYTES:
            raise ConversionError(f"tensor {t.index} ({t.name!r}) of shape {list(t.shape)} needs "
                                  f"{t.nbytes:,} bytes; activations are limited to "
                                  f"{MAX_ACTIVATION_BYTES:,} bytes")


def prepare_ops(graph: Graph) -> None:
    for op in graph.ops:
        try:
            lookup(op.kind).prepare(op)
        except ConversionError as e:
            if e.op_index is None:  # raised by a shared helper: name the op
                raise e.at(op_index=op.index, op_kind=op.kind) from e
            raise


def legalize(graph: Graph) -> None:
    fold_constants(graph)
    check_data_flow(graph)
    check_activations(graph)
    prepare_ops(graph)
