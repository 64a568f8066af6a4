"""The C emitter: a planned Graph -> a standalone C99 project.

Each op writes its own call through `EmitContext` (pointers into the arena, constant arrays,
parameter structs); the templates only hold the file skeletons.
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import jinja2
import numpy as np

from .ir import Graph, Op, Tensor
from .ops import lookup
from .planner import MemoryPlan

_CTYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t",
           "int64": "int64_t", "float32": "float"}
#: TFLite TensorType codes, exposed in model.h so callers can check what a tensor holds
DTYPE_CODES = {"float32": 0, "int32": 2, "uint8": 3, "int8": 9}


def c_identifier(text: str) -> str:
    """A C identifier made of [A-Za-z0-9_] only, never starting with a digit."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return ident if ident and not ident[0].isdigit() else f"_{ident}"


def c_comment(text: str) -> str:
    """Text that is safe inside /* */: no comment terminator, no line breaks, printable ASCII."""
    text = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    return text.replace("*/", "* /").replace("/*", "/ *")


def c_string(text: str) -> str:
    """A C string literal with everything outside printable ASCII escaped."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _initializer(value) -> str:
    """A struct field initializer: an integer, a brace list for an array field, or designated
    initializers for a nested struct (a dict)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f".{k} = {_initializer(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "{ " + ", ".join(str(int(v)) for v in value) + " }"
    return str(int(value))


def format_values(values: np.ndarray, per_line: int = 16) -> str:
    flat = values.reshape(-1)
    if flat.dtype == np.float32:
        items = [f"{float(v)!r}f" for v in flat]
    elif flat.dtype.itemsize == 4 and flat.dtype.kind == "i":
        # INT32_MIN cannot be written as a plain literal
        items = [f"{int(v)}" if v != -2**31 else "(-2147483647 - 1)" for v in flat]
    else:
        items = [str(int(v)) for v in flat]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n  ".join(lines)


