"""An architecture as the converter's graph IR, built without TensorFlow.

`arch_graph(arch)` gives the graph the `.tflite` reader produces from the Keras model of the
architecture (`build_keras`) quantized to int8 (`quantize_keras`): the same operators in the
same order, the same tensor shapes and types, the same options. It builds the architecture's
layers (`arch_layers`) one after the other; `layer_graph` builds one of them on its own (the
cost model's fast path assembles its graphs from those).

- first conv, expansion and feature-mix convs: CONV_2D, ReLU6 fused (BN folded into the
  per-channel int8 weights and the int32 bias);
- depthwise: DEPTHWISE_CONV_2D (depth multiplier 1), ReLU6 fused;
- projection: CONV_2D without activation, then ADD(block input, projection) for a residual;
- global average pooling: MEAN over axes (1, 2) to (1, C); classifier: FULLY_CONNECTED with
  per-channel weights and a bias, no activation.

Quantization parameters do not change memory or MACs; they are plausible values (activation
scales 0.02-0.05, per-channel weight scales, bias scale = input scale x weight scale) so that
every op's `prepare` accepts the graph. Constant data are zero-filled read-only views (no
memory is allocated for them): the planner never reads weights, and the Flash count comes
from their shapes.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from ..converter.ir import Graph, Op, Quant, Tensor
from .space import Arch

__all__ = ["Layer", "arch_graph", "arch_layers", "input_shape", "layer_graph", "NONE", "RELU6"]

NONE, RELU6 = 0, 3  # TFLite ActivationFunctionType


@functools.lru_cache(maxsize=None)  # a few values; tensors share them (no pass changes a Quant)
def _quant(scale: float, zero_point: int) -> Quant:
    return Quant(np.array([scale], np.float32), np.array([zero_point], np.int64))


def _zeros(shape: tuple[int, ...], dtype) -> np.ndarray:
    return np.broadcast_to(np.zeros((), dtype), shape)


class _Builder:
    def __init__(self, name: str):
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.name = name

    def tensor(self, name, shape, dtype="int8", quant=None, data=None) -> Tensor:
        t = Tensor(len(self.tensors), name, tuple(int(d) for d in shape), dtype, quant, data)
        self.tensors.append(t)
        return t

    def activation(self, name, shape, relu6: bool) -> Tensor:
        # ReLU6 outputs use [0, 6] -> zero point -128; linear outputs are centred
        return self.tensor(name, shape, quant=_quant(6.0 / 255.0, -128) if relu6
                           else _quant(0.05, 0))

    def op(self, kind, inputs, output, **options) -> Tensor:
        self.ops.append(Op(len(self.ops), kind, list(inputs), [output], options))
        return output

    def weights(self, name, shape, axis: int, channels: int, x: Tensor):
        w_scale = np.full(channels, 0.01, np.float32)
        w = self.tensor(name + "/weights", shape, "int8",
                        Quant(w_scale, np.zeros(channels, np.int64), axis),
                        _zeros(shape, np.int8))
        b = self.tensor(name + "/bias", (channels,), "int32",
                        Quant(np.float32(x.scale) * w_scale, np.zeros(channels, np.int64)),
                        _zeros((channels,), np.int32))
        return w, b

    def conv(self, name, x: Tensor, out_c: int, kernel: int, stride: int, relu6: bool,
             depthwise: bool = False) -> Tensor:
        _, h, w, c = x.shape
        oh, ow = -(-h // stride), -(-w // stride)  # SAME padding
        if depthwise:
            wt, b = self.weights(name, (1, kernel, kernel, c), 3, c, x)
            out_c = c
        else:
            wt, b = self.weights(name, (out_c, kernel, kernel, c), 0, out_c, x)
        y = self.activation(name, (1, oh, ow, out_c), relu6)
        opts = dict(padding="SAME", stride_h=stride, stride_w=stride, dil_h=1, dil_w=1,
                    activation=RELU6 if relu6 else NONE)
        if depthwise:
            opts["depth_multiplier"] = 1
        return self.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, wt, b], y, **opts)

    def layer(self, layer: "Layer", x: Tensor, skip: Tensor | None = None) -> Tensor:
        """The operators of one layer reading `x` (and `skip`, for a residual); its output."""
        if layer.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            y = self.conv(layer.name, x, layer.channels, layer.kernel, layer.stride,
                          layer.relu6, depthwise=layer.kind == "DEPTHWISE_CONV_2D")
            if skip is None:
                return y
            block = layer.name.rsplit("_", 1)[0]  # "block3_project" -> "block3_add"
            out = self.tensor(f"{block}_add", y.shape, quant=_quant(0.07, 0))
            return self.op("ADD", [skip, y], out, activation=NONE)
        if layer.kind == "MEAN":
            axes = self.tensor(f"{layer.name}/axes", (2,), "int32",
                               data=np.array([1, 2], np.int32))
            pooled = self.tensor(layer.name, (1, x.shape[-1]), quant=x.quant)
            return self.op("MEAN", [x, axes], pooled, keep_dims=False)
        channels = x.shape[-1]  # the classifier
        w_scale = np.full(layer.channels, 0.01, np.float32)
        fw = self.tensor(f"{layer.name}/weights", (layer.channels, channels), "int8",
                         Quant(w_scale, np.zeros(layer.channels, np.int64), 0),
                         _zeros((layer.channels, channels), np.int8))
        fb = self.tensor(f"{layer.name}/bias", (layer.channels,), "int32",
                         Quant(np.float32(x.scale) * w_scale, np.zeros(layer.channels, np.int64)),
                         _zeros((layer.channels,), np.int32))
        logits = self.tensor("logits", (1, layer.channels), quant=_quant(0.1, 0))
        return self.op("FULLY_CONNECTED", [x, fw, fb], logits, activation=NONE,
                       weights_format=0, keep_num_dims=False)


class Layer(NamedTuple):
    """One layer of the int8 model of an architecture, as `arch_graph` builds it."""

    name: str
    kind: str  # CONV_2D, DEPTHWISE_CONV_2D, MEAN (global pooling), FULLY_CONNECTED (classifier)
    source: int  # what it reads: 0 is the model input, k + 1 the output of layer k
    channels: int  # output channels (the classes for the classifier)
    kernel: int = 1
    stride: int = 1
    relu6: bool = False  # ReLU6 fused
    skip: int | None = None  # a residual block's projection: ADD(skip, this layer's output)


def arch_layers(arch: Arch) -> list[Layer]:
    """The layers of `arch`, in the order of the model's operators."""
    layers: list[Layer] = []

    def add(*args, **kwargs) -> int:
        layers.append(Layer(*args, **kwargs))
        return len(layers)

    x = add("first_conv", "CONV_2D", 0, arch.first_conv, arch.first_kernel, arch.first_stride,
            relu6=True)
    for i, b in enumerate(arch.blocks()):
        block_in = x
        if b["expand"] != 1:
            x = add(f"block{i}_expand", "CONV_2D", x, b["mid"], relu6=True)
        x = add(f"block{i}_dw", "DEPTHWISE_CONV_2D", x, b["mid"], b["kernel"], b["stride"],
                relu6=True)
        x = add(f"block{i}_project", "CONV_2D", x, b["out"],
                skip=block_in if b["residual"] else None)
    if arch.feature_mix:
        x = add("feature_mix", "CONV_2D", x, arch.feature_mix, relu6=True)
    x = add("global_pool", "MEAN", x, arch.last_channels)
    add("classifier", "FULLY_CONNECTED", x, arch.classes)
    return layers


