"""Int8 post-training quantization: Keras models and plain TF functions to ``.tflite`` bytes.

The result is what the TFLite converter produces with ``Optimize.DEFAULT``, a representative
dataset and ``TFLITE_BUILTINS_INT8``: int8 weights (per-channel for convolutions, as TFLite does
by default), int8 activations, int32 biases.

Both entry points go through a SavedModel written to a temporary folder with
``keras.export.ExportArchive`` and a fixed batch size of 1. That path is the robust one with
Keras 3 on TF 2.21 (``from_concrete_functions`` on a Keras 3 model leaves resource variables
in the graph and calibration fails with READ_VARIABLE errors) and it fixes every shape, so the
``.tflite`` file has no dynamic dimensions.

The converter itself runs in a child process (``tflite_converter``): when it crashes, as it does
on Keras' ``LSTM`` layer, the caller gets a ``QuantizationError`` naming the model's layers
instead of dying with it.

Inputs are named ``in_000``, ``in_001``, ... and outputs ``out_000``, ... in the SavedModel
signature, so the order of the ``.tflite`` inputs and outputs is the order of the Python
arguments and return values.

TensorFlow is imported lazily: importing this module does not import TensorFlow.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .quiet_tf import import_tf, quiet_tf

__all__ = ["quantize_keras", "quantize_aware", "quantize_tf_function", "quantize_input",
           "QuantizationError"]


# absl/TF informational lines that carry no information about a conversion failure
_NOISE = re.compile(r"^([IW]\d{4} |WARNING: All log messages|To enable the following instructions)")


class QuantizationError(RuntimeError):
    """The TFLite converter failed; the message carries the converter's own log."""


# --------------------------------------------------------------------------------------------
# representative data
# --------------------------------------------------------------------------------------------

def _input_name(i: int) -> str:
    return f"in_{i:03d}"


def _output_name(i: int) -> str:
    return f"out_{i:03d}"


def _split_samples(data: Any, shapes: Sequence[tuple[int, ...]]) -> list[list[np.ndarray]]:
    """Turn ``representative_data`` into a list of samples, each a list of per-input arrays.

    ``data`` is one array (single input) or a sequence of arrays (one per input); the first
    axis of each array indexes samples. A sample is either the full input shape (``data`` has
    one more axis than the input) or the input shape without its leading batch dimension of 1.
    """
    if isinstance(data, np.ndarray) or not isinstance(data, (list, tuple)):
        arrays = [np.asarray(data)]
    else:
        arrays = [np.asarray(a) for a in data]
    if len(arrays) != len(shapes):
        raise ValueError(
            f"representative_data has {len(arrays)} array(s) but the model has "
            f"{len(shapes)} input(s); pass a list with one array per input"
        )
    counts = {a.shape[0] if a.ndim else 0 for a in arrays}
    if len(counts) != 1 or 0 in counts:
        raise ValueError(
            "representative_data: every input array needs the same, non-zero number of samples "
            f"along its first axis (got shapes {[a.shape for a in arrays]})"
        )
    (n,) = counts
    per_input: list[list[np.ndarray]] = []
    for k, (arr, shape) in enumerate(zip(arrays, shapes)):
        size = int(np.prod(shape))
        if arr.ndim == len(shape) + 1:
            samples = [arr[i] for i in range(n)]
        else:
            samples = [arr[i : i + 1] for i in range(n)]
        out = []
        for s in samples:
            if s.size != size:
                raise ValueError(
                    f"representative_data for input {k}: a sample of shape {s.shape} does not "
                    f"fit the input shape {tuple(shape)}"
                )
            out.append(np.ascontiguousarray(s.reshape(shape), dtype=np.float32))
        per_input.append(out)
    return [[per_input[k][i] for k in range(len(shapes))] for i in range(n)]


def _normalise_shapes(input_shapes: Any) -> list[tuple[int, ...]]:
    """One shape (a sequence of ints) or a sequence of shapes -> list of int tuples."""
    if isinstance(input_shapes, (list, tuple)) and all(
        isinstance(d, (int, np.integer)) for d in input_shapes
    ):
        input_shapes = [input_shapes]
    shapes = []
    for s in input_shapes:
        shape = tuple(int(d) for d in s)
        if any(d <= 0 for d in shape):
            raise ValueError(f"input shapes must be fully static and positive, got {shape}")
        shapes.append(shape)
    if not shapes:
        raise ValueError("at least one input is needed")
    return shapes


# --------------------------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------------------------

def _as_output_dict(result: Any) -> dict:
    if isinstance(result, dict):
        raise TypeError("functions returning dicts are not supported; return a tensor or a list")
    if isinstance(result, (list, tuple)):
        return {_output_name(i): r for i, r in enumerate(result)}
    return {_output_name(0): result}


