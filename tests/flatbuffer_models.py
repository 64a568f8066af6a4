"""Small int8 .tflite models written directly with the schema's object API (no TensorFlow).

`ModelBuilder` writes tensors, constant buffers and operators; `seed_models()` gives a few
valid models that together use every supported operator (and the folded shape arithmetic).
The fuzz tests mutate them; the sanitizer tests run them.
"""
from __future__ import annotations

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

TYPES = {"float32": fb.TensorType.FLOAT32, "int32": fb.TensorType.INT32,
         "int8": fb.TensorType.INT8, "int64": fb.TensorType.INT64}
NUMPY = {"float32": "<f4", "int32": "<i4", "int8": "i1", "int64": "<i8"}
PADDING = {"SAME": fb.Padding.SAME, "VALID": fb.Padding.VALID}
ACT = {None: 0, "relu": 1, "relu_n1_to_1": 2, "relu6": 3}


def pack(model: "fb.ModelT") -> bytes:
    """A ModelT as .tflite bytes (with the TFL3 file identifier)."""
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def unpack(data: bytes) -> "fb.ModelT":
    return fb.ModelT.InitFromObj(fb.Model.GetRootAs(data, 0))


class ModelBuilder:
    """Tensors, constants and operators of one subgraph; `build` gives the .tflite bytes."""

    def __init__(self):
        self.tensors: list = []
        self.buffers = [fb.BufferT()]  # buffer 0: the empty buffer of every activation
        self.opcodes: dict[str, int] = {}
        self.codes: list = []
        self.operators: list = []

    def tensor(self, name: str, shape, dtype: str = "int8", scale=None, zero_point=0,
               data: np.ndarray | None = None, axis: int = 0) -> int:
        t = fb.TensorT()
        t.name, t.shape, t.type = name.encode() if isinstance(name, str) else name, \
            [int(d) for d in shape], TYPES[dtype]
        t.buffer = 0
        if data is not None:
            buf = fb.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data, NUMPY[dtype]).tobytes(), np.uint8)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            q = fb.QuantizationParametersT()
            scales = np.atleast_1d(np.asarray(scale, np.float64))
            zps = np.atleast_1d(np.asarray(zero_point, np.int64))
            if zps.size == 1 and scales.size > 1:
                zps = np.repeat(zps, scales.size)
            q.scale = [float(np.float32(s)) for s in scales]
            q.zeroPoint = [int(z) for z in zps]
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def const(self, name: str, values, dtype: str, scale=None, zero_point=0, axis=0) -> int:
        values = np.asarray(values)
        return self.tensor(name, values.shape, dtype, scale, zero_point, values, axis)

    def op(self, kind: str, inputs, outputs, options: str | None = None, **fields) -> None:
        if kind not in self.opcodes:
            code = getattr(fb.BuiltinOperator, kind)
            oc = fb.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
            self.opcodes[kind] = len(self.codes)
            self.codes.append(oc)
        o = fb.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.opcodes[kind], list(inputs), list(outputs)
        if options:
            opts = getattr(fb, options + "T")()
            for k, v in fields.items():
                setattr(opts, k, v)
            o.builtinOptionsType = getattr(fb.BuiltinOptions, options)
            o.builtinOptions = opts
        self.operators.append(o)

    def model(self, inputs, outputs, description: str = "") -> "fb.ModelT":
        sub = fb.SubGraphT()
        sub.tensors, sub.operators = self.tensors, self.operators
        sub.inputs, sub.outputs, sub.name = list(inputs), list(outputs), b"main"
        m = fb.ModelT()
        m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, self.codes, [sub], self.buffers
        m.description = description.encode()
        return m

    def build(self, inputs, outputs, description: str = "") -> bytes:
        return pack(self.model(inputs, outputs, description))

    # ---- layers with their weights ----------------------------------------------------------

    def conv(self, rng, x: int, in_scale: float, out_shape, kernel: int, stride: int = 1,
             padding: str = "SAME", act=None, depthwise: bool = False, name: str = "conv",
             out_zp: int = 0, per_channel: bool = True) -> tuple[int, float]:
        """CONV_2D or DEPTHWISE_CONV_2D with random int8 weights; returns (output, its scale)."""
        in_c = self.tensors[x].shape[3]
        out_c = out_shape[3]
        shape = (1, kernel, kernel, out_c) if depthwise else (out_c, kernel, kernel, in_c)
        w = rng.integers(-127, 128, shape)
        w_scale = rng.uniform(0.002, 0.02, out_c if per_channel else 1)
        bias = rng.integers(-2000, 2000, out_c)
        taps = kernel * kernel * (1 if depthwise else in_c)
        out_scale = float(in_scale * np.max(w_scale) * 40 * np.sqrt(taps))
        wt = self.const(f"{name}/weights", w, "int8", w_scale, 0, axis=3 if depthwise else 0)
        bt = self.const(f"{name}/bias", bias, "int32", in_scale * w_scale, 0)
        y = self.tensor(f"{name}/out", out_shape, "int8", out_scale, out_zp)
        fields = dict(padding=PADDING[padding], strideH=stride, strideW=stride,
                      dilationHFactor=1, dilationWFactor=1, fusedActivationFunction=ACT[act])
        if depthwise:
            fields["depthMultiplier"] = out_c // in_c
            self.op("DEPTHWISE_CONV_2D", [x, wt, bt], [y], "DepthwiseConv2DOptions", **fields)
        else:
            self.op("CONV_2D", [x, wt, bt], [y], "Conv2DOptions", **fields)
        return y, out_scale

    def dense(self, rng, x: int, in_scale: float, units: int, act=None, name: str = "dense",
              bias: bool = True, out_shape=None) -> tuple[int, float]:
        in_depth = int(np.prod(self.tensors[x].shape[1:]))
        w = rng.integers(-127, 128, (units, in_depth))
        w_scale = float(rng.uniform(0.002, 0.02))
        out_scale = float(in_scale * w_scale * 40 * np.sqrt(in_depth))
        inputs = [x, self.const(f"{name}/weights", w, "int8", w_scale, 0)]
        if bias:
            inputs.append(self.const(f"{name}/bias", rng.integers(-500, 500, units), "int32",
                                     in_scale * w_scale, 0))
        y = self.tensor(f"{name}/out", out_shape or (1, units), "int8", out_scale, -3)
        self.op("FULLY_CONNECTED", inputs, [y], "FullyConnectedOptions",
                fusedActivationFunction=ACT[act])
        return y, out_scale


