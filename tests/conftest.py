"""Shared test helpers: the oracle comparison against TFLite Micro."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from tflm_mcunet import compile_host, convert
from tflm_mcunet.tflm import run_tflm_batch

_counter = itertools.count()


def random_inputs(host, samples: int, seed: int) -> list[list[np.ndarray]]:
    """Random inputs for every model input: the full int8 range, extremes included."""
    rng = np.random.default_rng(seed)
    batches = []
    for k in range(samples):
        sample = []
        for info in host.inputs:
            if info["dtype"] == np.float32:
                sample.append(rng.uniform(-1.5, 1.5, info["shape"]).astype(np.float32))
            elif k == 0:
                sample.append(np.full(info["shape"], -128, np.int8))
            elif k == 1:
                sample.append(np.full(info["shape"], 127, np.int8))
            else:
                sample.append(rng.integers(-128, 128, info["shape"], dtype=np.int8))
        batches.append(sample)
    return batches


def compare_with_tflm(model: bytes, out_dir, batches):
    """Convert, compile, run every batch here and in TFLite Micro; every output byte must agree.

    `batches` is a list of input lists, or a function of the compiled HostModel giving one.
    """
    conversion = convert(model, out_dir, force=True)
    host = compile_host(out_dir)
    if callable(batches):
        batches = batches(host)
    reference = run_tflm_batch(model, batches)
    for k, (sample, ref) in enumerate(zip(batches, reference)):
        ours = host.invoke(*sample)
        ours = ours if isinstance(ours, list) else [ours]
        assert len(ours) == len(ref)
        for i, (a, b) in enumerate(zip(ours, ref)):
            a, b = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
            assert a.dtype == b.dtype and a.size == b.size, (a.dtype, a.size, b.dtype, b.size)
            if a.tobytes() != b.tobytes():
                bad = np.flatnonzero(a != b)
                where = f"index {bad[0]}"
                if len(sample) == len(ours):  # one input per output: name the input value
                    where += f" (input {np.asarray(sample[i]).reshape(-1)[bad[0]]})"
                pytest.fail(f"sample {k}, output {i}: {bad.size} of {a.size} values differ; "
                            f"first at {where}: ours {a[bad[0]]}, TFLM {b[bad[0]]}")
    return conversion


def check_bit_exact(model: bytes, out_dir, samples: int = 5, seed: int = 0):
    """compare_with_tflm on random inputs (all -128, all 127, then uniform int8)."""
    return compare_with_tflm(model, out_dir, lambda host: random_inputs(host, samples, seed))


@pytest.fixture
def bit_exact(tmp_path):
    """check_bit_exact(model_bytes) with a fresh output folder per call."""
    def check(model: bytes, **kwargs):
        return check_bit_exact(model, tmp_path / f"c{next(_counter)}", **kwargs)
    return check


@pytest.fixture(scope="session")
def zoo_dir(request, tmp_path_factory):
    """Built zoo models are cached across runs in the pytest cache (keyed by source hashes)."""
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return cache.mkdir("tflm_mcunet_zoo")
    return tmp_path_factory.mktemp("zoo")


@pytest.fixture(scope="session")
def zoo_tflite(zoo_dir):
    """zoo_tflite(name) -> the int8 .tflite bytes of a zoo model."""
    from tflm_mcunet.benchmarks import zoo

    built: dict[str, bytes] = {}

    def get(name: str) -> bytes:
        if name not in built:
            built[name] = zoo.cached_zoo_tflite(name, zoo_dir)
        return built[name]

    return get
