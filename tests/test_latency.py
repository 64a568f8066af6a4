"""The speed model of the search (search.latency) and its place in the cost model."""
from __future__ import annotations

import random
import shutil

import pytest

from tflm_mcunet.converter.passes.inplace import inplace_candidates
from tflm_mcunet.devices import get_device
from tflm_mcunet.search import SearchSpace, cost
from tflm_mcunet.benchmarks import cost_model
from tflm_mcunet.search import latency
from tflm_mcunet.search.cost import converter_graph, fused_graph
from tflm_mcunet.search.space import WIDTHS

#: the issue's bound on the predicted invoke instructions of a network
TOLERANCE = 0.15


def _random_archs(count: int, seed: int) -> list:
    space = SearchSpace()
    pairs = space.pairs()
    rng = random.Random(seed)
    return [space.sample(*pairs[rng.randrange(len(pairs))], rng) for _ in range(count)]


@pytest.mark.parametrize("spec", cost_model.HELD_OUT, ids=lambda s: f"w{s[0]}-r{s[1]}-s{s[3]}")
def test_held_out_networks_predicted_within_tolerance(spec):
    """The networks the table was not fitted on, against their QEMU counts kept in the module:
    as the search predicts them (fast path) and with the converter's own kernels."""
    measured = latency.MEASURED["cortex-m7"]["held_out"][spec]
    arch = cost_model.reference_arch(spec)
    for method in ("fast", "converter"):
        predicted = cost(arch, "stm32f746", method=method).instructions
        assert abs(predicted - measured) <= TOLERANCE * measured, (method, predicted, measured)


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None
                    or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_live_measurement_of_a_small_network(tmp_path):
    """One small network converted, built and counted on QEMU now: the prediction holds for
    the code the converter generates today, layer by layer too."""
    from tflm_mcunet.benchmarks import toolchain

    arch = cost_model.reference_arch(cost_model.HELD_OUT[4])  # w0.3-r32: ~2 M instructions
    run = cost_model.measure_network(arch, workdir=tmp_path, plugin=toolchain.build_plugin())
    predicted = cost(arch, "stm32f746").instructions
    assert abs(predicted - run["invoke"]) <= TOLERANCE * run["invoke"]
    assert run["invoke"] == sum(n for _, n in run["layers"]) + run["fixed"]
    assert 0 <= run["fixed"] < 1000  # the invoke outside the layers: a few calls
    own = latency.graph_instructions(cost_model.measured_graph(run), "cortex-m7")
    assert abs(own - run["invoke"]) <= TOLERANCE * run["invoke"]


def test_kind_covers_every_op_of_random_architectures():
    """Every op of the fused graphs the cost model and the converter make has a kind with
    coefficients, with either depthwise kernel, and a positive prediction (the measured
    networks too: one output pixel at the end takes a resolution below the space's)."""
    table = latency.MEASURED["cortex-m7"]["kinds"]
    seen = set()
    measured = [cost_model.reference_arch(spec) for spec in cost_model.TRAINING[:1]]
    for arch in _random_archs(40, seed=3) + measured:
        for graph in (fused_graph(arch), converter_graph(arch, dsp=True)[0]):
            for op in graph.ops:
                for inplace in ((False, True) if op.kind == "DEPTHWISE_CONV_2D" else (None,)):
                    k = latency.kind(op, inplace)
                    assert set(table[k]) == set(latency.KINDS[k])
                    assert len(latency.features(op, k)) == len(latency.KINDS[k])
                    assert latency.op_instructions(op, inplace=inplace) > 0, (k, op.params)
                    seen.add(k)
    assert seen == set(latency.KINDS)


def test_graph_instructions_is_the_sum_of_its_ops():
    """The cached hot path gives what op by op gives."""
    for arch in _random_archs(20, seed=5):
        graph = fused_graph(arch)
        candidates = inplace_candidates(graph)
        ids = {id(op) for op in candidates}
        expected = latency.MEASURED["cortex-m7"]["invoke"] + sum(
            latency.op_instructions(op, inplace=(id(op) in ids and latency.predict_inplace(op))
                                    if op.kind == "DEPTHWISE_CONV_2D" else None)
            for op in graph.ops)
        assert latency.graph_instructions(graph, None, candidates) == round(expected)


def test_latency_is_monotone_in_macs_over_widths():
    """The same network at every width multiplier: more MACs, more milliseconds."""
    space = SearchSpace()
    for arch in _random_archs(3, seed=7):
        values = space.values(arch)
        costs = sorted((cost(space.arch(values, w, 96), "stm32f746") for w in WIDTHS),
                       key=lambda c: c.macs)
        for smaller, larger in zip(costs, costs[1:]):
            assert smaller.macs < larger.macs
            assert smaller.latency_ms < larger.latency_ms


def test_latency_ms_uses_the_device_clock():
    arch = cost_model.reference_arch(cost_model.HELD_OUT[0])
    f746, h743 = cost(arch, "stm32f746"), cost(arch, "stm32h743")
    assert f746.instructions == h743.instructions  # both Cortex-M7
    assert f746.latency_ms == pytest.approx(f746.instructions / 216e3)
    assert h743.latency_ms == pytest.approx(f746.latency_ms * 216 / 480)
    assert cost(arch).latency_ms is None  # no device
    assert cost(arch, "mine:sram=320K,flash=1M,core=cortex-m7").latency_ms is None  # no clock
    mine = cost(arch, "mine:sram=320K,flash=1M,core=cortex-m4,clock_mhz=100")
    assert mine.latency_ms == pytest.approx(mine.instructions / 100e3)
    assert get_device("nrf52840").clock_mhz == 64


def test_fit_recovers_known_coefficients():
    """Layers made up from the table: the fit finds the table again."""
    table = latency.MEASURED["cortex-m7"]["kinds"]
    samples = []
    measured = [cost_model.reference_arch(spec) for spec in cost_model.TRAINING[:3]]
    for arch in _random_archs(30, seed=11) + measured:
        graph = converter_graph(arch, dsp=True)[0]
        for op in graph.ops:
            for inplace in ((False, True) if op.kind == "DEPTHWISE_CONV_2D" else (None,)):
                k = latency.kind(op, inplace)
                f = latency.features(op, k)
                samples.append((k, f, sum(table[k][n] * x for n, x in zip(latency.KINDS[k], f))))
    fitted = latency.fit(samples)
    for k, coef in table.items():
        for name, value in coef.items():
            assert fitted[k][name] == pytest.approx(value, rel=1e-3, abs=1e-6), (k, name)


def test_fit_says_when_a_kind_has_too_few_layers():
    with pytest.raises(ValueError, match="too few"):
        latency.fit([("mean", (10.0, 2.0, 1.0), 100)])
