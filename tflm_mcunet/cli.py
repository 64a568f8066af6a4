"""The `tflm-mcunet` command line."""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import traceback
from importlib import resources
from pathlib import Path

DESCRIPTION = """\
MCUNet for TensorFlow: search a network that fits a microcontroller (TinyNAS), and turn int8
.tflite models into standalone C that gives the same bytes as TensorFlow Lite Micro, with
less memory."""

EPILOG = """\
examples:
  tflm-mcunet convert model.tflite -o model_c     write the C project, print the report
  tflm-mcunet demo                                the main job: search a network for 64 kB
                                                  SRAM / 256 kB Flash on Fashion-MNIST, QAT,
                                                  C, and compare with TFLite Micro
  tflm-mcunet demo --example                      convert the bundled example, run it beside
                                                  TFLite Micro and compare the outputs
  tflm-mcunet bench model.tflite                  speed beside TFLite Micro on this machine
  tflm-mcunet bench --memory                      peak SRAM beside TFLite Micro, the zoo
  tflm-mcunet search --sram 64K --flash 256K --minutes 15 -o found
                                                  TinyNAS on Fashion-MNIST: the network,
                                                  its trials, its C project
  tflm-mcunet search-space --device stm32f746 --plot cdf.png
                                                  TinyNAS stage 1: rank the search spaces
  tflm-mcunet operators                           the operators that convert, their kernels

exit status: 0 done, 1 internal error (a bug: please report it with --verbose), 2 error in
the model, options or paths (one line says what and where), 130 interrupted (nothing is left
half-written)
"""


def example_model() -> Path:
    """The int8 example model shipped with the package."""
    return Path(str(resources.files("tflm_mcunet") / "data" / "example_int8.tflite"))


def _convert(args) -> int:
    from .converter import convert

    conv = convert(args.model, args.output, prefix=args.prefix, force=args.force,
                   device=args.device, patch=args.patch, stream_input=args.stream_input,
                   mac_budget=args.mac_budget, rings=not args.no_rings)
    print(conv.report.to_markdown())
    if args.plot:
        from .plot import plot_memory

        print(f"\nMemory plot: {plot_memory(conv, args.model, args.plot)}")
    if conv.fit is not None:  # converted for a device: firmware files written too
        print(f"\nDevice {conv.fit.summary()}\nCortex-M firmware: `make -C {conv.out_dir} "
              "firmware` (the link checks code, stack and all; see firmware.mk)")
    print(f"\nWrote {conv.out_dir}/ (build with `make -C {conv.out_dir}`)")
    return 0


def _demo(args) -> int:
    if args.model or args.example:
        return _convert_demo(args)
    from .demo import run_pipeline

    summary = run_pipeline(args.output or "tflm-mcunet-demo", minutes=args.minutes,
                           quick=args.quick, seed=args.seed)
    print(summary.to_markdown())
    print("\nWrote " + ", ".join(f"{what}: {path}" for what, path in summary.files.items()))
    return 0 if summary.identical else 1


def _convert_demo(args) -> int:
    import numpy as np

    from . import compile_host, convert
    from .tflm import run_tflm_batch, run_tflm_sequence, tflm_arena_report

    model = Path(args.model) if args.model else example_model()
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="tflm-mcunet-"))
    conv = convert(model, out)  # a folder of the user's is replaced only if we wrote it
    print(conv.report.to_markdown())
    host = compile_host(out)
    rng = np.random.default_rng(args.seed)
    inputs = []
    for _ in range(args.samples):
        sample = []
        for info in host.inputs:
            if info["dtype"] == np.float32:
                sample.append(rng.uniform(-1, 1, info["shape"]).astype(np.float32))
            else:
                sample.append(rng.integers(-128, 128, info["shape"], dtype=np.int8))
        inputs.append(sample)
    # a streaming model carries its state from sample to sample, in TFLite Micro too
    reference = (run_tflm_sequence if host.has_state else run_tflm_batch)(model, inputs)

    def identical(host) -> int:
        same = 0
        for sample, ref in zip(inputs, reference):
            ours = host.invoke(*sample)
            ours = ours if isinstance(ours, list) else [ours]
            same += all(a.tobytes() == b.tobytes() for a, b in zip(ours, ref))
        return same

    same = identical(host)
    # the same model with its first layers run patch by patch (MCUNetV2), beside it
    patched_out = out.with_name(out.name + "-patches")
    patched = convert(model, patched_out, patch="auto")
    stages = patched.report.patch.stages
    same_patched = identical(compile_host(patched_out)) if stages else None
    tflm = tflm_arena_report(model)
    ours_sram = conv.report.peak_sram_bytes
    print("\n| runtime | SRAM (B) |")
    print("|---|---:|")
    print(f"| TFLite Micro, arena it reports (head + tail) | {tflm['arena_total_bytes']:,} |")
    print(f"| TFLite Micro, smallest arena that works | {tflm['min_working_arena_bytes']:,} |")
    print(f"| tflm-mcunet, static arena | {ours_sram:,} |")
    if stages:
        print(f"| tflm-mcunet --patch auto ({'; '.join(s.describe() for s in stages)}) | "
              f"{patched.report.peak_sram_bytes:,} |")
    print(f"\nTFLite Micro needs {tflm['min_working_arena_bytes'] / ours_sram:.2f}x our SRAM "
          "(input and output tensors counted in both).")
    print(f"Outputs identical to TFLite Micro: {same}/{len(inputs)} random inputs")
    if stages:
        patch = patched.report.patch
        print(f"With patches: {tflm['min_working_arena_bytes'] / patched.report.peak_sram_bytes:.2f}"
              f"x less SRAM than TFLite Micro, {patch.extra_macs / patch.model_macs:.1%} "
              f"more MACs; outputs identical: {same_patched}/{len(inputs)}")
    print(f"C project: {out}/" + (f" (with patches: {patched_out}/)" if stages else ""))
    ok = same == len(inputs) and same_patched in (None, len(inputs))
    return 0 if ok else 1


