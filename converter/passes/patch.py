"""Patch-based inference (MCUNetV2): run the memory-heavy layers patch by patch.

In MobileNet-like networks the first layers hold the largest activations. A patch stage runs a
run of consecutive layers on one spatial tile of their output at a time: each patch computes
every layer of the stage on just the region that tile needs (the tile grown backwards through
the layers by their receptive field, clipped at the image border), then copies its part into
the stage output. Only the stage's input and output are ever whole; the layers outside the
stages run layer by layer.

The first stage starts at the model input, which the caller may stream in region by region
instead of holding it in SRAM. Further stages start at a cut between blocks, where one tensor
is all the later layers read (`stage_input`): with the input's stage done, a later block (a
wide expansion between two narrow tensors) may set the peak, and a stage of its own holds only
its narrow input and output whole.

A layer of a patch is the layer itself with the shapes and paddings of its region: a window op
whose region starts at the image border keeps its padding there, one inside the image has none,
and taps past a clipped edge are padding exactly as in the whole image. So the same kernels give
TFLite Micro's bytes, at the cost of recomputing the overlapping halos (the MAC overhead).

Each patch runs the same steps on buffers of the same layout (the stage's scratch, sized for
its largest patch): gather (or stream) the input region, for each layer crop the regions it
reads from tensors that also feed a wider region (a residual's skip tensor), run the layer,
and scatter the last layer's region into the stage output.

Row bands that keep rows (`keep_rows`) trade the recomputed halos for line buffers: the stage
runs as a pipeline over the rows (`_band_regions`), each layer computing a few new rows per band
and keeping the rows its readers' windows need again, moved to the top of its buffer. Nothing is
computed twice and a streamed input is read once, row by row; the buffers, each about a window
of rows, all live through the stage. Cut into column strips (each strip run top to bottom), the
buffers narrow at the cost of the strips' column halos.

`choose_patches` picks the stages and their patches (or bands) with the lowest peak SRAM within
a MAC budget; `patch_graph` applies a choice. Each stage becomes one PATCH_STAGE op
(ops/patch_stage.py) that the planner places like any other op: it reads the stage input,
writes the stage output (which may overwrite input rows no later patch reads) and uses its
scratch.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import ConversionError
from ..ir import Graph, Op, Tensor
from ..ops import lookup
from .inplace import choose_inplace_depthwise, inplace_candidates
from ..planner import (PLACEMENT_ORDERS, Buffer, align_up, lifetimes, lower_bound,
                       overlap_permissions, place_buffers, plan_memory)

#: ops that read a window of their input; every other op of a stage is elementwise
WINDOW_KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D")
#: extra MACs "auto" may spend, as a fraction of the model's MACs
DEFAULT_MAC_BUDGET = 0.2
#: "auto" tries up to this many patches down and across
MAX_PATCHES = 8
#: and row bands that keep rows: at a pace of one or two bands per stage output row, up to this
#: many (finer paces add band shapes, each with code of its own), in up to MAX_STRIPS strips
MAX_BANDS = 48
MAX_STRIPS = 4
#: "auto" tries stages of up to this many layers (longer ones add up line buffers, or halos,
#: past what a cut between two stages saves)
MAX_STAGE_LAYERS = 10

#: rows [y0, y1) and columns [x0, x1) of a tensor
Region = tuple[int, int, int, int]


def _union(a: Region | None, b: Region) -> Region:
    if a is None:
        return b
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


@lru_cache(maxsize=1 << 16)  # "auto" asks for the same windows again and again
def _window(lo: int, hi: int, stride: int, pad: int, kernel: int, dil: int,
            size: int) -> tuple[int, int]:
    """Input rows [a, b) from the first to the last tap inside the image that output rows
    [lo, hi) of a window op read (with dilation, the first rows' windows may start on
    different phases: a few of them decide)."""
    def inside_taps(oy):  # the first and last tap of the window inside the image
        start = oy * stride - pad
        end = start + (kernel - 1) * dil
        first = start if start >= 0 else start + -(start // dil) * dil
        last = end if end < size else end - -((size - 1 - end) // dil) * dil
        return (first, last) if first <= last and 0 <= first and last < size else None

    firsts = [t[0] for oy in range(lo, min(hi, lo + dil)) if (t := inside_taps(oy))]
    lasts = [t[1] for oy in range(max(lo, hi - dil), hi) if (t := inside_taps(oy))]
    if not firsts or not lasts:
        return 0, 0  # only padding
    return min(firsts), max(lasts) + 1


def requirement(op: Op, index: int, out: Region) -> Region:
    """The region of input `index` that the output region `out` of `op` reads."""
    p = op.params
    if op.kind in WINDOW_KINDS and index == 0:
        return (*_window(out[0], out[1], p["stride_h"], p["pad_top"], p["k_h"],
                         p.get("dil_h", 1), p["in_h"]),
                *_window(out[2], out[3], p["stride_w"], p["pad_left"], p["k_w"],
                         p.get("dil_w", 1), p["in_w"]))
    return out  # an elementwise input, or the skip tensor of a fused residual ADD


def receptive_field(ops: list[Op]) -> tuple[int, int]:
    """Input rows and columns that one output pixel of the chain `ops` depends on (ignoring the
    border): stride 1 grows it by (k - 1) d, stride s to s (rf - 1) + (k - 1) d + 1."""
    rf_h = rf_w = 1
    for op in reversed(ops):
        if op.kind in WINDOW_KINDS:
            p = op.params
            rf_h = (rf_h - 1) * p["stride_h"] + (p["k_h"] - 1) * p.get("dil_h", 1) + 1
            rf_w = (rf_w - 1) * p["stride_w"] + (p["k_w"] - 1) * p.get("dil_w", 1) + 1
    return rf_h, rf_w


def _activation_inputs(op: Op) -> list[tuple[int, Tensor]]:
    return [(i, t) for i, t in enumerate(op.inputs) if t is not None and not t.is_const]


def _crossing(graph: Graph, first: int) -> list[Tensor]:
    """The activations made before operator position `first` (or model inputs) that an op
    from `first` on, or the model's outputs, still read: what a cut there must keep whole."""
    made = {id(t) for t in graph.inputs} | {id(t) for op in graph.ops[:first] for t in op.outputs}
    read = [t for op in graph.ops[first:] for _, t in _activation_inputs(op)] + graph.outputs
    crossing = {id(t): t for t in read if id(t) in made}
    return list(crossing.values())