def _convert(
    fn: Callable[..., Any],
    track: Sequence[Any],
    shapes: list[tuple[int, ...]],
    representative_data: Any,
    float_io: bool,
    described: str,
) -> bytes:
    """Export ``fn(*inputs)`` as a SavedModel and run the int8 TFLite converter on it, in the
    converter's child process (`tflite_converter`); `described` names what is converted (the
    model's layer types) for the error raised when the converter crashes."""
    samples = _split_samples(representative_data, shapes)
    tf = import_tf()
    import keras

    specs = [tf.TensorSpec(s, tf.float32, name=_input_name(i)) for i, s in enumerate(shapes)]
    names = [_input_name(i) for i in range(len(shapes))]

    with tempfile.TemporaryDirectory(prefix="tflm_mcunet_q_") as tmp:
        with quiet_tf() as log:
            try:
                archive = keras.export.ExportArchive()
                for obj in track:
                    archive.track(obj)

                def endpoint(*xs):
                    return _as_output_dict(fn(*xs))

                archive.add_endpoint(name="serve", fn=endpoint, input_signature=specs)
                archive.write_out(Path(tmp) / "saved_model", verbose=False)
            except Exception as exc:  # noqa: BLE001 - re-raised with the converter log
                error = exc
            else:
                error = None
        if error is not None:
            raise _conversion_error("export for the int8 conversion", error, log) from error
        return _run_converter(Path(tmp), samples, names, float_io, described)


def _run_converter(folder: Path, samples: list[list[np.ndarray]], names: list[str],
                   float_io: bool, described: str) -> bytes:
    """The int8 flatbuffer of the SavedModel `folder`/saved_model (its "serve" signature),
    converted in the converter's child process; a QuantizationError when it fails or dies."""
    from .tflite_converter import ConverterCrashed, convert_saved_model

    try:
        result, log, failure = convert_saved_model(folder / "saved_model", samples, names,
                                                   float_io, folder)
    except ConverterCrashed as crash:
        raise _conversion_error(
            "int8 conversion", f"TensorFlow's TFLite converter crashed "
            f"({crash.signal_name or 'died'}) converting {described}. TFLite's int8 conversion "
            "cannot take one of these layers as it is: replace it (for example an unrolled "
            "recurrent layer, `unroll=True`, or a layer TFLite Micro supports) and convert "
            "again", [crash.log]) from None
    if failure is not None:
        raise _conversion_error("int8 conversion", failure, [log])
    return result


def _conversion_error(what: str, error: Exception | str, log: list[str]) -> QuantizationError:
    """The converter's failure with the last lines of its log that say something."""
    lines = [line for line in "".join(log).splitlines()
             if line.strip() and not _NOISE.match(line)]
    tail = "\n".join(lines[-25:])
    reason = f"{type(error).__name__}: {error}" if isinstance(error, Exception) else error
    return QuantizationError(
        f"{what} failed: {reason}"
        + (f"\n--- converter log (last lines) ---\n{tail}" if tail else ""))


def quantize_keras(model: Any, representative_data: Any, float_io: bool = False) -> bytes:
    """Quantize a Keras 3 model to an int8 ``.tflite`` flatbuffer.

    Args:
      model: a built ``keras.Model`` whose inputs have static shapes apart from the batch
        dimension (the batch is fixed to 1).
      representative_data: float32 calibration samples, first axis = samples: one array for a
        single-input model (``(N, *input_shape[1:])`` or ``(N, 1, *input_shape[1:])``), or a
        list of such arrays, one per model input.
      float_io: keep float32 model inputs/outputs (QUANTIZE/DEQUANTIZE at the edges) instead
        of int8 ones.

    Returns:
      The ``.tflite`` flatbuffer (int8 weights and activations, TFLITE_BUILTINS_INT8).
    """
    inputs = list(model.inputs)
    shapes = []
    for t in inputs:
        dims = tuple(t.shape)[1:]
        if any(d is None for d in dims):
            raise ValueError(
                f"model input {t.name!r} has a dynamic shape {tuple(t.shape)}; "
                "build the model with a fixed input shape"
            )
        shapes.append((1,) + tuple(int(d) for d in dims))
    multi = len(inputs) > 1

    def call(*xs):
        return model(list(xs) if multi else xs[0], training=False)

    layers = sorted({type(layer).__name__ for layer in model.layers} - {"InputLayer"})
    described = f"a model with the layers {', '.join(layers)}" if layers else "the model"
    return _convert(call, [model], shapes, representative_data, float_io, described)


