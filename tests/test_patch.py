"""Patch-based inference (MCUNetV2): with the first layers run patch by patch, the generated C
still gives TFLite Micro's bytes, with the input in SRAM or streamed, and its memory is what
the report says."""
from __future__ import annotations

import itertools
import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from conftest import OTHER_PATHS, check_bit_exact, static_data_bytes
from tflm_mcunet import ConversionError, compile_host, convert
from tflm_mcunet.converter.ir import Op
from tflm_mcunet.converter.passes.patch import (parse_patch_option, receptive_field,
                                                requirement)
from tflm_mcunet.converter.ops.base import same_padding, window_output_size

EXAMPLES = int(os.environ.get("TFLM_MCUNET_PATCH_EXAMPLES", "30"))


# ---------------------------------------------------------------------------------------------
# receptive fields and regions, against the windows themselves
# ---------------------------------------------------------------------------------------------

def _window_op(size, kernel, stride, dil, padding):
    out = window_output_size(padding, size, stride, dil, kernel)
    pad = same_padding(size, out, stride, dil, kernel) if padding == "SAME" else 0
    return Op(0, "CONV_2D", [], [], params=dict(
        in_h=size, in_w=size, out_h=out, out_w=out, k_h=kernel, k_w=kernel, stride_h=stride,
        stride_w=stride, dil_h=dil, dil_w=dil, pad_top=pad, pad_left=pad)), out


@pytest.mark.parametrize("size,kernel,stride,dil,padding", [
    (s, k, st_, d, p) for s, k, st_, d, p in itertools.product(
        (7, 8, 12, 13), (1, 3, 5, 7), (1, 2), (1, 2), ("SAME", "VALID"))
    if p == "SAME" or s >= (k - 1) * d + 1])
def test_region_is_exactly_the_taps_inside_the_image(size, kernel, stride, dil, padding):
    """Input rows read by output rows [lo, hi): every tap of every window, clipped to the
    image (TFLite's SAME padding puts the odd pixel after: asymmetric for stride 2)."""
    op, out = _window_op(size, kernel, stride, dil, padding)
    for lo in range(out):
        for hi in range(lo + 1, out + 1):
            taps = [oy * stride - op.params["pad_top"] + k * dil
                    for oy in range(lo, hi) for k in range(kernel)]
            inside = [t for t in taps if 0 <= t < size]
            region = requirement(op, 0, (lo, hi, lo, hi))
            assert region[:2] == (min(inside), max(inside) + 1)
            assert region[2:] == region[:2]


def test_receptive_field_grows_as_mcunetv2_says():
    ops = [_window_op(64, 3, 2, 1, "SAME")[0], _window_op(32, 3, 1, 1, "SAME")[0],
           _window_op(32, 5, 2, 1, "SAME")[0]]
    # backwards: 1 -> 5 (k 5, s 2: 2(1-1)+5) -> 7 (k 3, s 1: +2) -> 15 (k 3, s 2: 2(7-1)+3)
    assert receptive_field(ops) == (15, 15)


def test_patch_option_forms():
    def stage(split, patches, keep_rows=False, first=None):
        return {"first": first, "split": split, "patches": patches, "keep_rows": keep_rows}

    assert parse_patch_option(None) is None and parse_patch_option("none") is None
    assert parse_patch_option("auto") == {"auto": True}
    assert parse_patch_option("7:3") == [stage(7, (3, 3))]
    assert parse_patch_option("7:2x4") == [stage(7, (2, 4))]
    assert parse_patch_option("7:20rows") == [stage(7, (20, 1), True)]
    assert parse_patch_option("7:20x3rows")[0]["patches"] == (20, 3)
    assert parse_patch_option("7:3,7-12:20rows") == [stage(7, (3, 3)),
                                                     stage(12, (20, 1), True, first=7)]
    assert parse_patch_option({"split": 7, "patches": 3}) == [stage(7, (3, 3))]
    assert parse_patch_option({"split": 7, "patches": (9, 1), "keep_rows": True})[0]["keep_rows"]
    assert parse_patch_option([{"split": 7, "patches": 3},
                               {"first": 7, "split": 9, "patches": 2}])[1] == stage(
        9, (2, 2), first=7)
    for bad in ("7", "7x3", "a:3", {"split": 7}, {"split": True, "patches": 2}, "7:3x3x3",
                "7:rows", "7:3x1x1rows", {"split": 7, "patches": 3, "keep_rows": 1}, "7:3,",
                "x-7:3", [], {"first": "7", "split": 9, "patches": 2}):
        with pytest.raises(ConversionError, match="patch option"):
            parse_patch_option(bad)


