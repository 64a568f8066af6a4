"""Whole models: every zoo network (Keras MobileNetV2 0.35, the MLPerf Tiny models, the MCUNet /
MobileNetV2 / ProxylessNAS architectures of benchmarks/archs) gives TFLite Micro's bytes, with
the portable kernels, the DSP path's (its instructions emulated on the host) and, where the CPU
has AVX2, the AVX2 path's."""
from __future__ import annotations

import pytest

from tflm_mcunet.benchmarks import zoo

pytest.importorskip("tensorflow")


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.zoo_names())
def test_zoo_model_is_bit_exact(bit_exact, zoo_tflite, name):
    conversion = bit_exact(zoo_tflite(name), samples=4, all_paths=True)
    assert conversion.report.macs > 0


def test_bundled_example_is_the_zoo_model():
    from tflm_mcunet.cli import example_model

    assert example_model().exists()
    assert zoo.EXAMPLE_MODEL in zoo.zoo_names()
