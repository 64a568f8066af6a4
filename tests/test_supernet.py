"""TinyNAS stage 2, the supernet: exact extraction, training by Keras' conventions, resume,
tf.distribute, and the data it reads.

The supernet of the MCUNet space (w0.2, resolutions 28 and 32, Fashion-MNIST's 10 classes and
grey images) trains briefly on 2,048 real images; every subnet extracted from it must give the
supernet's outputs, convert to int8, run bit-exact with TFLite Micro in our C, and peak at
exactly `search.cost`'s SRAM. Resume and distribution use a smaller space (faster traces).
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tflm_mcunet import datasets
from tflm_mcunet.search import SearchSpace, cost

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.xdist_group("supernet"), pytest.mark.tf]  # one worker trains the shared supernet

from tflm_mcunet.search.data import as_arrays, image_dataset, preprocess  # noqa: E402
from tflm_mcunet.search.supernet import Supernet, train_supernet  # noqa: E402

SPACE = SearchSpace(classes=10, input_channels=1)
#: two searchable stages, depth 1-2: the same elastic features, a graph a quarter the size
SMALL = SearchSpace(strides=(2, 2), base_widths=(8, 8, 16, 24), depths=(1, 2),
                    kernels=(3, 5, 7), expands=(3, 6), last_depth=2, classes=10,
                    input_channels=1)


@pytest.fixture(scope="module")
def fashion():
    (x, y), (xt, yt) = datasets.fashion_mnist()
    return (x[:2048], y[:2048]), (xt[:512], yt[:512])


@pytest.fixture(scope="module")
def trained(fashion):
    """A supernet of the MCUNet space trained for 3 short epochs, and its History."""
    import keras

    keras.utils.set_random_seed(0)
    net = Supernet(SPACE, 0.2, (28, 32))
    history = train_supernet(net, fashion[0], fashion[1], epochs=3, batch_size=128,
                             verbose=0)
    return net, history


def test_training_follows_keras_conventions(trained):
    net, history = trained
    assert history.epoch == [0, 1, 2]
    for key in ("loss", "accuracy", "subnet_loss", "val_loss", "val_accuracy"):
        assert len(history.history[key]) == 3 and np.isfinite(history.history[key]).all()
    assert history.history["loss"][2] < history.history["loss"][0]
    # scored after recalibration: the moving averages alone give about chance (measured)
    assert history.history["val_accuracy"][2] > 0.3
    assert net.traces["train_step"] == 1  # traced once for 48 steps of different subnets
    assert int(net.optimizer.iterations) == 48


def test_recalibrated_subnets_learned(trained, fashion):
    """After 48 steps the largest and the smallest subnet, recalibrated, are well above chance
    (10%) on held-out images, through Keras' evaluate on the active subnet."""
    net, _ = trained
    images, _ = as_arrays(fashion[0], net.max_resolution, 1, limit=1024)
    val = image_dataset(fashion[1], net.max_resolution, 1)
    for arch in (net.largest(), net.smallest()):
        net.recalibrate(arch, images, batches=8)
        net.set_active(arch)
        assert net.evaluate(val, verbose=0, return_dict=True)["accuracy"] > 0.3


def test_subnets_extract_exactly(trained, fashion):
    """20 random subnets (and the extremes): the extracted functional Keras model gives the
    supernet's outputs in inference mode, after batch-norm recalibration."""
    net, _ = trained
    images, _ = as_arrays(fashion[0], net.max_resolution, 1, limit=512)
    rng = random.Random(0)
    archs = [net.largest(), net.smallest()] + [net.sample(rng) for _ in range(20)]
    assert len({a for a in archs}) == len(archs)
    for arch in archs:
        net.recalibrate(arch, images, batches=4)
        x = preprocess(images[:64], arch.resolution, 1).numpy()
        model = net.extract(arch)
        assert [layer.__class__.__name__ for layer in model.layers if layer.weights] and \
            {layer.__class__.__name__ for layer in model.layers} <= {
                "InputLayer", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU",
                "Add", "GlobalAveragePooling2D", "Dense"}
        expected = model(x, training=False).numpy()
        assert np.abs(net.run(x, arch).numpy() - expected).max() <= 1e-5, arch.to_json()
    assert net.traces["run"] == 2 and net.traces["recalibrate"] == 1  # one per resolution
    # the active subnet serves Keras' predict
    net.set_active(archs[-1])
    x = preprocess(images[:64], archs[-1].resolution, 1).numpy()
    np.testing.assert_allclose(net.predict(x, verbose=0), net.run(x, archs[-1]).numpy(),
                               atol=1e-5)


@pytest.mark.parametrize("which", ["largest", "smallest", "random"])
def test_extracted_subnet_converts_bit_exact(trained, fashion, which, bit_exact):
    """The extracted subnet quantizes to int8; our C gives TFLite Micro's bytes, and its peak
    SRAM is the cost model's."""
    from tflm_mcunet.quantize import quantize_keras

    net, _ = trained
    arch = {"largest": net.largest(), "smallest": net.smallest(),
            "random": net.sample(random.Random(5))}[which]
    images, _ = as_arrays(fashion[0], arch.resolution, 1, limit=256)
    net.recalibrate(arch, images, batches=2)
    tflite = quantize_keras(net.extract(arch), images[:64])
    conversion = bit_exact(tflite)
    assert conversion.report.peak_sram_bytes == cost(arch).peak_sram_bytes


