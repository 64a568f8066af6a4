"""Mutations of valid .tflite models, for the fuzz tests.

Two families, both drawing every choice from a hypothesis `data` object so that a failure
shrinks and replays:

- structured: on the schema's object API (ModelT), change one thing a hostile or broken file
  could change: shapes (zero, negative, overflowing 32 bits), types, buffer and tensor indices,
  scales (zero, NaN, inf, denormal, huge) and zero points, per-channel lengths, operator inputs
  and outputs (cycles, reads before writes), operator order, opcodes, options, names, ...;
- raw bytes: truncation, bit flips, overwritten 32-bit words (flatbuffer offsets and lengths),
  inserted and deleted bytes, a wrong file identifier.
"""
from __future__ import annotations

import copy
import math
import pickle

import numpy as np
from hypothesis import strategies as st
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from flatbuffer_models import pack, unpack

INT32 = [-2**31, -2**31 + 1, -65536, -129, -128, -2, -1, 0, 1, 2, 3, 4, 7, 8, 127, 128, 255,
         256, 32767, 65535, 65536, 2**24, 2**31 - 2, 2**31 - 1]
UINT32 = [0, 1, 2, 3, 7, 255, 65535, 2**31 - 1, 2**31, 2**32 - 1]
INT64 = [-2**63, -2**31 - 1, -2**31, -129, -128, -1, 0, 1, 127, 128, 255, 2**31, 2**63 - 1]
FLOATS = [0.0, -0.0, -1.0, math.nan, math.inf, -math.inf, 1e-45, 1e-38, 1e-30, 1e-12, 1e-6,
          1 / 256, 0.5, 1.0, 3.0, 1e6, 1e12, 1e30, 3.4e38]
DIMS = [-2**31, -7, -1, 0, 1, 2, 3, 5, 8, 255, 4096, 65536, 2**24, 2**31 - 1]
#: options fields stored as a byte in the schema (enums): other fields are int32, float, bool
def _byte_fields(slot: str) -> set[str]:
    """The option fields the schema stores in one byte with `slot` (enums such as padding, an
    activation, an output type): a mutant's value must fit the byte, or the flatbuffer cannot
    be written."""
    names = set()
    for attr in dir(fb):
        code = getattr(getattr(fb, attr), "__code__", None)
        if code is not None and "Add" in attr and code.co_argcount == 2 and slot in code.co_names:
            names.add(code.co_varnames[1])
    return names


BYTE_FIELDS = _byte_fields("PrependInt8Slot")
UBYTE_FIELDS = _byte_fields("PrependUint8Slot") - BYTE_FIELDS
UINT8_LIST_FIELDS = {"quantSpec"}


def int32s(extra: list[int] = ()) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(INT32 + list(extra)), st.integers(-2**31, 2**31 - 1))


def index_into(n: int) -> st.SearchStrategy[int]:
    """An index for a table of n entries: usually valid, often just past the end, sometimes
    absurd."""
    valid = [st.integers(0, n - 1)] if n else []
    return st.one_of(*valid, st.sampled_from([-1, -2, n, n + 1, 2**31 - 1, -2**31]))


def _tensors(m):
    return m.subgraphs[0].tensors


def _pick(data, items, label):
    return data.draw(st.sampled_from(range(len(items))), label=label) if items else None


# ---- structured mutations: each takes (data, ModelT) and changes it in place -------------------

