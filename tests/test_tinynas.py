"""`tinynas.search(...)` end to end on a tiny budget: stage 1, the supernet, the evolution with
keras-tuner, fine-tuning, and the way to firmware.

One search on 2,000 Fashion-MNIST images (3 supernet epochs, 6 trials, one fine-tuning epoch)
serves the tests: every trial must fit the budget by the converter's exact cost, the chosen
network's cost must be what the generated C declares, the int8 model must run bit-exact with
TFLite Micro, the firmware must link for the device, and a second call must resume the search.
"""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from tflm_mcunet import datasets
from tflm_mcunet.converter.targets import DEFAULT_STACK_BYTES
from tflm_mcunet.search import cost

pytest.importorskip("keras_tuner")
pytestmark = [pytest.mark.xdist_group("tinynas"), pytest.mark.tf, pytest.mark.tflm]  # one worker runs the search they share

from tflm_mcunet import tinynas  # noqa: E402
from tflm_mcunet.search.nas import budget_device, default_resolutions  # noqa: E402

from conftest import compare_with_tflm  # noqa: E402

BUDGET = dict(sram="64K", flash="256K")
EFFORT = dict(epochs=3, finetune_epochs=1, batch_size=128, seed=0, verbose=0)


@pytest.fixture(scope="module")
def fashion():
    (x, y), (xt, yt) = datasets.fashion_mnist()
    return (x[:2000], y[:2000]), (xt[:300], yt[:300])


