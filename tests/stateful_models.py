"""Streaming int8 models that keep state between invokes, built with TensorFlow the way keyword
spotters and voice-activity detectors are exported for TFLite Micro (microWakeWord and alike).

Each model is a `tf.Module` whose `tf.Variable`s hold the last frames; every invoke reads
them, appends the new frames (CONCATENATION), keeps the newest (STRIDED_SLICE or SPLIT_V) and
assigns them back. The TFLite converter, with resource variables enabled and the variables
quantized (`_experimental_variable_quantization`, as microWakeWord sets it), emits a second
subgraph run once through CALL_ONCE that assigns the initial values, and VAR_HANDLE /
READ_VARIABLE / ASSIGN_VARIABLE in the main one, all int8.

TensorFlow is imported by the functions, not by this module.
"""
from __future__ import annotations

import numpy as np

FEATURES = 40  # spectrogram features per frame
NEW = 3  # frames per invoke


def _convert(module, shape, output_type: str = "int8", samples: int = 32) -> bytes:
    import tensorflow as tf

    fn = module.__call__.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], module)
    converter.experimental_enable_resource_variables = True
    converter._experimental_variable_quantization = True  # int8 state, as microWakeWord has
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(5)

    def representative():
        for _ in range(samples):
            yield [rng.normal(size=shape).astype(np.float32)]

    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = {"int8": tf.int8, "uint8": tf.uint8}[output_type]
    return converter.convert()


def conv1d_spotter(keep: int = 5, seed: int = 0) -> bytes:
    """3 frames of 40 features per invoke; the state holds the last `keep` frames (zeros at
    start). A 1-D convolution over the window (CONV_2D), a fully connected layer, LOGISTIC.
    The window shift is a STRIDED_SLICE."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    out_len = keep + NEW - 2

    class Spotter(tf.Module):
        def __init__(self):
            self.state = tf.Variable(tf.zeros([1, keep, FEATURES]), trainable=False)
            self.kernel = tf.constant(rng.normal(size=(3, FEATURES, 16)).astype(np.float32) * 0.1)
            self.dense = tf.constant(rng.normal(size=(16 * out_len, 1)).astype(np.float32) * 0.1)

        @tf.function(input_signature=[tf.TensorSpec([1, NEW, FEATURES], tf.float32)])
        def __call__(self, x):
            window = tf.concat([self.state, x], axis=1)
            self.state.assign(window[:, NEW:, :])
            y = tf.nn.relu(tf.nn.conv1d(window, self.kernel, 1, "VALID"))
            return tf.sigmoid(tf.matmul(tf.reshape(y, [1, -1]), self.dense))

    return _convert(Spotter(), (1, NEW, FEATURES))


def depthwise_detector(output_type: str = "int8", random_init: bool = False,
                       seed: int = 1) -> bytes:
    """A 2-D streaming detector with two states (the input frames, and the first layer's output
    rows): CONCATENATION, SPLIT_V, CONV_2D with a stride, a second CONCATENATION, the shift of
    the second state as a STRIDED_SLICE with a negative begin, DEPTHWISE_CONV_2D, MEAN,
    FULLY_CONNECTED, LOGISTIC; `output_type="uint8"` adds a QUANTIZE to a uint8 output.
    `random_init`: the first state starts from random values instead of zeros."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    init1 = (rng.normal(size=(1, 4, FEATURES, 1)).astype(np.float32) * 0.5 if random_init
             else np.zeros((1, 4, FEATURES, 1), np.float32))

    class Detector(tf.Module):
        def __init__(self):
            self.frames = tf.Variable(init1, trainable=False)
            self.rows = tf.Variable(tf.zeros([1, 2, 19, 8]), trainable=False)
            self.kernel = tf.constant(rng.normal(size=(3, 3, 1, 8)).astype(np.float32) * 0.3)
            self.depthwise = tf.constant(rng.normal(size=(3, 3, 8, 1)).astype(np.float32) * 0.3)
            self.dense = tf.constant(rng.normal(size=(8, 1)).astype(np.float32) * 3.0)

        @tf.function(input_signature=[tf.TensorSpec([1, NEW, FEATURES, 1], tf.float32)])
        def __call__(self, x):
            window = tf.concat([self.frames, x], axis=1)
            oldest, keep = tf.split(window, [NEW, 4], axis=1)
            self.frames.assign(keep)
            y = tf.nn.relu(tf.nn.conv2d(window, self.kernel, [1, 1, 2, 1], "VALID"))
            y = y + tf.nn.relu(tf.reduce_mean(oldest, axis=[1, 2], keepdims=True))
            rows = tf.concat([self.rows, y], axis=1)
            self.rows.assign(rows[:, -2:])
            z = tf.nn.relu(tf.nn.depthwise_conv2d(rows, self.depthwise, [1, 1, 1, 1], "VALID"))
            z = tf.reduce_mean(z, axis=[1, 2])
            return tf.sigmoid(tf.matmul(z, self.dense))

    return _convert(Detector(), (1, NEW, FEATURES, 1), output_type)