def m_shape(data, m):
    t = _tensors(m)[_pick(data, _tensors(m), "tensor")]
    shape = [int(d) for d in (t.shape if t.shape is not None else [])]
    how = data.draw(st.sampled_from(["dim", "drop", "add", "empty", "none", "overflow", "scale"]))
    if how == "dim" and shape:
        shape[data.draw(st.integers(0, len(shape) - 1))] = data.draw(
            st.one_of(st.sampled_from(DIMS), st.integers(-2**31, 2**31 - 1)))
    elif how == "drop" and shape:
        shape.pop(data.draw(st.integers(0, len(shape) - 1)))
    elif how == "add":
        shape.insert(data.draw(st.integers(0, len(shape))), data.draw(st.sampled_from(DIMS)))
    elif how == "empty":
        shape = []
    elif how == "overflow":  # every dimension fits in int32, the product does not
        shape = data.draw(st.sampled_from([[65536, 65536, 2], [2**31 - 1, 2**31 - 1],
                                           [1, 46341, 46341, 1], [1, 2**16, 2**15, 2],
                                           [1, 4096, 4096, 256]]))
    elif how == "scale":  # a consistent-looking but huge activation
        shape = [d * data.draw(st.sampled_from([2, 1000, 2**16])) if k else d
                 for k, d in enumerate(shape)]
        shape = [max(-2**31, min(d, 2**31 - 1)) for d in shape]
    t.shape = None if how == "none" else shape


def m_shape_signature(data, m):
    t = _tensors(m)[_pick(data, _tensors(m), "tensor")]
    n = len(t.shape) if t.shape is not None else 0
    t.shapeSignature = data.draw(st.lists(st.sampled_from([-1, 1, 2, 0, 5]), min_size=n,
                                          max_size=n + 1))


def m_type(data, m):
    t = _tensors(m)[_pick(data, _tensors(m), "tensor")]
    t.type = data.draw(st.one_of(st.integers(0, 20), st.sampled_from([-128, -1, 100, 127])))


def m_buffer_index(data, m):
    t = _tensors(m)[_pick(data, _tensors(m), "tensor")]
    n = len(m.buffers)
    t.buffer = data.draw(st.one_of(st.integers(0, max(n - 1, 0)),
                                   st.sampled_from([n, n + 1, 2**31, 2**32 - 1])))


