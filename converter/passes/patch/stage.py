"""Where a patch stage can be (its input, the layers it may hold), building one in patches or
row bands, and the graph with stages in it (one PATCH_STAGE op each)."""
from __future__ import annotations

from ...errors import ConversionError
from ...ir import Graph, Op, Tensor
from ...ops import lookup
from ...ops.base import OpDef
from .bands import plan_row_bands
from .geometry import Region, activation_inputs, tiles
from .grid import cropped_inputs, patch_steps, plan_patch_buffers, tile_regions
from .steps import PatchStage


def _crossing(graph: Graph, first: int) -> list[Tensor]:
    """The activations made before operator position `first` (or model inputs) that an op
    from `first` on, or the model's outputs, still read: what a cut there must keep whole."""
    made = {id(t) for t in graph.inputs} | {id(t) for op in graph.ops[:first] for t in op.outputs}
    read = [t for op in graph.ops[first:] for _, t in activation_inputs(op)] + graph.outputs
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


def patch_role(definition) -> str | None:
    """How an operator runs inside a patch stage: "window" (an output region reads a window
    region of input 0: convolutions, pooling), "pointwise" (an elementwise op whose parameters
    hold the element count a region changes: activations), or None (it needs more than a
    region of its input)."""
    if type(definition).window is not OpDef.window:
        return "window"
    if definition.elementwise and "size" in getattr(definition, "fields", ()):
        return "pointwise"
    return None


def stage_problem(graph: Graph, split: int, first: int = 0) -> str | None:
    """Why the ops at positions [first, split) cannot run patch by patch, or None when they
    can."""
    if not 0 <= first < split <= len(graph.ops):
        return (f"a stage holds one or more of the model's {len(graph.ops)} layers (positions "
                f"{first} to {split - 1} asked)")
    x = stage_input(graph, first)
    if isinstance(x, str):
        return x
    if x.is_state:
        return (f"the stage's input {x.name!r} is a streaming model's state (kept between "
                "invokes, outside the arena); start the stage after it")
    ops = graph.ops[first:split]
    in_stage = {id(op) for op in ops}
    made = {id(x)}
    for op in ops:
        role = patch_role(lookup(op.kind))
        y = op.outputs[0]
        if role is None or role == "pointwise" and not (
                len(activation_inputs(op)) == 1 and op.inputs[0].shape == y.shape):
            return (f"operator #{op.index} ({op.kind}) needs more than a region of its input "
                    "(a patch stage holds convolutions, pooling and elementwise activations)")
        if len(op.outputs) != 1 or len(y.shape) != 4 or y.dtype != "int8":
            return f"operator #{op.index} ({op.kind}) does not write one int8 NHWC tensor"
        for _, t in activation_inputs(op):
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
        strips = tiles(y.shape[2], across)
        if strips is None:
            raise cannot(f"the stage output's {y.shape[2]} columns cannot be cut into {across} "
                         "strips")
        try:
            plan_row_bands(stage, strips)
        except ConversionError as e:
            raise e.at(model=graph.source) from None
    else:
        rows, cols = tiles(y.shape[1], down), tiles(y.shape[2], across)
        if rows is None or cols is None:
            raise cannot(f"the stage output {y.shape[1]}x{y.shape[2]} cannot be cut into "
                         f"{text} patches")
        for r in rows:
            for c in cols:
                stage.tiles.append(Region(r[0], r[1], c[0], c[1]))
        try:
            layouts = [tile_regions(stage, tile) for tile in stage.tiles]
        except ConversionError as e:
            raise e.at(model=graph.source) from None
        crops = cropped_inputs(stage, layouts)
        stage.steps = [patch_steps(stage, tile, regions, wants, crops)
                       for tile, (regions, wants) in zip(stage.tiles, layouts)]
        plan_patch_buffers(stage)
        stage.input_starts = [(regions[id(x)][0] * x.shape[2] + regions[id(x)][2]) * x.shape[3]
                              for regions, _ in layouts]
    stage.macs = sum(lookup(op.kind).macs(op) for steps in stage.steps for op in steps)
    if not streamed:
        stage.input_slack = _input_slack(stage)
    return stage


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


def candidate_splits(graph: Graph, first: int = 0) -> list[int]:
    """Every split at which the layers from position `first` on can run patch by patch."""
    return [k for k in range(first + 1, len(graph.ops) + 1)
            if stage_problem(graph, k, first) is None]


def stage_starts(graph: Graph) -> list[int]:
    """The positions where a stage can start: the model input, and each cut between layers
    that only one tensor crosses."""
    return [p for p in range(len(graph.ops)) if not isinstance(stage_input(graph, p), str)]