def test_cheapest_cover_keeps_every_layer_under_the_limit():
    from types import SimpleNamespace

    from tflm_mcunet.converter.passes.patch import cheapest_cover

    def stage(first, split, macs, tiles=4):
        return SimpleNamespace(first=first, split=split, extra_macs=macs, tiles=[0] * tiles)
    needs = [90, 100, 40, 120, 30]  # what each layer needs run whole
    a, b, c, d = stage(0, 2, 0), stage(0, 2, 5, 2), stage(2, 4, 7), stage(3, 4, 3)
    options = {0: [(a, 60), (b, 50)], 2: [(c, 45)], 3: [(d, 70)]}
    assert cheapest_cover(needs, options, 130, False)[:3] == (0, 0, 0)  # all layers whole
    assert cheapest_cover(needs, options, 100, False)[3] == [d]  # only the layer above it
    assert cheapest_cover(needs, options, 80, False)[3] == [a, d]  # fewest extra MACs
    assert cheapest_cover(needs, options, 55, False)[3] == [b, c]
    assert cheapest_cover(needs, options, 40, False) is None
    # a streamed input: the first layer is in a stage, even where it needs little run whole
    assert cheapest_cover(needs, options, 130, True)[3] == [a]


def test_repeated_bands_are_written_as_loops():
    from tflm_mcunet.converter.ops.patch_stage import repeats

    def band(k):  # offsets moving on by 64 bytes and 2 rows a band; a function name kept
        return [f"copy(&p, arena + {100 + 64 * k}, arena + 8);", f"read(row {2 * k}, 3);",
                "model_op3_2();"]
    bands = [["first();"]] + [band(k) for k in range(5)] + [["last();"]]
    runs = repeats(bands)
    assert [(first, period, count) for first, period, count, _ in runs] == [
        (0, 1, 1), (1, 1, 5), (6, 1, 1)]
    assert runs[1][3] == ["copy(&p, arena + (100 + 64 * run), arena + 8);",
                          "read(row (0 + 2 * run), 3);", "model_op3_2();"]
    # two alternating shapes repeat with a period of 2; a step that changes breaks a run
    alternating = [[f"a({10 * k});"] if k % 2 == 0 else ["b();"] for k in range(6)]
    assert [r[1:3] for r in repeats(alternating)] == [(2, 3)]
    assert [r[2] for r in repeats([["x(0);"], ["x(1);"], ["x(3);"]])] == [2, 1]


# ---------------------------------------------------------------------------------------------
# the zoo with patches: TFLite Micro's bytes, memory as declared, lower than layer by layer
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["mcunet-in1", "mcunet-in3", "mbv2-w0.35-r144",
                                  "proxyless-w0.3-r176", "mobilenet_v2_0.35_96"])
