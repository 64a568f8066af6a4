"""The main job, end to end: from a data set to firmware, measured beside TFLite Micro.

`tflm-mcunet demo` runs `run_pipeline()` on Fashion-MNIST for a microcontroller with 64 kB
SRAM and 256 kB Flash (a Cortex-M7; the whole firmware must fit, stack and kernel code
included):

1. `tinynas.search` (stage 1, the supernet, the evolution, fine-tuning) within `minutes`;
2. int8 by post-training quantization and by quantization-aware training
   (tensorflow-model-optimization); the QAT model is the one shipped;
3. the C project for the device (`model_c/`), its memory plot and the search's Pareto plot;
4. side by side with TFLite Micro on the test images: accuracy (and identical predictions:
   every output byte compared), peak SRAM, Flash, host latency, and the Cortex-M7
   instructions of one inference under QEMU where the Arm toolchain and QEMU are installed.

`--quick` is the smoke run (a few thousand images, about 3 minutes) that CI can afford.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["run_pipeline", "PipelineResult", "BUDGET", "evaluate_int8", "Int8Evaluation"]

#: the demo's microcontroller budget (whole firmware)
BUDGET = {"sram": "64K", "flash": "256K"}


@dataclass
class PipelineResult:
    arch: str
    minutes: float
    test_images: int
    accuracy: dict  # float, ptq (our C), qat (our C), qat_tflm (TFLite Micro)
    identical: bool  # every output byte of the QAT model equal in both runtimes
    ours: dict  # peak_sram_bytes, model_bytes, firmware_flash_bytes, host_ms, m7_instructions
    tflm: dict  # peak_sram_bytes (smallest working arena), model_bytes (.tflite), host_ms
    files: dict = field(default_factory=dict)

    def to_markdown(self) -> str:
        pct = lambda v: "-" if v is None else f"{100 * v:.2f}%"  # noqa: E731
        num = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731
        ms = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        o, t = self.ours, self.tflm
        lines = [
            f"Searched {self.arch} in {self.minutes:.1f} minutes; {self.test_images:,} test "
            "images.", "",
            "| | TFLite Micro | tflm-mcunet (generated C) |", "|---|---:|---:|",
            f"| test accuracy, int8 (QAT) | {pct(self.accuracy['qat_tflm'])} | "
            f"{pct(self.accuracy['qat'])} |",
            f"| identical outputs | {'all' if self.identical else 'NO'} | |",
            f"| peak SRAM (B) | {num(t['peak_sram_bytes'])} | {num(o['peak_sram_bytes'])} |",
            f"| Flash: model data (B) | {num(t['model_bytes'])} | {num(o['model_bytes'])} |",
            f"| Flash: firmware, code included (B) | - | {num(o['firmware_flash_bytes'])} |",
            f"| host latency (ms, median) | {ms(t['host_ms'])} | {ms(o['host_ms'])} |",
            f"| Cortex-M7 instructions (QEMU) | - | {num(o['m7_instructions'])} |", "",
            f"Accuracy on the test images: float {pct(self.accuracy['float'])}, int8 by "
            f"post-training quantization {pct(self.accuracy['ptq'])}, int8 by "
            f"quantization-aware training {pct(self.accuracy['qat'])}.",
            "TFLite Micro's peak SRAM is the smallest arena it runs in; its Flash is the "
            ".tflite file it reads (its interpreter's code not counted)."]
        return "\n".join(lines)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _predictions(outputs) -> np.ndarray:
    return np.array([np.asarray(o[0] if isinstance(o, list) else o).reshape(-1).argmax()
                     for o in outputs])


def _host_outputs(host, images) -> list:
    return [host.invoke(image[None]) for image in images]


@dataclass
class Int8Evaluation:
    accuracy: dict  # float (Keras), ptq (our C), qat (our C), qat_tflm (TFLite Micro)
    identical: bool  # every output byte of the QAT model equal in both runtimes
    ptq: bytes  # the int8 .tflite models
    qat: bytes
    conversion: object  # the QAT model's C project (`convert`'s result)


def evaluate_int8(model, train, test, device, workdir, *, qat_dir=None, qat_epochs: int = 1,
                  seed: int = 0, verbose=2) -> Int8Evaluation:
    """A float Keras classifier made int8 both ways, post-training (calibrated on 256 training
    images) and by quantization-aware training (`qat_epochs` on `train`), each converted
    for `device` (into `workdir`/ptq_c and `qat_dir` or `workdir`/qat_c) and compiled for this
    machine; the accuracy of every model on `test` (images, labels), and whether our C and
    TFLite Micro give the same bytes for the QAT model on every test image."""
    from . import compile_host
    from .converter import convert
    from .quantize import quantize_aware, quantize_input, quantize_keras
    from .search.data import as_arrays, image_dataset
    from .tflm import run_tflm_batch

    workdir = Path(workdir)
    r, c = int(model.input_shape[1]), int(model.input_shape[3])
    test_x, yt = as_arrays(test, r, c)  # labels as class indices, as in training
    float_accuracy = float((model.predict(test_x, verbose=0).argmax(-1) == yt).mean())
    ptq = quantize_keras(model, as_arrays(train, r, c, limit=256)[0])
    qat = quantize_aware(model, image_dataset(train, r, c, shuffle=True, seed=seed),
                         epochs=qat_epochs, verbose=verbose)
    conversion = convert(qat, qat_dir or workdir / "qat_c", device=device)
    ptq_dir = workdir / "ptq_c"
    convert(ptq, ptq_dir, device=device)
    images = quantize_input(qat, test_x)
    ours = _host_outputs(compile_host(conversion.out_dir), images)
    reference = run_tflm_batch(qat, [[image[None]] for image in images])
    identical = all(np.asarray(a).tobytes() == np.asarray(b[0]).tobytes()
                    for a, b in zip(ours, reference))
    ptq_outputs = _host_outputs(compile_host(ptq_dir), quantize_input(ptq, test_x))
    accuracy = {"float": float_accuracy,
                "ptq": float((_predictions(ptq_outputs) == yt).mean()),
                "qat": float((_predictions(ours) == yt).mean()),
                "qat_tflm": float((_predictions(reference) == yt).mean())}
    return Int8Evaluation(accuracy, identical, ptq, qat, conversion)


def run_pipeline(output="tflm-mcunet-demo", *, minutes: float = 10.0, quick: bool = False,
                 seed: int = 0, qat_epochs: int = 1) -> PipelineResult:
    """The demo (module docstring); writes OUTPUT/{model_c, result, pareto.png, memory.png,
    model_qat.tflite, model_ptq.tflite, demo.json}."""
    import keras

    from . import datasets, tinynas
    from .benchmarks import host as host_bench, mcu, toolchain
    from .plot import plot_memory
    from .tflm import tflm_arena_report

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    (x, y), (xt, yt) = datasets.fashion_mnist()
    if quick:
        x, y, xt, yt = x[:6000], y[:6000], xt[:500], yt[:500]
        minutes, qat_epochs = min(minutes, 1.5), 1
    keras.utils.set_random_seed(seed)
    _log(f"1. TinyNAS search within {minutes:g} minutes on {len(x):,} images, budget "
         f"{BUDGET['sram']} SRAM / {BUDGET['flash']} Flash")
    result = tinynas.search((x, y), **BUDGET, time_budget=minutes * 60, seed=seed,
                            augment=keras.layers.RandomFlip("horizontal", seed=seed),
                            directory=out / "tuner", project_name="demo", overwrite=True,
                            verbose=1)
    print(result.to_markdown(top=10), "\n", flush=True)
    result.save(out / "result")
    files = {"result": str(out / "result"), "pareto": str(result.plot(out / "pareto.png"))}

    _log("2. int8: post-training quantization, then quantization-aware training; "
         f"3. C projects compiled for this machine; 4. {len(xt):,} test images through our C "
         "and TFLite Micro")
    int8 = evaluate_int8(result.model, (x, y), (xt, yt), result.device, out / "build",
                         qat_dir=out / "model_c", qat_epochs=qat_epochs, seed=seed)
    qat, accuracy, identical, conversion = (int8.qat, int8.accuracy, int8.identical,
                                            int8.conversion)
    for name, model in (("ptq", int8.ptq), ("qat", qat)):
        (out / f"model_{name}.tflite").write_bytes(model)
    files["model_c"] = str(conversion.out_dir)
    files["memory"] = str(plot_memory(conversion, out / "model_qat.tflite", out / "memory.png"))

    _log("5. memory, latency and Cortex-M7 instructions")
    tflm_report = tflm_arena_report(qat)
    timing = host_bench.bench_model(
        "demo", qat, workdir=out / "build", cflags=host_bench.DEFAULT_CFLAGS,
        count_cflags=host_bench.DEFAULT_COUNT_CFLAGS, samples=1, seed=seed, seconds=1.0,
        instructions=False, xnnpack=None)
    m7_instructions = firmware_flash = None
    if not toolchain.missing_tools():
        row = mcu.bench_model("demo", qat, device=result.device, builds=("dsp",),
                              workdir=out / "build" / "cortex-m",
                              plugin=toolchain.build_plugin(),
                              log=_log)[0]
        identical = identical and row.bit_exact
        m7_instructions, firmware_flash = row.invoke_instructions, row.flash_bytes
    else:
        _log(f"   Cortex-M7 skipped: {', '.join(toolchain.missing_tools())} not installed "
             f"(apt-get install {toolchain.APT_PACKAGES})")
    summary = PipelineResult(
        arch=result.arch.label(), minutes=(time.monotonic() - start) / 60,
        test_images=len(xt), accuracy=accuracy, identical=identical,
        ours={"peak_sram_bytes": conversion.report.peak_sram_bytes,
              "model_bytes": conversion.report.flash_bytes,
              "firmware_flash_bytes": firmware_flash, "host_ms": timing.ours_ms,
              "m7_instructions": m7_instructions},
        tflm={"peak_sram_bytes": tflm_report["min_working_arena_bytes"],
              "model_bytes": len(qat), "host_ms": timing.tflm_ms},
        files=files)
    (out / "demo.json").write_text(json.dumps(asdict(summary), indent=1))
    return summary