def stage_input(graph: Graph, first: int) -> Tensor | str:
    """The one tensor a stage starting at operator position `first` reads (the model input for
    the first stage), or why no stage can start there."""
    if first == 0:
        if len(graph.inputs) != 1:
            return "the model has several inputs"
        x = graph.inputs[0]
        what = "the model input"
    else:
        crossing = _crossing(graph, first)
        if len(crossing) != 1:
            return (f"{len(crossing)} tensors made before operator #{graph.ops[first].index} are "
                    "read from it on; a stage starts where one tensor is all the layers after "
                    "it read (between blocks)")
        x = crossing[0]
        what = f"the input of operator #{graph.ops[first].index}"
    if x.dtype != "int8" or len(x.shape) != 4 or x.shape[0] != 1:
        return f"{what} is not one int8 NHWC image"
    if any(g is x for g in graph.outputs):
        return f"{what} is a model output"
    return x


def stage_problem(graph: Graph, split: int, first: int = 0) -> str | None:
    """Why the ops at positions [first, split) cannot run patch by patch, or None when they
    can."""
    if not 0 <= first < split <= len(graph.ops):
        return (f"a stage holds one or more of the model's {len(graph.ops)} layers (positions "
                f"{first} to {split - 1} asked)")
    x = stage_input(graph, first)
    if isinstance(x, str):
        return x
    ops = graph.ops[first:split]
    in_stage = {id(op) for op in ops}
    made = {id(x)}
    for op in ops:
        definition = lookup(op.kind)
        y = op.outputs[0]
        window = op.kind in WINDOW_KINDS
        pointwise = (definition.elementwise and "size" in op.params
                     and len(_activation_inputs(op)) == 1 and op.inputs[0].shape == y.shape)
        if not (window or pointwise):
            return (f"operator #{op.index} ({op.kind}) needs more than a region of its input "
                    "(a patch stage holds convolutions, pooling and elementwise activations)")
        if len(op.outputs) != 1 or len(y.shape) != 4 or y.dtype != "int8":
            return f"operator #{op.index} ({op.kind}) does not write one int8 NHWC tensor"
        for _, t in _activation_inputs(op):
            if id(t) not in made:
                return f"operator #{op.index} ({op.kind}) reads {t.name!r} from outside the stage"
        made.add(id(y))
    for op in ops[:-1]:
        t = op.outputs[0]
        users = graph.consumers(t)
        if any(g is t for g in graph.outputs) or any(id(u) not in in_stage for u in users):
            return f"the output of operator #{op.index} ({op.kind}) is needed after the stage"
        if not users:
            return f"the output of operator #{op.index} ({op.kind}) is never read"
    if any(id(u) not in in_stage for u in graph.consumers(x)):
        return ("the model input is read after the stage" if first == 0 else
                f"the stage's input {x.name!r} is read after the stage")
    return None


