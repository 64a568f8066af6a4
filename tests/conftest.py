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


def check_bit_exact(model: bytes, out_dir, samples: int = 5, seed: int = 0):
    """Convert, compile, run beside TFLite Micro; assert every output byte is equal."""
    conversion = convert(model, out_dir, force=True)
    host = compile_host(out_dir)
    inputs = random_inputs(host, samples, seed)
    reference = run_tflm_batch(model, inputs)
    for k, (sample, ref) in enumerate(zip(inputs, reference)):
        ours = host.invoke(*sample)
        ours = ours if isinstance(ours, list) else [ours]
        assert len(ours) == len(ref)
        for i, (a, b) in enumerate(zip(ours, ref)):
            a, b = np.asarray(a), np.asarray(b)
            assert a.dtype == b.dtype and a.size == b.size, (a.dtype, a.shape, b.dtype, b.shape)
            if a.tobytes() != b.tobytes():
                diff = np.flatnonzero(a.reshape(-1) != b.reshape(-1))
                pytest.fail(f"sample {k}, output {i}: {diff.size} of {a.size} values differ; "
                            f"first at {diff[0]}: ours {a.reshape(-1)[diff[0]]}, "
                            f"TFLM {b.reshape(-1)[diff[0]]}")
    return conversion


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
