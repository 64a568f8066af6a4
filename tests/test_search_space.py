"""TinyNAS search space and cost model: the architectures, the exact cost, stage 1.

The cost model must give what the converter gives for the same network:
- fast path == the converter's passes and planner on the IR (random architectures, no TF);
- the IR == what the reader makes of the Keras model quantized to int8, op by op, and the
  arena, MACs and weight bytes of that `.tflite` (a few small random architectures, with TF).
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tflm_mcunet.search import Arch, SearchSpace, cost, optimize_space
from tflm_mcunet.search.cost import converter_graph, fused_graph
from tflm_mcunet.search.space import RESOLUTIONS, WIDTHS, make_divisible

ARCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "archs"
ARCH_FILES = sorted(ARCH_DIR.glob("*.json"))


def _random_arch(rng: random.Random, **space_options) -> Arch:
    space = SearchSpace(**space_options)
    return space.sample(rng.choice(space.widths), rng.choice(space.resolutions), rng)


# --------------------------------------------------------------------------------------------
# the space and its architectures
# --------------------------------------------------------------------------------------------

def test_space_is_mcunets():
    space = SearchSpace()
    assert len(space.pairs()) == 108 == len(WIDTHS) * len(RESOLUTIONS)
    assert RESOLUTIONS[0] == 48 and RESOLUTIONS[-1] == 224 and WIDTHS == tuple(
        k / 10 for k in range(2, 11))
    # ProxylessNAS base widths x 0.5, rounded to multiples of 8: MCUNet's own networks
    assert space.stage_widths(0.5) == (16, 8, 16, 24, 40, 48, 96, 160)
    assert [make_divisible(v) for v in (6.4, 11.2, 20, 26, 27)] == [8, 16, 24, 24, 32]
    rng = random.Random(0)
    for _ in range(50):
        a = space.sample(0.3, 96, rng)
        assert [s.stride for s in a.stages] == [1, 2, 2, 2, 1, 2, 1]
        assert a.depths[0] == 1 and a.depths[-1] == 1
        assert all(d in (2, 3, 4) for d in a.depths[1:-1])
        blocks = [b for s in a.stages[1:] for b in s.blocks]
        assert all(b.kernel in (3, 5, 7) and b.expand in (3, 4, 6) for b in blocks)
    small, large = space.smallest(0.5, 144), space.largest(0.5, 144)
    assert cost(small).macs < cost(space.sample(0.5, 144, rng)).macs < cost(large).macs


@pytest.mark.parametrize("path", ARCH_FILES, ids=lambda p: p.stem)
def test_published_archs_are_expressible(path):
    data = json.loads(path.read_text())
    arch = Arch.from_json(path)
    assert Arch.from_json(arch.to_json()) == arch
    blocks = arch.to_blocks_dict()
    assert blocks["blocks"] == [{k: b[k] for k in ("kernel", "expand", "stride", "in", "mid",
                                                    "out", "residual")} for b in data["blocks"]]
    assert blocks["first_conv"] == data["first_conv"] and blocks["classes"] == data["classes"]
    assert (blocks["feature_mix"] or None) == (data.get("feature_mix") or None)
    if path.stem.startswith("mcunet"):  # TinyNAS's own: strides [2,2,2,1,2,1], last depth 1
        assert [s.stride for s in arch.stages[1:]] == [2, 2, 2, 1, 2, 1]
        assert arch.depths[-1] == 1
        assert arch.first_conv == 16 and [s.out for s in arch.stages] == list(
            SearchSpace().stage_widths(0.5)[1:])


def test_json_round_trip_and_errors():
    rng = random.Random(1)
    for _ in range(20):
        a = _random_arch(rng, feature_mix=rng.choice([None, 1280]), classes=rng.randint(2, 50))
        text = a.to_json()
        b = Arch.from_json(text)
        assert b == a and hash(b) == hash(a) and b.width_mult == a.width_mult
        assert Arch.from_json(a.to_blocks_dict()) == a  # the archs/*.json format too
    bad = json.loads(ARCH_FILES[0].read_text())
    bad["blocks"][2]["residual"] = not bad["blocks"][2]["residual"]
    with pytest.raises(ValueError, match="residual"):
        Arch.from_json(bad)
    with pytest.raises(ValueError, match="not an architecture"):
        Arch.from_json("{}")


# --------------------------------------------------------------------------------------------
# the cost model against the converter (no TensorFlow)
# --------------------------------------------------------------------------------------------

def test_published_archs_cost():
    """The zoo's MCUNet networks: the converter's arena (docs/memory.md's table), the
    published MACs and parameter counts."""
    expected = {"mcunet-in1": (73_776, 12.8, 0.64), "mcunet-in3": (186_976, 81.8, 0.74),
                "mbv2-w0.35-r144": (248_896, 23.5, 0.75),
                "proxyless-w0.3-r176": (185_920, 38.3, 0.75)}
    for name, (sram, macs_m, params_m) in expected.items():
        c = cost(Arch.from_json(ARCH_DIR / f"{name}.json"), device="stm32f746")
        assert c.peak_sram_bytes == sram
        assert round(c.macs / 1e6, 1) == macs_m
        assert abs(c.params / 1e6 - params_m) < 0.015
        assert c.flash_bytes == c.weight_bytes + c.requant_bytes + c.code_bytes
        assert c.fits and c.fit.sram_bytes > c.peak_sram_bytes


def test_fast_path_equals_converter():
    """Property: for random architectures of many spaces (with feature mix, one input channel,
    expansion 1 blocks, odd resolutions), the fast path gives the converter's numbers."""
    rng = random.Random(2024)
    variants = [dict(), dict(feature_mix=1280, classes=10),
                dict(expands=(1, 3, 6), input_channels=1, classes=2),
                dict(resolutions=(50, 77, 96), kernels=(3, 7), depths=(1, 2))]
    for k in range(24):
        a = _random_arch(rng, **variants[k % len(variants)])
        fast, ref = cost(a), cost(a, method="converter")
        assert (fast.peak_sram_bytes, fast.macs) == (ref.peak_sram_bytes, ref.macs), a.to_json()
        assert fast == ref


def test_fused_graph_is_the_converters_graph():
    """The fast path's graph is the converter's after legalize and fuse, op by op: the same
    operators, options, activations and constant inputs, read where the converter's read, and
    every param the fast path has is the one `prepare` and `fuse` derived (the rest are
    quantization); the in-place choice gives the same ops and arena on either."""
    from tflm_mcunet.converter.passes.inplace import (choose_inplace_for_memory,
                                                       inplace_candidates)

    rng = random.Random(3)
    for k in range(6):
        a = _random_arch(rng, expands=(1, 4), feature_mix=(None, 96)[k % 2])
        graph, plan = converter_graph(a)
        ours = fused_graph(a)
        assert len(ours.ops) == len(graph.ops)

        def readers(g):  # for every op, the positions of the ops writing its activations
            at = {id(op.outputs[0]): pos for pos, op in enumerate(g.ops)}
            return [[at.get(id(t), -1) for t in op.inputs if t is not None and not t.is_const]
                    for op in g.ops]

        assert readers(ours) == readers(graph)
        for mine, theirs in zip(ours.ops, graph.ops):
            assert mine.kind == theirs.kind and mine.options == theirs.options
            assert [t.shape for t in mine.outputs] == [t.shape for t in theirs.outputs]
            assert [None if t is None else (t.shape, t.is_const) for t in mine.inputs] == [
                None if t is None else (t.shape, t.is_const) for t in theirs.inputs]
            assert ("residual" in mine.params) == ("residual" in theirs.params)
            assert {k: v for k, v in mine.params.items() if k != "residual"} == {
                k: theirs.params[k] for k in mine.params if k not in ("residual", "inplace")}
        _, arena = choose_inplace_for_memory(ours, inplace_candidates(ours))
        assert arena == plan.arena_bytes
        for op in graph.ops:  # the converter's graph before its in-place choice
            op.params.pop("inplace", None)
        _, theirs = choose_inplace_for_memory(graph, inplace_candidates(graph))
        assert theirs == arena and [op.params.get("inplace") for op in ours.ops] == [
            op.params.get("inplace") for op in graph.ops]


def test_cost_arguments():
    a = SearchSpace().sample(0.4, 112, random.Random(0))
    with pytest.raises(ValueError, match="patch option"):
        cost(a, patch=(2, 2))
    with pytest.raises(ValueError, match="method"):
        cost(a, method="guess")
    small = cost(a, device="tiny:sram=16K,flash=64K")
    assert small.fits is False and "DOES NOT FIT" in small.fit.summary()
    assert cost(a).fit is None and cost(a).fits is None
    m4 = cost(a, device="stm32f412")
    assert m4.weight_bytes == small.weight_bytes and m4.peak_sram_bytes == small.peak_sram_bytes


# --------------------------------------------------------------------------------------------
# the IR against Keras -> int8 TFLite -> the converter (TensorFlow)
# --------------------------------------------------------------------------------------------

def _const_bytes(graph) -> int:
    """Weights and biases as the converter emits them: the matrix-product kernels (CONV_2D,
    FULLY_CONNECTED) store each output channel's weights padded to a multiple of 4 bytes."""
    total = 0
    for op in graph.ops:
        if op.kind == "MEAN":
            continue
        for i, t in enumerate(op.inputs):
            if t is None or not t.is_const:
                continue
            if i == 1 and op.kind in ("CONV_2D", "FULLY_CONNECTED"):
                rows, k = t.shape[0], t.size // t.shape[0]
                total += rows * -(-k // 4) * 4
            else:
                total += t.nbytes
    return total


@st.composite
def small_archs(draw):
    space = SearchSpace(widths=(0.2, 0.3), resolutions=(48, 64), depths=(1, 2),
                        expands=(1, 3, 6), classes=draw(st.integers(2, 10)),
                        input_channels=draw(st.sampled_from([1, 3])),
                        feature_mix=draw(st.sampled_from([None, 96])))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    return space.sample(draw(st.sampled_from(space.widths)),
                        draw(st.sampled_from(space.resolutions)), rng)


@pytest.mark.tf
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(arch=small_archs())
def test_cost_is_exact_for_the_keras_int8_model(arch):
    """Property: build the architecture in Keras, quantize it to int8 TFLite, convert it: the
    converter's graph is ours op by op, and its arena, MACs and weight bytes are the cost's."""
    pytest.importorskip("tensorflow")
    from tflm_mcunet.benchmarks.zoo import _randomise_statistics
    from tflm_mcunet.converter import load_graph
    from tflm_mcunet.converter.emit import emit_project
    from tflm_mcunet.converter.planner import plan_memory
    from tflm_mcunet.converter.report import build_report
    from tflm_mcunet.quantize import quantize_keras
    from tflm_mcunet.search import build_keras

    model = build_keras(arch, seed=0)
    r = arch.resolution
    data = np.random.default_rng(0).uniform(-1, 1, (4, r, r, arch.input_channels))
    _randomise_statistics(model, data.astype(np.float32), 0)
    theirs = load_graph(quantize_keras(model, data.astype(np.float32)))
    ours, _ = converter_graph(arch)
    assert len(theirs.ops) == len(ours.ops)
    for a, b in zip(theirs.ops, ours.ops):
        assert (a.kind, a.index) == (b.kind, b.index)
        assert [(t.shape, t.dtype, t.is_const) if t is not None else None for t in a.inputs] \
            == [(t.shape, t.dtype, t.is_const) if t is not None else None for t in b.inputs]
        assert [t.shape for t in a.outputs] == [t.shape for t in b.outputs]
        assert {k: v for k, v in a.options.items() if k != "keep_num_dims"} == \
            {k: v for k, v in b.options.items() if k != "keep_num_dims"}
        assert ("inplace" in a.params, "residual" in a.params) == (
            "inplace" in b.params, "residual" in b.params)
        for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "pad_top", "pad_left",
                  "count", "channels", "batches", "in_depth", "out_depth"):
            assert a.params.get(k) == b.params.get(k), (a, k)
    plan = plan_memory(theirs)
    files, const_bytes = emit_project(theirs, plan)  # what convert() writes and reports
    report = build_report(theirs, plan, const_bytes)
    c = cost(arch)
    assert c.peak_sram_bytes == plan.arena_bytes == report.peak_sram_bytes
    assert c.macs == report.macs
    assert c.weight_bytes == _const_bytes(theirs)
    assert c.weight_bytes <= report.flash_bytes <= c.model_data_bytes


@pytest.mark.slow
def test_cost_of_zoo_model_equals_its_conversion(zoo_tflite, tmp_path):
    from tflm_mcunet import convert

    conv = convert(zoo_tflite("mcunet-in1"), tmp_path / "c")
    c = cost(Arch.from_json(ARCH_DIR / "mcunet-in1.json"))
    assert c.peak_sram_bytes == conv.report.peak_sram_bytes
    assert c.macs == conv.report.macs
    assert c.weight_bytes <= conv.report.flash_bytes <= c.model_data_bytes
    # with patches, streamed: the same passes choose the same stage
    conv = convert(zoo_tflite("mcunet-in1"), tmp_path / "p", patch="auto", stream_input=True)
    c = cost(Arch.from_json(ARCH_DIR / "mcunet-in1.json"), patch="auto", stream_input=True)
    assert c.peak_sram_bytes == conv.report.peak_sram_bytes
    assert c.macs == conv.report.macs


# --------------------------------------------------------------------------------------------
# stage 1, the command line, code size
# --------------------------------------------------------------------------------------------

def test_optimize_space_small(tmp_path):
    from tflm_mcunet.tinynas import optimize_space as facade

    assert facade is optimize_space
    space = SearchSpace(widths=(0.3, 0.5), resolutions=(96, 176), classes=100)
    result = optimize_space("stm32f746", samples=6, space=space, seed=1, progress=False)
    assert len(result.spaces) == 4 and result.samples == 6
    means = [s.mean_macs for s in result.spaces]
    assert means == sorted(means, reverse=True) and result.best.fitting > 0
    again = optimize_space("stm32f746", samples=6, space=space, seed=1, jobs=2,
                           progress=False)
    assert [(s.name, s.macs.tolist()) for s in again.spaces] == [
        (s.name, s.macs.tolist()) for s in result.spaces]
    strict = optimize_space("stm32f746", samples=6, space=space, seed=1, progress=False,
                            min_fit=0.9)  # spaces where fewer than 90% fit rank last
    fractions = [s.fit_fraction >= 0.9 for s in strict.spaces]
    assert fractions == sorted(fractions, reverse=True) and [s.name for s in strict.spaces] != [
        s.name for s in result.spaces]
    tiny = optimize_space("tiny:sram=8K,flash=32K", samples=3, space=space, progress=False)
    assert all(s.fitting == 0 and s.mean_macs == 0 for s in tiny.spaces)
    text = result.to_markdown()
    assert result.best.name in text and "| rank | space |" in text
    assert json.loads(result.to_json())["spaces"][0]["space"] == result.best.name
    pytest.importorskip("matplotlib")
    png = result.plot_cdf(tmp_path / "cdf.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_search_space_cli(tmp_path, capsys):
    from tflm_mcunet.cli import main

    assert main(["search-space", "--device", "stm32f412", "--samples", "3", "--widths", "0.3",
                 "--resolutions", "48,64", "--classes", "10", "--no-progress", "-j", "1",
                 "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "STM32F412" in out and "w0.3-r64" in out and "w0.3-r48" in out
    assert len(json.loads((tmp_path / "s.json").read_text())["spaces"]) == 2


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="no Arm toolchain")
def test_code_size_table_is_current():
    """The code-size estimate is measured (arm-none-eabi-gcc); it stays within 15% of a
    fresh measurement for a typical model (kernels change under us)."""
    from tflm_mcunet.benchmarks.cost_model import measure_code_size
    from tflm_mcunet.search.codesize import MEASURED, code_bytes

    now = measure_code_size("cortex-m7")
    layers, residuals = 50, 10
    table = code_bytes(layers, residuals, "cortex-m7")
    fresh = (now["kernels"] + now["model_fixed"] + now["per_layer"] * layers
             + now["per_residual"] * residuals)
    assert abs(fresh - table) <= 0.15 * fresh, (MEASURED["cortex-m7"], now)