def _tiles(size: int, n: int) -> list[tuple[int, int]] | None:
    """n tiles of ceil(size / n) rows, the last one smaller; None if n does not fit."""
    step = -(-size // n)
    bounds = [min(k * step, size) for k in range(n + 1)]
    if n > size or len(set(bounds)) != n + 1:
        return None
    return list(zip(bounds, bounds[1:]))


def _region_shape(t: Tensor, r: Region) -> tuple[int, int, int, int]:
    return 1, r[1] - r[0], r[3] - r[2], t.shape[3]


def _copy_op(index: int, name: str, src: Tensor | None, dst: Tensor, *, rows: int, run: int,
             src_stride: int, dst_stride: int, src_offset: int = 0, dst_offset: int = 0) -> Op:
    return Op(index, "REGION_COPY", [src], [dst], params=dict(
        rows=rows, run=run, src_stride=src_stride, dst_stride=dst_stride, src_offset=src_offset,
        dst_offset=dst_offset, name=name))


def _patched_op(op: Op, inputs: list, out: Tensor, out_region: Region,
                in_region: Region | None) -> Op:
    """`op` on its region: the shapes and paddings of the region (see the module doc)."""
    params = dict(op.params)
    params.pop("inplace", None)  # the patch buffers are planned apart
    h, w = out_region[1] - out_region[0], out_region[3] - out_region[2]
    if op.kind in WINDOW_KINDS:
        params.update(
            in_h=in_region[1] - in_region[0], in_w=in_region[3] - in_region[2], out_h=h, out_w=w,
            pad_top=op.params["pad_top"] - out_region[0] * op.params["stride_h"] + in_region[0],
            pad_left=op.params["pad_left"] - out_region[2] * op.params["stride_w"]
            + in_region[2])
    else:
        params["size"] = h * w * out.shape[3]
    return Op(op.index, op.kind, inputs, [out], options=op.options, params=params)


@dataclass
class PatchStage:
    """The layers at positions [first, split) run in n x n patches; see the module doc."""

    split: int
    grid: tuple[int, int]  # patches down and across (row bands: the pace, see _band_regions)
    ops: list[Op]  # the stage's layers, as in the layer-by-layer graph
    input: Tensor
    output: Tensor
    streamed: bool
    first: int = 0  # the position of its first layer in the layer-by-layer graph
    tiles: list[Region] = field(default_factory=list)  # of the stage output, in patch order
    steps: list[list[Op]] = field(default_factory=list)  # per patch, the ops it runs
    #: the patch buffers, offsets relative to the stage's scratch; id(step tensor) -> buffer
    buffer_of: dict[int, Buffer] = field(default_factory=dict)
    scratch_of: dict[int, Buffer] = field(default_factory=dict)  # id(step op) -> its scratch
    arena_bytes: int = 0  # the stage's scratch: every patch buffer and kernel scratch
    macs: int = 0  # of every patch, halos included
    layer_macs: int = 0  # of the same layers run whole
    input_slack: int | None = None  # how far the stage output may reach into the input
    #: row bands that keep each layer's overlapping rows for the next band (no recomputing)
    keep_rows: bool = False
    #: id(step tensor) -> (the tensor whose bytes it shows, byte offset into them): the rows of
    #: a band inside a patch buffer, or inside the stage input
    views: dict[int, tuple[Tensor, int]] = field(default_factory=dict)
    input_starts: list[int] = field(default_factory=list)  # per patch, first input byte read
    #: row bands reading the input in place: the scratch offset of the int32 that holds the
    #: band's first input byte (the layers' functions stay the same in every band)
    band_input_slot: int | None = None

    @property
    def extra_macs(self) -> int:
        return self.macs - self.layer_macs

    @property
    def patches_text(self) -> str:
        if self.keep_rows:
            strips = f", {self.grid[1]} column strips" if self.grid[1] > 1 else ""
            return f"row bands that keep rows{strips} ({len(self.tiles)} bands)"
        return f"{self.grid[0]}x{self.grid[1]} patches"

    def describe(self) -> str:
        first, last = self.ops[0].index, self.ops[-1].index
        return f"ops #{first}-#{last} in {self.patches_text}"


def build_stage(graph: Graph, split: int, grid: int | tuple[int, int], *, first: int = 0,
                streamed: bool = False, keep_rows: bool = False) -> PatchStage:
    """The patch stage of the ops at positions [first, split) in n x n (or rows x columns)
    patches; ConversionError if it cannot be. `keep_rows`: row bands (one patch across) that
    keep the rows the next band reads again instead of recomputing them. `streamed`: the stage
    reads the model input from the caller's reader (a stage that starts at the input)."""
    down, across = (grid, grid) if isinstance(grid, int) else tuple(grid)
    text = f"{down}x{across}"
    layout = (f"row bands at a pace of {down}" + (f" in {across} column strips" if across > 1
                                                  else "")) if keep_rows else f"{text} patches"
    layers = (f"the layers from operator #{graph.ops[first].index}"
              if 0 < first < len(graph.ops) else f"the first {split} layers")

    def cannot(problem: str) -> ConversionError:
        return ConversionError(f"cannot run {layers} in {layout}: {problem}",
                               model=graph.source)

    problem = stage_problem(graph, split, first)
    if problem is None and min(down, across) < 1:
        problem = "there must be at least one patch down and across"
    if problem is None and streamed and first > 0:
        problem = "only a stage that starts at the model input can read it streamed"
    if problem is not None:
        raise cannot(problem)
    ops = graph.ops[first:split]
    x, y = stage_input(graph, first), ops[-1].outputs[0]
    stage = PatchStage(split, (down, across), ops, x, y, streamed, first, keep_rows=keep_rows,
                       layer_macs=sum(lookup(op.kind).macs(op) for op in ops))
    if keep_rows:
        strips = _tiles(y.shape[2], across)
        if strips is None:
            raise cannot(f"the stage output's {y.shape[2]} columns cannot be cut into {across} "
                         "strips")
        try:
            _plan_row_bands(stage, strips)
        except ConversionError as e:
            raise e.at(model=graph.source) from None
    else:
        rows, cols = _tiles(y.shape[1], down), _tiles(y.shape[2], across)
        if rows is None or cols is None:
            raise cannot(f"the stage output {y.shape[1]}x{y.shape[2]} cannot be cut into "
                         f"{text} patches")
        for r in rows:
            for c in cols:
                stage.tiles.append((r[0], r[1], c[0], c[1]))
        try:
            layouts = [_regions(stage, tile) for tile in stage.tiles]
        except ConversionError as e:
            raise e.at(model=graph.source) from None
        crops = _crops(stage, layouts)
        stage.steps = [_patch_steps(stage, tile, regions, wants, crops)
                       for tile, (regions, wants) in zip(stage.tiles, layouts)]
        _plan_patch_buffers(stage)
        stage.input_starts = [(regions[id(x)][0] * x.shape[2] + regions[id(x)][2]) * x.shape[3]
                              for regions, _ in layouts]
    stage.macs = sum(lookup(op.kind).macs(op) for steps in stage.steps for op in steps)
    if not streamed:
        stage.input_slack = _input_slack(stage)
    return stage


def _regions(stage: PatchStage, tile: Region):
    """(region of every stage tensor, region each op input reads) for one output tile."""
    regions: dict[int, Region] = {id(stage.output): tile}
    wants: dict[tuple[int, int], Region] = {}
    for op in reversed(stage.ops):
        out_region = regions[id(op.outputs[0])]
        for i, t in _activation_inputs(op):
            need = requirement(op, i, out_region)
            if need[0] >= need[1] or need[2] >= need[3]:
                raise ConversionError(
                    f"cannot run operator #{op.index} ({op.kind}) patch by patch: an output "
                    "region reads only padding; choose another split")
            wants[(id(op), i)] = need
            regions[id(t)] = _union(regions.get(id(t)), need)
    return regions, wants


def _crops(stage: PatchStage, layouts) -> set[tuple[int, int]]:
    """The op inputs that read less than their tensor's patch region in some patch: every
    patch crops them (the patches keep one sequence of steps, one buffer layout)."""
    ops = {id(op): op for op in stage.ops}
    return {key for regions, wants in layouts for key, need in wants.items()
            if need != regions[id(ops[key[0]].inputs[key[1]])]}


def _patch_steps(stage: PatchStage, tile: Region, regions, wants, crops) -> list[Op]:
    """The ops that compute one output tile of the stage."""
    x = stage.input
    region_x = regions[id(x)]
    local: dict[int, Tensor] = {}  # id(whole tensor) -> its patch tensor

    def patch_tensor(t: Tensor, r: Region, what: str) -> Tensor:
        return Tensor(t.index, f"{t.name} ({what})", _region_shape(t, r), t.dtype, t.quant)

    steps: list[Op] = []
    first = stage.ops[0].index
    px = local[id(x)] = patch_tensor(x, region_x, "patch")
    h, w, ch = x.shape[1:]
    run = (region_x[3] - region_x[2]) * ch
    if stage.streamed:
        steps.append(Op(first, "READ_INPUT", [], [px], params=dict(
            row=region_x[0], col=region_x[2], rows=region_x[1] - region_x[0],
            cols=region_x[3] - region_x[2])))
    else:
        steps.append(_copy_op(first, "gather", x, px, rows=region_x[1] - region_x[0], run=run,
                              src_stride=w * ch, dst_stride=run,
                              src_offset=(region_x[0] * w + region_x[2]) * ch))
    for op in stage.ops:
        inputs = list(op.inputs)
        in_region = None
        for i, t in _activation_inputs(op):
            need, have = wants[(id(op), i)], regions[id(t)]
            if i == 0:
                in_region = need
            if (id(op), i) not in crops:
                inputs[i] = local[id(t)]
                continue
            crop = patch_tensor(t, need, f"crop for #{op.index}")
            width, c = have[3] - have[2], t.shape[3]
            run = (need[3] - need[2]) * c
            steps.append(_copy_op(op.index, f"crop{i}", local[id(t)], crop,
                                  rows=need[1] - need[0], run=run, src_stride=width * c,
                                  dst_stride=run, src_offset=((need[0] - have[0]) * width
                                                              + need[2] - have[2]) * c))
            inputs[i] = crop
        out = op.outputs[0]
        local[id(out)] = patch_tensor(out, regions[id(out)], "patch")
        steps.append(_patched_op(op, inputs, local[id(out)], regions[id(out)], in_region))
    y = stage.output
    ow, c = y.shape[2], y.shape[3]
    run = (tile[3] - tile[2]) * c
    steps.append(_copy_op(stage.ops[-1].index, "scatter", local[id(y)], y,
                          rows=tile[1] - tile[0], run=run, src_stride=run, dst_stride=ow * c,
                          dst_offset=(tile[0] * ow + tile[2]) * c))
    return steps


def _plan_patch_buffers(stage: PatchStage) -> None:
    """One layout for every patch, by the planner's own rules: each patch buffer sized for the
    largest patch and live from the step that writes it to the last step that reads it; an
    output may overwrite a dying input as far as the kernel allows in every patch."""
    plans = []
    for steps in stage.steps:
        patch = Graph([], steps, [], [])
        buffers, scratch, root = lifetimes(patch)
        allowed, exact = overlap_permissions(patch, root)
        # the whole input and output live in the model's arena, outside the stage's scratch
        inside = [b for b in buffers
                  if not any(t is stage.input or t is stage.output for t in b.tensors)]
        plans.append((inside, scratch, allowed, exact))
    layout = [Buffer(b.name, 0, b.first, b.last) for b in plans[0][0]]
    scratch: dict[int, Buffer] = {}
    allowed: dict | None = None
    exact: set | None = None
    for inside, patch_scratch, patch_allowed, patch_exact in plans:
        index = {id(b): i for i, b in enumerate(inside)}
        for shared, b in zip(layout, inside, strict=True):  # every patch: the same steps
            shared.size = max(shared.size, b.size)
        for pos, b in patch_scratch.items():
            mine = scratch.setdefault(pos, Buffer(b.name, 0, pos, pos))
            mine.size = max(mine.size, b.size)
        mine = {(index[o], index[i]): v for (o, i), v in patch_allowed.items()
                if o in index and i in index}
        allowed = mine if allowed is None else {
            k: min(v, mine[k]) for k, v in allowed.items() if k in mine}
        pairs = {(index[o], index[i]) for o, i in patch_exact if o in index and i in index}
        exact = pairs if exact is None else exact & pairs
    # (the steps run no kernel in place, so no pair must start at the same byte)
    assert not exact, "patch steps run no kernel in place"
    by_pair = {(id(layout[o]), id(layout[i])): v for (o, i), v in allowed.items()}
    # the planner's orders, without its exhaustive search of small plans: "auto" plans many
    # stages
    stage.arena_bytes, _ = place_buffers(layout + list(scratch.values()), by_pair,
                                         orders=PLACEMENT_ORDERS)
    for inside, _, _, _ in plans:
        for shared, b in zip(layout, inside, strict=True):
            for t in b.tensors:
                stage.buffer_of[id(t)] = shared
    for steps in stage.steps:
        for pos, op in enumerate(steps):
            if pos in scratch:
                stage.scratch_of[id(op)] = scratch[pos]


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
    inputs = {id(op): _activation_inputs(op) for op in stage.ops}
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
            regions[id(t)] = (min(still + [before[id(t)]]), done[id(t)], *cols[id(t)])
        layouts.append(regions)
        stage.tiles.append((before[id(y)], done[id(y)], *cols[id(y)]))
        assert done != before, "every band advances"
    return layouts


def _plan_row_bands(stage: PatchStage, strips: list[tuple[int, int]]) -> None:
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
            regions, _ = _regions(stage, (0, y.shape[1], *strip))
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
                    add(_copy_op(index, "keep", b, b, rows=1,
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
            add(_copy_op(stage.ops[0].index, "gather", x,
                         view(x, (lo, hi), r[id(x)][0], "rows gathered"), rows=hi - lo,
                         run=row_bytes(x), src_stride=x.shape[2] * x.shape[3],
                         dst_stride=row_bytes(x),
                         src_offset=(lo * x.shape[2] + c0) * x.shape[3]), 0)
        for pos, op in enumerate(stage.ops, 1):
            t = op.outputs[0]
            lo, hi = new_rows(t, pos, op.index)
            if lo >= hi:
                continue  # every row this band needs was computed before
            out_region = (lo, hi, *cols[id(t)])
            inputs, in_region = list(op.inputs), None
            for i, u in _activation_inputs(op):
                need = requirement(op, i, out_region)
                if whole_rows:  # (a valid window may not reach the last columns)
                    need = (*need[:2], *cols[id(u)])
                rows = view(u, need[:2], r[id(u)][0], f"rows for #{op.index}")
                if need[2:] != cols[id(u)]:  # fewer columns than the strip has
                    crop = Tensor(u.index, f"{u.name} (crop for #{op.index})",
                                  _region_shape(u, need), u.dtype, u.quant)
                    run = (need[3] - need[2]) * u.shape[3]
                    add(_copy_op(op.index, f"crop{i}", rows, crop, rows=need[1] - need[0],
                                 run=run, src_stride=row_bytes(u), dst_stride=run,
                                 src_offset=(need[2] - cols[id(u)][0]) * u.shape[3]), pos)
                    mine = crops.setdefault((pos, i), Buffer(crop.name, 0, pos, pos))
                    mine.size = max(mine.size, crop.nbytes)
                    stage.buffer_of[id(crop)] = mine
                    rows = crop
                in_region = need if i == 0 else in_region
                inputs[i] = rows
            add(_patched_op(op, inputs, view(t, (lo, hi), r[id(t)][0], "rows"), out_region,
                            in_region), pos)
        tile = r[id(y)][:2]
        if tile[0] < tile[1]:
            width = y.shape[2] * y.shape[3]
            add(_copy_op(stage.ops[-1].index, "scatter", band[id(y)], y,
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
        for _, u in _activation_inputs(op):
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


def _input_slack(stage: PatchStage) -> int:
    """How far the stage output may start above the input (negative: below it) when the input
    dies at the stage: no patch's output may reach an input byte a later patch still reads."""
    y = stage.output
    ow, oc = y.shape[2], y.shape[3]
    starts = stage.input_starts
    slack, written = None, 0
    for k, tile in enumerate(stage.tiles[:-1]):
        written = max(written, ((tile[1] - 1) * ow + tile[3]) * oc)
        still_read = min(starts[k + 1:])
        slack = still_read - written if slack is None else min(slack, still_read - written)
    return slack if slack is not None else -y.nbytes


def patch_graph(graph: Graph, stages: list[PatchStage]) -> Graph:
    """The graph with each stage's layers replaced by one PATCH_STAGE op (a new Graph; the
    layers themselves are shared, not changed)."""
    starts = {id(s.ops[0]): s for s in stages}
    inside = {id(op) for s in stages for op in s.ops}
    ops = []
    for op in graph.ops:
        if id(op) in starts:
            s = starts[id(op)]
            ops.append(Op(op.index, "PATCH_STAGE", [] if s.streamed else [s.input], [s.output],
                          params=dict(stage=s)))
        elif id(op) not in inside:
            ops.append(op)
    return Graph(graph.tensors, ops, graph.inputs, graph.outputs, graph.source,
                 graph.description, streamed=[s.input for s in stages if s.streamed])


def _position(graph: Graph, index: int, *, first: bool) -> int:
    """The op position of operator #index (the report's # column): the first layer of a stage
    (`first`), or the first layer run whole after it (a number past the last operator: the
    stage runs to the end)."""
    for k, op in enumerate(graph.ops):
        if op.index == index and k == 0 and not first:
            raise ConversionError(f"patch split {index} leaves no layer to run in "
                                  f"patches: operator #{index} is the first; give the # of "
                                  "the first layer to run whole, e.g. the # after the first "
                                  "stride-2 block", model=graph.source)
        if op.index == index:
            return k
    if not first and graph.ops and index > graph.ops[-1].index:
        return len(graph.ops)
    layers = ", ".join(f"#{op.index}" for op in graph.ops[1:12])
    what = "the first layer of a stage" if first else "the first layer to run whole"
    raise ConversionError(f"patch {'start' if first else 'split'} {index} is not a layer of the "
                          f"converted model: give the # of {what} (one of {layers}, ...; see "
                          "the report of a conversion without patches)", model=graph.source)


def candidate_splits(graph: Graph, first: int = 0) -> list[int]:
    """Every split at which the layers from position `first` on can run patch by patch."""
    return [k for k in range(first + 1, len(graph.ops) + 1)
            if stage_problem(graph, k, first) is None]


def stage_starts(graph: Graph) -> list[int]:
    """The positions where a stage can start: the model input, and each cut between layers
    that only one tensor crosses."""
    return [p for p in range(len(graph.ops)) if not isinstance(stage_input(graph, p), str)]


@dataclass
class PatchChoice:
    """What `choose_patches` found: the stages (none: layer by layer is best) and the peaks."""

    stages: list[PatchStage]
    layer_by_layer_bytes: int  # peak SRAM without patches (input in SRAM)
    peak_bytes: int  # with the chosen stages (or without, if none)
    tried: int  # stage layouts planned


def _layouts(graph: Graph, first: int, split: int, *, streamed: bool, budget: float,
             max_patches: int):
    """The stage [first, split) in every layout "auto" tries whose extra MACs are within
    `budget`: n x m patches, and row bands at one or two bands per output row in 1 to
    MAX_STRIPS column strips. A stage after the first tries square grids and one pace only
    (there are many such stages; those are the layouts they take)."""
    later = first > 0
    for down in range(1, max_patches + 1):
        for across in range(down if later else 1, (down if later else max_patches) + 1):
            if down * across < 2:
                continue
            try:
                stage = build_stage(graph, split, (down, across), first=first, streamed=streamed)
            except ConversionError:
                break  # the output is too small for more patches across
            if stage.extra_macs > budget:
                break  # more patches across only add halo
            yield stage
    height = graph.ops[split - 1].outputs[0].shape[1]
    paces = {min(height, MAX_BANDS)} if later else {min(height, MAX_BANDS),
                                                    min(2 * height, MAX_BANDS)}
    for bands in sorted(paces):
        for strips in range(1, MAX_STRIPS + 1):
            try:
                stage = build_stage(graph, split, (bands, strips), first=first,
                                    streamed=streamed, keep_rows=True)
            except ConversionError:
                break  # the output is too narrow for more strips
            if stage.extra_macs > budget:
                break  # more strips only add halo
            yield stage


def stage_peak(graph: Graph, stage: PatchStage) -> int:
    """The arena the stage needs while it runs: its scratch beside its whole input (unless
    streamed) and output, the output over the input rows already consumed. At a cut only the
    stage's input crosses, so nothing else is live then."""
    alone = Graph(graph.tensors, stage.ops, [stage.input], [stage.output], graph.source)
    return plan_memory(patch_graph(alone, [stage])).arena_bytes


@contextmanager
def _inplace_kept(graph: Graph):
    """Whatever the block does to the layers' in-place depthwise choices, they are as they were
    after it (the patch choice tries other choices on the model's own layers)."""
    saved = {id(op): op.params.get("inplace") for op in graph.ops}
    try:
        yield
    finally:
        for op in graph.ops:
            op.params.pop("inplace", None)
            if saved[id(op)] is not None:
                op.params["inplace"] = saved[id(op)]


def _layer_needs(graph: Graph, layered) -> list[int]:
    """Per op position, a lower bound of the arena while that op runs layer by layer, each
    depthwise layer in place or not, whichever needs less there (with the first layers in
    patches, later ones may set the peak). `layered`: the graph's own plan."""
    with _inplace_kept(graph):
        for op in inplace_candidates(graph):
            op.params["inplace"] = True
        plans = [layered, plan_memory(graph)]
    return [min(lower_bound(p.buffers, p.overlaps, pos + 1, pos) for p in plans)
            for pos in range(len(graph.ops))]


def finish_patches(graph: Graph, stages: list[PatchStage], *, dsp: bool = False) -> Graph:
    """The graph with the stages in it, and the in-place depthwise layers chosen again for it
    (the choice made layer by layer kept the faster kernel wherever the old peak did not move;
    after the stages a layer in place may lower the new one)."""
    patched = patch_graph(graph, stages)
    for op in inplace_candidates(patched):
        op.params.pop("inplace", None)
    choose_inplace_depthwise(patched, dsp=dsp)
    return patched


def planned_peak(graph: Graph, stages: list[PatchStage]) -> int:
    """The peak SRAM of the model with these stages (the graph's layers left as they were)."""
    with _inplace_kept(graph):
        return plan_memory(finish_patches(graph, stages)).arena_bytes


def _cheapest_cover(needs: list[int], options: dict[int, list[tuple[PatchStage, int]]],
                    limit: int, streamed: bool):
    """The stages that keep every op position within `limit` bytes for the fewest extra MACs,
    then the fewest stages and patches: (extra MACs, stages, patches, the stages) or None. An
    op runs layer by layer or inside one stage (a streamed input: the first op in a stage)."""
    best: list[tuple | None] = [None] * (len(needs) + 1)
    best[0] = (0, 0, 0, [])

    def relax(position: int, cost: tuple) -> None:
        if best[position] is None or cost[:3] < best[position][:3]:
            best[position] = cost

    for pos, need in enumerate(needs):
        cost = best[pos]
        if cost is None:
            continue
        if need <= limit and not (streamed and pos == 0):
            relax(pos + 1, cost)
        for stage, peak in options.get(pos, []):
            if peak <= limit:
                relax(stage.split, (cost[0] + stage.extra_macs, cost[1] + 1,
                                    cost[2] + len(stage.tiles), cost[3] + [stage]))
    return best[-1]


def choose_patches(graph: Graph, *, mac_budget: float = DEFAULT_MAC_BUDGET,
                   streamed: bool = False, max_patches: int = MAX_PATCHES) -> PatchChoice:
    """The patch stages with the lowest peak SRAM whose extra MACs together stay within
    `mac_budget` x the model's MACs (fewer extra MACs, then fewer stages and patches break
    ties). A stage starts at the model input or at a cut between blocks and holds up to
    MAX_STAGE_LAYERS layers in patches (up to `max_patches` each way) or row bands; the layers
    between stages run whole. Every stage layout is planned alone once; then, for each peak
    limit from the lowest up, the cheapest stages that keep every layer within it (a shortest
    path over the op positions), until the limit passes the best peak planned. Streamed
    input: the caller supplies the input regions to the first stage, so the input is not in
    the arena."""
    if not mac_budget >= 0:
        raise ConversionError(f"the MAC budget {mac_budget} must be >= 0 (0.2: 20% extra MACs)")
    layered = plan_memory(graph)
    base = layered.arena_bytes
    budget = mac_budget * sum(lookup(op.kind).macs(op) for op in graph.ops)
    needs = _layer_needs(graph, layered)
    options, tried = _stage_options(graph, needs, streamed=streamed, budget=budget,
                                    max_patches=max_patches)
    limits = sorted(set(needs) | {peak for found in options.values() for _, peak in found})
    best: tuple | None = None
    planned: dict[tuple, int] = {}
    for limit in limits:
        if best is not None and limit >= best[0][0]:
            break  # the lowest limits give the lowest plans: a cover for a higher one may
            # spend its MACs where the peak is not
        cover = _cheapest_cover(needs, options, limit, streamed)
        if cover is None or cover[0] > budget or not cover[3]:
            continue
        key = tuple(id(s) for s in cover[3])
        if key not in planned:
            planned[key] = planned_peak(graph, cover[3])
        rank = (planned[key], *cover[:3])
        if best is None or rank < best[0]:
            best = (rank, cover[3])
    if best is None or (not streamed and best[0][0] >= base):
        return PatchChoice([], base, base, tried)
    return PatchChoice(best[1], base, best[0][0], tried)


def _stage_options(graph: Graph, needs: list[int], *, streamed: bool, budget: float,
                   max_patches: int) -> tuple[dict[int, list[tuple[PatchStage, int]]], int]:
    """The stage layouts worth a place in a cover, by first position, each with its own peak
    (only those no other layout of its layers beats on both peak and extra MACs); and how many
    were planned. A stage whose whole input or output already needs as much as its layers
    need layer by layer cannot help, nor one whose layers need no more than what every plan
    needs anyway."""
    spans = [(first, split) for first in stage_starts(graph)
             for split in range(first + 1, min(len(graph.ops), first + MAX_STAGE_LAYERS) + 1)
             if stage_problem(graph, split, first) is None]
    # whatever its layout, a stage holds its output whole, and its input unless streamed
    whole = {(a, b): max(graph.ops[b - 1].outputs[0].nbytes,
                         0 if streamed and a == 0 else stage_input(graph, a).nbytes)
             for a, b in spans}
    # each layer runs whole or in a stage: no plan peaks below this
    floor = max(min(([] if streamed and pos == 0 else [need])
                    + [whole[(a, b)] for a, b in spans if a <= pos < b], default=need)
                for pos, need in enumerate(needs))
    options: dict[int, list[tuple[PatchStage, int]]] = {}
    tried = 0
    for first, split in spans:
        if max(needs[first:split]) <= max(floor, whole[(first, split)]):
            continue
        layouts = [(stage, stage_peak(graph, stage))
                   for stage in _layouts(graph, first, split, streamed=streamed and first == 0,
                                         budget=budget, max_patches=max_patches)]
        tried += len(layouts)
        options.setdefault(first, []).extend(
            (s, peak) for s, peak in layouts
            if not any(p <= peak and o.extra_macs <= s.extra_macs
                       and (p, o.extra_macs) != (peak, s.extra_macs) for o, p in layouts))
    return options, tried


def parse_patch_option(patch) -> list[dict] | dict | None:
    """`patch` of convert(): None, "auto" ({"auto": True}), or stages: {"split": L, "patches":
    n or (rows, columns)} runs the layers before operator #L (the report's # column) in patches,
    "first": F starts the stage at operator #F instead of the model input, "keep_rows": True
    makes it row bands that keep the rows the next band reads ((bands, strips): the pace and
    the column strips); a list of such stages for several. The CLI's text: "none", "auto", or
    stages separated by commas, each "L:N", "L:RxC", "L:Brows" or "L:BxSrows", with "F-"
    before L for a stage from operator #F. Returns a list of stages with every key."""
    if patch is None or patch == "none":
        return None
    if patch == "auto":
        return {"auto": True}
    parts = (patch.split(",") if isinstance(patch, str) else
             patch if isinstance(patch, list) and patch else [patch])
    stages = [_parse_stage(part) for part in parts]
    if None in stages:
        raise ConversionError(
            f"patch option {patch!r} is not understood: use None (layer by layer), 'auto', or "
            "{'split': L, 'patches': N or (ROWS, COLUMNS)} to run the layers before operator "
            "#L in patches, plus 'keep_rows': True for row bands that keep the rows they share "
            "and 'first': F to start the stage at operator #F (a list of them for several "
            "stages); CLI: --patch auto, or stages separated by commas, each L:N, "
            "L:ROWSxCOLUMNS, L:BANDSrows or L:BANDSxSTRIPSrows, with F- before L for a stage "
            "from operator #F (e.g. --patch 6:8x8,6-21:48rows)")
    return stages


def _parse_stage(part) -> dict | None:
    """One stage of the patch option (see parse_patch_option), or None if not understood."""
    if isinstance(part, str) and part.count(":") == 1:
        where, grid = part.split(":")
        keep = grid.endswith("rows")
        sizes = grid[:-len("rows")].split("x") if keep else grid.lower().split("x")
        first, _, split = where.rpartition("-")
        if not (split.strip().isdigit() and (not first or first.strip().isdigit())
                and len(sizes) in (1, 2) and all(v.strip().isdigit() for v in sizes)):
            return None
        n = tuple(int(v) for v in sizes)
        n = (n[0], 1) if keep and len(n) == 1 else n * 2 if len(n) == 1 else n
        return {"first": int(first) if first else None, "split": int(split), "patches": n,
                "keep_rows": keep}
    if isinstance(part, dict) and set(part) - {"keep_rows", "first"} == {"split", "patches"}:
        n = part["patches"]
        n = (n, n) if isinstance(n, int) else tuple(n) if isinstance(n, (tuple, list)) else ()
        keep, first = part.get("keep_rows", False), part.get("first")
        if _is_int(part["split"]) and len(n) == 2 and all(_is_int(v) for v in n) and (
                isinstance(keep, bool)) and (first is None or _is_int(first)):
            return {"first": first, "split": part["split"], "patches": n, "keep_rows": keep}
    return None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass
class PatchSummary:
    """What the patch stages of a conversion do to memory and MACs (for the report)."""

    stages: list[PatchStage]  # empty: "auto" found nothing better than layer by layer
    layer_by_layer_bytes: int  # peak SRAM without patches, the input in SRAM
    in_sram_bytes: int  # peak SRAM with the stages, the input in SRAM
    streamed_bytes: int | None  # with the input streamed (None: no stage starts at the input)
    model_macs: int  # of the model run layer by layer

    @property
    def extra_macs(self) -> int:
        return sum(s.extra_macs for s in self.stages)

    @property
    def streamed(self) -> bool:
        return any(s.streamed for s in self.stages)


def _spans(graph: Graph, specs: list[dict]) -> list[tuple[int, int, tuple[int, int], bool]]:
    """(first, split, patches, keep_rows) of the stages the user named (see
    parse_patch_option), the report's #s turned into op positions."""
    return [(0 if spec["first"] is None else _position(graph, spec["first"], first=True),
             _position(graph, spec["split"], first=False), spec["patches"], spec["keep_rows"])
            for spec in specs]


def _build_stages(graph: Graph, spans) -> list[PatchStage]:
    """The stages of `spans` (see _spans), input in SRAM, in model order, not overlapping."""
    stages = sorted((build_stage(graph, split, grid, first=first, keep_rows=keep)
                     for first, split, grid, keep in spans), key=lambda s: s.first)
    for before, after in zip(stages, stages[1:]):
        if after.first < before.split:
            raise ConversionError(f"patch stages ops #{before.ops[0].index}-"
                                  f"#{before.ops[-1].index} and #{after.ops[0].index}-"
                                  f"#{after.ops[-1].index} overlap: give each layer to one "
                                  "stage at most", model=graph.source)
    return stages


def apply_patches(graph: Graph, patch, *, stream_input: bool = False,
                  mac_budget: float = DEFAULT_MAC_BUDGET,
                  dsp: bool = False) -> tuple[Graph, PatchSummary | None]:
    """The graph to plan and emit for convert()'s `patch` and `stream_input` options, and what
    the patch stages change (None when patches are off). `dsp`: the in-place depthwise
    layers chosen again for Cortex-M DSP cores."""
    option = parse_patch_option(patch)
    if option is None:
        if stream_input:
            raise ConversionError("a streamed input needs a patch stage: pass patch='auto' (CLI "
                                  "--patch auto) or an explicit split", model=graph.source)
        return graph, None
    base = plan_memory(graph).arena_bytes
    total = sum(lookup(op.kind).macs(op) for op in graph.ops)
    if isinstance(option, dict):  # auto
        chosen = choose_patches(graph, mac_budget=mac_budget, streamed=stream_input).stages
        if not chosen:
            if stream_input:
                raise ConversionError("no first layers of this model can run patch by patch "
                                      f"within a MAC budget of {mac_budget:.0%}, so the input "
                                      "cannot be streamed", model=graph.source)
            return graph, PatchSummary([], base, base, None, total)
        spans = [(s.first, s.split, s.grid, s.keep_rows) for s in chosen]
    else:
        spans = _spans(graph, option)
    in_sram = _build_stages(graph, spans)
    if stream_input and in_sram[0].first != 0:
        raise ConversionError("a streamed input needs a stage that starts at the model input "
                              "(a stage L:... without F-)", model=graph.source)
    streamed = None  # the same stages, the first reading the input from the caller's reader
    if in_sram[0].first == 0:
        first = in_sram[0]
        streamed = [build_stage(graph, first.split, first.grid, streamed=True,
                                keep_rows=first.keep_rows)] + in_sram[1:]
    stages, other = (streamed, in_sram) if stream_input else (in_sram, streamed)
    other_peak = planned_peak(graph, other) if other else None
    patched = finish_patches(graph, stages, dsp=dsp)
    peak = plan_memory(patched).arena_bytes
    summary = PatchSummary(stages, base, other_peak if stream_input else peak,
                           peak if stream_input else other_peak, total)
    return patched, summary
