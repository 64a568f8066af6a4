"""TinyNAS stage 2's keras-tuner oracle: evolution under a budget, state, safety, distribution.

The oracle is driven here as keras-tuner drives it (create_trial, update_trial, end_trial), with
scores from a known function of the choices, so the search runs in seconds without training.
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tflm_mcunet.search import SearchSpace, cost
from tflm_mcunet.search.evolution import Genes, narrow_space

#: a small space: depths 1-2, kernels 3/5, expansions 3/6 (25.6 M architectures at 2 resolutions)
TINY = SearchSpace(depths=(1, 2), kernels=(3, 5), expands=(3, 6), classes=10, input_channels=1)
#: the MCUNet space of the speed goal: 10 classes, 1 channel, w0.3-r64
MCUNET = SearchSpace(classes=10, input_channels=1)
BUDGET = dict(sram="64K", flash="256K")

# -- the genes (no TensorFlow) ----------------------------------------------------------------


def test_genes_are_canonical_and_match_the_space():
    genes = Genes(narrow_space(TINY, 0.2, [48, 32, 48]))
    assert genes.space.resolutions == (32, 48)
    assert genes.names == tuple(genes.space.choices())
    rng = random.Random(0)
    for _ in range(300):
        g = genes.random(rng)
        arch = genes.arch(g)
        assert genes.genome(arch) == g == genes.canonical(g)
        assert genes.from_values(genes.space.values(arch)) == g
        for child in (genes.mutate(g, rng, 0.3, 0.5),
                      genes.crossover(g, genes.random(rng), rng)):
            assert genes.canonical(child) == child
            assert all(v in o for v, o in zip(child, genes.options))
    small = Genes(narrow_space(SearchSpace(depths=(1, 2), kernels=(3,), expands=(3, 6),
                                           strides=(2, 2), base_widths=(16, 8, 16, 24)), 0.5, 32))
    every = list(small.enumerate())
    assert len(every) == len(set(every)) == small.count() == (2 + 4) * 2
    with pytest.raises(ValueError, match="s1_b0_kernel"):
        genes.from_values({**genes.values(g), "s1_b0_kernel": 4})


def test_a_stage_that_grows_deeper_draws_its_new_blocks():
    genes = Genes(narrow_space(TINY, 0.2, 32))
    shallow = genes.canonical([1 if n.endswith("depth") else o[0]
                               for n, o in zip(genes.names, genes.options)])
    drawn = set()
    rng = random.Random(1)
    for _ in range(200):  # mutation with p = 1 on depth genes only would be the same: use 0.5
        child = genes.mutate(shallow, rng, 0.5, 0.5)
        drawn.add(child[genes.names.index("s1_b1_kernel")])
    assert drawn == {3, 5}  # the new block's genes are drawn, not left at the placeholder


# -- the oracle, driven as keras-tuner drives it ----------------------------------------------

kt = pytest.importorskip("keras_tuner")
pytestmark = [pytest.mark.tf]  # the tiers: tests/conftest.py
from tflm_mcunet.search import HyperModel, TinyNASOracle  # noqa: E402
from tflm_mcunet.search.oracle import COST_METRICS  # noqa: E402


def make_oracle(tmp_path, name="p", space=TINY, width=0.2, resolutions=(32, 48), **kwargs):
    kwargs.setdefault("seed", 1)
    oracle = TinyNASOracle(space, width, resolutions, **kwargs)
    oracle._set_project_dir(str(tmp_path), name)
    oracle.verbose = 0
    return oracle


def target_score(genes, seed):
    """A synthetic objective: how many choices agree with a hidden target architecture."""
    target = genes.random(random.Random(seed))

    def score(values):
        g = genes.from_values(values)
        return float(sum(a == b for a, b in zip(g, target)))
    return score


def run(oracle, score, trials, tuner_id="tuner0"):
    """Run up to `trials` trials; each reports `score(values)` as val_accuracy."""
    seen = []
    for _ in range(trials):
        trial = oracle.create_trial(tuner_id)
        if trial.status != "RUNNING":
            break
        values = dict(trial.hyperparameters.values)
        seen.append(values)
        oracle.update_trial(trial.trial_id, {"val_accuracy": score(values)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return seen


def test_hyperparameters_are_the_space_choices(tmp_path):
    oracle = make_oracle(tmp_path)
    space = oracle.get_space()
    assert [hp.name for hp in space.space] == list(oracle.genes.space.choices())
    assert [hp.values for hp in space.space] == [list(o) for o in oracle.genes.options]
    trial = oracle.create_trial("tuner0")
    values = trial.hyperparameters.values
    assert all(type(v) is int for v in values.values())
    arch = oracle.arch(trial)
    assert arch == oracle.arch(trial.hyperparameters) == oracle.arch(values)
    assert arch.resolution == values["resolution"] and arch.width_mult == 0.2
    c = cost(arch)
    assert {m: trial.metrics.get_last_value(m) for m in COST_METRICS} == {
        "peak_sram_bytes": c.peak_sram_bytes, "flash_bytes": c.flash_bytes, "macs": c.macs}
    assert TinyNASOracle.of(oracle) is oracle


def test_infeasible_candidates_never_become_trials(tmp_path):
    oracle = make_oracle(tmp_path, space=MCUNET, width=0.3, resolutions=64, device="stm32f746",
                         sram="32K", flash="240K", max_trials=40, population=10)
    run(oracle, target_score(oracle.genes, 3), 40)
    assert len(oracle.trials) == 40 and oracle.rejected["infeasible"] > 40
    assert oracle.device.sram_bytes == 32 * 1024 and oracle.device.flash_bytes == 240 * 1024
    for trial in oracle.trials.values():
        c = cost(oracle.arch(trial), "stm32f746")
        assert c.peak_sram_bytes + 4096 <= 32 * 1024 and c.flash_bytes <= 240 * 1024
        assert trial.metrics.get_last_value("peak_sram_bytes") == c.peak_sram_bytes
    archs = [oracle.arch(t) for t in oracle.trials.values()]
    assert len(set(archs)) == len(archs)


def test_a_latency_limit_rejects_slow_candidates(tmp_path):
    """At most 65 ms on an nRF52840 (64 MHz) by the Cortex-M speed model: about half of the
    w0.3-r48 networks are slower (48 to 96 ms), none of them becomes a trial."""
    oracle = make_oracle(tmp_path, space=MCUNET, width=0.3, resolutions=48, device="nrf52840",
                         latency_ms=65, max_trials=20, population=10)
    run(oracle, target_score(oracle.genes, 4), 20)
    assert len(oracle.trials) == 20 and oracle.rejected["infeasible"] > 0
    for trial in oracle.trials.values():
        assert cost(oracle.arch(trial), "nrf52840").latency_ms <= 65
    slow = [g for g in (oracle.genes.random(random.Random(k)) for k in range(50))
            if cost(oracle.genes.arch(g), "nrf52840").latency_ms > 65]
    assert slow and all(any("latency" in v for v in oracle.violations(oracle.cost(
        oracle.genes.arch(g)))) for g in slow)
    with pytest.raises(ValueError, match="clock"):
        make_oracle(tmp_path, sram="64K", flash="256K", latency_ms=10)
    with pytest.raises(ValueError, match="patch"):
        make_oracle(tmp_path, device="stm32f746", patch="auto", latency_ms=10)


def test_evolution_beats_random_search(tmp_path):
    """The same trials budget: evolution (population 20) against random search (a population
    as large as the budget), on 6 hidden targets; feasible under 64 kB / 256 kB."""
    best = {"evolution": [], "random": []}
    for seed in range(6):
        for kind, population in (("evolution", 20), ("random", 100)):
            oracle = make_oracle(tmp_path, f"{kind}{seed}", space=MCUNET, width=0.3,
                                 resolutions=64, max_trials=100, population=population,
                                 seed=seed, **BUDGET)
            scores = [target_score(oracle.genes, 100 + seed)(v)
                      for v in run(oracle, target_score(oracle.genes, 100 + seed), 100)]
            best[kind].append(max(scores))
    print("best matching choices, evolution vs random:", best)
    assert sum(best["evolution"]) > sum(best["random"]) + 6  # > 1 choice more on average
    assert sum(e > r for e, r in zip(best["evolution"], best["random"])) >= 5


def test_reproducible_and_resumable(tmp_path):
    score = target_score(Genes(narrow_space(TINY, 0.2, (32, 48))), 5)
    straight = run(make_oracle(tmp_path, "a", population=8, max_trials=30), score, 30)
    again = run(make_oracle(tmp_path, "b", population=8, max_trials=30), score, 30)
    other = run(make_oracle(tmp_path, "c", population=8, max_trials=30, seed=2), score, 30)
    assert straight == again and straight != other
    first = make_oracle(tmp_path, "d", population=8, max_trials=30)
    half = run(first, score, 14)
    first.save()
    state = json.loads(json.dumps(first.get_state()))  # JSON round trip
    resumed = make_oracle(tmp_path, "d", population=8, max_trials=30)
    resumed.reload()
    got = resumed.get_state()
    for s in (state, got):  # keras-tuner keeps tried_so_far in a set: its order is arbitrary
        s["tried_so_far"] = sorted(s["tried_so_far"])
    assert got == state
    assert resumed._tried == first._tried
    assert half + run(resumed, score, 30) == straight  # nothing repeated, nothing lost
    mismatch = make_oracle(tmp_path, "d", width=0.3)
    with pytest.raises(ValueError, match="another space"):
        mismatch.reload()


def test_proposes_1000_feasible_candidates_quickly(tmp_path):
    """The speed goal: 1,000 feasible candidates of w0.3-r64 under 64 kB / 256 kB (layer by
    layer), infeasible ones rejected, evolution running (trials completed with scores)."""
    oracle = make_oracle(tmp_path, space=MCUNET, width=0.3, resolutions=64, max_trials=1000,
                         **BUDGET)
    score = target_score(oracle.genes, 0)
    costed = []
    oracle._cost = lambda arch, f=oracle._cost: costed.append(1) or f(arch)
    start = time.perf_counter()
    proposals = [oracle.populate_space(f"{i:04d}") for i in range(1000)]
    seconds = time.perf_counter() - start
    assert all(p["status"] == "RUNNING" for p in proposals)
    assert len({tuple(p["values"].values()) for p in proposals}) == 1000
    # every candidate costed once (the cache answers a repeat): the 1,000 and the rejected
    assert len(costed) == len(oracle._costs) >= 1000 + 1
    print(f"1,000 feasible candidates (random) in {seconds:.2f} s, {len(costed)} costed, "
          f"rejected {oracle.rejected}")
    # and through keras-tuner's calls with evolution (each trial written to disk)
    oracle = make_oracle(tmp_path, "evolution", space=MCUNET, width=0.3, resolutions=64,
                         max_trials=1000, **BUDGET)
    start = time.perf_counter()
    assert len(run(oracle, score, 1000)) == 1000
    print(f"1,000 trials through create/update/end_trial with evolution in "
          f"{time.perf_counter() - start:.2f} s, rejected {oracle.rejected}")


def test_never_raises(tmp_path, caplog):
    oracle = make_oracle(tmp_path, max_trials=50, population=4)
    run(oracle, lambda v: 0.5, 3)
    assert oracle.populate_space(None)["status"] == "RUNNING"
    assert oracle.update_trial("no such trial", {"val_accuracy": 1.0}).trial_id == "no such trial"
    garbage = kt.engine.trial.Trial(oracle.get_space(), trial_id="nope", status="COMPLETED")
    oracle.end_trial(garbage)
    trial = oracle.create_trial("tuner0")
    oracle.update_trial(trial.trial_id, {"val_accuracy": "not a number"})
    oracle.update_trial(trial.trial_id, {"loss": 1.0})  # the objective missing
    trial.status = "COMPLETED"
    oracle.end_trial(trial)  # no score: keras-tuner counts it invalid
    assert math.isnan(oracle.trials[trial.trial_id].score)
    assert oracle.trials[trial.trial_id].status == "FAILED"
    for _ in range(2):  # three failed trials in a row: keras-tuner would raise
        trial = oracle.create_trial("tuner0")
        trial.status = "FAILED"
        oracle.end_trial(trial)
    assert "consecutive failures" in oracle.stop_reason
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert not oracle.ongoing_trials and not oracle.tuner_ids  # the chief could exit
    oracle.score_trial(garbage)
    assert math.isnan(garbage.score)


def test_exhausted_or_impossible_spaces_stop(tmp_path):
    space = SearchSpace(depths=(1,), kernels=(3,), expands=(3, 6), strides=(2, 2, 1),
                        base_widths=(16, 8, 16, 24, 32), classes=10, input_channels=1)
    oracle = make_oracle(tmp_path, "small", space=space, width=0.5, resolutions=32,
                         max_trials=20, population=4, max_tries=20)
    seen = run(oracle, lambda v: float(sum(v.values())), 20)
    assert len(seen) == 8 and "exhausted" in oracle.stop_reason
    assert oracle.create_trial("tuner0").status == "STOPPED"
    oracle = make_oracle(tmp_path, "impossible", sram="8K", flash="64K", max_tries=50)
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert "no new feasible candidate" in oracle.stop_reason and "SRAM" in oracle.stop_reason
    assert oracle.rejected["infeasible"] == 50 and not oracle.trials


def test_any_objective(tmp_path):
    oracle = make_oracle(tmp_path, objective=[kt.Objective("val_accuracy", "max"),
                                              kt.Objective("val_loss", "min")], population=4)
    trial = oracle.create_trial("tuner0")
    oracle.update_trial(trial.trial_id, {"val_accuracy": 0.75, "val_loss": 0.5})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)
    assert oracle.trials[trial.trial_id].score == pytest.approx(-0.25)
    low = make_oracle(tmp_path, "min", objective="peak_sram_bytes", population=4)
    trial = low.create_trial("tuner0")  # the cost metrics are there: score from them
    trial.status = "COMPLETED"
    low.end_trial(trial)
    assert low.trials[trial.trial_id].score == trial.metrics.get_last_value("peak_sram_bytes")


# -- the standard keras-tuner way: HyperModel -------------------------------------------------

def test_hypermodel_trains_candidates_with_a_keras_tuner_tuner(tmp_path, capsys):
    import numpy as np

    space = SearchSpace(depths=(1,), kernels=(3, 5), expands=(3,), classes=4, input_channels=1)
    oracle = TinyNASOracle(space, 0.2, 32, sram="64K", flash="256K", max_trials=3, seed=0)
    tuner = kt.Tuner(oracle=oracle, hypermodel=HyperModel(space, 0.2, 32, seed=0),
                     directory=str(tmp_path), project_name="hm")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 32, 32, 1)).astype("float32"), rng.integers(0, 4, 32)
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=16, verbose=0)
    assert [t.status for t in oracle.trials.values()] == ["COMPLETED"] * 3
    tuner.results_summary()
    assert "val_accuracy" in capsys.readouterr().out
    best = tuner.get_best_hyperparameters()[0]
    arch = oracle.arch(best)
    assert tuner.hypermodel.arch(best) == arch and oracle.feasible(arch)
    model = tuner.hypermodel.build(best)
    assert model.input_shape == (None, 32, 32, 1) and model.output_shape == (None, 4)
    assert oracle.get_best_trials()[0].metrics.exists("flash_bytes")


# -- distributed: a chief and two workers on loopback ------------------------------------------

WORKER = Path(__file__).with_name("distributed_search.py")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tuner_id, directory, port, env_extra=None):
    env = dict(os.environ, KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP="127.0.0.1",
               KERASTUNER_ORACLE_PORT=str(port), **(env_extra or {}))
    log = open(Path(directory) / f"{tuner_id}.log", "ab")
    return subprocess.Popen([sys.executable, str(WORKER), str(directory)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _finish(procs, timeout):
    deadline = time.monotonic() + timeout
    codes = {}
    try:
        for name, proc in procs.items():
            codes[name] = proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        for proc in procs.values():  # a hang fails the test, leaves nothing behind
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return codes


def test_distributed_chief_and_two_workers_survive_a_killed_worker(tmp_path):
    port = _free_port()
    procs = {"chief": _start("chief", tmp_path, port)}
    procs["tuner0"] = _start("tuner0", tmp_path, port)
    # tuner1 hangs in its second trial until killed; then a replacement with its id returns
    victim = _start("tuner1", tmp_path, port, {"HANG_IN_TRIAL": "2"})
    marker = tmp_path / "tuner1.hanging"
    deadline = time.monotonic() + 240
    while not marker.exists() and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.2)
    try:
        assert marker.exists(), (tmp_path / "tuner1.log").read_text(errors="replace")[-3000:]
        hung_trial = marker.read_text().strip()
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    procs["tuner1"] = _start("tuner1", tmp_path, port)
    codes = _finish(procs, timeout=300)
    logs = {n: (tmp_path / f"{n}.log").read_text(errors="replace")[-2000:] for n in procs}
    assert codes == {"chief": 0, "tuner0": 0, "tuner1": 0}, logs
    trials = [json.loads(p.read_text()) for p in sorted((tmp_path / "dist").glob("trial_*/trial.json"))]
    assert len(trials) == 12 and all(t["status"] == "COMPLETED" for t in trials), logs
    assert hung_trial in {t["trial_id"] for t in trials}
    ran = [line.split() for line in (tmp_path / "ran.txt").read_text().split("\n") if line]
    assert [tid for tid, who in ran if tid == hung_trial] == [hung_trial] * 2  # run twice
    assert {who for _, who in ran} == {"tuner0", "tuner1"}
    for t in trials:  # the score is the known function of the arch; the cost came along
        assert t["score"] == pytest.approx(float(sum(t["hyperparameters"]["values"].values())))
        assert set(COST_METRICS) <= set(t["metrics"]["metrics"])
    oracle_state = json.loads((tmp_path / "dist" / "oracle.json").read_text())
    assert len(oracle_state["tinynas"]["tried"]) == 12 and not oracle_state["ongoing_trials"]
