"""Cortex-M target: the device catalogue, firmware that builds for Cortex-M4 and M7, a model
that does not fit failing at link time (saying by how much), the board firmware building, and
a zoo model (DS-CNN) running on QEMU's mps2-an500 (Cortex-M7) with exactly TFLite Micro's
output bytes, its instructions counted by the QEMU plugin.

The tests that need arm-none-eabi-gcc and qemu-system-arm skip without them, except under CI
(CI=true), where .ci/run installs them and a missing tool is a failure.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from tflm_mcunet import convert
from tflm_mcunet.benchmarks import mcu, toolchain, zoo
from tflm_mcunet.devices import BUILDS, Device, custom_device, device_names, get_device

# --------------------------------------------------------------------------------------------
# the device catalogue (no toolchain needed)
# --------------------------------------------------------------------------------------------


def test_catalogue_has_the_issue_devices():
    expected = {"stm32f412": ("cortex-m4", 256, 1024), "stm32f746": ("cortex-m7", 320, 1024),
                "stm32h743": ("cortex-m7", 512, 2048), "nrf52840": ("cortex-m4", 256, 1024)}
    assert set(expected) <= set(device_names())
    for name, (core, sram_kb, flash_kb) in expected.items():
        d = get_device(name.upper())
        assert (d.core, d.sram_bytes, d.flash_bytes) == (core, sram_kb * 1024, flash_kb * 1024)
    assert get_device("stm32f746g-disco").board == "stm32f746g_disco"


def test_user_defined_devices():
    d = get_device("my_board:sram=96K,flash=0x40000,core=cortex-m7,sram_origin=0x20010000")
    assert (d.name, d.core, d.sram_bytes, d.flash_bytes) == ("my_board", "cortex-m7", 96 * 1024,
                                                             0x40000)
    assert d.sram_origin == 0x20010000 and d.fpu == "fpv5-sp-d16"
    assert custom_device("x", sram="64K", flash="1M", fpu=None).cflags("dsp")[-1] == \
        "-mfloat-abi=soft"
    assert get_device(d) is d
    for bad in ("nosuchchip", "x:sram=64K", "x:sram=64K,flash=1M,core=cortex-m0",
                "x:sram=lots,flash=1M", "x:sram=64K,flash=1M,colour=red"):
        with pytest.raises(ValueError):
            get_device(bad)


def test_builds_differ_by_the_dsp_extension():
    d = get_device("stm32f746")
    assert BUILDS == ("portable", "dsp")
    assert "-march=armv7-m" in d.cflags("portable")  # ARMv7-M base: no DSP extension, no FPU
    assert d.cflags("dsp")[:1] == ["-mcpu=cortex-m7"]


def test_fit_says_what_is_short():
    d = custom_device("small", sram="64K", flash="256K")
    ok = d.fit(60_000, 200_000, stack_bytes=1024)
    assert ok.fits and "fits" in ok.summary()
    short = d.fit(70_000, 300_000)
    assert not short and short.sram_short == 70_000 - 65_536
    assert short.flash_short == 300_000 - 262_144
    assert "SRAM short by 4,464 B" in short.summary()


def test_convert_for_a_device_writes_the_firmware_files(zoo_tflite, tmp_path):
    conv = convert(zoo_tflite("ds_cnn"), tmp_path / "c", device="stm32f746")
    files = {p.name for p in (tmp_path / "c").iterdir()}
    assert {"firmware.mk", "stm32f746.ld", "mps2_an500.ld", "tme_cortexm_startup.c",
            "mcu_main.c", "tme_board_stm32f746g_disco.c"} <= files
    assert conv.device.name == "STM32F746" and conv.fit.fits
    ld = (tmp_path / "c" / "stm32f746.ld").read_text()
    assert "ORIGIN = 0x08000000, LENGTH = 1048576" in ld
    assert "ORIGIN = 0x20000000, LENGTH = 327680" in ld
    # without a device: no firmware files, and the host build is unchanged
    convert(zoo_tflite("ds_cnn"), tmp_path / "h")
    assert not (tmp_path / "h" / "firmware.mk").exists()
    assert subprocess.run(["make", "-s", "-C", str(tmp_path / "h")]).returncode == 0


# --------------------------------------------------------------------------------------------
# building and running (arm-none-eabi-gcc, qemu-system-arm)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plugin(tools, tmp_path_factory):
    return toolchain.build_plugin(tmp_path_factory.mktemp("plugin"))


def _extreme_and_random(graph, seed=1):
    """all -128, all 127, a random sample, and the random sample again."""
    x = toolchain.random_samples(graph, 1, seed)[0]
    lo = [np.full(t.shape, -128, np.int8) for t in graph.inputs]
    hi = [np.full(t.shape, 127, np.int8) for t in graph.inputs]
    return [lo, hi, x, [a.copy() for a in x]]


def test_ds_cnn_on_qemu_cortex_m7_gives_tflite_micro_bytes(tools, plugin, zoo_tflite, tmp_path):
    from tflm_mcunet.tflm import run_tflm_batch

    model = zoo_tflite("ds_cnn")
    device = get_device("stm32f746")
    conv = convert(model, tmp_path / "ds_cnn", device=device)
    elf = toolchain.build_qemu_firmware(conv.out_dir, tmp_path / "ds_cnn" / "build-dsp",
                                  device.cflags("dsp"))
    samples = _extreme_and_random(conv.graph)
    run = toolchain.run_qemu(elf, samples, toolchain.output_specs(conv.graph), plugin=plugin)
    reference = run_tflm_batch(model, samples)
    for k, (ours, ref) in enumerate(zip(run.outputs, reference)):
        assert [a.tobytes() for a in ours] == [np.asarray(b).tobytes() for b in ref], k
    # exact, repeatable counts: the same input twice gives the same count
    counts = run.invoke_instructions
    assert len(counts) == 4 and counts[2] == counts[3]
    # SMLAD does two MACs per instruction: at least half an instruction per MAC
    assert conv.report.macs / 2 < counts[2] < 50 * conv.report.macs
    assert 0 < run.stack_peak_bytes < run.stack_size_bytes
    # counting per block and per instruction agree exactly
    slow = toolchain.run_qemu(elf, samples[2:3], toolchain.output_specs(conv.graph), plugin=plugin,
                        mode="insn")
    assert slow.invoke_instructions == [counts[2]]
    assert slow.calibration_instructions == run.calibration_instructions
    # the per-function counts of the profile add up to every instruction of the run, and the
    # layers' functions to the invoke call less the call itself and the layer dispatch
    profiled = toolchain.run_qemu(elf, samples[2:3], toolchain.output_specs(conv.graph), plugin=plugin,
                            blocks=True)
    functions = toolchain.function_instructions(elf, profiled.blocks)
    assert sum(functions.values()) == profiled.total_instructions
    rows = mcu.layer_profile(functions, conv.report, "model")
    assert sum(r["instructions"] for r in rows) == profiled.total_instructions
    layers = [r for r in rows if r["layer"] is not None]
    convs = {layer.index for layer in conv.report.layers if "CONV" in layer.kind}
    assert convs <= {r["layer"] for r in layers}
    pool = [r for r in rows if r["function"] == "tme_avg_pool_s8"]  # a library kernel
    assert len(pool) == 1 and pool[0]["instructions"] > 0
    in_layers = sum(r["instructions"] for r in layers)
    assert 0.9 * counts[2] < in_layers < counts[2]
    sections = toolchain.read_sections(elf)
    assert sections.weights_bytes >= conv.report.flash_bytes
    assert sections.bss_bytes >= conv.report.peak_sram_bytes
    assert sections.code_bytes < mcu.GOAL_CODE_BYTES


def test_firmware_builds_for_cortex_m4_and_a_model_too_big_fails_at_link_time(tools, zoo_tflite,
                                                                                tmp_path):
    model = zoo_tflite("ds_cnn")
    # fits: STM32F412 (Cortex-M4)
    f412 = get_device("stm32f412")
    conv = convert(model, tmp_path / "f412", device=f412)
    sections = toolchain.link_for_device(conv.out_dir, tmp_path / "f412" / "b", f412.cflags("dsp"))
    need_sram = sections.stack_reserved_bytes + sections.data_bytes + sections.bss_bytes
    need_flash = sections.flash_bytes
    # does not fit: a user-defined Cortex-M4 with 8 kB SRAM and 16 kB Flash
    tiny = get_device("tiny:sram=8K,flash=16K,core=cortex-m4")
    conv = convert(model, tmp_path / "tiny", device=tiny)
    with pytest.raises(toolchain.FirmwareTooBig) as err:
        toolchain.link_for_device(conv.out_dir, tmp_path / "tiny" / "b", tiny.cflags("dsp"))
    assert err.value.overflows == {"SRAM": need_sram - 8192, "FLASH": need_flash - 16384}
    assert re.search(r"does not fit tiny \(SRAM 8192 B, FLASH 16384 B\): \w+ overflowed by "
                     r"\d+ bytes", str(err.value))
    assert not (tmp_path / "tiny" / "b" / "firmware.elf").exists()
    # the same through make, as a user sees it
    result = subprocess.run(["make", "-C", str(conv.out_dir), "firmware"], capture_output=True,
                            text=True)
    assert result.returncode != 0
    assert f"SRAM overflowed by {need_sram - 8192} bytes" in result.stderr


def test_streamed_input_on_qemu_cortex_m7(tools, plugin, zoo_tflite, tmp_path):
    """Patch stages with the input streamed, for a device: the firmware reads each region the
    model asks for from the input file (the image never whole in SRAM), gives TFLite Micro's
    bytes, and links in less SRAM than with the input in it; the example application and the
    board firmware build too."""
    from tflm_mcunet.tflm import run_tflm_batch

    model = zoo_tflite("mcunet-in1")
    device = get_device("stm32f746")
    flags = device.cflags("dsp")
    patch = "5:24rows,5-10:3"
    conv = convert(model, tmp_path / "s", device=device, patch=patch, stream_input=True)
    assert conv.report.input_streamed
    elf = toolchain.build_qemu_firmware(conv.out_dir, tmp_path / "s" / "build-dsp", flags)
    samples = _extreme_and_random(conv.graph)[1:3]
    run = toolchain.run_qemu(elf, samples, toolchain.output_specs(conv.graph), plugin=plugin)
    reference = run_tflm_batch(model, samples)
    for k, (ours, ref) in enumerate(zip(run.outputs, reference)):
        assert [a.tobytes() for a in ours] == [np.asarray(b).tobytes() for b in ref], k
    streamed = toolchain.link_for_device(conv.out_dir, tmp_path / "s" / "build-fw", flags)
    whole = convert(model, tmp_path / "w", device=device, patch=patch)
    in_sram = toolchain.link_for_device(whole.out_dir, tmp_path / "w" / "build-fw", flags)
    # the arena is what changes, by the peaks the reports give
    saved = whole.report.peak_sram_bytes - conv.report.peak_sram_bytes
    assert saved > 0 and in_sram.bss_bytes - streamed.bss_bytes == saved
    # the board firmware (its sample in Flash, handed over region by region) builds too
    board_dir = tmp_path / "s" / "build-board"
    board_dir.mkdir()
    toolchain.make_target(conv.out_dir, "board", build_dir=board_dir, arch_flags=flags)
    assert toolchain.read_sections(board_dir / "board.elf").flash_bytes < device.flash_bytes


def test_board_firmware_for_stm32f746g_disco_builds(tools, zoo_tflite, tmp_path):
    from tflm_mcunet.benchmarks.board import build_board_firmware

    elf, conv, inputs = build_board_firmware("ds_cnn", zoo_tflite("ds_cnn"), tmp_path)
    sections = toolchain.read_sections(elf)
    assert sections.flash_bytes < conv.device.flash_bytes
    symbols = subprocess.run([f"{toolchain.ARM_PREFIX}nm", str(elf)], capture_output=True,
                             text=True).stdout
    assert re.search(r" T tme_board_init\n", symbols)
    assert re.search(r" R tme_board_input\n", symbols)
    assert toolchain.symbol_address(elf, "tme_vectors") == conv.device.flash_origin


def test_bench_command_prints_json_rows(tools, zoo_tflite, tmp_path, capsys):
    from tflm_mcunet.cli import main

    path = tmp_path / "ds_cnn.tflite"
    path.write_bytes(zoo_tflite("ds_cnn"))
    assert main(["bench", "--target", "qemu-m7", str(path), "--json", "--profile",
                 "--workdir", str(tmp_path / "w")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["build"] for r in rows] == ["portable", "dsp"]
    for r in rows:
        assert r["bit_exact"] and r["invoke_instructions"] > 0 and r["instructions_per_mac"] > 1
        assert r["sram_bytes"] == r["data_bytes"] + r["bss_bytes"] + r["stack_peak_bytes"]
        assert r["flash_bytes"] == r["code_bytes"] + r["weights_bytes"] + r["data_bytes"]
    assert rows[1]["fits_device"] == "yes"
    for r in rows:  # --profile: a row per layer and one for the rest, adding up to the run
        layers = [p for p in r["profile"] if p["layer"] is not None]
        assert len(layers) > 2 and r["profile"][-1]["op"] == "every other function"
        assert sum(p["instructions"] for p in layers) < r["invoke_instructions"]


def test_bench_runs_patch_stages_with_the_input_streamed(tools, zoo_tflite, tmp_path, capsys):
    from tflm_mcunet.cli import main

    path = tmp_path / "mcunet-in1.tflite"
    path.write_bytes(zoo_tflite("mcunet-in1"))
    args = ["bench", "--target", "qemu-m7", str(path), "--json", "--builds", "dsp",
            "--workdir", str(tmp_path / "w")]
    assert main(args + ["--patch", "13:24rows", "--stream-input"]) == 0
    streamed = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    layered = json.loads(capsys.readouterr().out)
    assert streamed[0]["model"] == "mcunet-in1 (1 patch stage, input streamed)"
    assert streamed[0]["bit_exact"] and streamed[0]["fits_device"] == "yes"
    assert streamed[0]["arena_bytes"] < layered[0]["arena_bytes"]
    assert main(args + ["--target", "disco-f746", "--patch", "13:24rows"]) == 2
    assert "for --target qemu-m7" in capsys.readouterr().err


def test_anchors_come_from_the_published_numbers():
    a = zoo.published_anchor("mcunet-in3")
    assert a["board"] == "h743_480mhz" and round(a["cycles"] / 1e6, 1) == 161.3
    assert a["flash_kB"] == 835
    assert zoo.published_anchor("ds_cnn") is None


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_device_object_is_hashable_and_described():
    d = Device("X", "cortex-m7", 1024, 2048)
    assert hash(d) and "cortex-m7" in d.describe() and d.key == "x"