def m_buffer_data(data, m):
    k = _pick(data, m.buffers, "buffer")
    if k is None:
        return
    buf = m.buffers[k]
    raw = bytes(buf.data.tobytes() if isinstance(buf.data, np.ndarray) else (buf.data or b""))
    how = data.draw(st.sampled_from(["truncate", "extend", "random", "none", "extreme",
                                     "offset", "empty"]))
    if how == "truncate" and raw:
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif how == "extend":
        raw += data.draw(st.binary(min_size=1, max_size=16))
    elif how == "random":
        raw = data.draw(st.binary(min_size=len(raw), max_size=len(raw)))
    elif how == "extreme" and len(raw) >= 4:  # INT32_MAX biases, -128 weights, ...
        word = data.draw(st.sampled_from([b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80",
                                          b"\x80\x80\x80\x80", b"\x7f\x7f\x7f\x7f"]))
        raw = word * (len(raw) // 4) + raw[len(raw) // 4 * 4:]
    elif how == "offset":  # the fields of buffers stored after the flatbuffer (> 2 GB models)
        buf.offset = data.draw(st.sampled_from([0, 1, 2, 8, 2**31, 2**64 - 1]))
        buf.size = data.draw(st.sampled_from([0, 1, 4, 2**32, 2**64 - 1]))
    elif how == "empty":
        raw = b""
    buf.data = None if how == "none" else np.frombuffer(raw, np.uint8)


def m_quantization(data, m):
    t = _tensors(m)[_pick(data, _tensors(m), "tensor")]
    q = t.quantization
    how = data.draw(st.sampled_from(["scale", "scale", "zero_point", "zero_point", "lengths",
                                     "axis", "remove", "add", "extreme_ratio"]))
    if how == "remove" or (q is None and how != "add"):
        t.quantization = None
        return
    if how == "add" or q.scale is None:
        q = t.quantization = fb.QuantizationParametersT()
        q.scale, q.zeroPoint = [0.1], [0]
    scale = [float(s) for s in q.scale]
    zps = [int(z) for z in (q.zeroPoint if q.zeroPoint is not None else [])]
    if how == "scale" and scale:
        k = data.draw(st.integers(0, len(scale) - 1))
        scale[k] = data.draw(st.one_of(st.sampled_from(FLOATS),
                                       st.floats(width=32, allow_nan=True, allow_infinity=True)))
    elif how == "zero_point" and zps:
        zps[data.draw(st.integers(0, len(zps) - 1))] = data.draw(
            st.one_of(st.sampled_from(INT64), st.integers(-300, 300)))
    elif how == "lengths":  # per-channel vectors of the wrong length, or none at all
        scale = scale * data.draw(st.integers(0, 3)) + data.draw(st.lists(
            st.floats(1e-4, 1.0), max_size=2))
        zps = zps[:data.draw(st.integers(0, len(zps)))] if data.draw(st.booleans()) else \
            zps + [0] * data.draw(st.integers(1, 3))
    elif how == "axis":
        q.quantizedDimension = data.draw(int32s())
    elif how == "extreme_ratio":  # valid, but a rescale factor far outside the usual range
        factor = data.draw(st.sampled_from([1e-30, 1e-12, 1e-6, 1e6, 1e12, 1e30]))
        scale = [float(np.float32(min(s * factor, 3e38))) for s in scale]
    q.scale, q.zeroPoint = scale, zps


def m_activation_quant(data, m):
    """An extreme scale or zero point on a tensor the kernels read or write (buffer 0)."""
    acts = [t for t in _tensors(m) if not t.buffer and t.quantization is not None
            and t.quantization.scale is not None and len(t.quantization.scale)]
    if not acts:
        return
    q = acts[_pick(data, acts, "activation")].quantization
    if data.draw(st.booleans()):
        q.scale = [data.draw(st.sampled_from(FLOATS))]
    else:
        q.zeroPoint = [data.draw(st.sampled_from([-129, -128, 127, 128, 255, -2**31, 2**40]))]


def m_graph_input_type(data, m):
    """A model input of another type: float16, int16, uint8, bool, ..."""
    sub = m.subgraphs[0]
    if sub.inputs is not None and len(sub.inputs):
        k = int(sub.inputs[data.draw(st.integers(0, len(sub.inputs) - 1))])
        if 0 <= k < len(sub.tensors):
            sub.tensors[k].type = data.draw(st.sampled_from([0, 1, 2, 3, 4, 6, 7, 10, 15, 16,
                                                             17]))


def m_op_io(data, m):
    sub = m.subgraphs[0]
    if not sub.operators:
        return
    op = sub.operators[_pick(data, sub.operators, "operator")]
    n = len(sub.tensors)
    side = data.draw(st.sampled_from(["inputs", "outputs"]))
    io = [int(i) for i in (getattr(op, side) if getattr(op, side) is not None else [])]
    how = data.draw(st.sampled_from(["index", "index", "drop", "extra", "empty", "duplicate"]))
    if how == "index" and io:
        io[data.draw(st.integers(0, len(io) - 1))] = data.draw(index_into(n))
    elif how == "drop" and io:
        io.pop(data.draw(st.integers(0, len(io) - 1)))
    elif how == "extra":
        io.append(data.draw(index_into(n)))
    elif how == "empty":
        io = []
    elif how == "duplicate" and io:
        io.append(io[0])
    setattr(op, side, io)


def m_cycle(data, m):
    """An op writes a tensor that an earlier op (or itself) reads: a cycle in the graph."""
    ops = m.subgraphs[0].operators
    if not ops:
        return
    late = _pick(data, ops, "writer")
    early = data.draw(st.integers(0, late), label="reader")
    reads = [int(i) for i in (ops[early].inputs if ops[early].inputs is not None else [])]
    if reads and ops[late].outputs is not None and len(ops[late].outputs):
        outs = [int(i) for i in ops[late].outputs]
        outs[0] = reads[data.draw(st.integers(0, len(reads) - 1))]
        ops[late].outputs = outs


def m_order(data, m):
    ops = m.subgraphs[0].operators
    if len(ops) < 2:
        return
    how = data.draw(st.sampled_from(["swap", "reverse", "to_front", "duplicate", "drop"]))
    i, j = data.draw(st.integers(0, len(ops) - 1)), data.draw(st.integers(0, len(ops) - 1))
    if how == "swap":
        ops[i], ops[j] = ops[j], ops[i]
    elif how == "reverse":
        ops.reverse()
    elif how == "to_front":
        ops.insert(0, ops.pop(i))
    elif how == "duplicate":
        ops.insert(j, copy.deepcopy(ops[i]))
    else:
        ops.pop(i)


def m_opcode_index(data, m):
    ops = m.subgraphs[0].operators
    if ops:
        ops[_pick(data, ops, "operator")].opcodeIndex = data.draw(
            st.one_of(index_into(len(m.operatorCodes)).filter(lambda v: v >= 0),
                      st.sampled_from(UINT32)))


def m_opcode(data, m):
    code = m.operatorCodes[_pick(data, m.operatorCodes, "opcode")]
    how = data.draw(st.sampled_from(["builtin", "deprecated", "custom", "version"]))
    if how == "builtin":
        code.builtinCode = data.draw(st.one_of(st.integers(0, 210),
                                               st.sampled_from([-1, 2**31 - 1, -2**31])))
    elif how == "deprecated":
        code.deprecatedBuiltinCode = data.draw(st.integers(-128, 127))
    elif how == "custom":
        code.builtinCode, code.deprecatedBuiltinCode = 32, 32
        code.customCode = data.draw(st.binary(max_size=12))
    else:
        code.version = data.draw(int32s())


def _field_value(data, name, current):
    if name in BYTE_FIELDS:
        return data.draw(st.one_of(st.integers(0, 6), st.integers(-128, 127)))
    if name in UBYTE_FIELDS:
        return data.draw(st.one_of(st.integers(0, 6), st.integers(0, 255)))
    if isinstance(current, bool):
        return data.draw(st.booleans())
    if isinstance(current, (str, bytes)):  # a name (a resource variable's container)
        return data.draw(st.binary(max_size=12))
    if isinstance(current, float):
        return data.draw(st.one_of(st.sampled_from(FLOATS), st.floats(width=32)))
    if name in UINT8_LIST_FIELDS:
        return data.draw(st.one_of(st.none(), st.lists(st.integers(0, 255), max_size=5)))
    if isinstance(current, (list, np.ndarray)) or current is None:
        return data.draw(st.one_of(st.none(), st.lists(int32s(), max_size=5)))
    return data.draw(int32s())


def m_options(data, m):
    ops = m.subgraphs[0].operators
    if not ops:
        return
    op = ops[_pick(data, ops, "operator")]
    how = data.draw(st.sampled_from(["field", "field", "field", "remove", "other_type"]))
    if how == "remove" or op.builtinOptions is None:
        op.builtinOptions, op.builtinOptionsType = None, 0
    elif how == "other_type":  # the options table read as another table type
        op.builtinOptionsType = data.draw(st.integers(1, 126))
    else:
        fields = sorted(vars(op.builtinOptions))
        if fields:
            name = data.draw(st.sampled_from(fields))
            setattr(op.builtinOptions, name,
                    _field_value(data, name, getattr(op.builtinOptions, name)))


def m_graph_io(data, m):
    sub = m.subgraphs[0]
    side = data.draw(st.sampled_from(["inputs", "outputs"]))
    io = [int(i) for i in (getattr(sub, side) if getattr(sub, side) is not None else [])]
    how = data.draw(st.sampled_from(["index", "empty", "duplicate", "extra", "const"]))
    n = len(sub.tensors)
    if how == "index" and io:
        io[data.draw(st.integers(0, len(io) - 1))] = data.draw(index_into(n))
    elif how == "empty":
        io = []
    elif how == "duplicate" and io:
        io.append(io[0])
    elif how == "extra":
        io.append(data.draw(index_into(n)))
    elif how == "const":
        consts = [k for k, t in enumerate(sub.tensors) if t.buffer]
        if consts:
            io.append(data.draw(st.sampled_from(consts)))
    setattr(sub, side, io)


def m_model(data, m):
    how = data.draw(st.sampled_from(["version", "no_subgraph", "two_subgraphs", "no_buffers",
                                     "no_opcodes", "description"]))
    if how == "version":
        m.version = data.draw(st.sampled_from(UINT32))
    elif how == "no_subgraph":
        m.subgraphs = []
    elif how == "two_subgraphs":
        m.subgraphs = m.subgraphs + [copy.deepcopy(m.subgraphs[0])]
    elif how == "no_buffers":
        m.buffers = []
    elif how == "no_opcodes":
        m.operatorCodes = []
    else:
        m.description = data.draw(st.binary(max_size=40))


def m_name(data, m):
    """Names reach the generated C (as comments and strings): anything goes."""
    t = _tensors(m)[_pick(data, _tensors(m), "tensor")]
    t.name = data.draw(st.one_of(
        st.binary(max_size=30),
        st.sampled_from([b"*/ int x; /*", b'"\\', b"\n#include <stdio.h>\n", b"??/", b"",
                         b"\xff\xfe", b"a\x00b", b"\\\n#define model_invoke exit"])))


def m_swap_tensors(data, m):
    ts = _tensors(m)
    i, j = data.draw(st.integers(0, len(ts) - 1)), data.draw(st.integers(0, len(ts) - 1))
    ts[i], ts[j] = ts[j], ts[i]


STRUCTURED = [m_shape, m_shape, m_shape_signature, m_type, m_buffer_index, m_buffer_data,
              m_buffer_data, m_quantization, m_quantization, m_quantization, m_activation_quant,
              m_activation_quant, m_graph_input_type, m_op_io, m_op_io,
              m_cycle, m_order, m_opcode_index, m_opcode, m_options, m_options, m_options,
              m_graph_io, m_model, m_name, m_swap_tensors]


class Seeds:
    """The seed models, unpacked once; `fresh(name)` is a deep copy to mutate."""

    def __init__(self, models: dict[str, bytes]):
        self.raw = models
        self.names = sorted(models)
        self._pickled = {k: pickle.dumps(unpack(v)) for k, v in models.items()}

    def fresh(self, name: str):
        return pickle.loads(self._pickled[name])  # a deep copy, faster than copy.deepcopy


def structured_mutant(data, seeds: Seeds) -> bytes:
    name = data.draw(st.sampled_from(seeds.names), label="seed")
    m = seeds.fresh(name)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        if not m.subgraphs or not m.subgraphs[0].tensors or not m.operatorCodes:
            break  # nothing left to mutate
        mutation = data.draw(st.sampled_from(STRUCTURED), label="mutation")
        mutation(data, m)
    return pack(m)


def byte_mutant(data, seeds: Seeds) -> bytes:
    raw = bytearray(seeds.raw[data.draw(st.sampled_from(seeds.names), label="seed")])
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        if not raw:
            break
        how = data.draw(st.sampled_from(["flip", "byte", "word", "word", "truncate", "insert",
                                         "delete", "identifier"]), label="mutation")
        at = data.draw(st.integers(0, len(raw) - 1), label="at")
        if how == "flip":
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "byte":
            raw[at] = data.draw(st.integers(0, 255))
        elif how == "word":  # offsets, lengths and indices are 32-bit words at aligned places
            at -= at % 4
            value = data.draw(st.one_of(st.sampled_from(UINT32 + [len(raw), len(raw) - 4]),
                                        st.integers(0, 2**32 - 1)))
            raw[at:at + 4] = value.to_bytes(4, "little")
        elif how == "truncate":
            del raw[at:]
        elif how == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif how == "delete":
            del raw[at:at + data.draw(st.integers(1, 8))]
        else:
            raw[4:8] = data.draw(st.sampled_from([b"TFL2", b"tfl3", b"\0\0\0\0", b"XXXX"]))
    return bytes(raw)
