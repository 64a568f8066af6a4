"""The TFLite flatbuffer schema, behind one small module.

The generated Python bindings come with the `tflite-micro` package (our reference runtime), so
the converter needs neither TensorFlow nor a copy of the schema. Everything else in the
converter imports the schema from here.
"""
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as _fb

Model = _fb.Model
BuiltinOperator = _fb.BuiltinOperator
BuiltinOptions = _fb.BuiltinOptions
TensorType = _fb.TensorType

#: builtin operator code -> name, e.g. 3 -> "CONV_2D"
OPERATOR_NAMES = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
#: builtin options union type -> the generated class that reads it
_OPTIONS_CLASSES = {
    v: getattr(_fb, k) for k, v in vars(BuiltinOptions).items()
    if not k.startswith("_") and hasattr(_fb, k)
}
#: TensorType code -> (name, numpy dtype string)
TENSOR_TYPES = {
    TensorType.FLOAT32: ("float32", "<f4"),
    TensorType.FLOAT16: ("float16", "<f2"),
    TensorType.INT32: ("int32", "<i4"),
    TensorType.UINT8: ("uint8", "u1"),
    TensorType.INT64: ("int64", "<i8"),
    TensorType.BOOL: ("bool", "?"),
    TensorType.INT16: ("int16", "<i2"),
    TensorType.INT8: ("int8", "i1"),
    TensorType.FLOAT64: ("float64", "<f8"),
    TensorType.UINT32: ("uint32", "<u4"),
    TensorType.UINT16: ("uint16", "<u2"),
}
if hasattr(TensorType, "RESOURCE"):  # the handle of a resource variable (VAR_HANDLE)
    TENSOR_TYPES[TensorType.RESOURCE] = ("resource", None)
if hasattr(TensorType, "INT4"):
    TENSOR_TYPES[TensorType.INT4] = ("int4", None)


def model_has_identifier(data: bytes) -> bool:
    """True when the buffer carries the TFLite file identifier "TFL3"."""
    return _fb.Model.ModelBufferHasIdentifier(data, 0)


_OPTIONS_NAMES = {v: k for k, v in vars(BuiltinOptions).items() if not k.startswith("_")}


#: the builtin options table each operator takes (TFLite reads no other: a table of another
#: type is as good as none to it)
OPTIONS_OF = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "ADD": "AddOptions", "MUL": "MulOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions", "MEAN": "ReducerOptions",
    "PAD": "PadOptions", "PADV2": "PadV2Options", "RESHAPE": "ReshapeOptions",
    "SQUEEZE": "SqueezeOptions", "CONCATENATION": "ConcatenationOptions",
    "SOFTMAX": "SoftmaxOptions", "SHAPE": "ShapeOptions", "STRIDED_SLICE": "StridedSliceOptions",
    "PACK": "PackOptions", "QUANTIZE": "QuantizeOptions", "DEQUANTIZE": "DequantizeOptions",
    "HARD_SWISH": "HardSwishOptions", "SUB": "SubOptions", "LEAKY_RELU": "LeakyReluOptions",
    "MAXIMUM": "MaximumMinimumOptions", "MINIMUM": "MaximumMinimumOptions",
    "SQUARED_DIFFERENCE": "SquaredDifferenceOptions", "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions", "SUM": "ReducerOptions", "TRANSPOSE": "TransposeOptions",
    "SLICE": "SliceOptions", "SPACE_TO_DEPTH": "SpaceToDepthOptions",
    "DEPTH_TO_SPACE": "DepthToSpaceOptions", "EXPAND_DIMS": "ExpandDimsOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions", "MIRROR_PAD": "MirrorPadOptions",
    "GATHER": "GatherOptions", "ARG_MAX": "ArgMaxOptions", "ARG_MIN": "ArgMinOptions",
    "TRANSPOSE_CONV": "TransposeConvOptions", "BATCH_MATMUL": "BatchMatMulOptions",
    "CALL_ONCE": "CallOnceOptions", "VAR_HANDLE": "VarHandleOptions",
    "READ_VARIABLE": "ReadVariableOptions", "ASSIGN_VARIABLE": "AssignVariableOptions",
    "SPLIT": "SplitOptions", "SPLIT_V": "SplitVOptions", "UNPACK": "UnpackOptions",
}


def options_name(op) -> str:
    """The name of an operator's builtin options type, e.g. "Conv2DOptions" (or "none")."""
    code = op.BuiltinOptionsType()
    return "none" if code == 0 else _OPTIONS_NAMES.get(code, f"type {code}")


def builtin_options(op):
    """The typed options table of an operator, or None when it has none."""
    cls = _OPTIONS_CLASSES.get(op.BuiltinOptionsType())
    table = op.BuiltinOptions()
    if cls is None or table is None:
        return None
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts
