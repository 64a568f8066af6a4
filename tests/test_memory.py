"""Memory scheduling: what the report says is what the compiled code declares; the plan beats
TFLite Micro's; the plot and the benchmark work."""
from __future__ import annotations

import pytest

from conftest import static_data_bytes

from tflm_mcunet import convert
from tflm_mcunet.benchmarks import memory, zoo

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf]  # the tiers: tests/conftest.py


@pytest.mark.parametrize("name", ["ds_cnn", "mobilenet_v1_0.25_96", "resnet8"])
def test_reported_peak_is_what_the_code_declares(zoo_tflite, tmp_path, name):
    conversion = convert(zoo_tflite(name), tmp_path / "c")
    assert static_data_bytes(tmp_path / "c") == conversion.report.peak_sram_bytes


@pytest.mark.parametrize("name", ["ds_cnn", "mobilenet_v1_0.25_96", "resnet8", "mcunet-in1"])
def test_plan_is_close_to_its_lower_bound_and_below_tflm(zoo_tflite, tmp_path, name):
    from tflm_mcunet.plot import tflm_style_plan

    model = zoo_tflite(name)
    report = convert(model, tmp_path / "c").report
    assert report.lower_bound_bytes <= report.peak_sram_bytes <= 1.05 * report.lower_bound_bytes
    _, tflm_plan = tflm_style_plan(model)
    assert report.peak_sram_bytes < tflm_plan.arena_bytes


def test_memory_plot_is_a_png(zoo_tflite, tmp_path):
    pytest.importorskip("matplotlib")
    from tflm_mcunet.plot import plot_memory

    model = zoo_tflite("ds_cnn")
    path = plot_memory(convert(model, tmp_path / "c"), model, tmp_path / "mem.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_memory_benchmark_row(zoo_dir):
    row = memory.memory_row("ds_cnn", zoo_dir)
    assert row["ours_bytes"] < row["tflm_min_working_bytes"] <= row["tflm_reported_bytes"] * 1.5
    assert row["lower_bound_bytes"] <= row["ours_bytes"]
    table = memory.to_markdown([row])
    assert "ds_cnn" in table and "Geometric mean" in table


def test_published_figures_come_from_the_archs():
    assert memory.published_sram_kb("mcunet-in1", "tinyengine") == {"h743_480mhz": 96,
                                                                     "f746_216mhz": 107}
    assert memory.published_sram_kb("ds_cnn", "tinyengine") == {}
    assert set(zoo.ARCHS) <= set(zoo.zoo_names())


def test_cli_convert_plot_and_bench_memory(zoo_tflite, zoo_dir, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from tflm_mcunet.cli import main

    model = tmp_path / "ds_cnn.tflite"
    model.write_bytes(zoo_tflite("ds_cnn"))
    png = tmp_path / "mem.png"
    assert main(["convert", str(model), "-o", str(tmp_path / "c"), "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG" and "Lower bound" in capsys.readouterr().out
    monkeypatch.setenv("TFLM_MCUNET_CACHE", str(zoo_dir))
    assert main(["bench", "--memory", "ds_cnn", "--json"]) == 0
    assert '"ours_bytes"' in capsys.readouterr().out