def seed_cnn(seed: int = 0) -> bytes:
    """conv (per channel, SAME, stride 2) -> depthwise -> 1x1 conv -> residual ADD -> average
    and max pool -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX: the backbone of the zoo models."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.tensor("input", (1, 8, 8, 3), "int8", 0.02, -5)
    c1, s1 = b.conv(rng, x, 0.02, (1, 4, 4, 8), 3, 2, act="relu", name="conv1", out_zp=-128)
    c2, s2 = b.conv(rng, c1, s1, (1, 4, 4, 8), 3, 1, act="relu6", depthwise=True, name="dw",
                    out_zp=-128)
    c3, s3 = b.conv(rng, c2, s2, (1, 4, 4, 8), 1, name="pw", out_zp=2)
    add_scale = max(s1, s3) * 1.5
    a = b.tensor("add/out", (1, 4, 4, 8), "int8", add_scale, -7)
    b.op("ADD", [c1, c3], [a], "AddOptions", fusedActivationFunction=ACT["relu"])
    m = b.tensor("maxpool/out", (1, 4, 4, 8), "int8", add_scale, -7)
    b.op("MAX_POOL_2D", [a], [m], "Pool2DOptions", padding=PADDING["SAME"], strideH=1,
         strideW=1, filterHeight=2, filterWidth=2, fusedActivationFunction=0)
    p = b.tensor("pool/out", (1, 2, 2, 8), "int8", add_scale, -7)
    b.op("AVERAGE_POOL_2D", [m], [p], "Pool2DOptions", padding=PADDING["VALID"], strideH=2,
         strideW=2, filterHeight=2, filterWidth=2, fusedActivationFunction=0)
    shape = b.const("flatten/shape", [1, 32], "int32")
    r = b.tensor("flatten/out", (1, 32), "int8", add_scale, -7)
    b.op("RESHAPE", [p, shape], [r], "ReshapeOptions", newShape=[1, 32])
    d, _ = b.dense(rng, r, add_scale, 6, name="logits")
    y = b.tensor("probabilities", (1, 6), "int8", 1 / 256, -128)
    b.op("SOFTMAX", [d], [y], "SoftmaxOptions", beta=1.0)
    return b.build([x], [y], "seed cnn")


def seed_mixed(seed: int = 1) -> bytes:
    """float input -> QUANTIZE -> PAD -> MAX_POOL -> 1x1 conv -> squeeze-and-excitation (MEAN,
    FULLY_CONNECTED, LOGISTIC, RESHAPE, MUL) -> HARD_SWISH, and a RELU / RELU6 branch ->
    CONCATENATION -> int8 requantizing QUANTIZE -> DEQUANTIZE -> float output."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.tensor("image", (1, 6, 6, 4), "float32")
    q = b.tensor("image/q", (1, 6, 6, 4), "int8", 0.01, 3)
    b.op("QUANTIZE", [x], [q])
    pads = b.const("pad/paddings", [[0, 0], [1, 1], [0, 2], [0, 0]], "int32")
    pd = b.tensor("pad/out", (1, 8, 8, 4), "int8", 0.01, 3)
    b.op("PAD", [q, pads], [pd], "PadOptions")
    mp = b.tensor("maxpool/out", (1, 4, 4, 4), "int8", 0.01, 3)
    b.op("MAX_POOL_2D", [pd], [mp], "Pool2DOptions", padding=PADDING["SAME"], strideH=2,
         strideW=2, filterHeight=3, filterWidth=3, fusedActivationFunction=0)
    c, sc = b.conv(rng, mp, 0.01, (1, 4, 4, 6), 1, name="expand", out_zp=-10, per_channel=False)
    axes = b.const("se/axes", [1, 2], "int32")
    m = b.tensor("se/mean", (1, 1, 1, 6), "int8", sc * 0.5, -10)
    b.op("MEAN", [c, axes], [m], "ReducerOptions", keepDims=True)
    fc, sf = b.dense(rng, m, sc * 0.5, 6, name="se/fc", out_shape=(1, 6))
    g = b.tensor("se/gate", (1, 6), "int8", 1 / 256, -128)
    b.op("LOGISTIC", [fc], [g])
    gshape = b.const("se/gate_shape", [1, 1, 1, 6], "int32")
    g4 = b.tensor("se/gate4", (1, 1, 1, 6), "int8", 1 / 256, -128)
    b.op("RESHAPE", [g, gshape], [g4], "ReshapeOptions", newShape=[1, 1, 1, 6])
    mul = b.tensor("se/out", (1, 4, 4, 6), "int8", sc * 0.8, -10)
    b.op("MUL", [c, g4], [mul], "MulOptions", fusedActivationFunction=0)
    hs = b.tensor("hswish/out", (1, 4, 4, 6), "int8", sc * 0.6, -20)
    b.op("HARD_SWISH", [mul], [hs])
    r = b.tensor("relu/out", (1, 4, 4, 6), "int8", sc * 0.6, -128)
    b.op("RELU", [c], [r])
    r6 = b.tensor("relu6/out", (1, 4, 4, 6), "int8", sc * 0.6, -20)
    b.op("RELU6", [r], [r6])
    cat = b.tensor("concat/out", (1, 4, 4, 12), "int8", sc * 0.6, -20)
    b.op("CONCATENATION", [hs, r6], [cat], "ConcatenationOptions", axis=3,
         fusedActivationFunction=0)
    rq = b.tensor("requant/out", (1, 4, 4, 12), "int8", sc * 0.7, 4)
    b.op("QUANTIZE", [cat], [rq])
    y = b.tensor("features", (1, 4, 4, 12), "float32")
    b.op("DEQUANTIZE", [rq], [y])
    return b.build([x], [y], "seed mixed")


