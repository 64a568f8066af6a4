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
runs as a pipeline over the rows (`bands`), each layer computing a few new rows per band
and keeping the rows its readers' windows need again, moved to the top of its buffer. Nothing is
computed twice and a streamed input is read once, row by row; the buffers, each about a window
of rows, all live through the stage. Cut into column strips (each strip run top to bottom), the
buffers narrow at the cost of the strips' column halos.

`choose_patches` picks the stages and their patches (or bands) with the lowest peak SRAM within
a MAC budget; `patch_graph` applies a choice. Each stage becomes one PATCH_STAGE op
(ops/patch_stage.py) that the planner places like any other op: it reads the stage input,
writes the stage output (which may overwrite input rows no later patch reads) and uses its
scratch.

The package, by concept: `geometry` (regions, windows, receptive fields), `steps` (a stage and
the ops its patches run), `grid` (patches), `bands` (row bands that keep rows), `stage` (where
a stage can be, building one, the patched graph), `choose` (patch="auto"), `options`
(convert()'s options, the summary for the report).
"""
from __future__ import annotations

from .choose import (DEFAULT_MAC_BUDGET, MAX_BANDS, MAX_PATCHES, MAX_STAGE_LAYERS, MAX_STRIPS,
                     PatchChoice, cheapest_cover, choose_patches, finish_patches, planned_peak,
                     stage_peak)
from .geometry import Region, receptive_field, requirement
from .options import PatchSummary, apply_patches, parse_patch_option
from .stage import (build_stage, candidate_splits, patch_graph, stage_input, stage_problem,
                    stage_starts)
from .steps import PatchStage

__all__ = ["DEFAULT_MAC_BUDGET", "MAX_BANDS", "MAX_PATCHES", "MAX_STAGE_LAYERS", "MAX_STRIPS",
           "PatchChoice", "PatchStage", "PatchSummary", "Region",
           "apply_patches", "build_stage", "candidate_splits", "cheapest_cover",
           "choose_patches", "finish_patches", "parse_patch_option", "patch_graph",
           "planned_peak", "receptive_field", "requirement", "stage_input", "stage_peak",
           "stage_problem", "stage_starts"]
