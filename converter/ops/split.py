"""SPLIT and SPLIT_V: an int8 tensor cut into consecutive pieces along one axis; UNPACK: into
its slices along one axis, that axis dropped.

TFLite Micro (split.cc, split_v.cc): SPLIT takes the axis (a constant scalar) then the data and
cuts it into `num_splits` equal pieces; SPLIT_V takes the data, the piece sizes and the axis
(constants) and cuts pieces of those sizes (one size may be -1: the rest). Either copies each
output's bytes as they are, its extent along the axis given by the output tensor's shape.
UNPACK (unpack.cc) takes the data and cuts `num` slices along `axis` (the options), each
output the input's shape without that axis. Each output is one region copy
(`tme_copy_region_s8`): `outer` runs of its piece, read from the input's rows.
"""
from __future__ import annotations

import numpy as np

from .base import OpDef, expect_dtype, fail


class Split(OpDef):
    kinds = ("SPLIT", "SPLIT_V")
    kernels = ("copy",)

    def parse_options(self, o) -> dict:
        return {"num_splits": o.NumSplits() if o is not None else 0}

    def prepare(self, op) -> None:
        names = (("axis", "data") if op.kind == "SPLIT" else ("data", "size_splits", "axis"))
        if len(op.inputs) != len(names) or any(t is None for t in op.inputs) or not op.outputs:
            raise fail(op, f"expects {len(names)} inputs ({', '.join(names)}) and one output or "
                           "more")
        inputs = dict(zip(names, op.inputs))
        x, axis_t = inputs["data"], inputs["axis"]
        for name in names:
            if name != "data" and not inputs[name].is_const:
                raise fail(op, f"its {name} input {inputs[name].name!r} must be a constant tensor")
        if axis_t.data.size != 1:
            raise fail(op, f"axis must be one value, has {axis_t.data.size}")
        rank = len(x.shape)
        axis = int(axis_t.data.reshape(-1)[0])
        if not -rank <= axis < rank:
            raise fail(op, f"axis {axis} is out of range for rank {rank}")
        axis %= rank
        if op.options["num_splits"] != len(op.outputs):
            raise fail(op, f"num_splits {op.options['num_splits']} but {len(op.outputs)} outputs")
        expect_dtype(op, x, "int8", "input")
        for y in op.outputs:
            expect_dtype(op, y, "int8", "output")
            if len(y.shape) != rank or any(y.shape[k] != x.shape[k] for k in range(rank)
                                           if k != axis):
                raise fail(op, f"output {y.name!r} of shape {list(y.shape)} is not a piece of the "
                               f"input {list(x.shape)} along axis {axis}")
        sizes = [y.shape[axis] for y in op.outputs]
        if sum(sizes) != x.shape[axis]:
            raise fail(op, f"the outputs' sizes {sizes} along axis {axis} do not add up to the "
                           f"input's {x.shape[axis]}")
        if op.kind == "SPLIT" and len(set(sizes)) > 1:
            raise fail(op, f"SPLIT cuts equal pieces; the outputs have sizes {sizes}")
        if op.kind == "SPLIT_V":
            given = [int(v) for v in inputs["size_splits"].data.reshape(-1)]
            if len(given) != len(sizes) or any(g not in (s, -1) for g, s in zip(given, sizes)) \
                    or given.count(-1) > 1:
                raise fail(op, f"size_splits {given} do not match the outputs' sizes {sizes}")
        outer = int(np.prod(x.shape[:axis], dtype=np.int64))
        inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
        op.params.update(outer=outer, row=x.shape[axis] * inner,
                         pieces=[(sum(sizes[:j]) * inner, s * inner) for j, s in enumerate(sizes)])

    def emit(self, op, c) -> str:
        p = op.params
        calls = []
        for j, (y, (start, run)) in enumerate(zip(op.outputs, p["pieces"])):
            params = c.params("tme_region_params", op, dict(rows=p["outer"], run=run,
                                                            src_stride=p["row"], dst_stride=run),
                              suffix=f"out{j}")
            data = op.inputs[1 if op.kind == "SPLIT" else 0]
            calls.append(f"tme_copy_region_s8(&{params}, {c.ptr(data, start)}, "
                         f"{c.ptr(y)});")
        return "\n  ".join(calls)


class Unpack(Split):
    kinds = ("UNPACK",)

    def parse_options(self, o) -> dict:
        return {"num": o.Num() if o is not None else 0, "axis": o.Axis() if o is not None else 0}

    def prepare(self, op) -> None:
        if len(op.inputs) != 1 or op.inputs[0] is None or not op.outputs:
            raise fail(op, "expects 1 input and one output or more")
        x = op.inputs[0]
        expect_dtype(op, x, "int8", "input")
        rank = len(x.shape)
        axis = op.options["axis"]
        if not -rank <= axis < rank:
            raise fail(op, f"axis {axis} is out of range for rank {rank}")
        axis %= rank
        if not op.options["num"] == len(op.outputs) == x.shape[axis]:
            raise fail(op, f"num {op.options['num']} and the {len(op.outputs)} outputs must "
                           f"equal the input's size {x.shape[axis]} along axis {axis}")
        expected = list(x.shape[:axis]) + list(x.shape[axis + 1:])
        for y in op.outputs:
            expect_dtype(op, y, "int8", "output")
            if list(y.shape) != expected:
                raise fail(op, f"output {y.name!r} of shape {list(y.shape)} should be {expected}")
        inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
        op.params.update(outer=int(np.prod(x.shape[:axis], dtype=np.int64)),
                         row=x.shape[axis] * inner,
                         pieces=[(j * inner, inner) for j in range(len(op.outputs))])
