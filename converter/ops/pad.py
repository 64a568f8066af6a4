"""PAD and PADV2 on int8 tensors of up to 4 dimensions (constant paddings)."""
from __future__ import annotations

from .base import OpDef, expect_inputs, expect_int8_activation, fail


class Pad(OpDef):
    kinds = ("PAD", "PADV2")
    kernels = ("copy",)

    def prepare(self, op) -> None:
        expect_inputs(op, 2, const=(1,), optional=1)
        x, pads, y = op.inputs[0], op.inputs[1], op.outputs[0]
        expect_int8_activation(op, x, "input")
        expect_int8_activation(op, y, "output")
        if x.scale != y.scale or x.zero_point != y.zero_point:
            raise fail(op, "input and output quantization must be equal")
        rank = len(x.shape)
        if pads.data.dtype.kind not in "iu":
            raise fail(op, f"paddings {pads.name!r} are {pads.dtype}; expected int32 or int64")
        if rank > 4 or pads.data.shape != (rank, 2):
            raise fail(op, f"paddings of shape {list(pads.data.shape)} for a rank-{rank} input; "
                           "supported: [rank, 2] with rank <= 4")
        if (pads.data < 0).any():
            raise fail(op, "negative paddings are not supported")
        lead = 4 - rank
        before = [0] * lead + [int(v) for v in pads.data[:, 0]]
        after = [0] * lead + [int(v) for v in pads.data[:, 1]]
        in_dims = [1] * lead + list(x.shape)
        out_dims = [b + d + a for b, d, a in zip(before, in_dims, after)]
        if out_dims[lead:] != list(y.shape):
            raise fail(op, f"output {list(y.shape)} does not match the padded shape {out_dims}")
        value = y.zero_point
        if len(op.inputs) > 2 and op.inputs[2] is not None:  # PAD takes one too in TFLM
            if not op.inputs[2].is_const:
                raise fail(op, "the padding value must be a constant")
            v = op.inputs[2]
            if v.dtype != "int8" or v.size != 1:
                raise fail(op, "the padding value must be one int8 value")
            if v.quant is None or v.quant.scale0 != y.scale or v.quant.zp0 != y.zero_point:
                raise fail(op, "the padding value must be quantized as the output (TFLite Micro "
                               "checks it)")
            value = int(op.inputs[2].data.reshape(-1)[0])
        op.params.update(in_dims=in_dims, before=before, after=after, pad_value=value)

    def emit(self, op, c) -> str:
        params = c.params("tme_pad_params", op, op.params)
        return f"tme_pad_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
