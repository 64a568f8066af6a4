"""`.tflite` flatbuffer -> Graph IR.

Everything read from the file is checked before it is trusted: a malformed file ends in a
ConversionError that says what is wrong, never in an IndexError deep inside the bindings.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import schema
from .errors import ConversionError
from .ir import Graph, Op, Quant, Tensor
from .ops import lookup, supported_kinds
from .variables import check_subgraphs, initial_values, resolve

_MAX_ELEMENTS = 1 << 31
#: more operators or tensors than any microcontroller model has (bounds the converter's work)
MAX_OPERATORS = 2000
MAX_TENSORS = 20000
#: zero points a tensor of each type can have
_ZERO_POINT_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def read_tflite(model: str | Path | bytes, name: str | None = None) -> Graph:
    """Parse a .tflite file (path or bytes) into a Graph; raises ConversionError."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        data, source = bytes(model), name or "<model bytes>"
    else:
        source = name or str(model)
        try:
            data = Path(model).read_bytes()
        except OSError as e:
            raise ConversionError(f"cannot read the model file: {e.strerror}", model=source) from e
    try:
        return _Reader(data, source).graph()
    except ConversionError as e:
        if e.model is None:
            raise e.at(model=source) from e
        raise
    except (IndexError, ValueError, TypeError, OverflowError, AttributeError,
            UnicodeDecodeError, MemoryError) as e:
        # flatbuffers raises these on offsets that point outside the file
        raise ConversionError(f"malformed .tflite flatbuffer ({type(e).__name__}: {e})",
                              model=source) from e
    except Exception as e:  # struct.error and friends from the flatbuffers runtime
        raise ConversionError(f"malformed .tflite flatbuffer ({type(e).__name__}: {e})",
                              model=source) from e


