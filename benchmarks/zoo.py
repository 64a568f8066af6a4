"""The model zoo: Keras 3 builders with seeded random weights, and their int8 ``.tflite`` files.

Memory and speed do not depend on the weights, so every model is built with random weights.
To keep the quantized networks meaningful (activations must not collapse to a constant), every
BatchNormalization gets a mildly random gamma/beta and moving statistics measured on random
data (data-dependent initialisation: each BN then normalises its input to roughly unit scale),
and every Dense bias a small random value, as in a trained net.

Zoo (name -> builder, in this order):

- ``mobilenet_v2_0.35_96``: ``keras.applications.MobileNetV2`` (alpha 0.35, 96x96x3, 1000 classes).
- ``ds_cnn``: MLPerf Tiny keyword spotting DS-CNN (49x10x1 -> 12 classes).
- ``resnet8``: MLPerf Tiny image classification ResNet-8 (CIFAR-10, 32x32x3 -> 10 classes).
- ``mobilenet_v1_0.25_96``: MLPerf Tiny visual wake words MobileNetV1 (alpha 0.25, 96x96x3 -> 2).
- ``fc_autoencoder``: MLPerf Tiny anomaly detection FC autoencoder (640 -> 8 -> 640).
- one model per ``archs/*.json`` (MCUNet, MobileNetV2, ProxylessNAS, block by block), built by
  :func:`build_arch`.

TensorFlow/Keras are imported only when a model is built.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..search.keras_model import build_keras, conv_bn_act, import_keras
from ..search.space import Arch

__all__ = [
    "ARCHS",
    "ZOO",
    "zoo_names",
    "input_shape",
    "build_arch",
    "build_mobilenet_v2",
    "build_ds_cnn",
    "build_resnet8",
    "build_mobilenet_v1",
    "build_fc_autoencoder",
    "build_zoo_model",
    "representative_data",
    "build_zoo_tflite",
    "cached_zoo_tflite",
]

ARCH_DIR = Path(__file__).resolve().parent / "archs"


def _load_archs() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(ARCH_DIR.glob("*.json"))}


#: Architectures from ``archs/*.json``, keyed by file stem.
ARCHS: dict[str, dict] = _load_archs()


# --------------------------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------------------------

def build_mobilenet_v2():
    """Keras' MobileNetV2, alpha 0.35, 96x96x3, 1000 classes, softmax classifier."""
    keras = import_keras()
    return keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(96, 96, 3), weights=None, classes=1000
    )


def build_ds_cnn():
    """MLPerf Tiny KWS DS-CNN: conv 10x4/2 to 64, 4 x (dw 3x3 + pw 64), avg pool, dense 12."""
    keras = import_keras()
    L = keras.layers
    inp = keras.Input((49, 10, 1), name="mfcc")
    x = conv_bn_act(keras, inp, 64, (10, 4), 2, "conv0", "relu")
    for i in range(1, 5):
        x = conv_bn_act(keras, x, None, 3, 1, f"block{i}_dw", "relu", depthwise=True)
        x = conv_bn_act(keras, x, 64, 1, 1, f"block{i}_pw", "relu")
    x = L.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])), name="avg_pool")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(12, activation="softmax", name="classifier")(x)
    return keras.Model(inp, x, name="ds_cnn")


def build_resnet8():
    """MLPerf Tiny IC ResNet-8: conv 16, stacks 16/32/64 (stride 1/2/2), avg pool, dense 10."""
    keras = import_keras()
    L = keras.layers
    inp = keras.Input((32, 32, 3), name="image")
    x = conv_bn_act(keras, inp, 16, 3, 1, "conv0", "relu", use_bias=True)
    for i, (filters, stride) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
        y = conv_bn_act(keras, x, filters, 3, stride, f"stack{i}_a", "relu",
                        use_bias=True)
        y = conv_bn_act(keras, y, filters, 3, 1, f"stack{i}_b", use_bias=True)
        if stride != 1 or int(x.shape[-1]) != filters:
            x = L.Conv2D(filters, 1, strides=stride, padding="same", name=f"stack{i}_shortcut")(x)
        x = L.Add(name=f"stack{i}_add")([x, y])
        x = L.ReLU(name=f"stack{i}_relu")(x)
    x = L.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])), name="avg_pool")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(10, activation="softmax", name="classifier")(x)
    return keras.Model(inp, x, name="resnet8")