class EmitContext:
    """What an op's `emit` uses to refer to memory, constants and its parameter struct."""

    def __init__(self, graph: Graph, plan: MemoryPlan, prefix: str):
        self.graph, self.plan, self.prefix = graph, plan, prefix
        # a model with state keeps it and the arena in one static object (no padding between)
        self.arena = f"{prefix}_memory.arena" if graph.state else f"{prefix}_arena"
        self.state = f"{prefix}_memory.state"
        self.arrays: list[dict] = []  # constant arrays, for the weights file
        self._array_by_content: dict[tuple, str] = {}
        self._tensor_arrays: dict[int, str] = {}
        self.param_structs: list[str] = []
        self.functions: list[str] = []  # one per specialised layer, called from invoke
        # the same op emitted again with the same parameters (the patches of a patch stage)
        # shares its struct and its function
        self._named: dict[tuple, str] = {}
        self._names: set[str] = set()
        #: arena offsets of tensors and op scratch that the plan does not hold (derived())
        self._offsets: dict[int, int] = {}
        self._scratch: dict[int, int] = {}

    def derived(self, offsets: dict[int, int], scratch: dict[int, int]) -> "EmitContext":
        """A context for ops outside the graph (a patch stage's steps): `offsets` gives the
        arena offset of their tensors, `scratch` of their scratch (by id); the constants,
        structs and functions are shared with this one."""
        child = object.__new__(EmitContext)
        child.__dict__.update(self.__dict__)
        child._offsets = {**self._offsets, **offsets}
        child._scratch = {**self._scratch, **scratch}
        return child

    def _unique(self, key: tuple, name: str) -> tuple[str, bool]:
        """(name, True) for a new definition, (the existing name, False) for a repeated one."""
        if key in self._named:
            return self._named[key], False
        base, k = name, 1
        while name in self._names:
            k += 1
            name = f"{base}_{k}"
        self._names.add(name)
        self._named[key] = name
        return name, True

    def _arena_ptr(self, ctype: str, offset: int) -> str:
        return f"(({ctype} *)({self.arena}.bytes + {offset}))"

    def ptr(self, tensor: Tensor | None, byte_offset: int = 0) -> str:
        """C expression for the data of a tensor (from its `byte_offset`th byte): arena
        pointer, constant array, or NULL."""
        if tensor is None:
            return "NULL"
        if tensor.is_const:
            if id(tensor) not in self._tensor_arrays:
                self._tensor_arrays[id(tensor)] = self._array(
                    tensor.data, f"t{tensor.index}", f"tensor {tensor.index}: {tensor.name}")
            return self._tensor_arrays[id(tensor)]
        if tensor.window_of is not None:  # at the ring's position, in its buffer
            ring = tensor.window_of
            offset = self.plan.state_offsets[id(ring.buffer)] + byte_offset
            return (f"(({_CTYPES[tensor.dtype]} *)({self.state}.bytes + {offset} + "
                    f"{self.ring_position(ring)}))")
        if tensor.is_state:
            offset = self.plan.state_offsets[id(tensor)] + byte_offset
            return f"(({_CTYPES[tensor.dtype]} *)({self.state}.bytes + {offset}))"
        offset = self._offsets.get(id(tensor))
        if offset is None:
            offset = self.plan.offset(tensor)
        if isinstance(offset, str):  # an expression (a patch stage's band offsets)
            return self._arena_ptr(_CTYPES[tensor.dtype],
                                   f"{offset} + {byte_offset}" if byte_offset else offset)
        return self._arena_ptr(_CTYPES[tensor.dtype], offset + byte_offset)

    def state_word(self, name: str) -> str:
        """The C lvalue of an int32 word of the state buffer's bookkeeping (plan.state_words)."""
        return f"(*(int32_t *)({self.state}.bytes + {self.plan.state_words[name]}))"

    def ring_position(self, ring) -> str:
        """The C lvalue holding a ring buffer's current position (bytes)."""
        return self.state_word(f"ring{ring.number}")

    def scratch_offset(self, op: Op) -> int:
        if id(op) in self._scratch:
            return self._scratch[id(op)]
        return self.plan.scratch[self.graph.ops.index(op)].offset

    def scratch(self, op: Op) -> str:
        return f"((void *)({self.arena}.bytes + {self.scratch_offset(op)}))"

    def const(self, values: np.ndarray, op: Op, role: str) -> str:
        """A constant array derived by an op (multipliers, shifts, tables)."""
        return self._array(values, f"op{op.index}_{role}", f"{role} of op {op.index} ({op.kind})")

    def params(self, ctype: str, op: Op, fields: dict, suffix: str = "params") -> str:
        """A `static const` parameter struct for the op; returns its name."""
        body = _initializer(fields)[2:-2]
        name, new = self._unique(("params", op.index, ctype, suffix, body),
                                 f"op{op.index}_{suffix}")
        if new:
            self.param_structs.append(f"static const {ctype} {name} = {{ {body} }};")
        return name

    def function(self, op: Op, body: str) -> str:
        """A function of its own for the op's call (a kernel inlined with the op's `static
        const` parameters, so that the compiler specialises it to the layer); returns the
        statement that calls it."""
        name, new = self._unique(("function", op.index, body), f"{self.prefix}_op{op.index}")
        if new:
            self.functions.append(f"static TME_LAYER void {name}(void) {{\n  {body}\n}}")
        return f"{name}();"

    def _array(self, values: np.ndarray, hint: str, about: str) -> str:
        values = np.ascontiguousarray(values)
        if values.dtype == np.float64:
            values = values.astype(np.float32)
        ctype = _CTYPES[values.dtype.name]
        key = (ctype, values.tobytes())
        if key in self._array_by_content:
            return self._array_by_content[key]
        name = f"{self.prefix}_{c_identifier(hint)}"
        self.arrays.append(dict(name=name, ctype=ctype, size=max(values.size, 1),
                                about=c_comment(about), body=format_values(values) or "0",
                                nbytes=values.nbytes))
        self._array_by_content[key] = name
        return name