def printable(text: str) -> str:
    """Text from the file, safe for one-line messages: control characters escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


class _Reader:
    def __init__(self, data: bytes, source: str):
        self.data = data
        self.source = source

    def error(self, message: str) -> ConversionError:
        return ConversionError(message, model=self.source)

    def graph(self) -> Graph:
        data = self.data
        if len(data) < 8:
            raise self.error(f"file is {len(data)} bytes, too short to be a .tflite model")
        if not schema.model_has_identifier(data):
            raise self.error(f"not a TFLite flatbuffer (file identifier {data[4:8]!r}, expected "
                             "b'TFL3')")
        model = schema.Model.GetRootAs(data, 0)
        if model.Version() != 3:
            raise self.error(f"schema version {model.Version()} is not supported (expected 3)")
        if model.SubgraphsLength() < 1:
            raise self.error("model has no subgraph")
        if model.BuffersLength() and self.buffer(model.Buffers(0)):
            raise self.error("buffer 0 holds data; it must be empty (the schema's sentinel for "
                             "tensors without data)")
        sub = model.Subgraphs(0)
        opcodes = [self.opcode(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
        tensors, ops = self.subgraph(model, sub, opcodes)
        state = []
        count = model.SubgraphsLength()
        if count > 1 or any(op.kind in ("CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE",
                                        "ASSIGN_VARIABLE") for op in ops):
            names = [self.subgraph_name(model.Subgraphs(i), i) for i in range(count)]
            runs = check_subgraphs(count, [(op.index, op.kind, op.options) for op in ops], names,
                                   self.source)
            initial = {}
            for index, call_once in sorted(runs.items()):
                try:
                    _, init_ops = self.subgraph(model, model.Subgraphs(index), opcodes)
                except ConversionError as e:
                    raise ConversionError(f"in initialisation subgraph {index}: {e.detail}",
                                          model=self.source, op_index=e.op_index,
                                          op_kind=e.op_kind) from e
                initial.update(initial_values(index, call_once, init_ops, self.source))
            ops, state = resolve(ops, tensors, initial, runs, self.source)

        inputs = [self.tensor_at(tensors, int(i), "subgraph input")
                  for i in self.int_vector(sub, "Inputs")]
        outputs = [self.tensor_at(tensors, int(i), "subgraph output")
                   for i in self.int_vector(sub, "Outputs")]
        if not inputs or not outputs or None in inputs or None in outputs:
            raise self.error("the subgraph must name its input and output tensors")
        desc = model.Description()
        return Graph(tensors, ops, inputs, outputs, source=self.source,
                     description=desc.decode("utf-8", "replace") if desc else "", state=state)

    def tensor_at(self, tensors: list[Tensor], i: int, what: str) -> Tensor | None:
        """Tensor `i` of a subgraph (-1: an optional input left out), or an error naming
        `what` refers to it."""
        if i == -1:
            return None
        if not 0 <= i < len(tensors):
            raise self.error(f"{what} refers to tensor {i}, but the model has {len(tensors)}")
        return tensors[i]

    @staticmethod
    def subgraph_name(sub, index: int) -> str:
        name = sub.Name()
        return printable(name.decode("utf-8", "replace")) if name else f"subgraph {index}"

    def subgraph(self, model, sub, opcodes: list[str]) -> tuple[list[Tensor], list[Op]]:
        """The tensors and operators of one subgraph."""
        if sub.OperatorsLength() > MAX_OPERATORS or sub.TensorsLength() > MAX_TENSORS:
            raise self.error(f"the model has {sub.OperatorsLength()} operators and "
                             f"{sub.TensorsLength()} tensors; at most {MAX_OPERATORS} and "
                             f"{MAX_TENSORS} are supported")
        tensors = [self.tensor(model, sub.Tensors(i), i) for i in range(sub.TensorsLength())]

        ops = []
        for k in range(sub.OperatorsLength()):
            fb_op = sub.Operators(k)
            code = fb_op.OpcodeIndex()
            if not 0 <= code < len(opcodes):
                raise self.error(f"operator #{k} uses opcode {code}, but the model has "
                                 f"{len(opcodes)}")
            kind = opcodes[code]
            definition = lookup(kind)
            if definition is not None and definition.refused:
                raise ConversionError(definition.refused, model=self.source, op_index=k,
                                      op_kind=kind)
            if definition is None or definition.internal:
                raise ConversionError(
                    f"operator {kind} is not supported. Supported int8 operators: "
                    f"{', '.join(supported_kinds())}. Replace the layer or open an issue with "
                    "the model.", model=self.source, op_index=k, op_kind=kind)
            ins = [self.tensor_at(tensors, int(i), f"operator #{k} ({kind}) input")
                   for i in self.int_vector(fb_op, "Inputs")]
            outs = [self.tensor_at(tensors, int(i), f"operator #{k} ({kind}) output")
                    for i in self.int_vector(fb_op, "Outputs")]
            if any(t is None for t in outs):
                raise self.error(f"operator #{k} ({kind}) has an empty output slot")
            op = Op(k, kind, ins, outs)
            given, expected = schema.options_name(fb_op), schema.OPTIONS_OF.get(kind)
            if given != "none" and expected is not None and given != expected:
                raise ConversionError(f"its builtin options are {given}; {kind} takes "
                                      f"{expected}", model=self.source, op_index=k, op_kind=kind)
            options = schema.builtin_options(fb_op)
            bias_type = getattr(options, "QuantizedBiasType", lambda: 0)()
            if bias_type not in (0, schema.TensorType.INT32):  # 0: not set
                raise ConversionError(f"its quantized bias type {bias_type} is not supported "
                                      "(int32 biases only)", model=self.source, op_index=k,
                                      op_kind=kind)
            try:
                op.options = definition.parse_options(options)
            except AttributeError as e:  # an options table of another operator, or none
                raise ConversionError(
                    f"it has no builtin options; {kind} needs {expected or 'them'}",
                    model=self.source, op_index=k, op_kind=kind) from e
            ops.append(op)
        return tensors, ops

    @staticmethod
    def int_vector(table, field: str) -> list[int]:
        if getattr(table, f"{field}IsNone")():
            return []
        return [int(v) for v in getattr(table, f"{field}AsNumpy")()]

    def opcode(self, code) -> str:
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.CustomCode()
            label = custom.decode("utf-8", "replace") if custom else "?"
            return f"CUSTOM({printable(label)})"
        return schema.OPERATOR_NAMES.get(builtin, f"BUILTIN_{builtin}")

    def tensor(self, model, fb, index: int) -> Tensor:
        name = fb.Name().decode("utf-8", "replace") if fb.Name() else f"tensor_{index}"
        shape = tuple(self.int_vector(fb, "Shape"))
        if any(d < 0 for d in shape):
            raise self.error(f"tensor {index} ({name!r}) has a negative dimension {list(shape)}")
        signature = self.int_vector(fb, "ShapeSignature")
        if any(d < 0 for d in signature[1:]):
            raise self.error(f"tensor {index} ({name!r}) has a dynamic shape {signature}; only "
                             "the batch dimension may be dynamic (it is taken as 1)")
        if int(np.prod(shape, dtype=object)) >= _MAX_ELEMENTS:
            raise self.error(f"tensor {index} ({name!r}) has {list(shape)} elements, too many for a "
                             "microcontroller")
        type_code = fb.Type()
        if type_code not in schema.TENSOR_TYPES:
            raise self.error(f"tensor {index} ({name!r}) has unknown type code {type_code}")
        dtype, np_dtype = schema.TENSOR_TYPES[type_code]
        quant = self.quant(fb, index, name, dtype)
        data = None
        buf_index = fb.Buffer()
        if buf_index != 0:
            if not 0 <= buf_index < model.BuffersLength():
                raise self.error(f"tensor {index} ({name!r}) refers to buffer {buf_index}, but "
                                 f"the model has {model.BuffersLength()}")
            raw = self.buffer(model.Buffers(buf_index))
            if raw is not None and len(raw):
                if np_dtype is None:
                    raise self.error(f"tensor {index} ({name!r}) has unsupported type {dtype}")
                count = int(np.prod(shape, dtype=np.int64)) if shape else 1
                need = count * np.dtype(np_dtype).itemsize
                if len(raw) != need:
                    raise self.error(f"tensor {index} ({name!r}) of shape {list(shape)} needs "
                                     f"{need} bytes, its buffer holds {len(raw)}")
                data = np.frombuffer(raw, dtype=np_dtype).reshape(shape).copy()
        return Tensor(index, name, shape, dtype, quant, data)

    def buffer(self, buf) -> bytes | None:
        offset = buf.Offset() if hasattr(buf, "Offset") else 0
        if offset > 1:  # models over 2 GB keep their buffers after the flatbuffer
            raise self.error(f"a buffer is stored after the flatbuffer (at offset {offset}); "
                             "TFLite Micro does not read such buffers: export the model without "
                             "buffer offsets")
        if buf.DataIsNone():
            return None
        return buf.DataAsNumpy().tobytes()

    def quant(self, fb, index: int, name: str, dtype: str) -> Quant | None:
        q = fb.Quantization()
        if q is None or q.ScaleIsNone() or q.ScaleLength() == 0:
            return None
        scale = q.ScaleAsNumpy().astype(np.float32)
        zp = (q.ZeroPointAsNumpy().astype(np.int64) if not q.ZeroPointIsNone()
              else np.zeros(scale.size, np.int64))
        if zp.size != scale.size:
            raise self.error(f"tensor {index} ({name!r}) has {scale.size} scales but "
                             f"{zp.size} zero points")
        lo, hi = _ZERO_POINT_RANGE.get(dtype, (-2**31, 2**31 - 1))
        if zp.size and not (lo <= zp.min() and zp.max() <= hi):
            raise self.error(f"tensor {index} ({name!r}) of type {dtype} has zero point "
                             f"{int(zp[(zp < lo) | (zp > hi)][0])}, outside [{lo}, {hi}]")
        return Quant(scale, zp, int(q.QuantizedDimension()))
