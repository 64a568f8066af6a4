"""The Keras model of an architecture (needs the `[tf]` extra).

The one Keras builder of the search space: the search (`build_keras`, the supernet's
`extract`) and the model zoo (`benchmarks.zoo`, which builds `archs/*.json` with it) use it.
Layer names are part of the contract: the supernet writes its weights into them.

    first_conv, first_bn, first_relu6
    block{i}_expand_conv / _bn / _relu6   (absent when the block's expansion is 1)
    block{i}_dw_dw / _bn / _relu6
    block{i}_project_conv / _bn, block{i}_add (residual)
    feature_mix_conv / _bn / _relu6 (optional), global_pool, classifier

Keras/TF are imported only when a model is built.
"""
from __future__ import annotations

import re

from .space import Arch

__all__ = ["build_keras", "conv_bn_act", "import_keras", "recalibrate_batch_norm",
           "recalibrating_callback"]


def import_keras():
    """Keras 3 on TensorFlow, with TensorFlow's start-up noise silenced."""
    from ..quiet_tf import import_tf

    import_tf()
    import keras

    return keras


def conv_bn_act(keras, x, filters, kernel, stride, name, act=None, *, use_bias=False,
                depthwise=False):
    """Conv (or depthwise conv) with SAME padding, batch norm, then `act` ("relu", "relu6" or
    None). Layers: `{name}_conv` (`{name}_dw`), `{name}_bn`, `{name}_{act}`."""
    L = keras.layers
    if depthwise:
        x = L.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=use_bias,
                              name=f"{name}_dw")(x)
    else:
        x = L.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=use_bias,
                     name=f"{name}_conv")(x)
    x = L.BatchNormalization(name=f"{name}_bn")(x)
    if act == "relu":
        x = L.ReLU(name=f"{name}_relu")(x)
    elif act == "relu6":
        x = L.ReLU(6.0, name=f"{name}_relu6")(x)
    elif act is not None:
        raise ValueError(f"activation {act!r}: expected 'relu', 'relu6' or None")
    return x


def build_keras(arch: Arch, *, seed: int | None = None):
    """The Keras model of `arch`: convs with SAME padding and no bias, each followed by batch
    norm (+ ReLU6, except the linear projections), residual adds, global average pooling and a
    dense classifier giving logits. Weights are Keras' initial values (seeded if `seed`)."""
    keras = import_keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    L = keras.layers
    r = arch.resolution
    inp = keras.Input((r, r, arch.input_channels), name="image")
    x = conv_bn_act(keras, inp, arch.first_conv, arch.first_kernel, arch.first_stride,
                    "first", "relu6")
    for i, b in enumerate(arch.blocks()):
        name = f"block{i}"
        y = x
        if b["expand"] != 1:
            y = conv_bn_act(keras, y, b["mid"], 1, 1, f"{name}_expand", "relu6")
        y = conv_bn_act(keras, y, None, b["kernel"], b["stride"], f"{name}_dw", "relu6",
                        depthwise=True)
        y = conv_bn_act(keras, y, b["out"], 1, 1, f"{name}_project")
        if b["residual"]:
            y = L.Add(name=f"{name}_add")([x, y])
        x = y
    if arch.feature_mix:
        x = conv_bn_act(keras, x, arch.feature_mix, 1, 1, "feature_mix", "relu6")
    x = L.GlobalAveragePooling2D(name="global_pool")(x)
    x = L.Dense(arch.classes, name="classifier")(x)
    return keras.Model(inp, x, name=re.sub(r"[^0-9A-Za-z_]", "_", arch.label()) or "arch")


def recalibrate_batch_norm(model, images, *, batches: int = 20, batch_size: int = 128) -> int:
    """Set every batch-norm layer's moving statistics to their exact average over `batches`
    batches of `images` (an array prepared for the model), as a supernet's subnets are
    recalibrated. A network trained from scratch needs it too: at the end of a short
    training the moving averages lag the weights (measured: MobileNetV2 0.25 after 5 epochs of
    Fashion-MNIST, 81% accuracy in training mode and 10% in inference mode). Returns the
    number of batches used."""
    keras = import_keras()
    def walk(layer):  # nested models included
        yield layer
        for inner in getattr(layer, "layers", ()):
            yield from walk(inner)
    norms = [layer for layer in walk(model) if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in norms]
    count = 0
    try:
        for start in range(0, min(len(images), batches * batch_size), batch_size):
            for layer in norms:  # momentum k / (k + 1): the mean of the k + 1 batches seen
                layer.momentum = count / (count + 1)
            model(images[start:start + batch_size], training=True)
            count += 1
    finally:
        for layer, momentum in zip(norms, saved):
            layer.momentum = momentum
    if count == 0:
        raise ValueError("recalibrate_batch_norm: no images given")
    return count


def recalibrating_callback(images, *, batches: int = 20, batch_size: int = 128):
    """A Keras callback that recalibrates the model's batch norm (`recalibrate_batch_norm`) on
    `images` before every evaluation, so that `fit`'s validation scores (what keras-tuner
    ranks candidates by) are not those of lagging moving averages. `images`: an array, or a
    `tf.data.Dataset` of batches (of images or of (images, labels)): the first `batches`
    batches are kept."""
    keras = import_keras()
    if not hasattr(images, "shape"):  # a dataset: keep its first batches as one array
        import numpy as np

        kept = []
        for batch in images.take(batches):
            kept.append(np.asarray(batch[0] if isinstance(batch, (tuple, list)) else batch))
        images = np.concatenate(kept)

    class RecalibrateBatchNorm(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            recalibrate_batch_norm(self.model, images, batches=batches, batch_size=batch_size)

    return RecalibrateBatchNorm()
