"""A stage in row bands that keep rows: the bands pushed through the layers as a pipeline,
each layer's line buffer keeping the rows its readers need again; optionally in column
strips."""
from __future__ import annotations

from ...ir import Op, Tensor
from ...ops import lookup
from ...planner import PLACEMENT_ORDERS, Buffer, align_up, place_buffers
from .geometry import Region, activation_inputs, region_shape, requirement
from .grid import tile_regions
from .steps import PatchStage, copy_op, patched_op


def _band_regions(stage: PatchStage, bands: int, cols: dict[int, tuple[int, int]]
                  ) -> list[dict[int, Region]]:
    """The regions of row bands pushed forward from the input, on the columns `cols` of each
    tensor (one strip): in each band the input and every layer advance by up to 1/bands of
    their rows, a layer as far as the rows of its inputs allow (a row whose taps are all there;
    past the image bottom they are padding). The pace keeps each layer's buffer near its
    window: a layer never bursts ahead of its readers, and the bands go on until the last layer
    is done (the pipeline drains). A tensor's region in a band runs from the first row a reader
    still needs to the last row computed; the stage output's new rows are the band's tile
    (none while the first bands fill the layers' buffers)."""
    x, y = stage.input, stage.output
    tensors = [x] + [op.outputs[0] for op in stage.ops]
    readers: dict[int, list[tuple[Op, int]]] = {id(t): [] for t in tensors}
    inputs = {id(op): activation_inputs(op) for op in stage.ops}
    for op in stage.ops:
        for i, t in inputs[id(op)]:
            readers[id(t)].append((op, i))

    def rows_read(op: Op, index: int, oy: int) -> tuple[int, int]:
        return requirement(op, index, (oy, oy + 1, 0, op.outputs[0].shape[2]))[:2]

    def computable(op: Op, done: dict[int, int]) -> int:
        """Rows of the op's output whose inputs are all there."""
        oy, height = done[id(op.outputs[0])], op.outputs[0].shape[1]
        while oy < height and all(
                rows_read(op, i, oy)[1] <= done[id(t)] or done[id(t)] == t.shape[1]
                for i, t in inputs[id(op)]):
            oy += 1
        return oy

    def paced(t: Tensor) -> int:  # at most 1/bands of a tensor's rows per band: no bursts
        return min(t.shape[1], done[id(t)] + -(-t.shape[1] // bands))

    done = {id(t): 0 for t in tensors}
    layouts = []
    while done[id(y)] < y.shape[1]:
        before = dict(done)
        done[id(x)] = paced(x)
        for op in stage.ops:
            done[id(op.outputs[0])] = min(computable(op, done), paced(op.outputs[0]))
        regions = {}
        for t in tensors:
            still = [rows_read(op, i, before[id(op.outputs[0])])[0] for op, i in readers[id(t)]
                     if before[id(op.outputs[0])] < op.outputs[0].shape[1]]
            regions[id(t)] = Region(min(still + [before[id(t)]]), done[id(t)], *cols[id(t)])
        layouts.append(regions)
        stage.tiles.append(Region(before[id(y)], done[id(y)], *cols[id(y)]))
        assert done != before, "every band advances"
    return layouts


def plan_row_bands(stage: PatchStage, strips: list[tuple[int, int]]) -> None:
    """Steps and buffers of row bands that keep rows, strip after strip of the stage output's
    columns (each strip's layers on the columns it needs, the halo recomputed by the next
    strip): each band computes only the rows of a layer that no earlier band of the strip did;
    the rows the next band reads again stay in the layer's buffer, moved to its top. No row is
    computed twice in a strip, but every buffer that keeps rows lives through the whole band
    (the layers' line buffers add up)."""
    x, y = stage.input, stage.output
    tensors = [x] + [op.outputs[0] for op in stage.ops]
    whole_rows = len(strips) == 1  # a strip of whole rows reads the stage input in place
    per_strip = []
    for strip in strips:
        if whole_rows:
            cols = {id(t): (0, t.shape[2]) for t in tensors}
        else:
            regions, _ = tile_regions(stage, Region(0, y.shape[1], *strip))
            cols = {id(t): regions[id(t)][2:] for t in tensors}
        per_strip.append((cols, _band_regions(stage, stage.grid[0], cols)))
        stage.input_starts += [(r[id(x)][0] * x.shape[2] + cols[id(x)][0]) * x.shape[3]
                               for r in per_strip[-1][1]]
    band, kept = _band_buffers(stage, per_strip, whole_rows)
    position: dict[int, int] = {}  # id(step) -> its layer's position (0: the input)
    crops: dict[tuple[int, int], Buffer] = {}  # (position, input) -> a crop's buffer
    for cols, bands in per_strip:
        _strip_steps(stage, cols, bands, band, kept, whole_rows, position, crops)
    _place_band_buffers(stage, band, kept, crops, position)


def _band_buffers(stage: PatchStage,
                  per_strip: list[tuple[dict[int, tuple[int, int]], list[dict[int, Region]]]],
                  whole_rows: bool) -> tuple[dict[int, Tensor], set[int]]:
    """One buffer per stage tensor for its rows of a band (sized for the largest band of any
    strip), the stage input only when streamed or cut into strips; and the tensors whose
    buffers keep rows from one band to the next."""
    x = stage.input
    tensors = [x] + [op.outputs[0] for op in stage.ops]
    band: dict[int, Tensor] = {}
    for t in tensors:
        if t is not x or stage.streamed or not whole_rows:
            rows = max(r[id(t)][1] - r[id(t)][0] for _, bands in per_strip for r in bands)
            width = max(c[id(t)][1] - c[id(t)][0] for c, _ in per_strip)
            band[id(t)] = Tensor(t.index, f"{t.name} (band)", (1, rows, width, t.shape[3]),
                                 t.dtype, t.quant)
    kept = {id(t) for t in tensors if id(t) in band and any(
        now[id(t)][0] < before[id(t)][1]
        for _, bands in per_strip for before, now in zip(bands, bands[1:]))}
    return band, kept


def _strip_steps(stage: PatchStage, cols: dict[int, tuple[int, int]],
                 bands: list[dict[int, Region]], band: dict[int, Tensor], kept: set[int],
                 whole_rows: bool, position: dict[int, int],
                 crops: dict[tuple[int, int], Buffer]) -> None:
    """The steps of one strip's bands, appended to stage.steps: per band, keep the rows the
    band reads again, read (or gather) the input's new rows, run each layer on its new rows
    (cropping inputs that a layer reads narrower than the strip), and scatter the new rows of
    the stage output. `position` records each step's layer, `crops` the crop buffers."""
    x, y = stage.input, stage.output

    def row_bytes(t: Tensor) -> int:
        return (cols[id(t)][1] - cols[id(t)][0]) * t.shape[3]

    def view(t: Tensor, rows: tuple[int, int], start: int, what: str) -> Tensor:
        """Rows [a, b) of `t` on the strip's columns: in its band buffer (whose first row
        is `start`) or in the stage input."""
        v = Tensor(t.index, f"{t.name} ({what})",
                   (1, rows[1] - rows[0], cols[id(t)][1] - cols[id(t)][0], t.shape[3]),
                   t.dtype, t.quant)
        stage.views[id(v)] = ((band[id(t)], (rows[0] - start) * row_bytes(t))
                              if id(t) in band else (t, rows[0] * row_bytes(t)))
        return v

    for k, r in enumerate(bands):
        steps: list[Op] = []

        def add(step: Op, pos: int) -> None:
            steps.append(step)
            position[id(step)] = pos

        def new_rows(t: Tensor, pos: int, index: int) -> tuple[int, int]:
            """The rows of `t` this band computes, after moving the kept ones up."""
            lo, hi = r[id(t)][:2]
            if k and id(t) in kept and lo < bands[k - 1][id(t)][1]:
                before, done = bands[k - 1][id(t)][:2]
                if lo > before:
                    b = band[id(t)]
                    add(copy_op(index, "keep", b, b, rows=1,
                                 run=(done - lo) * row_bytes(t), src_stride=0, dst_stride=0,
                                 src_offset=(lo - before) * row_bytes(t)), pos)
                lo = done
            return lo, hi

        lo, hi = new_rows(x, 0, stage.ops[0].index)
        c0, c1 = cols[id(x)]
        if lo < hi and stage.streamed:
            add(Op(stage.ops[0].index, "READ_INPUT", [],
                   [view(x, (lo, hi), r[id(x)][0], "rows read")],
                   params=dict(row=lo, col=c0, rows=hi - lo, cols=c1 - c0)), 0)
        elif lo < hi and id(x) in band:
            add(copy_op(stage.ops[0].index, "gather", x,
                         view(x, (lo, hi), r[id(x)][0], "rows gathered"), rows=hi - lo,
                         run=row_bytes(x), src_stride=x.shape[2] * x.shape[3],
                         dst_stride=row_bytes(x),
                         src_offset=(lo * x.shape[2] + c0) * x.shape[3]), 0)
        for pos, op in enumerate(stage.ops, 1):
            t = op.outputs[0]
            lo, hi = new_rows(t, pos, op.index)
            if lo >= hi:
                continue  # every row this band needs was computed before
            out_region = Region(lo, hi, *cols[id(t)])
            inputs, in_region = list(op.inputs), None
            for i, u in activation_inputs(op):
                need = requirement(op, i, out_region)
                if whole_rows:  # (a valid window may not reach the last columns)
                    need = Region(*need[:2], *cols[id(u)])
                rows = view(u, need[:2], r[id(u)][0], f"rows for #{op.index}")
                if need[2:] != cols[id(u)]:  # fewer columns than the strip has
                    crop = Tensor(u.index, f"{u.name} (crop for #{op.index})",
                                  region_shape(u, need), u.dtype, u.quant)
                    run = (need[3] - need[2]) * u.shape[3]
                    add(copy_op(op.index, f"crop{i}", rows, crop, rows=need[1] - need[0],
                                 run=run, src_stride=row_bytes(u), dst_stride=run,
                                 src_offset=(need[2] - cols[id(u)][0]) * u.shape[3]), pos)
                    mine = crops.setdefault((pos, i), Buffer(crop.name, 0, pos, pos))
                    mine.size = max(mine.size, crop.nbytes)
                    stage.buffer_of[id(crop)] = mine
                    rows = crop
                in_region = need if i == 0 else in_region
                inputs[i] = rows
            add(patched_op(op, inputs, view(t, (lo, hi), r[id(t)][0], "rows"), out_region,
                            in_region), pos)
        tile = r[id(y)][:2]
        if tile[0] < tile[1]:
            width = y.shape[2] * y.shape[3]
            add(copy_op(stage.ops[-1].index, "scatter", band[id(y)], y,
                         rows=tile[1] - tile[0], run=row_bytes(y), src_stride=row_bytes(y),
                         dst_stride=width, dst_offset=tile[0] * width
                         + cols[id(y)][0] * y.shape[3]), len(stage.ops) + 1)
        stage.steps.append(steps)


def _place_band_buffers(stage: PatchStage, band: dict[int, Tensor], kept: set[int],
                        crops: dict[tuple[int, int], Buffer], position: dict[int, int]) -> None:
    """Lifetimes and offsets of the band buffers, crops and kernel scratch in the stage's
    scratch: the kept buffers side by side, the others sharing the bytes after them."""
    x, y = stage.input, stage.output
    # a kept buffer lives through every band; the others from their layer to their last reader
    end = len(stage.ops) + 1
    first = {id(x): 0} | {id(op.outputs[0]): pos for pos, op in enumerate(stage.ops, 1)}
    last = dict(first) | {id(y): end}
    for pos, op in enumerate(stage.ops, 1):
        for _, u in activation_inputs(op):
            last[id(u)] = max(last[id(u)], pos)
    buffers = {key: Buffer(b.name, b.nbytes, *((0, end) if key in kept else
                                               (first[key], last[key])), [b])
               for key, b in band.items()}
    scratch: dict[int, Buffer] = {}
    for steps in stage.steps:
        for step in steps:
            size, pos = lookup(step.kind).scratch_bytes(step), position[id(step)]
            if size:
                mine = scratch.setdefault(pos, Buffer(f"scratch of op #{step.index}", 0, pos,
                                                      pos))
                mine.size = max(mine.size, size)
                stage.scratch_of[id(step)] = mine
    # the kept buffers, live throughout, side by side; the others share the bytes after them
    lines = [b for key, b in buffers.items() if key in kept]
    shared = ([b for key, b in buffers.items() if key not in kept] + list(crops.values())
              + list(scratch.values()))
    top = 0
    for b in lines:
        b.offset, top = top, align_up(top + b.size)
    rest, _ = place_buffers(shared, orders=PLACEMENT_ORDERS)
    for b in shared:
        b.offset += top
    stage.arena_bytes = top + rest
    if id(x) not in band:  # the bands read the input in place: where they start, in an int32
        stage.band_input_slot = stage.arena_bytes
        stage.arena_bytes += align_up(4)
    for key, b in buffers.items():
        stage.buffer_of[id(band[key])] = b
