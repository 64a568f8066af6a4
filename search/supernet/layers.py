"""The elastic layers of the supernet: weights for the largest network, sliced for any subnet.

Every layer holds the weights of its largest form and runs any smaller form by slicing them:

- `ElasticConv`: a convolution from the first input channels to the first `out` channels;
- `ElasticDepthwise`: a depthwise convolution on the first channels, with an elastic kernel
  size: the largest kernel is stored; a smaller one is the centre of the next larger one times
  a learned transformation matrix (Once-for-All's kernel transformation, 7 -> 5 -> 3), so that
  the small kernels are not forced to be the large one's centre;
- `ElasticBatchNorm`: batch norm on the first channels, with the statistics the mode asks for.

A choice (channels, kernel size) is either a Python int, giving a static graph (the largest and
the smallest subnets while training, extraction), or a scalar tensor, so that one traced graph
runs every subnet without retracing (`tf.switch_case` picks the kernel size; slicing with
tensors gives dynamic channel counts).

Modes of a forward pass (`ElasticBatchNorm`): "train" (batch statistics), "train_update" (batch
statistics, moving statistics updated: the largest subnet's pass), "calibrate" (batch
statistics, moving statistics set to their cumulative average over the calibration batches),
"inference" (moving statistics). These layers are TensorFlow-backend Keras layers.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..keras_model import import_keras

keras = import_keras()
import tensorflow as tf  # noqa: E402  (after import_keras: quiet start-up)

__all__ = ["ElasticConv", "ElasticDepthwise", "ElasticBatchNorm", "MODES", "BN_EPSILON",
           "BN_MOMENTUM", "graph_options"]

MODES = ("train", "train_update", "calibrate", "inference")
#: Keras BatchNormalization's defaults: the extracted model's BN layers use them too
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99


@contextlib.contextmanager
def graph_options():
    """TensorFlow's graph optimizer (Grappler's meta-optimizer) off inside the block, as it
    was outside. On the supernet's graphs it makes the first training step 2.5x and every step
    1.5x slower (measured). The setting is part of a graph function's cache key: a call
    outside the block instantiates the function again."""
    saved = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options(
            {"disable_meta_optimizer": saved.get("disable_meta_optimizer", False)})


class ElasticConv(keras.layers.Layer):
    """A k x k convolution (SAME padding) from the first input channels (as many as the input
    has) to the first `out` of `max_out` output channels. Kernel: (k, k, max_in, max_out)."""

    def __init__(self, max_in: int, max_out: int, kernel: int = 1, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.max_in, self.max_out, self.kernel_size, self.stride = max_in, max_out, kernel, stride
        self.kernel = self.add_weight(shape=(kernel, kernel, max_in, max_out),
                                      initializer="he_normal", name="kernel")
        self.built = True

    def forward(self, x, out):
        w = self.kernel.value
        cin = _channels(x)
        if not (isinstance(cin, int) and cin == self.max_in and isinstance(out, int)
                and out == self.max_out):
            w = w[:, :, :cin, :out]
        return tf.nn.conv2d(x, w, self.stride, "SAME")

    def weights_for(self, cin: int, out: int) -> np.ndarray:
        """The Keras Conv2D kernel of this layer with `cin` inputs and `out` outputs."""
        return self.kernel.numpy()[:, :, :cin, :out]


class ElasticDepthwise(keras.layers.Layer):
    """A depthwise convolution (SAME padding) on the first channels with an elastic kernel size.

    `kernels`: the sizes it can run, stored as the largest kernel (k, k, max_channels, 1) and one
    (s*s, s*s) transformation matrix for each smaller size s (initialised to the identity).
    """

    def __init__(self, max_channels: int, kernels, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.kernels = tuple(sorted({int(k) for k in kernels}, reverse=True))
        if any(k % 2 == 0 for k in self.kernels):
            raise ValueError(f"depthwise kernel sizes must be odd, got {self.kernels}")
        self.max_channels, self.stride = max_channels, stride
        big = self.kernels[0]
        self.kernel = self.add_weight(shape=(big, big, max_channels, 1),
                                      initializer="he_normal", name="kernel")
        self.transforms = [self.add_weight(shape=(s * s, s * s), name=f"transform_{s}x{s}",
                                           initializer=keras.initializers.Identity())
                           for s in self.kernels[1:]]
        self.built = True

    def kernel_of(self, size: int, channels):
        """The (size, size, channels, 1) kernel: the largest kernel's centre, transformed step
        by step down to `size`."""
        w = self.kernel.value
        if not (isinstance(channels, int) and channels == self.max_channels):
            w = w[:, :, :channels, :]
        current = self.kernels[0]
        for s, transform in zip(self.kernels[1:], self.transforms):
            if current == size:
                break
            start = (current - s) // 2
            centre = w[start:start + s, start:start + s]  # (s, s, c, 1)
            flat = tf.transpose(tf.reshape(centre, (s * s, -1)))  # (c, s*s)
            w = tf.reshape(tf.transpose(tf.matmul(flat, transform)), (s, s, -1, 1))
            current = s
        if current != size:
            raise ValueError(f"kernel size {size} is not one of {self.kernels}")
        return w

    def forward(self, x, size):
        channels = _channels(x)
        strides = (1, self.stride, self.stride, 1)
        if isinstance(size, (int, np.integer)) or len(self.kernels) == 1:
            size = int(size) if isinstance(size, (int, np.integer)) else self.kernels[0]
            return tf.nn.depthwise_conv2d(x, self.kernel_of(size, channels), strides, "SAME")
        branch = tf.argmax(tf.cast(tf.equal(tf.constant(self.kernels), size), tf.int32),
                           output_type=tf.int32)
        # each branch has its static kernel size; the output shape is the same (SAME padding)
        return tf.switch_case(branch, [
            (lambda s=s: tf.nn.depthwise_conv2d(x, self.kernel_of(s, channels), strides, "SAME"))
            for s in self.kernels])

    def weights_for(self, size: int, channels: int) -> np.ndarray:
        """The Keras DepthwiseConv2D kernel of this layer at `size` on `channels` channels."""
        return self.kernel_of(size, channels).numpy()


class ElasticBatchNorm(keras.layers.Layer):
    """Batch norm over the first channels (as many as the input has) of `max_channels`.
    `gamma_initializer="zeros"` on a residual block's last batch norm makes the block start as
    the identity (what a skipped block is): 2x the accuracy after the first 32 steps
    (measured), and the subnets of every depth start alike."""

    def __init__(self, max_channels: int, gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        self.max_channels = max_channels
        self.gamma = self.add_weight(shape=(max_channels,), initializer=gamma_initializer,
                                     name="gamma")
        self.beta = self.add_weight(shape=(max_channels,), initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=(max_channels,), initializer="zeros",
                                           trainable=False, name="moving_mean",
                                           aggregation="mean")
        self.moving_variance = self.add_weight(shape=(max_channels,), initializer="ones",
                                               trainable=False, name="moving_variance",
                                               aggregation="mean")
        self.built = True

    def forward(self, x, mode: str, calibration_step=None):
        c = _channels(x)
        gamma, beta = _first(self.gamma, c), _first(self.beta, c)
        if mode == "inference":  # Keras BatchNormalization's formula: the extracted model's
            return tf.nn.batch_normalization(x, _first(self.moving_mean, c),
                                             _first(self.moving_variance, c), beta, gamma,
                                             BN_EPSILON)
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {MODES}")
        # one fused kernel (and one gradient kernel) instead of moments + normalization
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x, gamma, beta, epsilon=BN_EPSILON, is_training=True)
        if mode == "train_update":
            self._update(c, mean, variance, BN_MOMENTUM)
        elif mode == "calibrate":  # cumulative average: the t-th batch weighs 1/(t+1)
            t = tf.cast(calibration_step, tf.float32)
            self._update(c, mean, variance, t / (t + 1.0))
        return y

    def _update(self, c, mean, variance, momentum):
        for var, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            new = _first(var, c) * momentum + tf.stop_gradient(batch) * (1.0 - momentum)
            if isinstance(c, int) and c == self.max_channels:
                var.assign(new)
            else:
                var.assign(tf.concat([new, var.value[c:]], axis=0))

    def weights_for(self, channels: int) -> list[np.ndarray]:
        """[gamma, beta, moving mean, moving variance] of a Keras BatchNormalization."""
        return [v.numpy()[:channels] for v in
                (self.gamma, self.beta, self.moving_mean, self.moving_variance)]


def _channels(x):
    """The channel count of x: a Python int when the graph knows it, else a tensor."""
    c = x.shape[-1]
    return int(c) if c is not None else tf.shape(x)[-1]


def _first(variable, count):
    """The first `count` values of a vector variable (the variable itself if that is all)."""
    v = variable.value
    return v if isinstance(count, int) and count == v.shape[0] else v[:count]
