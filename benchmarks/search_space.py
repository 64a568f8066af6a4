"""Benchmark of the TinyNAS cost model and of stage 1.

`python -m tflm_mcunet.benchmarks.search_space [--stage1] [--plot cdf.png] [--code-size]
[--latency]`

1. Speed: milliseconds per architecture of `search.cost` (the fast path: the converter's
   planner, its placement trials in C),
   on architectures drawn from all 108 (W, R) spaces in turn (so layer-cache misses are
   included), in this process, beside the converter's own passes and planner on a subset.
2. Exactness on the same subset: the fast path's peak SRAM and MACs against the converter's.
3. With --stage1: TinyNAS stage 1 for a device (the table, and a CDF plot with --plot).
4. With --code-size: the code-size table of `search.codesize` measured again (arm-none-eabi-gcc).
5. With --latency: the speed model of `search.latency` measured again (arm-none-eabi-gcc and
   QEMU, about a minute): per kind of layer its coefficients, and per held-out network the
   measured and predicted instructions; then the `MEASURED` literal to paste into the module.

Wall-clock times depend on the machine and its load: they are printed with the machine, never
asserted in tests.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import time


#: MCUNet (NeurIPS 2020), Fig. 3: the space TinyNAS stage 1 picked for STM32F746
#: (320 kB SRAM, 1 MB Flash) and the mean computation of its models that fit, as the figure's
#: legend gives it (w0.3-r160 32.5, w0.4-r112 32.4, w0.4-r128 39.3, w0.4-r144 46.9,
#: w0.5-r112 38.3, w0.5-r128 46.9, w0.5-r144 52.0, ... M "FLOPs", i.e. multiply-accumulates;
#: their memory model was TinyEngine's of 2020, with its own stack and code allowances)
PAPER_CHOICE = "w0.5-r144"
PAPER_MEAN_MFLOPS = 52.0


def machine() -> str:
    """The CPU, its logical CPUs, Python and the OS, for a benchmark's header."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def speed(count: int = 1000, check: int = 50, seed: int = 0) -> dict:
    """ms per architecture of the fast path and of the converter path; exactness on `check`."""
    from tflm_mcunet.converter import placement
    from tflm_mcunet.search import SearchSpace, cost

    space = SearchSpace()
    pairs = space.pairs()
    rng = random.Random(seed)
    archs = [space.sample(*pairs[k % len(pairs)], rng) for k in range(count)]
    compiled = placement.compiled()  # builds the C library outside the timing
    start = time.perf_counter()
    fast = [cost(a) for a in archs]
    fast_ms = 1000 * (time.perf_counter() - start) / count
    start = time.perf_counter()
    for a in archs:
        cost(a)
    warm_ms = 1000 * (time.perf_counter() - start) / count
    subset = archs[:: max(1, count // check)][:check]
    start = time.perf_counter()
    ref = [cost(a, method="converter") for a in subset]
    ref_ms = 1000 * (time.perf_counter() - start) / len(subset)
    by_id = {id(a): c for a, c in zip(archs, fast)}
    mismatches = [(a.label(), by_id[id(a)].peak_sram_bytes, r.peak_sram_bytes)
                  for a, r in zip(subset, ref)
                  if (by_id[id(a)].peak_sram_bytes, by_id[id(a)].macs)
                  != (r.peak_sram_bytes, r.macs)]
    return dict(count=count, fast_ms=fast_ms, warm_ms=warm_ms, converter_ms=ref_ms,
                checked=len(subset), mismatches=mismatches, compiled=compiled)


def latency(core: str = "cortex-m7") -> dict:
    """Measure `search.latency`'s table again and print it with the errors on HELD_OUT."""
    import datetime
    import pprint

    from tflm_mcunet.benchmarks import cost_model, mcu
    from tflm_mcunet.devices import DEVICES

    device = next(d for d in DEVICES.values() if d.core == core)
    print(f"\nSpeed model ({core}): {len(cost_model.TRAINING)} training networks, "
          f"{len(cost_model.HELD_OUT)} held out")
    print("\n".join(mcu.machine_info(device)[:2]))
    result = cost_model.measure_latency(core, log=print)
    table = result["table"]
    print("\n| kind | coefficients (instructions per feature) |\n|---|---|")
    for kind_, coef in table["kinds"].items():
        print(f"| {kind_} | " + ", ".join(f"{name} {c:g}" for name, c in coef.items()) + " |")
    print(f"| invoke outside the layers | {table['invoke']} |")
    print("\n| held-out network | measured | predicted (cost model) | error | "
          "predicted (converter's depthwise kernels) | error |\n|---|---:|---:|---:|---:|---:|")
    errors = []
    for label, measured, predicted, own in result["held_out"]:
        errors.append(100 * (predicted - measured) / measured)
        print(f"| {label} | {measured:,} | {predicted:,} | {errors[-1]:+.1f}% | {own:,} | "
              f"{100 * (own - measured) / measured:+.1f}% |")
    train = [abs(100 * (p - m) / m) for _, m, p, _ in result["training"]]
    print(f"\nHeld out: mean |error| {sum(map(abs, errors)) / len(errors):.1f}%, max "
          f"{max(map(abs, errors)):.1f}%; training networks: mean {sum(train) / len(train):.1f}%, "
          f"max {max(train):.1f}%.")
    print(f"\n# measured {datetime.date.today()}: python -m tflm_mcunet.benchmarks.search_space "
          f"--latency\nMEASURED = {pprint.pformat({core: table}, sort_dicts=False, width=96)}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000, help="architectures timed (1000)")
    parser.add_argument("--check", type=int, default=50,
                        help="of those, checked against the converter's planner (50)")
    parser.add_argument("--stage1", action="store_true", help="run TinyNAS stage 1 too")
    parser.add_argument("--device", default="stm32f746")
    parser.add_argument("--samples", type=int, default=1000, help="stage 1 samples per space")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="stage 1 workers (2)")
    parser.add_argument("--plot", metavar="PNG", help="stage 1 CDF plot")
    parser.add_argument("--code-size", action="store_true",
                        help="measure the kernel and per-layer code size again")
    parser.add_argument("--latency", action="store_true",
                        help="measure the speed model (instructions per layer) again")
    args = parser.parse_args(argv)

    print(f"Machine: {machine()}\n")
    s = speed(args.count, args.check)
    print("| path | ms per architecture |\n|---|---:|")
    print(f"| search.cost, fast path ({s['count']} archs over the 108 spaces, first pass: "
          f"layer-cache misses included) | {s['fast_ms']:.2f} |")
    print(f"| search.cost, fast path, second pass (warm cache) | {s['warm_ms']:.2f} |")
    print(f"| converter: legalize + fuse + plan_memory on the IR ({s['checked']} archs) | "
          f"{s['converter_ms']:.2f} |")
    print(f"\nPlacement trials in C: {'yes' if s['compiled'] else 'NO (Python fallback)'}.")
    print(f"Exactness: {s['checked'] - len(s['mismatches'])}/{s['checked']} architectures give "
          "the converter's peak SRAM and MACs" + (f"; MISMATCHES: {s['mismatches']}"
                                                   if s['mismatches'] else "."))
    status = 1 if s["mismatches"] else 0
    if args.code_size:
        from tflm_mcunet.benchmarks.cost_model import measure_code_size
        from tflm_mcunet.search.codesize import MEASURED

        for core in MEASURED:
            print(f"\nCode size ({core}): table {MEASURED[core]}, measured now "
                  f"{measure_code_size(core)}")
    if args.latency:
        latency()
    if args.stage1:
        from tflm_mcunet.tinynas import optimize_space

        print(f"\n$ tflm-mcunet search-space --device {args.device} --samples {args.samples} "
              f"-j {args.jobs} --compare {PAPER_CHOICE}"
              + (f" --plot {args.plot}" if args.plot else ""))
        result = optimize_space(args.device, samples=args.samples, jobs=args.jobs)
        print(result.to_markdown(also=(PAPER_CHOICE,)))
        if args.plot:
            print(f"CDF plot: {result.plot_cdf(args.plot, also=(PAPER_CHOICE,))}")
        paper = result.get(0.5, 144)
        print(f"\nMCUNet's stage 1 for STM32F746 chose {PAPER_CHOICE} (mean {PAPER_MEAN_MFLOPS} M "
              f"'FLOPs' of its fitting models, paper Fig. 3, their memory model); here "
              f"{PAPER_CHOICE} ranks #{result.spaces.index(paper) + 1} with "
              f"{paper.fitting}/{paper.samples} fitting, mean {paper.mean_macs / 1e6:.1f} M MACs.")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
