"""Whole models: every zoo network (Keras MobileNetV2 0.35, the MLPerf Tiny models, the MCUNet /
MobileNetV2 / ProxylessNAS architectures of benchmarks/archs) gives TFLite Micro's bytes, with
the portable kernels and the DSP path's (its instructions emulated on the host); their AVX2
builds are test_sanitizers.py's."""
from __future__ import annotations

import pytest

from tflm_mcunet.benchmarks import zoo

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf]  # the tiers: tests/conftest.py


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.zoo_names())
def test_zoo_model_is_bit_exact(bit_exact, zoo_tflite, name):
    # the AVX2 build of every zoo model is test_sanitizers.py's (bit-exact too)
    conversion = bit_exact(zoo_tflite(name), samples=4, all_paths=True, skip_paths=("avx2",))
    assert conversion.report.macs > 0


def test_bundled_example_is_the_zoo_model():
    from tflm_mcunet.cli import example_model

    assert example_model().exists()
    assert zoo.EXAMPLE_MODEL in zoo.zoo_names()
