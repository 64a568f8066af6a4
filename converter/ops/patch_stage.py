"""The patch stage (passes/patch/) as ops: PATCH_STAGE runs a stage of layers patch by patch;
REGION_COPY and READ_INPUT move a patch's regions. None of them comes from a .tflite file."""
from __future__ import annotations

import re

from .base import OpDef
from . import lookup


class PatchStage(OpDef):
    """The stage's layers, patch after patch, on buffers in the op's scratch."""
    kinds = ("PATCH_STAGE",)
    internal = True

    def families(self, op) -> tuple[str, ...]:
        found = {f for steps in op.params["stage"].steps for step in steps
                 for f in lookup(step.kind).families(step)}
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
        for key, (t, delta) in stage.views.items():  # rows inside a band buffer
            if id(t) in offsets:
                offsets[key] = offsets[id(t)] + delta
        # rows of the stage input read in place: from an offset each band stores in the
        # stage's scratch, so that a layer's function is the same in every band
        bands = []
        for k, steps in enumerate(stage.steps):
            lines = []
            for key in {id(t) for step in steps for t in step.inputs
                        if t is not None and id(t) in stage.views and id(t) not in offsets}:
                slot = f"{c.arena}.bytes + {base + stage.band_input_slot}"
                if not lines:
                    lines.append(f"*(int32_t *)(void *)({slot}) = {stage.input_starts[k]};")
                delta = stage.views[key][1] - stage.input_starts[k]
                offsets[key] = (f"{c.plan.offset(stage.input)} + "
                                f"*(const int32_t *)(const void *)({slot})"
                                + (f" + {delta}" if delta else ""))
            bands.append(lines)
        scratch = {key: base + b.offset for key, b in stage.scratch_of.items()}
        patch = c.derived(offsets, scratch)
        what = "row band" if stage.keep_rows else "patch"
        comments = []
        for k, (tile, steps) in enumerate(zip(stage.tiles, stage.steps)):
            bands[k] += [lookup(step.kind).emit(step, patch) for step in steps]
            comments.append(f"output rows {tile[0]}-{tile[1] - 1}, columns {tile[2]}-{tile[3] - 1}"
                            if tile[0] < tile[1] else "no output row yet, the layers' rows fill up")
        lines = []
        for first, period, count, body in repeats(bands):
            last = first + period * count
            if count == 1:
                lines.append(f"/* {what} {first + 1} of {len(bands)}: {comments[first]} */")
                lines += body
                continue
            lines.append(f"/* {what}s {first + 1}-{last} of {len(bands)}: {what}s {first + 1}-"
                         f"{first + period} {count} times, the rows they read and write moving "
                         "on */")
            lines.append(f"for (int32_t run = 0; run < {count}; ++run) {{")
            lines += [f"  {line}" for line in body]
            lines.append("}")
        return "\n  ".join(lines)


_NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")
#: the longest run of bands a loop body repeats
MAX_PERIOD = 4


def _skeleton(lines: list[str]) -> tuple[tuple[str, ...], list[int]]:
    """The lines without their integer literals, and the literals."""
    return (tuple(_NUMBER.sub("#", line) for line in lines),
            [int(v) for line in lines for v in _NUMBER.findall(line)])


def repeats(bands: list[list[str]]) -> list[tuple[int, int, int, list[str]]]:
    """The bands' C lines as (first band, period, count, lines): `count` runs of `period`
    bands whose lines differ only in integers that move on by the same step each run (the
    offsets of the rows a band reads and writes), written once with the run index `run`;
    count 1: one band as it is."""
    out, k = [], 0
    while k < len(bands):
        best = (1, 1, bands[k])
        for period in range(1, MAX_PERIOD + 1):
            block = [line for band in bands[k:k + period] for line in band]
            shape, first = _skeleton(block)
            step, count = None, 1
            while k + (count + 1) * period <= len(bands):
                nxt = _skeleton([line for band in bands[k + count * period:
                                                        k + (count + 1) * period]
                                 for line in band])
                if nxt[0] != shape:
                    break
                moved = [b - a for a, b in zip(first, nxt[1])]
                if step is None:
                    step = moved
                if moved != [s * count for s in step]:
                    break
                count += 1
            if count >= 2 and period * count > best[0] * best[1]:
                parts = iter(first)
                moves = iter(step)

                def literal(_match) -> str:
                    v, d = next(parts), next(moves)
                    return str(v) if d == 0 else f"({v} {'+' if d > 0 else '-'} {abs(d)} * run)"
                best = (period, count, [_NUMBER.sub(literal, line) for line in block])
        period, count, body = best
        out.append((k, period, count, body))
        k += period * count
    return out


class RegionCopy(OpDef):
    """A rectangle of an NHWC tensor into another, or rows moved up their own buffer
    (tme_copy_region_s8)."""
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
