"""From a .tflite file to a C project: read, legalize, plan, emit, write atomically."""
from __future__ import annotations

import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from .emit import emit_project
from .errors import ConversionError
from .ir import Graph
from .passes.fuse import fuse
from .passes.legalize import legalize
from .passes.ring import ring_buffers
from .passes.patch import DEFAULT_MAC_BUDGET, apply_patches
from .planner import MemoryPlan, plan_memory
from .reader import read_tflite
from .report import Report, build_report

#: marks a folder as written by the converter, so that converting again may replace it
MARKER = ".tflm-mcunet"
#: the generated code indexes the arena with 32-bit signed offsets
MAX_ARENA_BYTES = 2**31 - 1
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


@dataclass
class Conversion:
    out_dir: Path
    graph: Graph
    plan: MemoryPlan
    report: Report
    device: object = None  # the tflm_mcunet.devices.Device converted for, if any
    fit: object = None  # its devices.Fit: arena and model data against the device's memory


def load_graph(model, name: str | None = None, *, dsp: bool = False,
               rings: bool | int = True) -> Graph:
    """Read and legalize a model; every error names the model file (or `name`). `dsp`: the
    kernels are chosen for Cortex-M cores with the DSP extension. `rings`: a streaming model's
    window shifts become ring buffers (passes/ring.py; an int: the invokes between two moves
    of the kept bytes)."""
    graph = read_tflite(model, name)
    try:
        legalize(graph)
        if rings is not False:
            ring_buffers(graph, None if rings is True else int(rings))
        fuse(graph, dsp=dsp)
    except ConversionError as e:
        if e.model is None:
            raise e.at(model=graph.source) from e
        raise
    return graph