def quantize_aware(model: Any, train_data: Any, *, epochs: int = 2,
                   learning_rate: float = 1e-4, batch_size: int = 128,
                   validation_data: Any = None, from_logits: bool = True,
                   verbose: Any = "auto") -> bytes:
    """Quantization-aware training of a Keras 3 classifier, then full int8 ``.tflite`` bytes.

    tensorflow-model-optimization runs on tf-keras only: the model is rebuilt there with the same
    weights (``legacy_keras.to_tf_keras``, which checks both compute the same), its layers are
    wrapped with fake quantization (``tfmot.quantization.keras.quantize_model``: int8 weights,
    per channel for convolutions, int8 activations), it is fine-tuned on ``train_data`` with
    Adam at ``learning_rate`` (sparse categorical cross-entropy, on logits unless
    ``from_logits=False``), and TFLite's converter makes it full int8 (int8 input and output,
    as ``quantize_keras``) from the ranges the training learned.

    ``train_data`` / ``validation_data``: (images, labels) arrays prepared as the model takes
    them, or ``tf.data.Dataset``s of such batches.
    """
    from .legacy_keras import import_tf_keras, to_tf_keras

    tf_keras = import_tf_keras()
    tf = import_tf()
    with quiet_tf():
        import tensorflow_model_optimization as tfmot
    legacy = to_tf_keras(model)
    qat = tfmot.quantization.keras.quantize_model(legacy)
    qat.compile(tf_keras.optimizers.Adam(learning_rate),
                tf_keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                metrics=["accuracy"])
    if isinstance(train_data, (tuple, list)):
        images = np.asarray(train_data[0], np.float32)[:100]
        fit = {"x": train_data[0], "y": train_data[1], "batch_size": batch_size}
    else:
        images = np.concatenate([np.asarray(x) for x, _ in train_data.take(4)])[:100]
        fit = {"x": train_data}

    if isinstance(validation_data, list):
        validation_data = tuple(validation_data)
    qat.fit(epochs=epochs, validation_data=validation_data, verbose=verbose, **fit)
    # converted from a SavedModel in the converter's child process: the same tensors, scales
    # and weights as from_keras_model gives in this one (checked), without its crashes here
    shapes = [(1,) + tuple(int(d) for d in t.shape[1:]) for t in qat.inputs]
    names = [_input_name(i) for i in range(len(shapes))]
    specs = [tf.TensorSpec(s, tf.float32, name=n) for s, n in zip(shapes, names)]
    serve = tf.function(lambda *xs: _as_output_dict(qat(list(xs) if len(xs) > 1 else xs[0],
                                                        training=False)),
                        input_signature=specs)
    layers = sorted({type(layer.layer if hasattr(layer, "layer") else layer).__name__
                     for layer in qat.layers} - {"InputLayer", "QuantizeLayer"})
    with tempfile.TemporaryDirectory(prefix="tflm_mcunet_qat_") as tmp:
        with quiet_tf() as log:
            try:
                tf.saved_model.save(qat, str(Path(tmp) / "saved_model"),
                                    signatures={"serve": serve})
            except Exception as exc:  # noqa: BLE001 - re-raised with the converter log
                raise _conversion_error("export of the quantization-aware model", exc,
                                        log) from exc
        # the converter asks for calibration data for any op without learned ranges
        return _run_converter(Path(tmp), [[image[None]] for image in images], names, False,
                              "the quantization-aware model with the layers "
                              + ", ".join(layers))


def quantize_tf_function(
    fn: Callable[..., Any],
    input_shapes: Any,
    representative_data: Any,
    float_io: bool = False,
) -> bytes:
    """Quantize a plain Python/``tf.function`` callable of float32 tensors to int8 ``.tflite``.

    Meant for single-op tests of raw TF ops (``tf.nn.avg_pool`` with explicit padding,
    ``tf.pad``, ``tf.concat``, ``tf.nn.softmax``, ...).

    Args:
      fn: called as ``fn(x0, x1, ...)`` with one float32 tensor per input; returns a tensor
        or a list/tuple of tensors (the ``.tflite`` outputs, in that order). Keras layers or
        models it uses should be passed in as ``fn`` itself (a ``keras.Layer`` is tracked) or
        hold no variables.
      input_shapes: the full static shape of each input, batch dimension included, e.g.
        ``(1, 8, 8, 3)`` for one input or ``[(1, 4, 4, 8), (1, 4, 4, 2)]`` for two.
      representative_data: one array (single input) or a list of arrays (one per input); the
        first axis indexes samples; a sample has the full input shape or the input shape
        without its leading 1.
      float_io: keep float32 inputs/outputs instead of int8 ones.
    """
    shapes = _normalise_shapes(input_shapes)
    track = []
    try:
        import keras

        if isinstance(fn, keras.Layer):
            track.append(fn)
    except ImportError:  # pragma: no cover - keras is a dependency of tensorflow
        pass
    described = f"the function {getattr(fn, '__name__', type(fn).__name__)}"
    return _convert(fn, track, shapes, representative_data, float_io, described)


def quantize_input(model: bytes | str | Path, values: Any, index: int = 0) -> np.ndarray:
    """Float `values` as the int8 model's input `index` takes them: divided by its scale,
    its zero point added, rounded half away from zero and saturated (TFLite's QUANTIZE)."""
    from .converter.reader import read_tflite

    tensor = read_tflite(model).inputs[index]
    if tensor.dtype != "int8" or tensor.quant is None:
        raise ValueError(f"input {index} ({tensor.name!r}) is {tensor.dtype}, not quantized "
                         "int8: feed it as it is")
    scaled = np.asarray(values, np.float32) / np.float32(tensor.quant.scale0)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    return np.clip(rounded + tensor.quant.zp0, -128, 127).astype(np.int8)

