"""Quantization-aware training: the tf-keras rebuild that tensorflow-model-optimization needs
computes what the Keras 3 model computes, and models it cannot rebuild get a clear error.
(`tests/test_tinynas.py` trains a searched network quantization-aware and compares the int8
model with TFLite Micro.)"""
from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("tf_keras")
pytestmark = [pytest.mark.tf]  # the tiers: tests/conftest.py

import keras  # noqa: E402

from tflm_mcunet.legacy_keras import to_tf_keras  # noqa: E402
from tflm_mcunet.search import SearchSpace, build_keras  # noqa: E402


def _randomise_batch_norm(model, seed=0):
    """Moving statistics and affine parameters away from their initial values, so that a
    rebuild that dropped them would show."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 2, var.shape)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_searched_networks_rebuild_exactly(seed):
    keras.utils.set_random_seed(seed)
    arch = SearchSpace(classes=10, input_channels=1).sample(0.3, 32, random.Random(seed))
    model = build_keras(arch)
    _randomise_batch_norm(model, seed)
    legacy = to_tf_keras(model)
    assert [l.name for l in legacy.layers] == [l.name for l in model.layers]
    x = np.random.default_rng(seed).random((3, 32, 32, 1), np.float32)
    np.testing.assert_allclose(legacy(x, training=False).numpy(),
                               model(x, training=False).numpy(), rtol=1e-4, atol=1e-4)


def test_sequential_models_rebuild_exactly():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3)])
    x = np.random.default_rng(0).random((5, 8), np.float32)
    np.testing.assert_allclose(to_tf_keras(model)(x).numpy(), model(x).numpy(), rtol=1e-5,
                               atol=1e-5)


def test_a_custom_layer_gets_a_clear_error():
    class Doubling(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(Doubling(name="twice")(inputs)))
    with pytest.raises(ValueError, match=r"layer #1 'twice' \(Doubling\).*post-training"):
        to_tf_keras(model)