def check_prefix(prefix: str) -> None:
    """The prefix of the C API names must be a plain C identifier."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ConversionError(f"prefix {prefix!r} is not a usable C name: use up to 40 letters, "
                              "digits and underscores, starting with a letter (e.g. 'model', "
                              "'kws_net')")


def generate(model, *, prefix: str = "model", name: str | None = None, patch=None,
             stream_input: bool = False, mac_budget: float = DEFAULT_MAC_BUDGET,
             dsp: bool = False, rings: bool | int = True):
    """Read, legalize, patch, plan and emit in memory: (graph, plan, files by name, constant
    bytes, the patch summary or None). `dsp`: kernels chosen for Cortex-M DSP cores; `rings`:
    window shifts kept as ring buffers."""
    check_prefix(prefix)
    graph = load_graph(model, name, dsp=dsp, rings=rings)
    graph, patching = apply_patches(graph, patch, stream_input=stream_input,
                                    mac_budget=mac_budget, dsp=dsp)
    plan = plan_memory(graph)
    if plan.arena_bytes > MAX_ARENA_BYTES:
        raise ConversionError(f"the model needs {plan.arena_bytes:,} bytes of activation memory; "
                              f"the generated code addresses at most {MAX_ARENA_BYTES:,}",
                              model=graph.source)
    files, const_bytes = emit_project(graph, plan, prefix)
    return graph, plan, files, const_bytes, patching


def convert(model, out_dir, *, prefix: str = "model", force: bool = False, device=None,
            patch=None, stream_input: bool = False,
            mac_budget: float = DEFAULT_MAC_BUDGET, rings: bool | int = True) -> Conversion:
    """Convert a .tflite model (path or bytes) into a C project in `out_dir`.

    `device` (a name from `tflm_mcunet.devices`, a user-defined spec or a Device) adds the
    Cortex-M build files for it (startup, linker script, `make firmware`; see targets.py).

    `patch` runs layers patch by patch (MCUNetV2; passes/patch/): None (layer by layer),
    "auto" (the patch stages with the lowest peak SRAM whose extra MACs stay within
    `mac_budget` x the model's MACs), or {"split": L, "patches": n}: operators before #L (the
    report's # column) in n x n patches ("first": F starts the stage at operator #F;
    "keep_rows": True makes it row bands; a list of such dicts for several stages).
    `stream_input`: the caller supplies the input region by region (`<prefix>_invoke_streamed`),
    so it never sits whole in SRAM.
    `rings`: a streaming model's window shifts (read the state, append the new frames, keep the
    newest, assign) run in place in a ring buffer (passes/ring.py); an int n: the ring holds n
    invokes' new frames (the kept bytes move once every n invokes; True chooses); False copies
    as TFLite Micro does.
    """
    out = Path(out_dir)
    _check_output_folder(out, force=force, model=model)  # before the work; again when writing
    # for a device (every core supported has the DSP extension) the kernels faster there
    graph, plan, files, const_bytes, patching = generate(
        model, prefix=prefix, patch=patch, stream_input=stream_input, mac_budget=mac_budget,
        dsp=device is not None, rings=rings)
    fit = None
    if device is not None:
        from ..devices import get_device
        from .targets import DEFAULT_STACK_BYTES, target_files

        device = get_device(device)
        files.update(target_files(device, prefix=prefix, source=Path(graph.source).name))
        fit = device.fit(plan.arena_bytes + plan.state_bytes, const_bytes,
                         stack_bytes=DEFAULT_STACK_BYTES)
    _write_atomically(out, files, force=force, model=model)
    return Conversion(out, graph, plan, build_report(graph, plan, const_bytes, patching), device,
                      fit)


def _write_atomically(out: Path, files: dict[str, str], *, force: bool, model=None) -> None:
    """Write the files into a new hidden folder next to `out`, then swap it into place.

    A failure or an interrupt (KeyboardInterrupt, SIGTERM in the CLI) at any point leaves `out`
    as it was: the old folder comes back if it had been moved aside. Only a folder that
    tflm-mcunet wrote (it holds the MARKER file) or an empty one is replaced, unless `force`.
    """
    _check_output_folder(out, force=force, model=model)
    created = _missing_parents(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = _fresh_name(out, "tmp")
        tmp.mkdir()
    except OSError as e:
        _remove_empty(created)
        raise _write_error(out, e) from e
    try:
        for name, text in files.items():
            (tmp / name).write_text(text)
        (tmp / MARKER).write_text("generated by tflm-mcunet; safe to delete\n")
        if out.exists():
            old = _fresh_name(out, "old")
            out.rename(old)
            try:
                tmp.rename(out)
            except BaseException:
                old.rename(out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(created)
        if isinstance(e, OSError):
            raise _write_error(out, e) from e
        raise


def _check_output_folder(out: Path, *, force: bool, model) -> None:
    if out.is_symlink():
        raise ConversionError(f"output path {out} is a symbolic link; give the folder it points "
                              "to, or another path")
    if out.exists() and not out.is_dir():
        raise ConversionError(f"output path {out} exists and is not a folder; choose a folder "
                              "path")
    if not out.exists():
        return
    resolved = out.resolve()
    cwd = Path.cwd().resolve()
    protected = {Path(resolved.anchor), Path.home().resolve()}
    if resolved in protected or resolved == cwd or resolved in cwd.parents:
        raise ConversionError(f"refusing to replace {out}: it is the current folder, one of its "
                              "parents, the home folder or a root; choose a new folder such as "
                              "model_c")
    if isinstance(model, (str, os.PathLike)):
        source = Path(model).resolve()
        if resolved == source or resolved in source.parents:
            raise ConversionError(f"refusing to replace {out}: it holds the model file "
                                  f"{model}; choose another output folder")
    if any(out.iterdir()) and not (out / MARKER).exists() and not force:
        raise ConversionError(f"output folder {out} exists and was not written by tflm-mcunet; "
                              "choose another folder, or pass --force (force=True) to replace "
                              "it and everything in it")


def _fresh_name(out: Path, what: str) -> Path:
    """A hidden sibling of `out` that does not exist yet."""
    while True:
        path = out.with_name(f".{out.name}.{what}-{secrets.token_hex(4)}")
        if not path.exists():
            return path


def _missing_parents(out: Path) -> list[Path]:
    """The parents of `out` that do not exist yet, deepest first."""
    missing = []
    for parent in out.absolute().parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _write_error(out: Path, e: OSError) -> ConversionError:
    where = f" ({e.filename})" if e.filename else ""
    return ConversionError(f"cannot write the output folder {out}: {e.strerror or e}{where}; "
                           "check that its parent folder is writable and has free space")