@pytest.fixture(scope="module")
def found(fashion, tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("tinynas")
    result = tinynas.search(fashion[0], max_trials=6, directory=folder, **BUDGET, **EFFORT)
    return result, folder


def test_every_trial_fits_by_the_exact_cost(found):
    result, _ = found
    device = budget_device(**BUDGET)
    assert (device.sram_bytes, device.flash_bytes) == (64 * 1024, 256 * 1024)
    assert len(result.trials) == 6
    for trial in result.trials:
        arch = tinynas.Arch.from_dict(trial["arch"])
        c = cost(arch, device)
        assert c.peak_sram_bytes + DEFAULT_STACK_BYTES <= device.sram_bytes
        assert c.flash_bytes <= device.flash_bytes
        assert (trial["peak_sram_bytes"], trial["flash_bytes"], trial["macs"]) == (
            c.peak_sram_bytes, c.flash_bytes, c.macs)
        assert 0.0 <= trial["val_accuracy"] <= 1.0 and math.isfinite(trial["val_loss"])
    assert result.cost == cost(result.arch, device)
    best = max(result.trials, key=lambda t: t["val_accuracy"])
    assert tinynas.Arch.from_dict(best["arch"]) == result.arch
    # stage 1 chose among resolutions near the images' 28 pixels
    assert result.arch.resolution in default_resolutions(28) == (32, 40)


def test_the_search_learned_and_reports(found, tmp_path):
    result, _ = found
    # 42 steps of supernet training: well above chance (10%; measured 28-42% after 14 steps)
    assert result.accuracy["supernet"] > 0.3 and result.accuracy["finetuned"] > 0.3
    front = result.pareto
    assert front and all(a["peak_sram_bytes"] < b["peak_sram_bytes"] and
                         a["val_accuracy"] < b["val_accuracy"] for a, b in zip(front, front[1:]))
    table = result.to_markdown()
    assert "| trial | val accuracy |" in table and result.arch.label() in table
    assert result.plot(tmp_path / "pareto.png").stat().st_size > 10_000


def test_chosen_network_converts_bit_exact_at_the_searched_cost(found, fashion, tmp_path):
    result, _ = found
    model = result.to_tflite()
    images = [[np.asarray(x, np.int8)] for x in _int8_images(model, fashion[1][0][:8],
                                                              result.arch.resolution)]
    conversion = compare_with_tflm(model, tmp_path / "c", images, device=result.device)
    assert conversion.report.peak_sram_bytes == result.cost.peak_sram_bytes
    # the cost model's model data is exact for weights, a bound for the requantization tables
    assert result.cost.weight_bytes <= conversion.report.flash_bytes <= result.cost.model_data_bytes


def test_quantization_aware_training_gives_a_bit_exact_int8_model(found, fashion, tmp_path):
    """QAT (tensorflow-model-optimization on the tf-keras rebuild), one epoch: the int8 model
    converts, runs bit-exact with TFLite Micro and peaks at the searched SRAM."""
    result, _ = found
    model = result.quantize(fashion[0], epochs=1, verbose=0)
    images = [[x] for x in _int8_images(model, fashion[1][0][:8], result.arch.resolution)]
    conversion = compare_with_tflm(model, tmp_path / "qat", images, device=result.device)
    assert conversion.report.peak_sram_bytes == result.cost.peak_sram_bytes
    assert (result.convert(tmp_path / "c", tflite=model).out_dir / "model.c").is_file()


def test_firmware_links_for_the_device(found, tools, tmp_path):
    from tflm_mcunet.benchmarks import toolchain

    result, _ = found
    conversion = result.convert(tmp_path / "fw")
    sections = toolchain.link_for_device(conversion.out_dir, tmp_path / "fw" / "build",
                                   result.device.cflags("dsp"))
    assert sections.flash_bytes <= result.device.flash_bytes
    assert sections.bss_bytes >= result.cost.peak_sram_bytes


def test_saved_result_loads_and_predicts_the_same(found, fashion, tmp_path):
    from tflm_mcunet.search.data import as_arrays

    result, _ = found
    again = tinynas.SearchResult.load(result.save(tmp_path / "found"))
    assert again.arch == result.arch and again.cost == result.cost
    assert again.trials == result.trials and again.device == result.device
    images, _ = as_arrays(fashion[1], result.arch.resolution, 1, limit=16)
    np.testing.assert_array_equal(again.model.predict(images, verbose=0),
                                  result.model.predict(images, verbose=0))


def test_a_second_call_resumes_the_search(found, fashion):
    """The same project: the supernet is loaded, not trained again, and keras-tuner's oracle
    resumes: 2 more trials make 8, none repeated."""
    result, folder = found
    saved = (folder / "search" / "supernet.weights.h5").stat().st_mtime_ns
    more = tinynas.search(fashion[0], max_trials=8, directory=folder, **BUDGET, **EFFORT)
    assert (folder / "search" / "supernet.weights.h5").stat().st_mtime_ns == saved
    assert len(more.trials) == 8
    assert {t["trial"]: t["values"] for t in result.trials}.items() <= {
        t["trial"]: t["values"] for t in more.trials}.items()
    assert len({tuple(sorted(t["values"].items())) for t in more.trials}) == 8


def test_cli_search_writes_the_result_the_plot_and_the_c_project(found, fashion, tmp_path,
                                                                capsys):
    """`tflm-mcunet search` on an .npz file, in the project the searches above left: the
    supernet and the 8 trials are reused, nothing is trained again."""
    from tflm_mcunet.cli import main

    _, folder = found
    data = tmp_path / "fashion.npz"
    np.savez(data, x_train=fashion[0][0], y_train=fashion[0][1])
    out = tmp_path / "out"
    assert main(["search", "--data", str(data), "--sram", "64K", "--flash", "256K",
                 "--epochs", "1", "--trials", "8", "--finetune-epochs", "0",
                 "--directory", str(folder), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| trial | val accuracy |" in printed and "C project:" in printed
    assert (out / "result" / "model.keras").is_file() and (out / "pareto.png").is_file()
    assert (out / "model_c" / "model.c").is_file()
    assert len(tinynas.SearchResult.load(out / "result").trials) == 8


def test_budget_errors_are_clear():
    with pytest.raises(ValueError, match="give a device"):
        budget_device(sram="64K")
    with pytest.raises(ValueError, match="not a size"):
        budget_device("stm32f746", sram="lots")
    images, labels = np.zeros((20, 28, 28), np.uint8), np.arange(20) % 2
    with pytest.raises(ValueError, match=r"time_shares \(0.9, 0.2\).*sum < 1"):
        tinynas.search((images, labels), sram="64K", flash="256K", time_shares=(0.9, 0.2))


def test_cli_search_help_reads_well():
    out = subprocess.run([sys.executable, "-m", "tflm_mcunet", "search", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for option in ("--data", "--device", "--sram", "--flash", "--minutes", "--trials", "-o"):
        assert option in out


def _int8_images(model: bytes, images, resolution):
    """Test images as the int8 model takes them: resized and scaled as in training."""
    from tflm_mcunet.quantize import quantize_input
    from tflm_mcunet.search.data import as_arrays

    floats, _ = as_arrays((images, np.zeros(len(images), np.int64)), resolution, 1)
    return quantize_input(model, floats)
