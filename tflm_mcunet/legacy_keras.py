"""Keras 3 models rebuilt in tf-keras (Keras 2) with their weights.

tensorflow-model-optimization's quantization-aware training runs on tf-keras only (it rejects
Keras 3 models), so `quantize.quantize_aware` rebuilds the model there first: layer by layer
from the Keras 3 config (the standard layers exist under the same names in both), the same
connections, the same weights, and checks that both give the same outputs.

    >>> legacy = to_tf_keras(model)            # a tf_keras.Model                 # doctest: +SKIP
"""
from __future__ import annotations

import inspect

import numpy as np

__all__ = ["to_tf_keras", "import_tf_keras"]

#: float32 outputs of the two rebuilt models may differ by this much (relative to their range):
#: the same arithmetic, in another order of operations
TOLERANCE = 1e-4


def import_tf_keras():
    """tf_keras, with TensorFlow's start-up noise silenced; a clear error without it."""
    from .quiet_tf import import_tf

    import_tf()
    try:
        import tf_keras
    except ImportError as e:
        raise ImportError("quantization-aware training needs tf-keras and "
                          "tensorflow-model-optimization: pip install 'tflm-mcunet[search]'") from e
    return tf_keras


def _layer(tf_keras, spec: dict, index: int):
    """The tf-keras layer of one Keras 3 layer config: its structural options (initializers,
    regularizers, constraints and the dtype policy dropped: the weights are copied after)."""
    kind, config = spec["class_name"], spec["config"]
    cls = getattr(tf_keras.layers, kind, None)
    if cls is None or spec.get("module") not in (None, "keras.layers"):
        raise ValueError(f"layer #{index} {config.get('name')!r} ({kind}): tf-keras has no such "
                         "standard layer, so tensorflow-model-optimization cannot train it "
                         "quantization-aware; use post-training quantization "
                         "(quantize.quantize_keras) for this model")
    accepted = set(inspect.signature(cls.__init__).parameters) | {"name", "trainable"}
    options = {k: v for k, v in config.items()
               if k in accepted and k != "dtype"
               and not k.endswith(("_initializer", "_regularizer", "_constraint"))}
    return cls(**options)


def _inputs(node: dict, tensors: dict):
    """The tf-keras tensors a Keras 3 inbound node names (one, or a list for merge layers)."""
    def find(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            return tensors[tuple(value["config"]["keras_history"])]
        if isinstance(value, (list, tuple)):
            return [find(v) for v in value]
        raise ValueError(f"unsupported layer argument {value!r}")

    args = [find(a) for a in node["args"]]
    return args[0] if len(args) == 1 else args


def to_tf_keras(model, check_inputs=None):
    """`model` (a Keras 3 functional or Sequential model of standard layers) as a tf-keras
    functional model with the same layer names and weights. Checked on `check_inputs` (or 4
    random inputs in [0, 1]): both models' outputs must agree within TOLERANCE."""
    tf_keras = import_tf_keras()
    config = model.get_config()
    if "input_layers" not in config:  # Sequential: a chain
        return _sequential(tf_keras, model, check_inputs)
    tensors = {}
    for index, spec in enumerate(config["layers"]):
        name = spec["config"]["name"]
        if spec["class_name"] == "InputLayer":
            shape = spec["config"]["batch_shape"][1:]
            tensors[(name, 0, 0)] = tf_keras.Input(shape=shape, name=name)
            continue
        if len(spec["inbound_nodes"]) != 1:
            raise ValueError(f"layer #{index} {name!r} is called {len(spec['inbound_nodes'])} "
                             "times: shared layers are not supported for quantization-aware "
                             "training")
        out = _layer(tf_keras, spec, index)(_inputs(spec["inbound_nodes"][0], tensors))
        for k, tensor in enumerate(out if isinstance(out, (list, tuple)) else [out]):
            tensors[(name, 0, k)] = tensor
    inputs = [tensors[tuple(h)] for h in _histories(config["input_layers"])]
    outputs = [tensors[tuple(h)] for h in _histories(config["output_layers"])]
    legacy = tf_keras.Model(inputs if len(inputs) > 1 else inputs[0],
                            outputs if len(outputs) > 1 else outputs[0], name=model.name)
    return _copy_and_check(model, legacy, check_inputs)


def _histories(entries):
    """Keras 3 lists one input/output as [name, node, index] or several as a list of them."""
    return [entries] if entries and isinstance(entries[0], str) else entries


def _sequential(tf_keras, model, check_inputs):
    x = inputs = tf_keras.Input(shape=tuple(model.inputs[0].shape[1:]))
    for index, layer in enumerate(model.layers):
        spec = {"class_name": type(layer).__name__, "module": "keras.layers",
                "config": layer.get_config()}
        x = _layer(tf_keras, spec, index)(x)
    return _copy_and_check(model, tf_keras.Model(inputs, x, name=model.name), check_inputs)


def _copy_and_check(model, legacy, check_inputs):
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            legacy.get_layer(layer.name).set_weights(weights)
    if check_inputs is None:
        rng = np.random.default_rng(0)
        check_inputs = [rng.random((4,) + tuple(t.shape[1:]), np.float32) for t in model.inputs]
        check_inputs = check_inputs[0] if len(check_inputs) == 1 else check_inputs
    ours = [np.asarray(v) for v in _as_list(model(check_inputs, training=False))]
    theirs = [np.asarray(v) for v in _as_list(legacy(check_inputs, training=False))]
    for k, (a, b) in enumerate(zip(ours, theirs)):
        scale = max(1.0, float(np.abs(a).max()))
        if a.shape != b.shape or float(np.abs(a - b).max()) > TOLERANCE * scale:
            raise ValueError(f"the tf-keras rebuild of {model.name!r} does not compute the same "
                             f"output {k} (shapes {a.shape} and {b.shape}, max difference "
                             f"{float(np.abs(a - b).max()) if a.shape == b.shape else 'n/a'}): "
                             "use post-training quantization (quantize.quantize_keras)")
    return legacy


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]
