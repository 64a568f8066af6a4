"""convert()'s `patch` and `stream_input` options: parsed, the named or chosen stages built,
the graph to plan and emit, and what the stages change (`PatchSummary`, for the report)."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConversionError
from ...ir import Graph
from ...ops import lookup
from ...planner import plan_memory
from .choose import DEFAULT_MAC_BUDGET, choose_patches, finish_patches, planned_peak
from .stage import build_stage
from .steps import PatchStage


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