@pytest.mark.parametrize("streamed", [False, True], ids=["input-in-sram", "input-streamed"])
def test_zoo_with_patches_is_bit_exact(zoo_tflite, tmp_path, name, streamed):
    conversion = check_bit_exact(zoo_tflite(name), tmp_path / "c", samples=2, patch="auto",
                                 stream_input=streamed)
    report = conversion.report
    p = report.patch
    assert p.stages and p.streamed == streamed and p.stages[0].streamed == streamed
    assert report.peak_sram_bytes == (p.streamed_bytes if streamed else p.in_sram_bytes)
    assert report.peak_sram_bytes < p.layer_by_layer_bytes
    assert 0 <= p.extra_macs <= 0.2 * p.model_macs
    if all(s.keep_rows and s.grid[1] == 1 for s in p.stages):  # each row computed once
        assert p.extra_macs == 0
    assert report.macs == p.model_macs + p.extra_macs
    # the arena the C declares is the peak reported (scratch of the patches included)
    assert static_data_bytes(tmp_path / "c") == report.peak_sram_bytes
    text = report.to_markdown()
    assert text.count("Patch stage: operators #") == text.count("PATCH_STAGE") == len(p.stages)
    for before, after in zip(p.stages, p.stages[1:]):  # in model order, apart
        assert before.split <= after.first


def test_streamed_model_reads_each_region_inside_the_image(zoo_tflite, tmp_path):
    conversion = convert(zoo_tflite("mcunet-in1"), tmp_path / "c", patch="10:3",
                         stream_input=True)
    host = compile_host(tmp_path / "c")
    assert host.streamed
    host.invoke(np.zeros(host.inputs[0]["shape"], np.int8))
    assert len(host.regions) == 9  # one per patch, each inside the image (checked by invoke)
    covered = np.zeros(host.inputs[0]["shape"][1:3], bool)
    for row, col, rows, cols in host.regions:
        covered[row:row + rows, col:col + cols] = True
    assert covered.all()
    # the streamed input is not in the arena: less than the whole image plus the rest
    assert conversion.report.peak_sram_bytes == conversion.report.patch.streamed_bytes
    assert "invoke_streamed" in (tmp_path / "c" / "model.h").read_text()


@pytest.mark.parametrize("streamed", [False, True], ids=["input-in-sram", "input-streamed"])
def test_row_bands_compute_and_read_every_row_once(zoo_tflite, tmp_path, streamed):
    model = zoo_tflite("mcunet-in1")
    conversion = check_bit_exact(model, tmp_path / "c", samples=2, patch="13:24rows",
                                 stream_input=streamed)
    p = conversion.report.patch
    assert p.stages[0].keep_rows and p.extra_macs == 0
    assert conversion.report.macs == p.model_macs
    assert "row bands that keep rows" in conversion.report.to_markdown()
    assert static_data_bytes(tmp_path / "c") == conversion.report.peak_sram_bytes
    # the bands between the first and the last share their layers' code, in a loop
    source = (tmp_path / "c" / "model.c").read_text()
    assert "for (int32_t run = 0; run <" in source
    assert source.count("static TME_LAYER void") < 3 * len(p.stages[0].ops) + 40
    if streamed:
        convert(model, tmp_path / "host", patch="13:24rows", stream_input=True)
        host = compile_host(tmp_path / "host")
        host.invoke(np.zeros(host.inputs[0]["shape"], np.int8))
        rows = [r for row, col, count, cols in host.regions for r in range(row, row + count)]
        assert sorted(rows) == list(range(host.inputs[0]["shape"][1]))  # each row read once
        assert all(col == 0 and cols == host.inputs[0]["shape"][2]
                   for _, col, _, cols in host.regions)


def test_row_bands_in_column_strips(zoo_tflite, tmp_path):
    model = zoo_tflite("mcunet-in1")
    conversion = check_bit_exact(model, tmp_path / "c", samples=2, patch="13:24x2rows",
                                 stream_input=True)
    p = conversion.report.patch
    assert p.stages[0].keep_rows and p.stages[0].grid == (24, 2)
    assert "row bands that keep rows, 2 column strips (" in conversion.report.to_markdown()
    assert 0 < p.extra_macs < 0.2 * p.model_macs  # the strips' column halos
    whole_rows = convert(model, tmp_path / "w", patch="13:24rows", stream_input=True)
    assert p.streamed_bytes < whole_rows.report.patch.streamed_bytes  # narrower line buffers
    convert(model, tmp_path / "host", patch="13:24x2rows", stream_input=True)
    host = compile_host(tmp_path / "host")
    host.invoke(np.zeros(host.inputs[0]["shape"], np.int8))
    strips = sorted({(col, cols) for _, col, _, cols in host.regions})
    assert len(strips) == 2 and strips[0][0] == 0 and sum(strips[-1]) == host.inputs[0]["shape"][2]
    for strip in strips:  # each strip reads each of its rows once, top to bottom
        rows = [r for row, col, count, cols in host.regions if (col, cols) == strip
                for r in range(row, row + count)]
        assert rows == list(range(host.inputs[0]["shape"][1]))


