"""BATCH_MATMUL: bit-exact with TFLite Micro over ranks 2 to 5, transposed operands
(adj_x, adj_y), broadcast batch axes, a constant right operand, and from the TFLite converter
(tf.matmul of two activations, as attention computes it)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import compare_with_tflm
from flatbuffer_models import ModelBuilder
from test_ops_nonlinear import _rejected, rep

_dirs = itertools.count()

#: (lhs shape, rhs shape, adj_x, adj_y)
CASES = [((3, 4), (4, 5), False, False), ((4, 3), (4, 5), True, False),
         ((3, 4), (5, 4), False, True), ((4, 3), (5, 4), True, True),
         ((2, 3, 6), (2, 6, 4), False, False), ((2, 3, 6), (1, 6, 4), False, False),
         ((1, 3, 6), (2, 4, 6), False, True), ((2, 2, 3, 4), (2, 1, 4, 3), False, False),
         ((1, 2, 2, 3, 4), (2, 1, 1, 4, 2), False, False), ((3, 5), (2, 5, 2), False, False)]


@pytest.fixture
def out_dir(tmp_path):
    return lambda: tmp_path / f"c{next(_dirs)}"


def out_shape(ls, rs, adj_x, adj_y):
    rank = max(len(ls), len(rs))
    lp = [1] * (rank - len(ls)) + list(ls)
    rp = [1] * (rank - len(rs)) + list(rs)
    batch = [max(a, b) for a, b in zip(lp[:-2], rp[:-2])]
    return batch + [lp[-1] if adj_x else lp[-2], rp[-2] if adj_y else rp[-1]]


def matmul_model(cases, rng, const_rhs=False) -> tuple[bytes, list]:
    b = ModelBuilder()
    ins, outs, shapes = [], [], []
    for k, (ls, rs, adj_x, adj_y) in enumerate(cases):
        sl, sr = (float(s) for s in np.exp(rng.uniform(np.log(0.005), np.log(0.5), 2)))
        zl, zr, zo = (int(z) for z in rng.integers(-128, 128, 3))
        lhs = b.tensor(f"lhs{k}", ls, "int8", sl, zl)
        rhs = b.const(f"rhs{k}", rng.integers(-128, 128, rs), "int8", sr, zr) if const_rhs \
            else b.tensor(f"rhs{k}", rs, "int8", sr, zr)
        depth = ls[-2] if adj_x else ls[-1]
        y = b.tensor(f"y{k}", out_shape(ls, rs, adj_x, adj_y), "int8",
                     sl * sr * 40 * depth ** 0.5, zo)
        b.op("BATCH_MATMUL", [lhs, rhs], [y], "BatchMatMulOptions", adjX=adj_x, adjY=adj_y,
             asymmetricQuantizeInputs=False)
        ins += [lhs] if const_rhs else [lhs, rhs]
        shapes += [ls] if const_rhs else [ls, rs]
        outs.append(y)
    return b.build(ins, outs, "batch matmul"), shapes


@pytest.mark.tflm
@pytest.mark.parametrize("const_rhs", [False, True])
def test_batch_matmul_shapes_and_transposes(out_dir, const_rhs):
    rng = np.random.default_rng(int(const_rhs))
    model, shapes = matmul_model(CASES, rng, const_rhs)
    batches = [[rng.integers(-128, 128, s).astype(np.int8) for s in shapes] for _ in range(3)]
    compare_with_tflm(model, out_dir(), batches, all_paths=True)


def test_batch_matmul_refuses_mismatched_depth(out_dir):
    model, _ = matmul_model([((3, 4), (5, 4), False, False)], np.random.default_rng(0))
    _rejected(model, out_dir(), "BATCH_MATMUL", "do not multiply")


@pytest.mark.tf
def test_converted_attention_scores(bit_exact, tfk):
    """softmax(q k^T) v of one small attention head: BATCH_MATMUL with adj_y, SOFTMAX, and a
    second BATCH_MATMUL."""
    tf, _, quantize = tfk
    shape = (1, 6, 8)

    def attention(x):
        q, k, v = x * 1.5, x * -0.5 + 0.1, x * 0.8
        scores = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) * 0.3)
        return tf.matmul(scores, v)

    model = quantize.quantize_tf_function(attention, shape, rep(shape[1:], -1.0, 1.0))
    conversion = bit_exact(model, samples=6)
    assert [op.kind for op in conversion.graph.ops].count("BATCH_MATMUL") == 2
