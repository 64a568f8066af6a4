"""The baselines of the NAS benchmark: scaled MobileNetV2 and ProxylessNAS-Mobile, the largest
that fits a budget, and the batch-norm recalibration of a network trained from scratch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tflm_mcunet.search import Arch, cost
from tflm_mcunet.search.baselines import BASELINE_WIDTHS, largest_fitting, scaled
from tflm_mcunet.search.nas import budget_device

ARCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "archs"


def _blocks(arch: Arch) -> list[tuple[int, int, int]]:
    return [(b["kernel"], b["expand"], b["stride"]) for b in arch.blocks()]


def test_scaled_networks_are_mcunets_published_baselines():
    # MCUNet's scaled MobileNetV2 (model zoo): every width, the feature mix's too
    published = Arch.from_json(ARCH_DIR / "mbv2-w0.35-r144.json")
    ours = scaled("mobilenetv2", 0.35, 144)
    assert ours == published
    # ProxylessNAS-Mobile's blocks (MCUNet rounds its narrow widths differently)
    published = Arch.from_json(ARCH_DIR / "proxyless-w0.3-r176.json")
    ours = scaled("proxylessnas", 0.3, 176)
    assert _blocks(ours) == _blocks(published)
    assert ours.depths == published.depths == (1, 2, 4, 4, 4, 4, 1)
    assert ours.feature_mix == published.feature_mix == 384
    with pytest.raises(ValueError, match="unknown network family 'resnet'.*mobilenetv2"):
        scaled("resnet", 0.5, 64)


@pytest.mark.parametrize("family", ["mobilenetv2", "proxylessnas"])
def test_largest_fitting_is_the_largest_that_fits(family):
    device = budget_device(sram="64K", flash="256K")
    arch, c = largest_fitting(family, device, (32, 40), classes=10, input_channels=1)
    assert c.fits and c == cost(arch, device)
    assert (arch.classes, arch.input_channels) == (10, 1)
    for r in (32, 40):  # no fitting network of the grid has more MACs
        for w in BASELINE_WIDTHS:
            other = cost(scaled(family, w, r, classes=10, input_channels=1), device)
            assert not other.fits or other.macs <= c.macs
    wider = scaled(family, round(arch.width_mult + 0.05, 2), arch.resolution, classes=10,
                   input_channels=1)
    assert not cost(wider, device).fits


def test_largest_fitting_says_when_nothing_fits():
    device = budget_device(sram="8K", flash="64K")
    with pytest.raises(ValueError, match="no proxylessnas of width 0.05-1.0 at resolution "
                                         "32, 40 fits"):
        largest_fitting("proxylessnas", device, (32, 40), classes=10, input_channels=1)


@pytest.mark.tf
def test_recalibrate_batch_norm_sets_the_exact_average():
    from tflm_mcunet.search.keras_model import import_keras, recalibrate_batch_norm

    keras = import_keras()
    conv = keras.layers.Conv2D(4, 3, use_bias=False, name="conv")
    norm = keras.layers.BatchNormalization(momentum=0.99, name="bn")
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.ReLU()(norm(conv(inputs))))
    images = np.random.default_rng(0).normal(2.0, 3.0, (40, 8, 8, 1)).astype(np.float32)
    assert recalibrate_batch_norm(model, images, batches=3, batch_size=16) == 3  # 16, 16, 8
    features = np.asarray(conv(images))
    batches = [features[:16], features[16:32], features[32:]]
    mean = np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0)
    variance = np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0)
    np.testing.assert_allclose(np.asarray(norm.moving_mean), mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(norm.moving_variance), variance, rtol=1e-4)
    assert norm.momentum == 0.99  # restored
    with pytest.raises(ValueError, match="no images"):
        recalibrate_batch_norm(model, images[:0])


@pytest.mark.tf
@pytest.mark.parametrize("as_dataset", [False, True])
def test_recalibrating_callback_scores_validation_with_exact_statistics(as_dataset):
    """HyperModel.fit's callback: before a validation, the moving averages are the exact
    average over the training images' first batches, from arrays or from a dataset."""
    from tflm_mcunet.search.keras_model import import_keras, recalibrating_callback

    keras = import_keras()
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    conv = keras.layers.Conv2D(4, 3, use_bias=False, name="conv")
    norm = keras.layers.BatchNormalization(name="bn")
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(norm(conv(inputs))))
    model = keras.Model(inputs, outputs)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(1)
    images = rng.normal(2.0, 3.0, (48, 8, 8, 1)).astype(np.float32)
    labels = rng.integers(0, 2, 48)
    train = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16) if as_dataset \
        else images
    callback = recalibrating_callback(train, batches=2, batch_size=16)
    model.fit(images, labels, batch_size=16, epochs=1, validation_data=(images, labels),
              callbacks=[callback], verbose=0, shuffle=False)
    features = np.asarray(conv(images[:32]))
    mean = np.mean([features[:16].mean(axis=(0, 1, 2)), features[16:].mean(axis=(0, 1, 2))],
                   axis=0)
    np.testing.assert_allclose(np.asarray(norm.moving_mean), mean, rtol=1e-4, atol=1e-5)
