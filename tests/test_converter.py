"""The converter's own promises: no TensorFlow import, a sound memory plan, an honest report,
deterministic output."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tflm_mcunet import convert

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf]  # the tiers: tests/conftest.py
import keras  # noqa: E402
from keras import layers  # noqa: E402

from tflm_mcunet.quantize import quantize_keras  # noqa: E402


def small_model(seed: int) -> bytes:
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(inp)
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    y = layers.Conv2D(8, 1)(y)
    x = layers.Add()([x, y])
    x = layers.Dense(3)(layers.Flatten()(x))
    data = np.random.default_rng(0).uniform(-1, 1, (8, 12, 12, 3)).astype(np.float32)
    return quantize_keras(keras.Model(inp, x), data)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "model.tflite"
    path.write_bytes(small_model(1))
    return path


def test_converter_imports_no_tensorflow(model_file, tmp_path):
    code = (f"import sys, tflm_mcunet; tflm_mcunet.convert({str(model_file)!r}, "
            f"{str(tmp_path / 'out')!r}); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', "
            "'tf_keras')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plan_overlaps_only_where_a_kernel_allows(model_file, tmp_path):
    conv = convert(model_file, tmp_path / "out")
    plan = conv.plan
    shared = 0
    for i, a in enumerate(plan.buffers):
        assert a.offset % 16 == 0 and a.offset + a.size <= plan.arena_bytes
        for b in plan.buffers[i + 1:]:
            if not a.overlaps_in_time(b) or a.offset + a.size <= b.offset or \
                    b.offset + b.size <= a.offset:
                continue
            # only an output over the input dying at its op, within the op's slack
            out, src = (a, b) if (id(a), id(b)) in plan.overlaps else (b, a)
            slack = plan.overlaps[(id(out), id(src))]
            assert out.offset - src.offset <= slack, (out, src, slack)
            assert src.last == out.first
            shared += 1
    assert shared > 0  # this model has ops whose output overwrites their input
    assert plan.lower_bound_bytes <= plan.arena_bytes


def test_report_totals(model_file, tmp_path):
    conv = convert(model_file, tmp_path / "out")
    report = conv.report
    assert report.macs == sum(r.macs for r in report.layers) > 0
    assert report.peak_sram_bytes == conv.plan.arena_bytes
    assert report.peak_sram_bytes >= max(r.sram_bytes for r in report.layers)
    assert report.lower_bound_bytes <= report.peak_sram_bytes
    weights = (tmp_path / "out" / "model_weights.c").read_text()
    assert f"({report.flash_bytes} bytes)" in weights
    assert f"{report.peak_sram_bytes}u" in (tmp_path / "out" / "model.h").read_text()
    text = report.to_markdown()
    assert "Peak SRAM" in text and "FULLY_CONNECTED" in text


def test_output_is_deterministic(model_file, tmp_path):
    convert(model_file, tmp_path / "a")
    convert(model_file, tmp_path / "b")
    for f in sorted((tmp_path / "a").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes(), f.name


def test_generated_code_is_strict_c99(model_file, tmp_path):
    convert(model_file, tmp_path / "out")
    sources = [str(p) for p in (tmp_path / "out").glob("*.c")]
    subprocess.run(["cc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-Wshadow",
                    "-Wconversion", "-Wno-sign-conversion", "-c", *sources],
                   cwd=tmp_path / "out", check=True)


def test_compile_host_builds_for_this_cpu_and_rebuilds_when_flags_change(model_file, tmp_path):
    from tflm_mcunet import compile_host
    from tflm_mcunet.host import HOST_CFLAGS, host_cflags

    out = tmp_path / "out"
    convert(model_file, out)
    sample = np.zeros((1, 12, 12, 3), np.int8)
    fast = compile_host(out)
    assert fast.cflags == host_cflags() == HOST_CFLAGS  # gcc and clang take -march=native
    expected = fast.invoke(sample).copy()
    objects = {p.name: p.stat().st_mtime_ns for p in out.glob("*.o")}
    again = compile_host(out)  # same flags: nothing to rebuild
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.o")} == objects
    portable = compile_host(out, cflags="-O2")  # other flags: every object built again
    assert portable.cflags == "-O2"
    assert all(p.stat().st_mtime_ns != objects[p.name] for p in out.glob("*.o"))
    assert again.invoke(sample).tobytes() == portable.invoke(sample).tobytes() == \
        expected.tobytes()


def test_compile_host_loads_the_library_as_rebuilt(model_file, tmp_path):
    """Another model converted into the same folder runs as itself, not as the library this
    process loaded from that path before."""
    from tflm_mcunet import compile_host
    from tflm_mcunet.tflm import run_tflm_batch

    other = small_model(2)
    sample = [np.random.default_rng(3).integers(-128, 128, (1, 12, 12, 3), dtype=np.int8)]
    convert(model_file, tmp_path / "out")
    first = compile_host(tmp_path / "out").invoke(*sample)
    convert(other, tmp_path / "out", force=True)
    second = compile_host(tmp_path / "out").invoke(*sample)
    expected = run_tflm_batch(other, [sample])[0][0]
    assert second.tobytes() == np.asarray(expected).tobytes() != first.tobytes()


def test_a_converter_crash_is_a_clear_error_and_the_next_conversion_works():
    """TensorFlow's converter dies with a segmentation fault on Keras' LSTM (TF 2.21): it runs in
    a child process, so the caller gets a QuantizationError naming the layers, and goes on."""
    from tflm_mcunet.quantize import QuantizationError

    inp = keras.Input((8, 4))
    lstm = keras.Model(inp, layers.Dense(2)(layers.LSTM(6)(inp)))
    with pytest.raises(QuantizationError, match=r"crashed \(SIGSEGV\) converting a model with "
                                                r"the layers Dense, LSTM"):
        quantize_keras(lstm, np.random.default_rng(0).uniform(size=(4, 8, 4)).astype(np.float32))
    assert small_model(1)[4:8] == b"TFL3"  # a new converter process
