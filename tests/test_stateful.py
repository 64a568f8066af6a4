"""Streaming models that keep state between invokes (resource variables initialised through
CALL_ONCE): TFLite Micro carries the state over a sequence of invokes, and the generated C gives
the same bytes over >= 100 invokes, and again after a reset."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf, pytest.mark.tflm]  # the tiers: tests/conftest.py

import stateful_models  # noqa: E402

from tflm_mcunet.tflm import model_op_names, run_tflm_batch, run_tflm_sequence  # noqa: E402

INVOKES = 120


@pytest.fixture(scope="module")
def models():
    """Every test model, built once per module (a few seconds each)."""
    return {
        "conv1d": stateful_models.conv1d_spotter(),
        "depthwise": stateful_models.depthwise_detector(),
        "depthwise_uint8": stateful_models.depthwise_detector("uint8", random_init=True),
    }


def frames(model: bytes, count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` random int8 inputs of the model's input shape."""
    from tflm_mcunet.tflm import _parse

    main = _parse(model).subgraphs[0]
    shape = tuple(int(d) for d in main.tensors[main.inputs[0]].shape)
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(count)]


def test_models_have_the_streaming_ops(models):
    ops = model_op_names(models["depthwise_uint8"])
    for kind in ("CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CONCATENATION",
                 "STRIDED_SLICE", "SPLIT_V", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                 "LOGISTIC", "QUANTIZE"):
        assert kind in ops
    assert "DEQUANTIZE" not in ops  # the state is int8, no float island


def test_tflite_micro_carries_the_state(models):
    for name, model in models.items():
        xs = frames(model, 8)
        carried = run_tflm_sequence(model, xs)
        alone = run_tflm_batch(model, xs)
        assert carried[0][0].tobytes() == alone[0][0].tobytes()
        assert [o[0].tobytes() for o in carried] != [o[0].tobytes() for o in alone], name
