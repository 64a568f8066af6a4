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


def stacked_spotter(kernels=(5, 3, 3), channels=(12, 16, 16), seed: int = 2) -> bytes:
    """The shape of microWakeWord's streaming models: every layer keeps the last frames of its
    own input (kernel - 1 of them) in a variable, so each invoke computes only the new frames
    (3 per invoke through the whole stack): a chain of window shifts, 1-D convolutions (the
    first a CONV_2D over the features, the others depthwise then pointwise), a fully connected
    layer, LOGISTIC and a uint8 output."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    class Spotter(tf.Module):
        def __init__(self):
            self.states, self.kernels = [], []
            depth = FEATURES
            for k, (kernel, out) in enumerate(zip(kernels, channels)):
                self.states.append(tf.Variable(tf.zeros([1, kernel - 1, depth]),
                                               trainable=False))
                if k == 0:
                    w = rng.normal(size=(kernel, depth, out)) * (1.0 / np.sqrt(kernel * depth))
                    self.kernels.append((tf.constant(w.astype(np.float32)), None))
                else:  # depthwise over time, then pointwise
                    dw = rng.normal(size=(kernel, 1, depth, 1)) * (1.0 / np.sqrt(kernel))
                    pw = rng.normal(size=(1, depth, out)) * (1.0 / np.sqrt(depth))
                    self.kernels.append((tf.constant(dw.astype(np.float32)),
                                         tf.constant(pw.astype(np.float32))))
                depth = out
            self.dense = tf.constant((rng.normal(size=(NEW * depth, 1)) * 0.3).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, NEW, FEATURES], tf.float32)])
        def __call__(self, x):
            for state, (kernel, pointwise) in zip(self.states, self.kernels):
                window = tf.concat([state, x], axis=1)
                state.assign(window[:, NEW:, :])
                if pointwise is None:
                    x = tf.nn.relu(tf.nn.conv1d(window, kernel, 1, "VALID"))
                else:
                    x = tf.nn.depthwise_conv2d(window[:, :, None, :], kernel, [1, 1, 1, 1],
                                               "VALID")[:, :, 0, :]
                    x = tf.nn.relu(tf.nn.conv1d(x, pointwise, 1, "VALID"))
            return tf.sigmoid(tf.matmul(tf.reshape(x, [1, -1]), self.dense))

    return _convert(Spotter(), (1, NEW, FEATURES), "uint8")


def random_streaming(seed: int, with_split: bool = False) -> bytes:
    """A random streaming model written with the schema's object API (no TensorFlow): one or
    two state variables (the input frames, and a convolution's output rows), each a window
    shift of random sizes — READ_VARIABLE, CONCATENATION with the new frames, the newest frames
    cut by STRIDED_SLICE (by begin, or by a negative begin and an end mask) or SPLIT_V, and
    ASSIGN_VARIABLE early or last — with random initial values, then convolutions and a fully
    connected layer. The initialisation subgraph that CALL_ONCE runs assigns the initial
    values. `with_split`: the first convolution's channels are also cut in two by a SPLIT and
    put together again in the other order (CONCATENATION)."""
    from flatbuffer_models import ModelBuilder, pack
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    b.op("CALL_ONCE", [], [], "CallOnceOptions", initSubgraphIndex=1)
    features, channels = int(rng.integers(3, 9)), int(rng.integers(1, 4))
    new = int(rng.integers(1, 4))
    x = b.tensor("frames", (1, new, features, channels), "int8", 0.05, int(rng.integers(-20, 20)))
    inits = []  # (name, shape, scale, zero point) of each variable

    def resource(name: str) -> int:
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), [], fb.TensorType.RESOURCE, 0
        b.tensors.append(t)
        return len(b.tensors) - 1

    def window_shift(src: int, name: str) -> tuple[int, list]:
        """The window [state, src] of a new variable; returns it and the (deferred) ops that
        cut and assign the state's next value."""
        shape = list(b.tensors[src].shape)
        q = b.tensors[src].quantization
        scale, zp = q.scale[0], q.zeroPoint[0]
        keep = int(rng.integers(1, 5))
        state_shape = [1, keep] + shape[2:]
        handle = resource(f"{name}/handle")
        b.op("VAR_HANDLE", [], [handle], "VarHandleOptions", container=b"", sharedName=name.encode())
        read = b.tensor(f"{name}/read", state_shape, "int8", scale, zp)
        b.op("READ_VARIABLE", [handle], [read])
        window_shape = [1, keep + shape[1]] + shape[2:]
        window = b.tensor(f"{name}/window", window_shape, "int8", scale, zp)
        b.op("CONCATENATION", [read, src], [window], "ConcatenationOptions", axis=1,
             fusedActivationFunction=0)
        inits.append((name, state_shape, scale, zp))
        value = b.tensor(f"{name}/next", state_shape, "int8", scale, zp)
        how = rng.choice(["slice", "slice_negative", "split_v"])
        if how == "split_v":
            oldest = b.tensor(f"{name}/oldest", [1, shape[1]] + shape[2:], "int8", scale, zp)
            sizes = b.const(f"{name}/sizes", np.array([shape[1], -1]), "int32")
            axis = b.const(f"{name}/axis", np.array(1), "int32")
            cut = ("SPLIT_V", [window, sizes, axis], [oldest, value], "SplitVOptions",
                   dict(numSplits=2))
        else:
            negative = how == "slice_negative"
            begin = b.const(f"{name}/begin", np.array([0, -keep if negative else shape[1], 0, 0]),
                            "int32")
            end = b.const(f"{name}/end", np.array([1, 0 if negative else window_shape[1]]
                                                  + shape[2:]), "int32")
            strides = b.const(f"{name}/strides", np.ones(4, np.int64), "int32")
            cut = ("STRIDED_SLICE", [window, begin, end, strides], [value],
                   "StridedSliceOptions", dict(beginMask=0b1101 if negative else 0,
                                               endMask=0b1111 if negative else 0,
                                               ellipsisMask=0, newAxisMask=0,
                                               shrinkAxisMask=0, offset=False))
        assign = ("ASSIGN_VARIABLE", [handle, value], [], None, {})
        return window, [cut, assign]

    def emit(deferred) -> None:
        for kind, ins, outs, options, fields in deferred:
            b.op(kind, ins, outs, options, **fields)

    window, later = window_shift(x, "frames_state")
    if rng.random() < 0.5:
        emit(later)  # assigned before the layers that read the window
        later = []
    rows = int(b.tensors[window].shape[1]) - 1
    y, scale = b.conv(rng, window, 0.05, (1, rows, features - 1, 4), 2, padding="VALID",
                      act="relu", name="conv", out_zp=-128)
    if with_split:
        halves = [b.tensor(f"half{k}", (1, rows, features - 1, 2), "int8", scale, -128)
                  for k in range(2)]
        b.op("SPLIT", [b.const("split/axis", np.array(3), "int32"), y], halves, "SplitOptions",
             numSplits=2)
        y = b.tensor("swapped", (1, rows, features - 1, 4), "int8", scale, -128)
        b.op("CONCATENATION", halves[::-1], [y], "ConcatenationOptions", axis=3,
             fusedActivationFunction=0)
    if rng.random() < 0.6:
        window2, later2 = window_shift(y, "rows_state")
        emit(later2)
        rows2 = int(b.tensors[window2].shape[1]) - 1
        y, scale = b.conv(rng, window2, scale, (1, rows2, features - 2, 4), 2, padding="VALID",
                          act="relu", depthwise=True, name="depthwise", out_zp=-128)
    out, _ = b.dense(rng, y, scale, 3)
    emit(later)
    model = b.model([x], [out])

    # the initialisation subgraph: each variable's handle and its initial value
    main_tensors, main_ops = b.tensors, b.operators
    b.tensors, b.operators = [], []
    for name, shape, scale, zp in inits:
        handle = resource(f"{name}/init_handle")
        b.op("VAR_HANDLE", [], [handle], "VarHandleOptions", container=b"", sharedName=name.encode())
        values = (rng.integers(-128, 128, shape) if rng.random() < 0.5
                  else np.full(shape, zp))  # random, or zeros (the zero point)
        value = b.const(f"{name}/initial", values, "int8", scale, zp)
        b.op("ASSIGN_VARIABLE", [handle, value], [])
    init = fb.SubGraphT()
    init.tensors, init.operators, init.inputs, init.outputs = b.tensors, b.operators, [], []
    init.name = b"init"
    b.tensors, b.operators = main_tensors, main_ops
    model.subgraphs.append(init)
    model.operatorCodes, model.buffers = b.codes, b.buffers
    return pack(model)