def _tensor_info(t: Tensor) -> dict:
    return dict(name=c_string(t.name), type=DTYPE_CODES.get(t.dtype, -1), rank=len(t.shape),
                dims=", ".join(str(d) for d in t.shape) or "0",
                scale=repr(t.quant.scale0) + "f" if t.quant else "0.0f",
                zero_point=t.quant.zp0 if t.quant else 0, bytes=t.nbytes,
                ctype=_CTYPES[t.dtype])


TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
    lstrip_blocks=True)


_LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def engine_files(families: set[str]) -> dict[str, str]:
    """engine_c sources of the kernel families used, by file name: each family's tme_<family>.h
    and .c (if it has one), and every engine header they include, on every instruction-set path (a project
    builds for the host and for Cortex-M): the #include lines are the one list of them."""
    root = resources.files("tflm_mcunet.engine_c")
    files: dict[str, str] = {}

    def add(path) -> None:
        if path.name not in files:
            files[path.name] = text = path.read_text()
            for header in _LOCAL_INCLUDE.findall(text):
                add(root / "include" / header)

    add(root / "include" / "tme_common.h")
    for fam in sorted(families):
        add(root / "include" / f"tme_{fam}.h")
        if (root / "src" / f"tme_{fam}.c").is_file():  # (inline kernels only: no source)
            add(root / "src" / f"tme_{fam}.c")
    return files


def emit_project(graph: Graph, plan: MemoryPlan,
                 prefix: str = "model") -> tuple[dict[str, str], int]:
    """All files of the generated project by name, and the bytes of its constant data."""
    prefix = c_identifier(prefix)
    ctx = EmitContext(graph, plan, prefix)
    calls, families = [], set()
    for op in graph.ops:
        definition = lookup(op.kind)
        families.update(definition.families(op))
        if definition.alias:
            calls.append(dict(comment=c_comment(f"op {op.index}: {op.kind} (same bytes, no code)"),
                              code=""))
            continue
        out = op.outputs[0]
        calls.append(dict(comment=c_comment(f"op {op.index}: {op.kind} -> {list(out.shape)} "
                                            f"{out.name}"), code=definition.emit(op, ctx)))
    state = []
    for t in graph.state:
        flat = np.ascontiguousarray(t.initial).reshape(-1).view(np.uint8)
        uniform = flat.size and (flat == flat[0]).all()
        state.append(dict(
            comment=c_comment(f"{t.name}: {t.dtype} {list(t.shape)}"),
            offset=plan.state_offsets[id(t)], bytes=t.nbytes,
            fill=int(flat[0]) if uniform else None,
            initial=None if uniform else ctx._array(t.initial, f"state{t.index}_initial",
                                                    f"initial value of state {t.name}")))
    files = engine_files(families)
    kernel_headers = sorted(f"tme_{fam}.h" for fam in families)
    context = dict(
        prefix=prefix, PREFIX=prefix.upper(), arena_bytes=max(plan.arena_bytes, 16),
        state=state, state_bytes=plan.state_bytes,
        rings=[ctx.ring_position(r) for r in graph.rings],
        started=ctx.state_word("started") if graph.state else "",
        arena=ctx.arena, state_var=ctx.state,
        inputs=[_tensor_info(t) | dict(offset=None if any(t is s for s in graph.streamed)
                                       else plan.offset(t)) for t in graph.inputs],
        streamed=bool(graph.streamed),
        outputs=[_tensor_info(t) | dict(offset=plan.offset(t)) for t in graph.outputs],
        calls=calls, params=ctx.param_structs, functions=ctx.functions, arrays=ctx.arrays,
        kernel_headers=kernel_headers,
        sources=sorted(f for f in files if f.endswith(".c")) + ["model.c", "model_weights.c"],
        source=c_comment(Path(graph.source).name),
        weight_bytes=sum(a["nbytes"] for a in ctx.arrays))
    for name in ("model.h", "model.c", "model_weights.h", "model_weights.c", "Makefile"):
        files[name] = TEMPLATES.get_template(f"{name}.j2").render(**context)
    return files, context["weight_bytes"]
