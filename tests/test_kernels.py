"""The specialised kernels (engine_c/include/tme_gemm.h, tme_dwconv.h) beyond test_ops.py:

- the requantization forms against TFLite Micro's reference arithmetic, in C;
- the Arm DSP path (SXTB16/SXTAB16/SMLAD) built for the Cortex-M7 and run on QEMU, beside the
  portable build, on models whose layers take every branch of the kernels: im2col rows of 3
  input channels (byte by byte) and of a multiple of 4 (word by word), 1x1 rows, an odd channel
  count, fully connected rows that are not a multiple of 4, depthwise layers with and without
  a multiple of 4 channels, strides 1 and 2, in place and in raster order, a fused residual ADD.
  Every output byte equals TFLite Micro's. (test_ops.py runs the DSP path on the host too, with
  the instructions emulated in C, and the AVX2 path where the CPU has AVX2.)
- the host benchmark's rows.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tflm_mcunet import convert
from tflm_mcunet.benchmarks import toolchain
from tflm_mcunet.devices import BUILDS, get_device

ROOT = Path(__file__).resolve().parent.parent
HARNESS = Path(__file__).parent / "harness"


def test_requantization_forms_equal_the_reference(tmp_path):
    exe = tmp_path / "requant_check"
    subprocess.run([os.environ.get("CC", "cc"), "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=undefined", "-fno-sanitize-recover=all", "-I",
                    str(ROOT / "engine_c" / "include"), str(HARNESS / "requant_check.c"), "-o",
                    str(exe)], check=True)
    result = subprocess.run([str(exe)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("0 of "), result.stdout


# --------------------------------------------------------------------------------------------
# the DSP path on the Cortex-M7 emulator
# --------------------------------------------------------------------------------------------

def _kernel_model():
    pytest.importorskip("tensorflow")
    import keras
    from keras import layers

    from tflm_mcunet.quantize import quantize_keras

    keras.utils.set_random_seed(3)
    inp = keras.Input((12, 13, 3))
    a = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)  # im2col, 3 ch
    b = layers.DepthwiseConv2D(3, padding="same", activation="relu6")(a)
    c = layers.Conv2D(12, 1)(b)  # 1x1 rows of 8
    d = layers.DepthwiseConv2D(5, strides=2, padding="same")(c)
    e = layers.Conv2D(16, 3, padding="same", activation="relu")(d)  # im2col, 12 channels
    f = layers.DepthwiseConv2D(3, padding="same")(e)
    g = layers.Conv2D(16, 1)(f)
    h = layers.Add()([e, g])  # fused into the 1x1 convolution
    i = layers.Conv2D(7, 1)(h)  # an odd number of output channels
    j = layers.DepthwiseConv2D(3, padding="same", activation="relu")(i)  # 7 channels
    k = layers.Dense(5)(layers.Flatten()(j))  # rows of 2 * 4 * 7 = 56 ... then 5 outputs
    model = keras.Model(inp, layers.Dense(3)(layers.Dense(6)(k)))  # rows of 5 and 6
    data = np.random.default_rng(0).uniform(-1, 1, (16, 12, 13, 3)).astype(np.float32)
    return quantize_keras(model, data)


@pytest.mark.parametrize("inplace", ["chosen", "forced"])
def test_dsp_and_portable_builds_give_tflite_micro_bytes_on_cortex_m7(tools, tmp_path,
                                                                        monkeypatch, inplace):
    from tflm_mcunet.converter.passes import fuse
    from tflm_mcunet.converter.passes import inplace as inplace_pass
    from tflm_mcunet.tflm import run_tflm_batch

    if inplace == "forced":  # every depthwise candidate in place (strides 1 and 2)
        def everything(graph, dsp=False):
            for op in inplace_pass.inplace_candidates(graph):
                op.params["inplace"] = True

        monkeypatch.setattr(fuse, "choose_inplace_depthwise", everything)
    model = _kernel_model()
    device = get_device("stm32f746")
    conv = convert(model, tmp_path / "c", device=device)
    kinds = [op.kind for op in conv.graph.ops]
    assert "ADD" not in kinds and kinds.count("DEPTHWISE_CONV_2D") == 4
    if inplace == "forced":
        assert sum(bool(op.params.get("inplace")) for op in conv.graph.ops) >= 3
    rng = np.random.default_rng(5)
    shape = conv.graph.inputs[0].shape
    samples = [[np.full(shape, -128, np.int8)], [np.full(shape, 127, np.int8)]] + [
        [rng.integers(-128, 128, shape, dtype=np.int8)] for _ in range(2)]
    reference = run_tflm_batch(model, samples)
    for build in BUILDS:
        elf = toolchain.build_qemu_firmware(conv.out_dir, tmp_path / f"build-{build}",
                                      device.cflags(build))
        run = toolchain.run_qemu(elf, samples, toolchain.output_specs(conv.graph))
        for k, (ours, ref) in enumerate(zip(run.outputs, reference)):
            assert [a.tobytes() for a in ours] == [np.asarray(b).tobytes() for b in ref], \
                (build, k)


# --------------------------------------------------------------------------------------------
# the host benchmark
# --------------------------------------------------------------------------------------------

def test_host_benchmark_prints_json_rows(zoo_tflite, tmp_path, capsys):
    from tflm_mcunet.benchmarks import host
    from tflm_mcunet.cli import main

    path = tmp_path / "fc_autoencoder.tflite"
    path.write_bytes(zoo_tflite("fc_autoencoder"))
    # `tflm-mcunet bench MODEL.tflite`: the host is the default target
    assert main(["bench", str(path), "--json", "--no-xnnpack", "--seconds", "0.05", "--samples",
                      "2", "--workdir", str(tmp_path / "w")]
                     + (["--profile"] if host.callgrind_available() else ["--no-instructions"])) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["model"] == "fc_autoencoder" and row["identical"] and row["samples"] == 2
    assert row["macs"] > 0 and row["tflm_ms"] > 0 and row["ours_ms"] > 0
    assert row["speedup"] == pytest.approx(row["tflm_ms"] / row["ours_ms"])
    assert row["xnnpack_ms"] is None
    if host.callgrind_available():
        # exact counts: our invoke runs far fewer instructions than TFLite Micro's
        assert 0 < row["ours_instructions"] < row["tflm_instructions"]
        assert row["instruction_ratio"] > 2
        # --profile: the functions' own instructions add up to the invoke call's
        assert sum(r["instructions"] for r in row["profile"]) == row["ours_instructions"]
        layers = [r for r in row["profile"] if r["layer"] is not None]
        assert [r["op"] for r in layers] == ["FULLY_CONNECTED"] * len(layers) and layers


def test_host_benchmark_table_and_goals():
    from tflm_mcunet.benchmarks.host import Row, format_table, geomean, goals

    rows = [Row("a", 10, True, 1, 4.0, 0.1, 40.0, 0.05, 2.0, 100, 10, 10.0, 0.1, 1.0, 64),
            Row("b", 10, True, 1, 1.0, 0.1, 10.0, 0.1, 1.0, None, None, None, None, None, 64)]
    assert geomean([40.0, 10.0]) == pytest.approx(20.0)
    table = format_table(rows)
    assert "| a | 0.0M | 4.000 | 0.100 | 40.0x |" in table and "**20.0x**" in table
    said = goals(rows)
    assert said[0].endswith("20.0x, met") and "1.41x, met" in said[1]
