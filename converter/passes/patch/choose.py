"""`choose_patches`: the stages and layouts with the lowest peak SRAM within a MAC budget
(patch="auto"), and the peak of a model with given stages."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from ...errors import ConversionError
from ...ir import Graph
from ...ops import lookup
from ...planner import lower_bound, plan_memory
from ..inplace import choose_inplace_depthwise, inplace_candidates
from .stage import build_stage, patch_graph, stage_input, stage_problem, stage_starts
from .steps import PatchStage

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


def cheapest_cover(needs: list[int], options: dict[int, list[tuple[PatchStage, int]]],
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
        cover = cheapest_cover(needs, options, limit, streamed)
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