def test_choices_encode_and_reject(trained):
    net, _ = trained
    rng = random.Random(1)
    for _ in range(20):
        arch = net.sample(rng)
        assert net.decode(net.encode(arch)) == arch
        assert net.space.arch(net.space.values(arch), 0.2) == arch
    assert len(net.encode(net.largest())) == len(SPACE.choices())  # resolution included
    other = SearchSpace(classes=10, input_channels=1).largest(0.3, 32)
    with pytest.raises(ValueError, match="not a subnet"):
        net.encode(other)
    with pytest.raises(ValueError, match="resolution 48"):
        net.encode(SPACE.largest(0.2, 48))


def test_kernel_transformation_starts_at_the_centre():
    """A fresh 7x7 -> 5x5 -> 3x3 kernel: each smaller kernel is the larger one's centre (the
    transformation matrices start as identities) and learns its own once they move."""
    from tflm_mcunet.search.supernet.layers import ElasticDepthwise

    layer = ElasticDepthwise(6, (3, 5, 7), name="dw")
    big = layer.kernel.numpy()
    np.testing.assert_allclose(layer.weights_for(5, 4), big[1:6, 1:6, :4], atol=1e-7)
    np.testing.assert_allclose(layer.weights_for(3, 6), big[2:5, 2:5], atol=1e-7)
    layer.transforms[0].assign(layer.transforms[0].numpy()[::-1])
    assert not np.allclose(layer.weights_for(5, 4), big[1:6, 1:6, :4])
    with pytest.raises(ValueError, match="kernel size 9"):
        layer.weights_for(9, 4)


def test_resume_after_an_interruption(tmp_path, fashion):
    """backup_dir: a run stopped after its first epoch resumes at the second, with the
    optimizer's state and step (the subnets drawn continue from there)."""
    import keras

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    data = (fashion[0][0][:512], fashion[0][1][:512])
    keras.utils.set_random_seed(0)
    net = Supernet(SMALL, 0.5, 28)
    with pytest.raises(KeyboardInterrupt):
        train_supernet(net, data, epochs=2, backup_dir=tmp_path / "backup",
                       callbacks=[Stop()], verbose=0)
    keras.utils.set_random_seed(1)
    again = Supernet(SMALL, 0.5, 28)
    history = train_supernet(again, data, epochs=2, backup_dir=tmp_path / "backup", verbose=0)
    assert history.epoch == [1]
    assert int(again.optimizer.iterations) == 8
    assert not (tmp_path / "backup").exists() or not any((tmp_path / "backup").iterdir())


def test_distributed_training_on_two_devices(tmp_path):
    """tf.distribute: the supernet built in a MirroredStrategy scope over two logical CPU
    devices trains with `train_supernet` unchanged; both replicas hold the same weights."""
    script = textwrap.dedent("""
        import json, sys
        import numpy as np
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from tflm_mcunet import datasets
        from tflm_mcunet.search import SearchSpace
        from tflm_mcunet.search.supernet import Supernet, train_supernet
        space = SearchSpace(strides=(2, 2), base_widths=(8, 8, 16, 24), depths=(1, 2),
                            kernels=(3, 5, 7), expands=(3, 6), last_depth=2, classes=10,
                            input_channels=1)
        (x, y), (xt, yt) = datasets.fashion_mnist()
        keras.utils.set_random_seed(0)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            net = Supernet(space, 0.5, 28)
        history = train_supernet(net, (x[:1024], y[:1024]), (xt[:256], yt[:256]), epochs=2,
                                 verbose=0)
        kernel = net.first.kernel.value
        replicas = [v.numpy() for v in strategy.experimental_local_results(kernel)]
        print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                          "same": all(np.array_equal(replicas[0], r) for r in replicas),
                          "loss": history.history["loss"],
                          "val_accuracy": history.history["val_accuracy"],
                          "steps": int(net.optimizer.iterations.numpy())}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=900, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["same"] and result["steps"] == 16
    assert np.isfinite(result["loss"]).all() and result["loss"][1] < result["loss"][0]
    assert result["val_accuracy"][1] > 0.2  # recalibrated across the replicas, then scored


def test_images_are_prepared_for_the_network():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    x = preprocess(grey, 28, 1).numpy()
    assert x.shape == (4, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], grey / 255.0, atol=1e-7)
    assert preprocess(grey, 32, 3).shape == (4, 32, 32, 3)
    colour = rng.uniform(0, 1, (2, 40, 40, 3)).astype(np.float32)
    assert preprocess(colour, 32, 1).shape == (2, 32, 32, 1)
    with pytest.raises(ValueError, match="4 channels"):
        preprocess(np.zeros((2, 8, 8, 4), np.uint8), 8, 3)
    with pytest.raises(ValueError, match="batch"):
        preprocess(np.zeros((8, 8), np.uint8), 8, 1)
    batches = list(image_dataset((grey, np.eye(10)[[1, 2, 3, 4]]), 32, 1, batch_size=3))
    assert [b[0].shape[0] for b in batches] == [3, 1]
    assert batches[0][1].numpy().tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="3 labels"):
        image_dataset((grey, np.zeros(3)), 32, 1)


def test_fashion_mnist_loader(tmp_path):
    (x, y), (xt, yt) = datasets.fashion_mnist()
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8 and xt.shape == (10000, 28, 28)
    assert y.shape == (60000,) and set(np.unique(yt)) == set(range(10))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        datasets.fashion_mnist([tmp_path], download=False)
    import gzip

    with gzip.open(tmp_path / "t.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(ValueError, match="truncated"):
        datasets.read_idx(tmp_path / "t.gz")