def test_patch_errors_name_the_problem(zoo_tflite, tmp_path):
    model = zoo_tflite("mcunet-in1")
    with pytest.raises(ConversionError, match="streamed input needs a patch stage"):
        convert(model, tmp_path / "a", stream_input=True)
    with pytest.raises(ConversionError, match="cannot be cut into 64x64 patches"):
        convert(model, tmp_path / "b", patch={"split": 5, "patches": 64})
    with pytest.raises(ConversionError, match="leaves no layer to run in patches"):
        convert(model, tmp_path / "f", patch="0:2")
    with pytest.raises(ConversionError, match="not a layer of the converted model"):
        convert(model, tmp_path / "c", patch="9:2")  # #9 is an ADD fused into #8
    with pytest.raises(ConversionError, match="needs more than a region of its input"):
        convert(model, tmp_path / "d", patch="50:2")  # MEAN in the stage
    with pytest.raises(ConversionError, match="in row bands at a pace of 4 in 64 column strips: the stage output's 24 columns "
                       "cannot be cut into 64 strips"):
        convert(model, tmp_path / "g", patch={"split": 5, "patches": (4, 64), "keep_rows": True})
    with pytest.raises(ConversionError, match="2 tensors made before operator #7 are read from "
                       "it on; a stage starts where one tensor"):
        convert(model, tmp_path / "h", patch="7-10:2")  # inside a residual block
    with pytest.raises(ConversionError, match="overlap: give each layer to one stage"):
        convert(model, tmp_path / "i", patch="5:2,3-10:2")
    with pytest.raises(ConversionError, match="needs a stage that starts at the model input"):
        convert(model, tmp_path / "j", patch="5-10:3", stream_input=True)
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("streamed", [False, True], ids=["input-in-sram", "input-streamed"])
def test_stages_between_blocks(zoo_tflite, tmp_path, streamed):
    """Stages that start where one tensor crosses (between blocks), beside the first: each
    reads its whole input from the arena and writes its whole output."""
    conversion = check_bit_exact(zoo_tflite("mcunet-in1"), tmp_path / "c", samples=2,
                                 patch="5:24rows,5-10:3,13-17:12x2rows", stream_input=streamed)
    report, p = conversion.report, conversion.report.patch
    assert [(s.ops[0].index, s.ops[-1].index) for s in p.stages] == [(0, 4), (5, 8), (13, 15)]
    assert [s.streamed for s in p.stages] == [streamed, False, False]
    assert p.stages[1].grid == (3, 3) and p.stages[2].grid == (12, 2)
    assert report.macs == p.model_macs + p.extra_macs and p.extra_macs > 0
    assert report.peak_sram_bytes == (p.streamed_bytes if streamed else p.in_sram_bytes)
    assert static_data_bytes(tmp_path / "c") == report.peak_sram_bytes
    text = report.to_markdown()
    assert "Patch stage: operators #5-#8 (4 layers) in 3x3 patches" in text
    assert "Patch stage: operators #13-#15 (3 layers) in row bands that keep rows, 2 column" in text


def test_cli_patch_flags(zoo_tflite, tmp_path, capsys):
    from tflm_mcunet.cli import main

    path = tmp_path / "m.tflite"
    path.write_bytes(zoo_tflite("mcunet-in1"))
    assert main(["convert", str(path), "-o", str(tmp_path / "c"), "--patch", "10:2x3",
                 "--stream-input"]) == 0
    out = capsys.readouterr().out
    assert "in 2x3 patches" in out and "input streamed (not in SRAM)" in out
    assert main(["convert", str(path), "-o", str(tmp_path / "d"), "--patch", "9"]) == 2
    assert "patch option '9' is not understood" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# property: random graphs, random splits and patch grids
