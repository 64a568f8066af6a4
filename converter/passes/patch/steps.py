"""A patch stage (`PatchStage`) and the ops its patches run: its layers on regions
(`patched_op`) and the REGION_COPY ops that move regions between buffers (`copy_op`)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ...ir import Op, Tensor
from ...ops import lookup
from ...planner import Buffer
from .geometry import Region


def copy_op(index: int, name: str, src: Tensor | None, dst: Tensor, *, rows: int, run: int,
             src_stride: int, dst_stride: int, src_offset: int = 0, dst_offset: int = 0) -> Op:
    return Op(index, "REGION_COPY", [src], [dst], params=dict(
        rows=rows, run=run, src_stride=src_stride, dst_stride=dst_stride, src_offset=src_offset,
        dst_offset=dst_offset, name=name))


def patched_op(op: Op, inputs: list, out: Tensor, out_region: Region,
               in_region: Region | None) -> Op:
    """`op` on its region: the shapes and paddings of the region (see the package doc)."""
    params = dict(op.params)
    params.pop("inplace", None)  # the patch buffers are planned apart
    params.update(lookup(op.kind).region_params(op, in_region, out_region))
    return Op(op.index, op.kind, inputs, [out], options=op.options, params=params)


@dataclass
class PatchStage:
    """The layers at positions [first, split) run in n x n patches; see the package doc."""

    split: int
    grid: tuple[int, int]  # patches down and across (row bands: the pace, see bands.py)
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
