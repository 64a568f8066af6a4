"""Fuzz: hostile and broken .tflite files end in a ConversionError or a correct conversion.

Mutants of small valid models (tests/flatbuffer_models.py, built without TensorFlow) go
through the converter's in-memory path (read, legalize, plan, emit: `pipeline.generate`).
Every one must end in `tflm_mcunet.ConversionError` with a one-line message, or in generated
files; never another exception, a hang (each input has a time budget), or a large allocation.
The mutations are in tests/fuzz_mutations.py.

Counts: TFLM_MCUNET_FUZZ_EXAMPLES (default 10000) inputs in all, 60 % structured, 40 % raw
bytes; the pytest summary prints how many were tried and how they ended. The mutants that
convert are also compiled with the sanitizers and compared with TFLite Micro
(TFLM_MCUNET_FUZZ_RUN_EXAMPLES, default 40).
"""
from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from flatbuffer_models import pack, seed_models
from fuzz_mutations import (Seeds, byte_mutant, m_activation_quant, m_buffer_data,
                            m_name, m_options, m_quantization, structured_mutant)
from tflm_mcunet import ConversionError
from tflm_mcunet.converter.pipeline import generate

EXAMPLES = int(os.environ.get("TFLM_MCUNET_FUZZ_EXAMPLES", "10000"))
RUN_EXAMPLES = int(os.environ.get("TFLM_MCUNET_FUZZ_RUN_EXAMPLES", "40"))
#: per-input time budget: a hang guard, not a speed test (a conversion takes milliseconds)
BUDGET_SECONDS = float(os.environ.get("TFLM_MCUNET_FUZZ_BUDGET", "5"))
#: the converter may not allocate more than this over the whole fuzz run
MAX_RSS_GROWTH = 512 << 20

SEEDS = Seeds(seed_models())
FAILURES = Path(tempfile.gettempdir()) / "tflm-mcunet-fuzz-failures"


class Hang(BaseException):
    """Raised by the alarm: BaseException, so that no `except Exception` can swallow it."""


@contextlib.contextmanager
def time_budget(seconds: float):
    def on_alarm(signum, frame):
        raise Hang(f"the conversion took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _save(model: bytes) -> Path:
    FAILURES.mkdir(exist_ok=True)
    path = FAILURES / f"{hashlib.sha256(model).hexdigest()[:16]}.tflite"
    path.write_bytes(model)
    return path


def outcome(model: bytes) -> str:
    """'converted' or the ConversionError's kind of message; fails the test on anything else."""
    try:
        with time_budget(BUDGET_SECONDS):
            try:
                generate(model, name="fuzz.tflite")
            except ConversionError as e:
                message = str(e)
                assert message.startswith("fuzz.tflite: "), message
                assert "\n" not in message and len(message) < 2000, message
                return "ConversionError"
    except (Hang, Exception) as e:
        path = _save(model)
        raise AssertionError(f"{type(e).__name__} instead of a ConversionError on {path} "
                             f"(reproduce: tflm-mcunet --verbose convert {path} -o out): "
                             f"{e}") from e
    return "converted"


def _peak_rss() -> int:
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _fuzz(record_property, kind: str, mutant, examples: int) -> None:
    stats: collections.Counter = collections.Counter()
    rss = _peak_rss()

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        stats[outcome(mutant(data, SEEDS))] += 1

    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    tried = sum(stats.values())
    record_property("fuzz_inputs", tried)
    record_property("fuzz_seconds", round(seconds, 1))
    record_property("fuzz_outcomes", dict(stats))
    print(f"\n{kind}: {tried} inputs in {seconds:.1f} s: {dict(stats)}")
    assert tried >= examples, f"hypothesis ran {tried} of {examples} examples"
    assert _peak_rss() - rss < MAX_RSS_GROWTH, "the converter allocated too much memory"


def test_seed_models_convert():
    for name, model in SEEDS.raw.items():
        assert outcome(model) == "converted", name


def test_seed_models_hold_every_supported_operator():
    """The fuzz and sanitizer tests start from the seeds: a new operator joins them."""
    from tflm_mcunet.converter.ops import supported_kinds
    from tflm_mcunet.tflm import model_op_names

    held = {kind for model in SEEDS.raw.values() for kind in model_op_names(model)}
    assert set(supported_kinds()) - held == set()


def test_fuzz_structured_mutations(record_property):
    _fuzz(record_property, "structured mutations", structured_mutant, EXAMPLES * 6 // 10)


def test_fuzz_byte_mutations(record_property):
    _fuzz(record_property, "byte mutations", byte_mutant, EXAMPLES - EXAMPLES * 6 // 10)


#: mutations that often leave a model convertible: its numbers change, not its structure
NUMERIC = [m_quantization, m_activation_quant, m_buffer_data, m_options, m_name]


def numeric_mutant(data, seeds: Seeds) -> bytes:
    m = seeds.fresh(data.draw(st.sampled_from(seeds.names), label="seed"))
    for _ in range(data.draw(st.integers(1, 2), label="mutations")):
        data.draw(st.sampled_from(NUMERIC), label="mutation")(data, m)
    return pack(m)


def run_mutant(data, seeds: Seeds) -> bytes:
    """Half numeric mutants (they convert often), half structured ones."""
    return (numeric_mutant if data.draw(st.booleans()) else structured_mutant)(data, seeds)


@pytest.mark.tflm
def test_mutants_that_convert_run_clean_and_match_tflm(tmp_path, record_property):
    """The mutants that convert are correct conversions: built with ASan and UBSan, they run
    clean and give TFLite Micro's bytes (TFLite Micro must then accept them too)."""
    from sanitize import random_batches, sanitized_matches_tflm

    stats: collections.Counter = collections.Counter()

    @settings(max_examples=RUN_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        model = run_mutant(data, SEEDS)
        if outcome(model) != "converted":
            stats["ConversionError"] += 1
            return
        out = tmp_path / f"m{sum(stats.values())}"
        try:
            sanitized_matches_tflm(model, out, lambda c: random_batches(c, 4, 1))
        except BaseException:
            _save(model)
            raise
        stats["converted, bit-exact"] += 1

    run()
    record_property("fuzz_run_inputs", sum(stats.values()))
    record_property("fuzz_run_outcomes", dict(stats))
    print(f"\nconverted mutants run under the sanitizers: {dict(stats)}")
    assert stats["converted, bit-exact"] > 0