def build_mobilenet_v1(alpha: float = 0.25, resolution: int = 96, classes: int = 2):
    """MLPerf Tiny VWW MobileNetV1: conv 3x3/2, 13 depthwise-separable blocks, avg pool, dense."""
    keras = import_keras()
    L = keras.layers
    inp = keras.Input((resolution, resolution, 3), name="image")
    x = conv_bn_act(keras, inp, int(32 * alpha), 3, 2, "conv0", "relu")
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [
        (1024, 2),
        (1024, 1),
    ]
    for i, (filters, stride) in enumerate(plan, start=1):
        x = conv_bn_act(keras, x, None, 3, stride, f"block{i}_dw", "relu", depthwise=True)
        x = conv_bn_act(keras, x, int(filters * alpha), 1, 1, f"block{i}_pw", "relu")
    x = L.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])), name="avg_pool")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, x, name="mobilenet_v1")


def build_fc_autoencoder():
    """MLPerf Tiny AD autoencoder: 640 -> 4 x 128 -> 8 -> 4 x 128 -> 640, BN + ReLU between."""
    keras = import_keras()
    L = keras.layers
    inp = keras.Input((640,), name="features")
    x = inp
    for i, units in enumerate([128] * 4 + [8] + [128] * 4):
        x = L.Dense(units, name=f"dense{i}")(x)
        x = L.BatchNormalization(name=f"dense{i}_bn")(x)
        x = L.ReLU(name=f"dense{i}_relu")(x)
    x = L.Dense(640, name="reconstruction")(x)
    return keras.Model(inp, x, name="fc_autoencoder")


def build_arch(arch: dict):
    """Build an ``archs/*.json`` architecture (MobileNetV2-style inverted residual blocks)
    with the search space's Keras builder (`search.build_keras`)."""
    return build_keras(Arch.from_dict(arch))


ZOO: dict[str, Callable[[], Any]] = {
    "mobilenet_v2_0.35_96": build_mobilenet_v2,
    "ds_cnn": build_ds_cnn,
    "resnet8": build_resnet8,
    "mobilenet_v1_0.25_96": build_mobilenet_v1,
    "fc_autoencoder": build_fc_autoencoder,
}
for _stem, _arch in ARCHS.items():
    ZOO[_stem] = functools.partial(build_arch, _arch)

_FIXED_SHAPES = {
    "mobilenet_v2_0.35_96": (96, 96, 3),
    "ds_cnn": (49, 10, 1),
    "resnet8": (32, 32, 3),
    "mobilenet_v1_0.25_96": (96, 96, 3),
    "fc_autoencoder": (640,),
}


def zoo_names() -> list[str]:
    """All zoo model names, in zoo order."""
    return list(ZOO)


def input_shape(name: str) -> tuple[int, ...]:
    """Input shape of a zoo model, without the batch dimension (no TensorFlow needed)."""
    if name in _FIXED_SHAPES:
        return _FIXED_SHAPES[name]
    if name in ARCHS:
        a = ARCHS[name]
        return (int(a["resolution"]), int(a["resolution"]), int(a.get("input_channels", 3)))
    raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(ZOO)}")


# --------------------------------------------------------------------------------------------
# weights, calibration data, quantization
# --------------------------------------------------------------------------------------------

def representative_data(name: str, seed: int = 0, samples: int = 8) -> np.ndarray:
    """Seeded random float32 inputs for a zoo model, uniform in [-1, 1], shape (N, *input)."""
    rng = np.random.default_rng([seed, 1])
    return rng.uniform(-1.0, 1.0, (samples,) + input_shape(name)).astype(np.float32)


def _all_layers(model) -> list:
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_all_layers(layer))
    return out


def _randomise_statistics(model, data: np.ndarray, seed: int) -> None:
    """Mildly random BN gamma/beta and Dense biases, then BN moving statistics from ``data``.

    One training-mode forward pass with momentum 0 sets every BN's moving mean/variance to the
    batch statistics of its input, layer after layer, so each BN normalises its input to about
    unit scale at inference time.
    """
    keras = import_keras()
    rng = np.random.default_rng([seed, 2])
    bns = []
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights() if layer.scale and layer.center else (
                None, None, None, None)
            if gamma is None:
                continue
            n = gamma.shape[0]
            layer.set_weights([
                rng.uniform(0.7, 1.3, n).astype(np.float32),
                rng.normal(0.0, 0.2, n).astype(np.float32),
                mean,
                var,
            ])
            bns.append(layer)
        elif isinstance(layer, keras.layers.Dense) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0.0, 0.05, bias.shape).astype(np.float32)])
    momenta = [layer.momentum for layer in bns]
    try:
        for layer in bns:
            layer.momentum = 0.0
        model(data, training=True)
    finally:
        for layer, m in zip(bns, momenta):
            layer.momentum = m