# ---------------------------------------------------------------------------------------------

@st.composite
def stages(draw):
    """An input size (odd or even), a chain of window and activation layers with residual
    blocks, a head, and where and how to cut it into patches: a stage from the input or from
    a cut between blocks, and maybe a second one after it."""
    h = draw(st.integers(5, 33))
    w = draw(st.integers(5, 33))
    c = draw(st.integers(1, 4))
    layers_ = draw(st.lists(st.tuples(
        st.sampled_from(["conv", "depthwise", "pool", "residual", "relu6", "hard_swish"]),
        st.sampled_from([1, 3, 5, 7]), st.sampled_from([1, 2]),
        st.sampled_from(["same", "valid"]), st.integers(1, 6)), min_size=1, max_size=7))
    head = draw(st.sampled_from(["none", "conv", "gap_dense"]))
    # (which stage start, which split, a second stage after the first)
    cut = (draw(st.integers(0, 20)), draw(st.integers(1, 20)), draw(st.booleans()))
    # row bands that keep rows: at a pace of 1-40 bands, in 1-3 column strips
    keep_rows = draw(st.booleans())
    grid = ((draw(st.integers(1, 40)), draw(st.integers(1, 3))) if keep_rows
            else (draw(st.integers(1, 4)), draw(st.integers(1, 4))))
    streamed = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return (h, w, c), layers_, head, cut, (grid, keep_rows), streamed, seed


def _build(recipe):
    import keras
    from keras import layers

    shape, chain, head, _, _, _, seed = recipe
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    x = inp
    for kind, k, s, padding, out in chain:
        fits = padding == "same" or min(x.shape[1], x.shape[2]) >= k
        if kind == "conv" and fits:
            x = layers.Conv2D(out, k, strides=s, padding=padding, activation="relu6")(x)
        elif kind == "depthwise" and fits:
            x = layers.DepthwiseConv2D(k, strides=s, padding=padding)(x)
        elif kind == "pool" and min(x.shape[1], x.shape[2]) >= 2:
            pool = layers.AveragePooling2D if k > 3 else layers.MaxPooling2D
            x = pool(2, strides=s, padding=padding)(x)
        elif kind == "residual":  # an inverted residual block: expand, depthwise, project, add
            y = layers.Conv2D(x.shape[-1] * 2, 1, activation="relu6")(x)
            y = layers.DepthwiseConv2D(k, padding="same", activation="relu6")(y)
            x = layers.Add()([x, layers.Conv2D(x.shape[-1], 1)(y)])
        elif kind in ("relu6", "hard_swish"):
            x = layers.Activation("relu6" if kind == "relu6" else "hard_swish")(
                layers.Conv2D(out, 1)(x))
    if head == "conv":
        x = layers.Conv2D(3, 3, padding="same")(x)
    elif head == "gap_dense":
        x = layers.Dense(4)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, x)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(stages())
# a residual's skip read whole in some patches and cropped in others (every patch must run the
# same steps)
@example(recipe=((13, 14, 3), [("relu6", 1, 1, "same", 4), ("hard_swish", 1, 1, "same", 1),
                               ("conv", 7, 1, "valid", 1), ("residual", 3, 1, "same", 1),
                               ("conv", 5, 1, "same", 1), ("conv", 5, 1, "same", 1)],
                 "none", (0, 20, False), ((3, 1), False), False, 0))
# row bands where the stage ends before every row of its first layers is computed (no reader
# needs the last ones)
@pytest.mark.tf
@pytest.mark.tflm
@example(recipe=((5, 5, 1), [("conv", 1, 2, "same", 1), ("pool", 1, 2, "valid", 1),
                             ("conv", 1, 1, "same", 1), ("conv", 1, 1, "same", 1)],
                 "none", (0, 1, False), ((5, 1), True), False, 0))