def seed_shapes(seed: int = 2) -> bytes:
    """Two inputs (one reshaped) and two outputs; Keras 3's Flatten (SHAPE -> STRIDED_SLICE ->
    PACK -> RESHAPE, folded), PADV2 with an explicit value, VALID depthwise with depth
    multiplier 2, SQUEEZE, a FULLY_CONNECTED without bias, a broadcasting ADD and a global
    AVERAGE_POOL."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.tensor("a", (1, 5, 5, 2), "int8", 0.05, 0)
    z2 = b.tensor("b", (1, 4), "int8", 0.03, 10)  # a model input that goes straight to RESHAPE
    z = b.tensor("b4", (1, 1, 1, 4), "int8", 0.03, 10)
    b.op("RESHAPE", [z2, b.const("b/shape", [1, 1, 1, 4], "int32")], [z], "ReshapeOptions",
         newShape=[1, 1, 1, 4])
    pads = b.const("padv2/paddings", [[0, 0], [1, 0], [1, 0], [0, 0]], "int32")
    value = b.const("padv2/value", [-100], "int8", 0.05, 0)
    pd = b.tensor("padv2/out", (1, 6, 6, 2), "int8", 0.05, 0)
    b.op("PADV2", [x, pads, value], [pd], "PadV2Options")
    dw, sdw = b.conv(rng, pd, 0.05, (1, 4, 4, 4), 3, 1, padding="VALID", depthwise=True,
                     name="dw2")
    s = b.tensor("add/out", (1, 4, 4, 4), "int8", sdw * 1.2, 5)
    b.op("ADD", [dw, z], [s], "AddOptions", fusedActivationFunction=ACT["relu6"])
    gp = b.tensor("gap/out", (1, 1, 1, 4), "int8", sdw * 1.2, 5)
    b.op("AVERAGE_POOL_2D", [s], [gp], "Pool2DOptions", padding=PADDING["VALID"], strideH=1,
         strideW=1, filterHeight=4, filterWidth=4, fusedActivationFunction=0)
    sq = b.tensor("squeeze/out", (1, 4), "int8", sdw * 1.2, 5)
    b.op("SQUEEZE", [gp], [sq], "SqueezeOptions", squeezeDims=[1, 2])
    out1, _ = b.dense(rng, sq, sdw * 1.2, 3, act="relu", name="head1", bias=False)
    # Keras 3 Flatten: the batch size from SHAPE, packed with -1, feeds RESHAPE
    shp = b.tensor("flatten/shape", (4,), "int32")
    b.op("SHAPE", [s], [shp], "ShapeOptions", outType=fb.TensorType.INT32)
    begin = b.const("flatten/begin", [0], "int32")
    end = b.const("flatten/end", [1], "int32")
    strides = b.const("flatten/strides", [1], "int32")
    batch = b.tensor("flatten/batch", (), "int32")
    b.op("STRIDED_SLICE", [shp, begin, end, strides], [batch], "StridedSliceOptions",
         beginMask=0, endMask=0, ellipsisMask=0, newAxisMask=0, shrinkAxisMask=1, offset=False)
    minus1 = b.const("flatten/minus1", np.array(-1, np.int32), "int32")
    packed = b.tensor("flatten/packed", (2,), "int32")
    b.op("PACK", [batch, minus1], [packed], "PackOptions", valuesCount=2, axis=0)
    flat = b.tensor("flatten/out", (1, 64), "int8", sdw * 1.2, 5)
    b.op("RESHAPE", [s, packed], [flat], "ReshapeOptions", newShape=[])
    out2, _ = b.dense(rng, flat, sdw * 1.2, 5, name="head2")
    return b.build([x, z2], [out1, out2], "seed shapes")


def seed_elementwise(seed: int = 3) -> bytes:
    """1x1 conv -> TANH and PRELU -> LEAKY_RELU branches -> SUB (fused RELU6) -> MAXIMUM with the
    input, MINIMUM with a broadcast constant -> SQUARED_DIFFERENCE against the TANH branch ->
    REDUCE_MAX over height and width, ARG_MAX over channels; REDUCE_MIN of the input over
    channels -> SUM over width; ARG_MIN of the input over width; a float island (DEQUANTIZE ->
    ELU -> QUANTIZE) of the conv's output."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.tensor("x", (1, 5, 5, 4), "int8", 0.03, 2)
    c, sc = b.conv(rng, x, 0.03, (1, 5, 5, 4), 1, name="pw", out_zp=-4)
    t = b.tensor("tanh/out", (1, 5, 5, 4), "int8", 1 / 128, 0)
    b.op("TANH", [c], [t])
    slopes = b.const("prelu/alpha", rng.integers(-100, 100, (1, 1, 4)), "int8", 0.004, 0)
    pr = b.tensor("prelu/out", (1, 5, 5, 4), "int8", sc, -20)
    b.op("PRELU", [c, slopes], [pr])
    lr = b.tensor("leaky/out", (1, 5, 5, 4), "int8", sc, -20)
    b.op("LEAKY_RELU", [pr], [lr], "LeakyReluOptions", alpha=0.2)
    sub = b.tensor("sub/out", (1, 5, 5, 4), "int8", max(sc, 1 / 128) * 1.5, -128)
    b.op("SUB", [t, lr], [sub], "SubOptions", fusedActivationFunction=ACT["relu6"])
    mx = b.tensor("max/out", (1, 5, 5, 4), "int8", max(sc, 1 / 128) * 1.5, -128)
    b.op("MAXIMUM", [sub, x], [mx])
    bound = b.const("min/bound", rng.integers(-60, 60, (1, 1, 1, 4)), "int8",
                    max(sc, 1 / 128) * 1.5, -128)
    mn = b.tensor("min/out", (1, 5, 5, 4), "int8", max(sc, 1 / 128) * 1.5, -128)
    b.op("MINIMUM", [mx, bound], [mn])
    sq = b.tensor("sqdiff/out", (1, 5, 5, 4), "int8", (max(sc, 1 / 128) * 1.5) ** 2 * 8, -128)
    b.op("SQUARED_DIFFERENCE", [mn, t], [sq])
    sq_scale = (max(sc, 1 / 128) * 1.5) ** 2 * 8
    mxr = b.tensor("reduce_max/out", (1, 1, 1, 4), "int8", sq_scale, -128)
    b.op("REDUCE_MAX", [sq, b.const("reduce_max/axes", [1, 2], "int32")], [mxr],
         "ReducerOptions", keepDims=True)
    mnr = b.tensor("reduce_min/out", (1, 5, 5), "int8", 0.03, 2)
    b.op("REDUCE_MIN", [x, b.const("reduce_min/axes", [-1], "int32")], [mnr],
         "ReducerOptions", keepDims=False)
    total = b.tensor("sum/out", (1, 5), "int8", 0.5, -1)
    b.op("SUM", [mnr, b.const("sum/axes", [2], "int32")], [total], "ReducerOptions",
         keepDims=False)
    amax = b.tensor("arg_max/out", (1, 5, 5), "int32")
    b.op("ARG_MAX", [sq, b.const("arg_max/axis", [3], "int32")], [amax], "ArgMaxOptions",
         outputType=fb.TensorType.INT32)
    amin = b.tensor("arg_min/out", (1, 5, 4), "int32")
    b.op("ARG_MIN", [x, b.const("arg_min/axis", [-2], "int32")], [amin], "ArgMinOptions",
         outputType=fb.TensorType.INT32)
    deq = b.tensor("elu/in", (1, 5, 5, 4), "float32")
    b.op("DEQUANTIZE", [c], [deq])
    elu = b.tensor("elu/out", (1, 5, 5, 4), "float32")
    b.op("ELU", [deq], [elu])
    requant = b.tensor("elu/q", (1, 5, 5, 4), "int8", sc, -4)
    b.op("QUANTIZE", [elu], [requant])
    return b.build([x], [sq, mxr, total, amax, amin, requant], "seed elementwise")


