"""The patch stage (passes/patch.py) as ops: PATCH_STAGE runs the first layers patch by patch;
REGION_COPY and READ_INPUT move a patch's regions. None of them comes from a .tflite file."""
from __future__ import annotations

from .base import OpDef
from . import lookup


class PatchStage(OpDef):
    """The stage's layers, patch after patch, on buffers in the op's scratch."""
    kinds = ("PATCH_STAGE",)
    internal = True

    def families(self, op) -> tuple[str, ...]:
        found = {f for step in op.params["stage"].steps[0] for f in lookup(step.kind).families(step)}
        return tuple(sorted(found))

    def macs(self, op) -> int:
        return op.params["stage"].macs

    def scratch_bytes(self, op) -> int:
        return op.params["stage"].arena_bytes

    def overlap_slack(self, op, index: int) -> int | None:
        return op.params["stage"].input_slack

    def emit(self, op, c) -> str:
        stage = op.params["stage"]
        base = c.scratch_offset(op)
        offsets = {key: base + b.offset for key, b in stage.buffer_of.items()}
        scratch = {key: base + b.offset for key, b in stage.scratch_of.items()}
        patch = c.derived(offsets, scratch)
        lines = []
        for k, (tile, steps) in enumerate(zip(stage.tiles, stage.steps)):
            lines.append(f"/* patch {k + 1} of {len(stage.tiles)}: output rows {tile[0]}-"
                         f"{tile[1] - 1}, columns {tile[2]}-{tile[3] - 1} */")
            lines += [lookup(step.kind).emit(step, patch) for step in steps]
        return "\n  ".join(lines)


class RegionCopy(OpDef):
    """A rectangle of an NHWC tensor into another (tme_copy_region_s8)."""
    kinds = ("REGION_COPY",)
    kernels = ("copy",)
    internal = True
    fields = ("rows", "run", "src_stride", "dst_stride")

    def emit(self, op, c) -> str:
        p = op.params
        params = c.params("tme_region_params", op, {k: p[k] for k in self.fields},
                          suffix=p["name"])
        return (f"tme_copy_region_s8(&{params}, {c.ptr(op.inputs[0], p['src_offset'])}, "
                f"{c.ptr(op.outputs[0], p['dst_offset'])});")


class ReadInput(OpDef):
    """A region of the streamed model input, from the caller's reader (model.h)."""
    kinds = ("READ_INPUT",)
    internal = True

    def emit(self, op, c) -> str:
        p = op.params
        return (f"read_input({p['row']}, {p['col']}, {p['rows']}, {p['cols']}, "
                f"{c.ptr(op.outputs[0])});")