def input_shape(arch: Arch) -> tuple[int, int, int, int]:
    return (1, arch.resolution, arch.resolution, arch.input_channels)


def arch_graph(arch: Arch) -> Graph:
    """The un-legalized IR of the int8 model of `arch` (run `legalize` and `fuse` on it, as
    `converter.load_graph` does for a `.tflite` file)."""
    g = _Builder(arch.label())
    inp = g.tensor("input", input_shape(arch), quant=_quant(1.0 / 128, 0))
    outputs = [inp]
    for layer in arch_layers(arch):
        skip = outputs[layer.skip] if layer.skip is not None else None
        outputs.append(g.layer(layer, outputs[layer.source], skip))
    return Graph(g.tensors, g.ops, [inp], [outputs[-1]], source=f"arch:{arch.label()}",
                 description="built from a search-space architecture")


def layer_graph(layer: Layer, in_shape: tuple, skip_shape: tuple | None = None) -> Graph:
    """One layer on its own, as `arch_graph` builds it: the graph's inputs are the layer's input
    (and the skip tensor of a residual), its output the layer's."""
    g = _Builder(layer.name)
    x = g.activation("x", in_shape, relu6=True)
    skip = None if skip_shape is None else g.activation("skip", skip_shape, relu6=False)
    y = g.layer(layer, x, skip)
    return Graph(g.tensors, g.ops, [x] + ([skip] if skip is not None else []), [y])