def test_random_stages_are_bit_exact(recipe):
    pytest.importorskip("tensorflow")
    from tflm_mcunet.converter.passes.patch import candidate_splits, stage_starts
    from tflm_mcunet.converter.pipeline import load_graph
    from tflm_mcunet.quantize import quantize_keras

    shape, _, _, (start, split, second), (grid, keep_rows), streamed, seed = recipe
    data = np.random.default_rng(seed).uniform(-1, 1, (12, *shape)).astype(np.float32)
    tflite = quantize_keras(_build(recipe), data)
    graph = load_graph(tflite)
    starts = [p for p in stage_starts(graph) if candidate_splits(graph, p)]
    if not starts or (streamed and starts[0] != 0):  # e.g. a global pooling head first
        event("no layers can run in patches")
        return
    first = 0 if streamed else starts[start % len(starts)]
    splits = candidate_splits(graph, first)
    # (with a second stage, the first ends in the first half of its splits: room after it)
    spans = [(first, splits[split % (len(splits) + 1) // 2 if second else split % len(splits)])]
    later = [p for p in starts if p >= spans[0][1]]
    if second and later:
        a = later[split % len(later)]
        splits = candidate_splits(graph, a)
        spans.append((a, splits[start % len(splits)]))

    # n tiles of ceil(size / n): a grid that would leave a tile (a strip) empty becomes the
    # next smaller
    def fitting(g, size):
        return next(n for n in range(min(g, size), 0, -1) if (n - 1) * -(-size // n) < size)

    def fitted(out):
        if keep_rows:
            return grid[0], fitting(grid[1], out[2])
        cut = tuple(fitting(g, size) for g, size in zip(grid, out[1:3]))
        return (2, 1) if cut == (1, 1) and out[1] > 1 else cut  # one patch: cut it once

    def index(k):  # the report's # of the op at position k (past the end: after the last)
        return graph.ops[k].index if k < len(graph.ops) else graph.ops[-1].index + 1
    patch = [{"first": index(a) if a else None, "split": index(k),
              "patches": fitted(graph.ops[k - 1].outputs[0].shape), "keep_rows": keep_rows}
             for a, k in spans]
    # every kernel path, the portable one and one other per example in turn (CI time): patch
    # layers give the kernels new shapes and paddings
    others = [name for name, _ in OTHER_PATHS]
    skip = tuple(name for i, name in enumerate(others) if i != seed % len(others))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            conversion = check_bit_exact(tflite, os.path.join(tmp, "c"), samples=2, seed=seed,
                                         all_paths=True, skip_paths=skip, patch=patch,
                                         stream_input=streamed)
        except ConversionError as e:  # a grid the tile sizes cannot give, or padding only
            assert "cannot be cut" in str(e) or "reads only padding" in str(e), e
            event("that grid does not fit")
            return
        stages = conversion.report.patch.stages
        assert [(s.first, s.split) for s in stages] == spans
        assert [s.streamed for s in stages] == [streamed] + [False] * (len(spans) - 1)
        assert all(s.keep_rows == keep_rows for s in stages)
        if keep_rows and all(s.grid[1] == 1 for s in stages):
            # (fewer MACs: rows that no layer reads are skipped)
            assert all(s.extra_macs <= 0 for s in stages)
        event(f"{'row bands' if keep_rows else 'patches'}"
              f"{' in strips' if keep_rows and any(s.grid[1] > 1 for s in stages) else ''}, "
              f"{'streamed' if streamed else 'input in SRAM'}, {len(stages)} stage(s), "
              f"{'the first from the input' if first == 0 else 'none from the input'}")


@pytest.mark.tflm
def test_demo_shows_the_model_with_and_without_patches(tmp_path, capsys):
    from tflm_mcunet.cli import main

    assert main(["demo", "--example", "--samples", "2", "-o", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "Outputs identical to TFLite Micro: 2/2 random inputs" in out
    assert "tflm-mcunet --patch auto (ops #" in out and "outputs identical: 2/2" in out
    assert (tmp_path / "d-patches" / "model.c").exists()