def _operators(args) -> int:
    from .converter.operators import operator_table

    print(operator_table(), end="")
    return 0


def _bench(args) -> int:
    if args.nas:
        from .benchmarks.nas import main as run_nas

        return run_nas(["--seed", str(args.seed)]
                       + (["--directory", args.workdir] if args.workdir else []))
    if args.memory:
        from .benchmarks.memory import run as run_memory

        return run_memory(args.models, args.json, patches=args.patches)
    if args.target == "host":
        from .benchmarks.host import run as run_host

        return run_host(args)
    if args.target == "disco-f746":
        from .benchmarks.board import run_board

        return run_board(args)
    from .benchmarks.mcu import run as run_mcu

    return run_mcu(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tflm-mcunet", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("convert", help="convert an int8 .tflite model into a C project",
                       description="Convert an int8 .tflite model into a standalone C99 project "
                       "(model.h, model.c, weights, kernels, Makefile) and print the report.")
    p.add_argument("model", help="the int8 .tflite file")
    p.add_argument("-o", "--output", required=True, help="folder to write the C project into")
    p.add_argument("--prefix", default="model", help="prefix of the C API names (default: model)")
    p.add_argument("--plot", metavar="PNG", help="also write a plot of memory over the layers, "
                   "ours beside TFLite Micro's plan (needs matplotlib: the [plot] extra)")
    p.add_argument("--force", action="store_true",
                   help="replace the output folder even if tflm-mcunet did not write it")
    p.add_argument("--device", help="also write the Cortex-M build files for a device "
                   "(stm32f412, stm32f746, stm32h743, nrf52840, or NAME:sram=128K,flash=512K"
                   "[,core=cortex-m4|cortex-m7])")
    p.add_argument("--patch", default="none", metavar="auto|none|STAGE[,STAGE...]",
                   help="run layers patch by patch (MCUNetV2) to lower the peak SRAM: auto (the "
                   "stages and patches with the lowest peak within --mac-budget), none "
                   "(default: layer by layer), or stages separated by commas: L:N / L:RxC: the "
                   "layers before operator #L of the report in N x N (R x C) patches, or "
                   "L:Brows / L:BxSrows: in row bands at a pace of B bands (in S column "
                   "strips), each layer keeping the rows the next band reads again (no MAC "
                   "computed twice within a strip; the layers' line buffers add up); F-L:... "
                   "starts the stage at operator #F (between blocks) instead of the input")
    p.add_argument("--stream-input", action="store_true",
                   help="with --patch: the application supplies the input region by region "
                   "(<prefix>_invoke_streamed with a reader callback), so the whole image is "
                   "never in SRAM")
    p.add_argument("--mac-budget", type=float, default=0.2, metavar="FRACTION",
                   help="extra MACs --patch auto may spend on overlapping halos, as a fraction "
                   "of the model's MACs (default 0.2)")
    p.add_argument("--no-rings", action="store_true",
                   help="a streaming model's window shifts copy the state as TFLite Micro does "
                   "(default: ring buffers, read in place)")
    p.set_defaults(run=_convert)

    p = sub.add_parser("operators", help="list the operators that convert (a Markdown table)",
                       description="The operators the converter supports: their kernel "
                       "families, which have Cortex-M DSP and x86 AVX2 paths, how their output "
                       "shares memory with their input, whether they run inside patch stages; "
                       "then the ones refused and why.")
    p.set_defaults(run=_operators)

    p = sub.add_parser("bench", help="benchmark models beside TFLite Micro (speed, memory, "
                       "Cortex-M)",
                       description="""\
Benchmark models beside TFLite Micro, side by side in one run, with the outputs compared
byte for byte.
  --target host (default)   latency and executed instructions of TFLite Micro, our code and
                            TFLite's XNNPACK (one thread) on this machine
  --target qemu-m7          the Cortex-M firmware of each model on QEMU's mps2-an500
                            (Cortex-M7): Flash, SRAM, instructions of the invoke call
  --target disco-f746       the same on an attached STM32F746G-DISCO (DWT cycles)
  --memory                  peak SRAM of both runtimes, our lower bound and the published
                            TinyEngine / X-CUBE-AI figures over the zoo
  --nas                     TinyNAS against the scaled MobileNetV2 and ProxylessNAS that fit
                            64 kB / 256 kB and 32 kB / 128 kB, on Fashion-MNIST, int8, beside
                            TFLite Micro (about 2 hours; python -m
                            tflm_mcunet.benchmarks.nas --help for its options)""",
                       epilog="examples:\n"
                       "  tflm-mcunet bench model_int8.tflite          host, one model\n"
                       "  tflm-mcunet bench                            host, the whole zoo\n"
                       "  tflm-mcunet bench --target qemu-m7 mcunet-in1\n"
                       "  tflm-mcunet bench --memory\n"
                       "  tflm-mcunet bench --nas",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--memory", action="store_true",
                   help="the peak-SRAM table over zoo models instead of a run")
    p.add_argument("--nas", action="store_true",
                   help="the NAS quality benchmark instead of a run (about 2 hours)")
    p.add_argument("--no-patches", dest="patches", action="store_false",
                   help="with --memory: skip the columns with patch-based inference")
    p.add_argument("--target", choices=("host", "qemu-m7", "disco-f746"), default="host",
                   help="host: this machine (default); qemu-m7: QEMU mps2-an500; disco-f746: "
                   "the board via pyocd")
    from .benchmarks import host as _host_bench, mcu as _mcu_bench

    _mcu_bench.add_common_arguments(
        p, default_samples=None,
        default_models="the whole zoo on the host, every architecture of archs/*.json on "
        "Cortex-M")
    _host_bench.add_arguments(p.add_argument_group("host (--target host)"), common=False)
    _mcu_bench.add_arguments(p.add_argument_group("Cortex-M (--target qemu-m7, disco-f746)"),
                             common=False)
    p.set_defaults(run=_bench)

    from .search.cli import add_search_parser, add_search_space_parser

    add_search_space_parser(sub)
    add_search_parser(sub)

    p = sub.add_parser(
        "demo", help="the main job: search, train, quantize, generate C, compare with TFLite "
        "Micro (or convert one model)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Without a model: TinyNAS on Fashion-MNIST for a microcontroller with 64 kB\n"
        "SRAM and 256 kB Flash (search, fine-tuning, quantization-aware training, int8, the C\n"
        "project), then side by side with TFLite Micro on the test images: accuracy and\n"
        "identical outputs, peak SRAM, Flash, host latency, Cortex-M7 instructions under QEMU.\n"
        "About 15 minutes on 2 cores (--quick: about 3). Needs the [tf,search,plot] extras.\n\n"
        "With a model (or --example, the bundled MobileNetV1): convert it, build it for this\n"
        "machine, run it and TFLite Micro on the same random inputs, print both memory\n"
        "reports and whether the outputs are identical.")
    p.add_argument("model", nargs="?", help="int8 .tflite file to convert and compare")
    p.add_argument("--example", action="store_true",
                   help="convert and compare the bundled example model")
    p.add_argument("-o", "--output", help="output folder (default: tflm-mcunet-demo for the "
                   "search, a temporary folder for a model)")
    p.add_argument("--minutes", type=float, default=10.0,
                   help="time budget of the search (10; the rest takes about 5)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 6,000 images, a 1.5-minute search, 500 test images")
    p.add_argument("--samples", type=int, default=10,
                   help="with a model: random inputs to compare (10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.set_defaults(run=_demo)
    for command in sub.choices.values():  # `--verbose` after the command works too
        command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="show the traceback of an error")
    return parser


class _Terminated(BaseException):
    """SIGTERM, raised where the program is, so that cleanup code runs as for Ctrl-C."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        previous = None
    try:
        return args.run(args)
    except (KeyboardInterrupt, _Terminated):
        print(f"tflm-mcunet {args.command}: interrupted (no output folder is left "
              "half-written)", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as e:  # ConversionError, paths, builds, TFLM
        if args.verbose:
            traceback.print_exc()
        print(f"tflm-mcunet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug: say so, and how to report it
        if args.verbose:
            traceback.print_exc()
        print(f"tflm-mcunet {args.command}: internal error: {type(e).__name__}: {e}. This is a "
              f"bug in tflm-mcunet; please report it with the output of `tflm-mcunet "
              f"{args.command} --verbose ...`", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
