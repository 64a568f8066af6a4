"""An architecture as the converter's graph IR, built without TensorFlow.

`arch_graph(arch)` gives the graph the `.tflite` reader produces from the Keras model of the
architecture (`build_keras`) quantized to int8 (`quantize_keras`): the same operators in the
same order, the same tensor shapes and types, the same options.

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

import numpy as np

from ..converter.ir import Graph, Op, Quant, Tensor
from .space import Arch

__all__ = ["arch_graph", "NONE", "RELU6"]

NONE, RELU6 = 0, 3  # TFLite ActivationFunctionType


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


def arch_graph(arch: Arch) -> Graph:
    """The un-legalized IR of the int8 model of `arch` (run `legalize` and `fuse` on it, as
    `converter.load_graph` does for a `.tflite` file)."""
    g = _Builder(arch.label())
    r = arch.resolution
    x = g.tensor("input", (1, r, r, arch.input_channels), quant=_quant(1.0 / 128, 0))
    inp = x
    x = g.conv("first_conv", x, arch.first_conv, arch.first_kernel, arch.first_stride, True)
    for i, b in enumerate(arch.blocks()):
        name = f"block{i}"
        skip = x
        if b["expand"] != 1:
            x = g.conv(f"{name}_expand", x, b["mid"], 1, 1, True)
        x = g.conv(f"{name}_dw", x, 0, b["kernel"], b["stride"], True, depthwise=True)
        x = g.conv(f"{name}_project", x, b["out"], 1, 1, False)
        if b["residual"]:
            y = g.tensor(f"{name}_add", x.shape, quant=_quant(0.07, 0))
            x = g.op("ADD", [skip, x], y, activation=NONE)
    if arch.feature_mix:
        x = g.conv("feature_mix", x, arch.feature_mix, 1, 1, True)
    channels = x.shape[-1]
    axes = g.tensor("global_pool/axes", (2,), "int32", data=np.array([1, 2], np.int32))
    pooled = g.tensor("global_pool", (1, channels), quant=x.quant)
    x = g.op("MEAN", [x, axes], pooled, keep_dims=False)
    w_scale = np.full(arch.classes, 0.01, np.float32)
    fw = g.tensor("classifier/weights", (arch.classes, channels), "int8",
                  Quant(w_scale, np.zeros(arch.classes, np.int64), 0),
                  _zeros((arch.classes, channels), np.int8))
    fb = g.tensor("classifier/bias", (arch.classes,), "int32",
                  Quant(np.float32(x.scale) * w_scale, np.zeros(arch.classes, np.int64)),
                  _zeros((arch.classes,), np.int32))
    logits = g.tensor("logits", (1, arch.classes), quant=_quant(0.1, 0))
    g.op("FULLY_CONNECTED", [x, fw, fb], logits, activation=NONE, weights_format=0,
         keep_num_dims=False)
    return Graph(g.tensors, g.ops, [inp], [logits], source=f"arch:{arch.label()}",
                 description="built from a search-space architecture")