def seed_layout() -> bytes:
    """SPACE_TO_DEPTH -> 1x1 conv -> DEPTH_TO_SPACE -> TRANSPOSE -> SLICE ->
    RESIZE_NEAREST_NEIGHBOR (half-pixel centres) and MIRROR_PAD (REFLECT) -> TRANSPOSE_CONV
    (VALID, fused RELU, no bias), RESIZE_BILINEAR
    (aligned corners) of the input; a second input
    through EXPAND_DIMS -> TRANSPOSE -> GATHER, BATCH_MATMUL of the transposed and the
    expanded one, and UNPACK of the transposed one."""
    rng = np.random.default_rng(4)
    b = ModelBuilder()
    x = b.tensor("x", (1, 4, 6, 3), "int8", 0.04, -2)
    s2d = b.tensor("s2d/out", (1, 2, 3, 12), "int8", 0.04, -2)
    b.op("SPACE_TO_DEPTH", [x], [s2d], "SpaceToDepthOptions", blockSize=2)
    c, sc = b.conv(rng, s2d, 0.04, (1, 2, 3, 8), 1, name="mix", out_zp=1)
    d2s = b.tensor("d2s/out", (1, 4, 6, 2), "int8", sc, 1)
    b.op("DEPTH_TO_SPACE", [c], [d2s], "DepthToSpaceOptions", blockSize=2)
    t = b.tensor("transpose/out", (1, 6, 4, 2), "int8", sc, 1)
    b.op("TRANSPOSE", [d2s, b.const("transpose/perm", [0, 2, 1, 3], "int32")], [t],
         "TransposeOptions")
    sl = b.tensor("slice/out", (1, 4, 3, 2), "int8", sc, 1)
    b.op("SLICE", [t, b.const("slice/begin", [0, 1, 1, 0], "int32"),
                   b.const("slice/size", [1, 4, -1, -1], "int32")], [sl], "SliceOptions")
    up = b.tensor("resize/out", (1, 7, 5, 2), "int8", sc, 1)
    b.op("RESIZE_NEAREST_NEIGHBOR", [sl, b.const("resize/size", [7, 5], "int32")], [up],
         "ResizeNearestNeighborOptions", alignCorners=False, halfPixelCenters=True)
    z = b.tensor("z", (4, 3), "int8", 0.1, 0)
    e = b.tensor("expand/out", (1, 4, 3), "int8", 0.1, 0)
    b.op("EXPAND_DIMS", [z, b.const("expand/axis", [0], "int32")], [e], "ExpandDimsOptions")
    zt = b.tensor("z/transposed", (1, 3, 4), "int8", 0.1, 0)
    b.op("TRANSPOSE", [e, b.const("z/perm", [0, 2, 1], "int32")], [zt], "TransposeOptions")
    bl = b.tensor("bilinear/out", (1, 5, 8, 3), "int8", 0.04, -2)
    b.op("RESIZE_BILINEAR", [x, b.const("bilinear/size", [5, 8], "int32")], [bl],
         "ResizeBilinearOptions", alignCorners=True, halfPixelCenters=False)
    mp = b.tensor("mirror/out", (1, 7, 5, 2), "int8", sc, 1)
    b.op("MIRROR_PAD", [sl, b.const("mirror/pads", [[0, 0], [1, 2], [1, 1], [0, 0]], "int32")],
         [mp], "MirrorPadOptions", mode=0)
    g = b.tensor("gather/out", (1, 3, 2, 2), "int8", 0.1, 0)
    b.op("GATHER", [zt, b.const("gather/indices", [[3, 0], [1, 1]], "int32")], [g],
         "GatherOptions", axis=2, batchDims=0)
    tw = b.const("tconv/weights", rng.integers(-127, 128, (3, 3, 3, 2)), "int8",
                 rng.uniform(0.005, 0.02, 3), 0, axis=0)
    tc = b.tensor("tconv/out", (1, 9, 7, 3), "int8", 0.05, -4)
    b.op("TRANSPOSE_CONV", [b.const("tconv/shape", [1, 9, 7, 3], "int32"), tw, mp], [tc],
         "TransposeConvOptions", padding=1, strideH=1, strideW=1, fusedActivationFunction=1)
    mm = b.tensor("matmul/out", (1, 3, 3), "int8", 0.4, 5)
    b.op("BATCH_MATMUL", [zt, e], [mm], "BatchMatMulOptions", adjX=False, adjY=False,
         asymmetricQuantizeInputs=False)
    rows = [b.tensor(f"unpack/out{k}", (1, 4), "int8", 0.1, 0) for k in range(3)]
    b.op("UNPACK", [zt], rows, "UnpackOptions", num=3, axis=1)
    return b.build([x, z], [up, zt, bl, tc, g, mm] + rows, "seed layout")


def seed_streaming() -> bytes:
    """A streaming model (state kept between invokes): CALL_ONCE's initialisation subgraph,
    VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE, window shifts by STRIDED_SLICE and SPLIT_V, a
    SPLIT (tests/stateful_models.py)."""
    from stateful_models import random_streaming

    return random_streaming(2, with_split=True)


def seed_models() -> dict[str, bytes]:
    return {"cnn": seed_cnn(), "mixed": seed_mixed(), "shapes": seed_shapes(),
            "elementwise": seed_elementwise(), "layout": seed_layout(),
            "streaming": seed_streaming()}
