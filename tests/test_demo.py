"""The README's main job, as CI can afford it: `tflm-mcunet demo --quick` searches, trains,
quantizes (post-training and quantization-aware), generates C and compares it with TFLite Micro
on test images: every output byte identical, and the figures it prints are the ones measured."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("tensorflow_model_optimization")
pytestmark = [pytest.mark.xdist_group("demo"), pytest.mark.tf, pytest.mark.tflm]


def test_quick_demo_runs_the_whole_pipeline(tmp_path, capsys):
    from tflm_mcunet.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--quick", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| identical outputs | all | |" in printed
    summary = json.loads((out / "demo.json").read_text())
    assert summary["identical"] and summary["test_images"] == 500
    accuracy = summary["accuracy"]
    assert accuracy["qat"] == accuracy["qat_tflm"]  # the same bytes, the same predictions
    assert min(accuracy.values()) > 0.3  # well above chance (10%) after a 1.5-minute search
    # our peak SRAM is what the generated code declares; TFLite Micro needs more
    assert summary["ours"]["peak_sram_bytes"] < summary["tflm"]["peak_sram_bytes"]
    assert summary["ours"]["peak_sram_bytes"] + 4096 <= 64 * 1024
    assert f"| peak SRAM (B) | {summary['tflm']['peak_sram_bytes']:,} | " \
           f"{summary['ours']['peak_sram_bytes']:,} |" in printed
    for name in ("pareto.png", "memory.png", "model_qat.tflite", "model_ptq.tflite",
                 "model_c/model.c", "result/model.keras"):
        assert (out / name).is_file(), name
