"""Cortex-M benchmark: the generated firmware on QEMU's mps2-an500 (Cortex-M7), measured.

For every model: convert it for a device, build the benchmark firmware twice (the "portable"
and the "dsp" build, see `tflm_mcunet.devices.BUILDS`), run it under QEMU with semihosting on
seeded random int8 inputs, check that its output bytes equal TFLite Micro's on the host for
the same inputs, and report

- Flash: text + data (code, constants, the model weights, .data's initial values), with code
  (everything but the weights and .data) apart;
- SRAM: data + bss (the model's arena is in bss) + the stack peak measured by painting the
  stack at reset and finding the high-water mark after the invokes;
- the instructions executed by the invoke call, counted exactly by a small QEMU TCG plugin
  (`qemu_plugin/insn_count.c`, built here with the host compiler), and instructions per MAC;
- whether the firmware links for the device (its own linker script: a model that does not fit
  says by how many bytes);
- TinyEngine's published numbers for the architectures of `archs/*.json`, and the goals:
  instructions of the DSP build at most 0.8x the cycles implied by TinyEngine's published
  latency (latency x clock; the smallest over the boards published), Flash at most TinyEngine's
  published Flash (kB = 1024 B), code under 64 kB.

QEMU models no cycles: an executed-instruction count is exact and repeatable, and is a lower
bound of the cycles the same code takes on a Cortex-M7 (dual issue aside).

With the environment variable TFLM_ROOT pointing at a TensorFlow Lite Micro source tree (its
third-party downloads in place), TFLite Micro itself is built for the same target and measured
the same way (rows "tflm"); without it, that is said and the rows are skipped.

    python -m tflm_mcunet.benchmarks.mcu [MODEL ...] [--json]
    tflm-mcunet bench --target qemu-m7 [MODEL ...] [--json]
    tflm-mcunet bench --target disco-f746 [MODEL ...]     # STM32F746G-DISCO board, via pyocd

MODEL is a zoo name (built with TensorFlow and cached) or a .tflite file; the default is every
architecture of archs/*.json (the ones with published TinyEngine numbers).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..devices import BUILDS, Device, get_device
from .toolchain import (ARM_PREFIX, QEMU, QEMU_MACHINE, FirmwareTooBig, MCUError, build_flags,
                        build_plugin, build_qemu_firmware, function_instructions,
                        identical_outputs, link_for_device, output_specs, random_samples,
                        read_sections, require_tools, run_qemu, tool_version)
from .zoo import load_model, published_anchor

#: the goals of the benchmark
GOAL_CYCLES_RATIO = 0.8
GOAL_CODE_BYTES = 64 * 1024


@dataclass
class Row:
    model: str
    build: str  # "portable", "dsp", or "tflm" (TFLite Micro's firmware)
    flags: str
    bit_exact: bool
    samples: int
    macs: int
    invoke_instructions: int  # the largest over the samples
    invoke_instructions_per_sample: list[int]
    instructions_per_mac: float
    flash_bytes: int  # text + data
    code_bytes: int  # Flash without weights and .data
    weights_bytes: int
    data_bytes: int
    bss_bytes: int
    stack_peak_bytes: int
    sram_bytes: int  # data + bss + stack peak
    arena_bytes: int | None  # our static arena (in bss)
    device: str
    fits_device: str  # "yes", "no: SRAM overflowed by N bytes", or "-"
    published: dict | None = None
    goals: dict = field(default_factory=dict)
    # --profile: layer_profile rows (per layer function, then other functions), whole run
    profile: list[dict] = field(default_factory=list)


def _goals(row: Row, anchor: dict | None) -> dict:
    goals = {"code_under_64kB": row.code_bytes < GOAL_CODE_BYTES}
    if anchor:
        goals["cycles_ratio"] = row.invoke_instructions / anchor["cycles"]
        goals["instructions_at_most_0.8x_tinyengine_cycles"] = (
            row.invoke_instructions <= GOAL_CYCLES_RATIO * anchor["cycles"])
        if anchor.get("flash_kB"):
            goals["flash_at_most_tinyengine"] = row.flash_bytes <= anchor["flash_kB"] * 1024
    return goals


def bench_model(name: str, model: bytes, *, device: Device, builds=BUILDS, samples: int = 1,
                seed: int = 0, workdir: Path, plugin: Path | None,
                tflm_root: str | None = None, profile: bool = False, patch=None,
                stream_input: bool = False, log=print) -> list[Row]:
    """Every build of one model: convert, build, run under QEMU, compare with TFLite Micro.
    `patch` and `stream_input` are convert()'s (patch stages; the firmware then streams the
    input from its sample file, region by region)."""
    from ..converter import convert
    from ..tflm import run_tflm_batch

    project = workdir / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    conv = convert(model, project, device=device, force=True, patch=patch,
                   stream_input=stream_input)
    inputs = random_samples(conv.graph, samples, seed)
    reference = run_tflm_batch(model, inputs)
    specs = output_specs(conv.graph)
    anchor = published_anchor(name)
    rows = []
    for build in builds:
        flags = build_flags(device, build)
        build_dir = project / f"build-{build}"
        log(f"  {name}: {build} build ({' '.join(flags)})")
        elf = build_qemu_firmware(project, build_dir, flags)
        sections = read_sections(elf)
        run = run_qemu(elf, inputs, specs, plugin=plugin, blocks=profile)
        fits = "-"
        if build == "dsp":
            try:
                link_for_device(project, build_dir, flags)
                fits = "yes"
            except FirmwareTooBig as e:
                fits = "no: " + ", ".join(f"{r} overflowed by {n:,} B"
                                          for r, n in e.overflows.items())
        row = make_row(name + _patch_label(conv.report), build, " ".join(flags), run,
                       reference, sections, macs=conv.report.macs,
                       sram_bytes=sections.data_bytes + sections.bss_bytes
                       + run.stack_peak_bytes, arena_bytes=conv.report.peak_sram_bytes,
                       device=device, fits=fits, anchor=anchor)
        if profile and plugin is not None:
            row.profile = layer_profile(function_instructions(elf, run.blocks), conv.report,
                                        "model")
        rows.append(row)
    if tflm_root:
        from .mcu_tflm import run_tflm_firmware

        try:
            tflm = run_tflm_firmware(name, model, tflm_root=Path(tflm_root), inputs=inputs,
                                     specs=specs, workdir=project / "tflm", plugin=plugin,
                                     log=log)
            rows.append(make_row(name, "tflm", tflm.flags, tflm.run, reference, tflm.sections,
                                 macs=conv.report.macs, sram_bytes=tflm.sram_bytes,
                                 arena_bytes=tflm.arena_used_bytes, device=device, fits="-",
                                 anchor=anchor))
        except MCUError as e:
            log(f"  {name}: TFLite Micro firmware failed: {e}")
    return rows


def make_row(model: str, build: str, flags: str, run, reference, sections, *, macs: int,
             sram_bytes: int, arena_bytes: int | None, device: Device, fits: str,
             anchor: dict | None) -> Row:
    """The row of one firmware run (`run`: a QemuRun) checked against TFLite Micro's outputs on
    the host (`reference`), with its goals."""
    exact = identical_outputs(run.outputs, reference)
    insns = max(run.invoke_instructions) if run.invoke_instructions else 0
    row = Row(
        model=model, build=build, flags=flags, bit_exact=exact, samples=len(reference),
        macs=macs, invoke_instructions=insns,
        invoke_instructions_per_sample=run.invoke_instructions,
        instructions_per_mac=insns / macs if macs else 0.0,
        flash_bytes=sections.flash_bytes, code_bytes=sections.code_bytes,
        weights_bytes=sections.weights_bytes, data_bytes=sections.data_bytes,
        bss_bytes=sections.bss_bytes, stack_peak_bytes=run.stack_peak_bytes,
        sram_bytes=sram_bytes, arena_bytes=arena_bytes, device=device.name, fits_device=fits,
        published=anchor)
    row.goals = _goals(row, anchor)
    return row


def layer_profile(functions: dict[str, int], report, prefix: str, *, others: int = 8) -> list[dict]:
    """Per layer of the report with a function of its own (`<prefix>_op<index>`, the kernels
    inlined into it): its instructions; then the `others` functions outside the layers that
    ran the most (library kernels the invoke calls, start-up, I/O), each with "function" set;
    then one row for the rest."""
    rows, seen = [], set()
    for layer in report.layers:
        name = f"{prefix}_op{layer.index}"
        if name in functions:
            seen.add(name)
            rows.append({"layer": layer.index, "op": layer.kind, "macs": layer.macs,
                         "output": "x".join(map(str, layer.output_shape)),
                         "instructions": functions[name], "function": None})
    rest = sorted(((n, f) for f, n in functions.items() if f not in seen), reverse=True)
    for n, f in rest[:others]:
        rows.append({"layer": None, "op": f"function {f}", "macs": 0, "output": "",
                     "instructions": n, "function": f})
    rows.append({"layer": None, "op": "every other function", "macs": 0, "output": "",
                 "instructions": sum(n for n, _ in rest[others:]), "function": None})
    return rows


def format_profile(title: str, profile: list[dict], samples: int) -> str:
    """A layer_profile as a markdown table, the costliest first."""
    total = sum(p["instructions"] for p in profile) or 1
    lines = [f"Per layer, {title}; ops without a row of their own run a library function:", "",
             "| # | op | output | MACs | instructions | share | instr/MAC |",
             "|---:|---|---|---:|---:|---:|---:|"]
    for p in sorted(profile, key=lambda p: -p["instructions"]):
        per_mac = f"{p['instructions'] / (p['macs'] * samples):.2f}" if p["macs"] else "-"
        index = "" if p["layer"] is None else p["layer"]
        lines.append(f"| {index} | {p['op']} | {p['output']} | {p['macs']:,} | "
                     f"{p['instructions']:,} | {100 * p['instructions'] / total:.1f}% | "
                     f"{per_mac} |")
    return "\n".join(lines)


def _m(n: float) -> str:
    return f"{n / 1e6:,.1f}M"


def _kb(n: float) -> str:
    return f"{n / 1024:,.1f}"


def format_table(rows: list[Row]) -> str:
    lines = [
        "| model | build | bit-exact | invoke instr | instr/MAC | TinyEngine cycles (published) "
        "| instr / TE cycles (goal <= 0.8) | Flash kB (goal <= TE) | code kB (goal < 64) "
        "| weights kB | SRAM kB (data+bss+stack) / TE | stack peak B | links for device |",
        "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        a = r.published
        te = (f"{_m(a['cycles'])} ({a['latency_ms']} ms x {a['mhz']} MHz, "
              f"{a['board'].split('_')[0].upper()})" if a else "-")
        ratio = (f"{r.goals['cycles_ratio']:.2f} "
                 f"{'met' if r.goals['instructions_at_most_0.8x_tinyengine_cycles'] else 'not met'}"
                 if a else "-")
        flash = _kb(r.flash_bytes)
        if a and a.get("flash_kB"):
            met = "met" if r.goals["flash_at_most_tinyengine"] else "not met"
            flash += f" / {a['flash_kB']} {met}"
        code = f"{_kb(r.code_bytes)} {'met' if r.goals['code_under_64kB'] else 'not met'}"
        sram = _kb(r.sram_bytes) + (f" / {a['peak_sram_kB']}" if a and a.get("peak_sram_kB")
                                    else "")
        lines.append(
            f"| {r.model} | {r.build} | {'yes' if r.bit_exact else 'NO'} | "
            f"{_m(r.invoke_instructions)} | {r.instructions_per_mac:.2f} | {te} | {ratio} | "
            f"{flash} | {code} | {_kb(r.weights_bytes)} | {sram} | "
            f"{r.stack_peak_bytes:,} | {r.device}: {r.fits_device} |")
    return "\n".join(lines)


def machine_info(device: Device) -> list[str]:
    from importlib import metadata

    try:
        tflm_version = metadata.version("tflite-micro")
    except metadata.PackageNotFoundError:  # pragma: no cover
        tflm_version = "?"
    return [
        f"Target: QEMU {QEMU_MACHINE} (Cortex-M7), {tool_version([QEMU, '--version'])}; "
        "instructions counted by the insn_count TCG plugin (exact; QEMU models no cycles)",
        f"Compiler: {tool_version([f'{ARM_PREFIX}gcc', '--version'])}, -O2 -fno-schedule-insns, newlib-nano; "
        + "; ".join(f"{b}: {' '.join(device.cflags(b))}" for b in BUILDS),
        f"Device linker script: {device.describe()}",
        f"Oracle: tflite-micro {tflm_version} on the host, same inputs",
    ]


def add_common_arguments(parser: argparse.ArgumentParser, *, default_models: str,
                         default_samples: int | None) -> None:
    """The options every benchmark takes (host, Cortex-M, board); `tflm-mcunet bench` adds
    them once for all its targets (default_samples None: each target's own default)."""
    parser.add_argument("models", nargs="*",
                        help=f"zoo names or .tflite files (default: {default_models})")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    samples = f"{default_samples}" if default_samples else "3 on the host, 1 on Cortex-M"
    parser.add_argument("--samples", type=int, default=default_samples,
                        help=f"random inputs per model compared with TFLite Micro ({samples})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs (0)")
    parser.add_argument("--workdir", help="folder for the projects and builds (default: temp)")
    parser.add_argument("--profile", action="store_true",
                        help="also count the instructions of every layer and print them as a "
                        "table per model and build (QEMU's plugin on Cortex-M, callgrind on "
                        "the host)")


def add_arguments(parser: argparse.ArgumentParser, common: bool = True) -> None:
    """The Cortex-M benchmark's options; `common=False` leaves out add_common_arguments'."""
    if common:
        add_common_arguments(parser, default_models="every architecture of archs/*.json",
                             default_samples=1)
    parser.add_argument("--device", default="stm32f746",
                        help="device whose linker script is checked and whose core the dsp "
                        "build uses (default: stm32f746)")
    parser.add_argument("--builds", default=",".join(BUILDS),
                        help=f"comma-separated builds (default: {','.join(BUILDS)})")
    parser.add_argument("--patch", metavar="auto|STAGE[,STAGE...]",
                        help="run the models with patch stages, as tflm-mcunet convert --patch "
                        "(default: layer by layer)")
    parser.add_argument("--stream-input", action="store_true",
                        help="with --patch: the firmware hands the input over region by region "
                        "(read from its sample file), so it is never whole in SRAM")


def _patch_label(report) -> str:
    """How the model ran, after its name: " (N patch stages[, input streamed])" or nothing."""
    stages = report.patch.stages if report.patch else []
    if not stages:
        return ""
    streamed = ", input streamed" if report.input_streamed else ""
    return f" ({len(stages)} patch stage{'s' if len(stages) > 1 else ''}{streamed})"


def run(args) -> int:
    patch, stream_input = getattr(args, "patch", None), getattr(args, "stream_input", False)
    require_tools()
    from .zoo import ARCHS

    device = get_device(args.device)
    builds = [b.strip() for b in args.builds.split(",") if b.strip()]
    for b in builds:
        if b not in BUILDS:
            raise MCUError(f"unknown build {b!r}; known: {', '.join(BUILDS)}")
    names = args.models or list(ARCHS)
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    tflm_root = os.environ.get("TFLM_ROOT")
    plugin = build_plugin()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tflm-mcunet-mcu-"))
    rows: list[Row] = []
    for spec in names:
        name, model = load_model(spec)
        rows += bench_model(name, model, device=device, builds=builds, samples=args.samples or 1,
                            seed=args.seed, workdir=work, plugin=plugin, tflm_root=tflm_root,
                            profile=getattr(args, "profile", False), patch=patch,
                            stream_input=stream_input, log=log)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        print()
        for line in machine_info(device):
            print(line)
        print(f"Inputs: {args.samples or 1} seeded random int8 sample(s) per model (seed {args.seed});"
              " instructions: the largest over the samples")
        if not tflm_root:
            print("TFLite Micro firmware: skipped (set TFLM_ROOT to a TensorFlow Lite Micro "
                  "source tree to build and measure it beside ours)")
        print()
        print(format_table(rows))
        for row in rows:
            if row.profile:
                print()
                print(format_profile(
                    f"{row.model} ({row.build} build), instructions of the whole run "
                    f"({row.samples} sample(s), start-up and I/O included)", row.profile,
                    row.samples))
        print(f"\nProjects and builds: {work}")
    return 0 if all(r.bit_exact for r in rows) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.target = "qemu-m7"
    try:
        return run(args)
    except (MCUError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