def build_zoo_model(name: str, seed: int = 0):
    """Build zoo model ``name`` with seeded random weights and calibrated BN statistics."""
    if name not in ZOO:
        raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(ZOO)}")
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    model = ZOO[name]()
    _randomise_statistics(model, representative_data(name, seed=seed + 1000, samples=16), seed)
    return model


def build_zoo_tflite(name: str, seed: int = 0) -> bytes:
    """Build zoo model ``name`` and quantize it to int8 (int8 input and output)."""
    from tflm_mcunet.quantize import quantize_keras

    model = build_zoo_model(name, seed)
    return quantize_keras(model, representative_data(name, seed=seed, samples=8))


@functools.lru_cache(maxsize=None)
def _cache_key() -> str:
    """Changes whenever the zoo, its Keras builder, the quantizer, the archs or the TF/Keras versions change."""
    from importlib import metadata

    from tflm_mcunet import quantize as _q
    from tflm_mcunet.search import keras_model as _builder

    h = hashlib.sha256()
    for path in (Path(__file__), Path(_q.__file__), Path(_builder.__file__)):
        h.update(path.read_bytes())
    for arch in sorted(ARCH_DIR.glob("*.json")):
        h.update(arch.read_bytes())
    for dist in ("tensorflow", "keras"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:  # pragma: no cover
            pass
    return h.hexdigest()[:12]


def cached_zoo_tflite(name: str, cache_dir: str | os.PathLike, seed: int = 0) -> bytes:
    """:func:`build_zoo_tflite`, stored as ``<cache_dir>/<name>-s<seed>-<key>.tflite``.

    The key hashes the zoo and quantizer sources, the archs and the TF/Keras versions, so a
    stale file is never reused (and is deleted when its replacement is written). Rebuilt only
    when missing; written atomically, so parallel test workers can share ``cache_dir``.
    """
    if name not in ZOO:
        raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(ZOO)}")
    folder = Path(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-s{seed}-{_cache_key()}.tflite"
    if path.is_file():
        return path.read_bytes()
    data = build_zoo_tflite(name, seed)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    for stale in folder.glob(f"{glob_escape(name)}-s{seed}-*.tflite"):
        if stale != path:  # built by an older zoo/quantizer/TF: never read again
            stale.unlink(missing_ok=True)
    return data


#: the zoo model shipped with the package as `tflm_mcunet/data/example_int8.tflite`
def published_anchor(name: str) -> dict | None:
    """TinyEngine's published numbers for an archs/*.json architecture: the board whose
    latency implies the fewest cycles (latency x clock), with that board's Flash and SRAM."""
    pub = ARCHS.get(name, {}).get("published") or {}
    best = None
    for board, runtimes in pub.items():
        m = re.search(r"(\d+)mhz", board)
        te = runtimes.get("tinyengine") if isinstance(runtimes, dict) else None
        if not m or not te or te.get("latency_ms") is None:
            continue
        cycles = te["latency_ms"] * 1e-3 * int(m.group(1)) * 1e6
        if best is None or cycles < best["cycles"]:
            best = dict(board=board, cycles=cycles, latency_ms=te["latency_ms"],
                        mhz=int(m.group(1)), flash_kB=te.get("flash_kB"),
                        peak_sram_kB=te.get("peak_sram_kB"))
    if best is not None:
        best["macs_M"] = pub.get("macs_M")
    return best


def load_model(spec: str, zoo_cache: Path | None = None) -> tuple[str, bytes]:
    """(name, .tflite bytes) of a zoo name or a .tflite path."""
    path = Path(spec)
    if path.suffix == ".tflite" or path.exists():
        return path.stem, path.read_bytes()
    from .toolchain import cache_dir

    if spec not in ZOO:
        raise ValueError(f"{spec!r} is neither a .tflite file nor a zoo model "
                         f"({', '.join(zoo_names())})")
    return spec, cached_zoo_tflite(spec, zoo_cache or cache_dir() / "zoo")


EXAMPLE_MODEL = "mobilenet_v1_0.25_96"


def main(argv=None) -> int:
    """`python -m tflm_mcunet.benchmarks.zoo NAME -o FILE`: write a zoo model as int8 .tflite."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("name", choices=zoo_names(), nargs="?", default=EXAMPLE_MODEL)
    parser.add_argument("-o", "--output", required=True, help=".tflite file to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = build_zoo_tflite(args.name, seed=args.seed)
    Path(args.output).write_bytes(data)
    print(f"wrote {args.output} ({len(data):,} bytes): {args.name}, seed {args.seed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
