"""Resource variables of a streaming model: the initialisation subgraph and the handles.

A model that keeps state between invokes has, besides its main subgraph, one subgraph per
CALL_ONCE that runs on the first invoke and assigns every variable its initial value
(VAR_HANDLE + ASSIGN_VARIABLE of a constant). This module checks that every extra subgraph is
such an initialisation and nothing else (control flow, IF or WHILE, is refused), reads the
initial values, and rewrites the main subgraph: each variable (a container and shared name)
becomes one state tensor (`Tensor.initial`); READ_VARIABLE reads it, ASSIGN_VARIABLE writes it
(the tensor is its output), VAR_HANDLE and CALL_ONCE go. The ops themselves: ops/variable.py.
"""
from __future__ import annotations

import numpy as np

from .errors import ConversionError
from .ir import Op, Tensor

#: the operators an initialisation subgraph may hold
INIT_OPS = ("VAR_HANDLE", "ASSIGN_VARIABLE")


def check_subgraphs(count: int, main_ops: list[tuple[int, str, dict]], names: list[str],
                    source: str) -> dict[int, int]:
    """{initialisation subgraph index: the CALL_ONCE operator (index) that runs it}, for a model
    of `count` subgraphs whose main operators are `main_ops` ((index, kind, options)); a
    subgraph that is not run by a CALL_ONCE of the main subgraph is refused."""
    runs: dict[int, int] = {}
    for k, kind, options in main_ops:
        if kind == "CALL_ONCE":
            index = options.get("init_subgraph", -1)
            if not 0 < index < count:
                raise ConversionError(f"runs subgraph {index}, but the model's subgraphs are 0 to "
                                      f"{count - 1} (0 is the main one)", model=source,
                                      op_index=k, op_kind=kind)
            if index in runs:
                raise ConversionError(f"runs subgraph {index}, which CALL_ONCE operator "
                                      f"#{runs[index]} runs already", model=source, op_index=k,
                                      op_kind=kind)
            runs[index] = k
    others = [i for i in range(1, count) if i not in runs]
    if others:
        control = sorted({kind for _, kind, _ in main_ops
                          if kind in ("IF", "WHILE", "CALL", "STABLEHLO_CASE", "STABLEHLO_WHILE")})
        used = (f"; the main subgraph uses {', '.join(control)} (control flow is not supported)"
                if control else "")
        raise ConversionError(
            f"model has {count} subgraphs; subgraph {others[0]} ({names[others[0]]!r}) is not the "
            f"initialisation of resource variables run by CALL_ONCE{used}. Supported: one main "
            "subgraph, plus CALL_ONCE subgraphs that assign constants to resource variables "
            "(streaming models); export the model without control flow", model=source)
    return runs


def initial_values(index: int, call_once: int, ops: list[Op],
                   source: str) -> dict[tuple[str, str], Tensor]:
    """{(container, shared name): the constant tensor assigned} by initialisation subgraph
    `index` (run by CALL_ONCE operator #call_once), whose operators are `ops`."""
    where = f"in initialisation subgraph {index} (run by CALL_ONCE operator #{call_once})"
    handles: dict[int, tuple[str, str]] = {}
    values: dict[tuple[str, str], Tensor] = {}
    for op in ops:
        def error(message: str) -> ConversionError:
            return ConversionError(f"{where}, operator #{op.index} ({op.kind}): {message}",
                                   model=source)

        if op.kind not in INIT_OPS:
            raise error(f"only {' and '.join(INIT_OPS)} of constants are supported in a "
                        "variable initialisation; compute the initial values in advance")
        if op.kind == "VAR_HANDLE":
            if len(op.outputs) != 1 or op.inputs:
                raise error("expects no inputs and one output tensor")
            handles[id(op.outputs[0])] = (op.options["container"], op.options["shared_name"])
            continue
        if len(op.inputs) != 2 or op.outputs or op.inputs[0] is None or \
                id(op.inputs[0]) not in handles or op.inputs[1] is None:
            raise error("expects a VAR_HANDLE output and a value as inputs, and no outputs")
        value = op.inputs[1]
        if not value.is_const:
            raise error(f"assigns tensor {value.index} ({value.name!r}), which is not a "
                        "constant; only constant initial values are supported")
        values[handles[id(op.inputs[0])]] = value
    return values


def resolve(ops: list[Op], tensors: list[Tensor], initial: dict[tuple[str, str], Tensor],
            call_once: dict[int, int], source: str) -> tuple[list[Op], list[Tensor]]:
    """The main subgraph's operators with the resource variables resolved into state tensors,
    and those tensors (in order of their VAR_HANDLE)."""
    first_call = min(call_once.values(), default=None)
    state: dict[tuple[str, str], Tensor] = {}
    handle_of: dict[int, Tensor] = {}  # id(resource tensor) -> its state tensor
    kept = []

    def error(op: Op, message: str) -> ConversionError:
        return ConversionError(message, model=source, op_index=op.index, op_kind=op.kind)

    for op in ops:
        if op.kind == "CALL_ONCE":
            if op.inputs or op.outputs:
                raise error(op, "expects no inputs and no outputs")
            continue
        if op.kind == "VAR_HANDLE":
            if len(op.outputs) != 1 or op.outputs[0].dtype != "resource":
                raise error(op, "expects one output tensor of type resource")
            key = (op.options["container"], op.options["shared_name"])
            if key not in state:
                value = initial.get(key)
                if value is None:
                    raise error(op, f"resource variable {key[1]!r} is never initialised: no "
                                    "CALL_ONCE subgraph assigns it a constant. Supported: "
                                    "variables with an initial value (tf.Variable(...))")
                if 0 in value.shape:
                    raise error(op, f"resource variable {key[1]!r} is empty (shape "
                                    f"{list(value.shape)})")
                handle = op.outputs[0]
                state[key] = Tensor(handle.index, key[1] or handle.name, tuple(value.shape),
                                    value.dtype, value.quant,
                                    initial=np.array(value.data, copy=True))
            handle_of[id(op.outputs[0])] = state[key]
            continue
        if op.kind in ("READ_VARIABLE", "ASSIGN_VARIABLE"):
            if first_call is None or op.index < first_call:
                raise error(op, "uses a resource variable before a CALL_ONCE has initialised "
                                "it; supported: streaming models whose CALL_ONCE runs first")
            handle = op.inputs[0] if op.inputs else None
            if handle is None or id(handle) not in handle_of:
                raise error(op, "its first input is not the output of a VAR_HANDLE")
            variable = handle_of[id(handle)]
            if op.kind == "READ_VARIABLE":
                if len(op.inputs) != 1:
                    raise error(op, f"expects 1 input tensor, has {len(op.inputs)}")
                op.inputs = [variable]
            else:
                if len(op.inputs) != 2 or op.inputs[1] is None or op.outputs:
                    raise error(op, "expects a variable handle and a value as inputs, and no "
                                    "outputs")
                op.inputs, op.outputs = [op.inputs[1]], [variable]
        elif any(t is not None and t.dtype == "resource" for t in op.inputs + op.outputs):
            raise error(op, "takes a resource variable handle; only READ_VARIABLE and "
                            "ASSIGN_VARIABLE may")
        kept.append(op)
    return kept, list(state.values())
