"""A stage in n x m patches: each output tile's regions grown back through the layers, the
steps of one patch (gather or read, crops, the layers, scatter) and one buffer layout that
serves every patch."""
from __future__ import annotations

from ...errors import ConversionError
from ...ir import Graph, Op, Tensor
from ...planner import PLACEMENT_ORDERS, Buffer, lifetimes, overlap_permissions, place_buffers
from .geometry import Region, activation_inputs, region_shape, requirement, union
from .steps import PatchStage, copy_op, patched_op


def tile_regions(stage: PatchStage, tile: Region):
    """(region of every stage tensor, region each op input reads) for one output tile."""
    regions: dict[int, Region] = {id(stage.output): tile}
    wants: dict[tuple[int, int], Region] = {}
    for op in reversed(stage.ops):
        out_region = regions[id(op.outputs[0])]
        for i, t in activation_inputs(op):
            need = requirement(op, i, out_region)
            if need[0] >= need[1] or need[2] >= need[3]:
                raise ConversionError(
                    f"cannot run operator #{op.index} ({op.kind}) patch by patch: an output "
                    "region reads only padding; choose another split")
            wants[(id(op), i)] = need
            regions[id(t)] = union(regions.get(id(t)), need)
    return regions, wants


def cropped_inputs(stage: PatchStage, layouts) -> set[tuple[int, int]]:
    """The op inputs that read less than their tensor's patch region in some patch: every
    patch crops them (the patches keep one sequence of steps, one buffer layout)."""
    ops = {id(op): op for op in stage.ops}
    return {key for regions, wants in layouts for key, need in wants.items()
            if need != regions[id(ops[key[0]].inputs[key[1]])]}


def patch_steps(stage: PatchStage, tile: Region, regions, wants, crops) -> list[Op]:
    """The ops that compute one output tile of the stage."""
    x = stage.input
    region_x = regions[id(x)]
    local: dict[int, Tensor] = {}  # id(whole tensor) -> its patch tensor

    def patch_tensor(t: Tensor, r: Region, what: str) -> Tensor:
        return Tensor(t.index, f"{t.name} ({what})", region_shape(t, r), t.dtype, t.quant)

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
        steps.append(copy_op(first, "gather", x, px, rows=region_x[1] - region_x[0], run=run,
                              src_stride=w * ch, dst_stride=run,
                              src_offset=(region_x[0] * w + region_x[2]) * ch))
    for op in stage.ops:
        inputs = list(op.inputs)
        in_region = None
        for i, t in activation_inputs(op):
            need, have = wants[(id(op), i)], regions[id(t)]
            if i == 0:
                in_region = need
            if (id(op), i) not in crops:
                inputs[i] = local[id(t)]
                continue
            crop = patch_tensor(t, need, f"crop for #{op.index}")
            width, c = have[3] - have[2], t.shape[3]
            run = (need[3] - need[2]) * c
            steps.append(copy_op(op.index, f"crop{i}", local[id(t)], crop,
                                  rows=need[1] - need[0], run=run, src_stride=width * c,
                                  dst_stride=run, src_offset=((need[0] - have[0]) * width
                                                              + need[2] - have[2]) * c))
            inputs[i] = crop
        out = op.outputs[0]
        local[id(out)] = patch_tensor(out, regions[id(out)], "patch")
        steps.append(patched_op(op, inputs, local[id(out)], regions[id(out)], in_region))
    y = stage.output
    ow, c = y.shape[2], y.shape[3]
    run = (tile[3] - tile[2]) * c
    steps.append(copy_op(stage.ops[-1].index, "scatter", local[id(y)], y,
                          rows=tile[1] - tile[0], run=run, src_stride=run, dst_stride=ow * c,
                          dst_offset=(tile[0] * ow + tile[2]) * c))
    return steps


def plan_patch_buffers(stage: PatchStage) -> None:
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
