"""Build a generated project with the host's C compiler and call it from Python."""
from __future__ import annotations

import ctypes
import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .converter.errors import ConversionError

_NUMPY_TYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 9: np.int8}


class _TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("dims", ctypes.c_int32 * 8), ("scale", ctypes.c_float),
                ("zero_point", ctypes.c_int32), ("bytes", ctypes.c_uint32)]


#: the reader of a streamed input (model.h: <prefix>_input_reader)
_READER = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                           ctypes.c_void_p)


def _load_private_copy(library: Path) -> ctypes.CDLL:
    """dlopen the library as it is now, with its own static state. Loaded by its path, a
    library rebuilt in place (the same folder converted again) would come back as the copy
    this process already holds: glibc matches libraries by name."""
    with tempfile.TemporaryDirectory(prefix="tflm-mcunet-lib-") as tmp:
        copy = Path(tmp) / library.name
        shutil.copyfile(library, copy)
        return ctypes.CDLL(str(copy))  # mapped: the file may go


class HostModel:
    """A generated model compiled into a shared library and loaded with ctypes.

    A model converted with a streamed input (`convert(..., stream_input=True)`) is invoked the
    same way: `invoke` serves the regions it asks for from the array given, and `regions` lists
    them (row, col, rows, cols) after each call.

    A streaming model keeps state between invokes (`has_state`): each `invoke` continues from
    the last one, and `reset` restores the initial state (a no-op for other models)."""

    def __init__(self, library: Path, prefix: str = "model", cflags: str | None = None):
        self.library = Path(library)
        self.cflags = cflags  # what compile_host built it with (None: built elsewhere)
        self._lib = _load_private_copy(self.library)
        header = (self.library.parent / "model.h").read_text()
        self.streamed = f"#define {prefix.upper()}_STREAMED_INPUT 1" in header
        self.has_state = f"#define {prefix.upper()}_HAS_STATE 1" in header
        self._reset = getattr(self._lib, f"{prefix}_reset") if self.has_state else None
        if self._reset is not None:
            self._reset.restype, self._reset.argtypes = None, []
        self._input = getattr(self._lib, f"{prefix}_input")
        self._output = getattr(self._lib, f"{prefix}_output")
        self._invoke = getattr(self._lib, f"{prefix}_invoke" + ("_streamed" if self.streamed
                                                                else ""))
        for fn in (self._input, self._output):
            fn.restype = ctypes.c_void_p
            fn.argtypes = [ctypes.c_int]
        self._invoke.restype = ctypes.c_int
        if self.streamed:
            self._invoke.argtypes = [_READER]
        self.inputs = self._infos(f"{prefix}_input_info", self._count(header, prefix, "INPUTS"))
        self.outputs = self._infos(f"{prefix}_output_info",
                                   self._count(header, prefix, "OUTPUTS"))
        self.regions: list[tuple[int, int, int, int]] = []

    @staticmethod
    def _count(header: str, prefix: str, what: str) -> int:
        match = re.search(rf"#define {prefix.upper()}_NUM_{what} (\d+)", header)
        return int(match.group(1))

    def _infos(self, symbol: str, count: int) -> list[dict]:
        array = (_TensorInfo * count).in_dll(self._lib, symbol)
        return [dict(name=i.name.decode("utf-8", "replace"), dtype=_NUMPY_TYPES[i.type],
                     shape=tuple(i.dims[:i.rank]), scale=i.scale, zero_point=i.zero_point,
                     bytes=i.bytes) for i in array]

    def reset(self) -> None:
        """Restore the model's initial state (`<prefix>_reset()`); nothing to do without state."""
        if self._reset is not None:
            self._reset()

    def invoke(self, *inputs: np.ndarray) -> np.ndarray | list[np.ndarray]:
        """Run the model once; returns the output (a list when the model has several)."""
        if len(inputs) != len(self.inputs):
            raise ValueError(f"the model takes {len(self.inputs)} inputs, got {len(inputs)}")
        arrays = []
        for index, (x, info) in enumerate(zip(inputs, self.inputs)):
            x = np.asarray(x)
            if x.dtype != info["dtype"] or x.size * x.itemsize != info["bytes"]:
                raise ValueError(f"input {index} must be {info['dtype'].__name__} of shape "
                                 f"{info['shape']}, got {x.dtype} of shape {x.shape}")
            arrays.append(np.ascontiguousarray(x).reshape(info["shape"]))
            if not self.streamed:
                ctypes.memmove(self._input(index), arrays[-1].ctypes.data, info["bytes"])
        if self.streamed:
            self.regions = []
            image = arrays[0][0]

            def read(row, col, rows, cols, dst):  # exceptions cannot cross the C code
                self.regions.append((row, col, rows, cols))
                if 0 <= row < row + rows <= image.shape[0] and \
                        0 <= col < col + cols <= image.shape[1]:
                    region = np.ascontiguousarray(image[row:row + rows, col:col + cols])
                    ctypes.memmove(dst, region.ctypes.data, region.nbytes)

            self._invoke(_READER(read))
            for row, col, rows, cols in self.regions:
                if not (0 <= row < row + rows <= image.shape[0]
                        and 0 <= col < col + cols <= image.shape[1]):
                    raise RuntimeError(f"the model asked for rows {row}+{rows}, columns "
                                       f"{col}+{cols} of a {image.shape[:2]} input")
        else:
            self._invoke()
        outs = []
        for index, info in enumerate(self.outputs):
            buf = (ctypes.c_char * info["bytes"]).from_address(self._output(index))
            outs.append(np.frombuffer(bytes(buf), dtype=info["dtype"]).reshape(info["shape"]))
        return outs[0] if len(outs) == 1 else outs


#: compile_host's flags: this CPU's instruction set, so that the AVX2 kernels run where it has
#: AVX2 (the projects' own Makefile keeps a portable -O2 for builds meant for other machines)
HOST_CFLAGS = "-O3 -march=native"


@functools.lru_cache(maxsize=None)
def host_cflags(cc: str | None = None) -> str:
    """The fastest flags `cc` (default $CC or cc) accepts for this machine: HOST_CFLAGS, or
    -O3 alone for a compiler without -march=native."""
    compiler = cc or os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory(prefix="tflm-mcunet-cc-") as tmp:
        probe = Path(tmp) / "probe.c"
        probe.write_text("int probe(int x) { return x + 1; }\n")
        try:
            ok = subprocess.run([compiler, *HOST_CFLAGS.split(), "-c", str(probe), "-o",
                                 str(probe.with_suffix(".o"))], capture_output=True).returncode
        except OSError:
            return "-O3"
    return HOST_CFLAGS if ok == 0 else "-O3"


def compile_host(out_dir, *, cc: str | None = None, cflags: str | None = None,
                 prefix: str = "model") -> HostModel:
    """Build the generated project in `out_dir` with the system compiler and load it.

    `cflags` default: `host_cflags(cc)`, code for this very CPU (its AVX2 kernels where it
    has AVX2). The flags used are the HostModel's `cflags`; building again with other flags
    rebuilds every object."""
    out = Path(out_dir)
    if not (out / "Makefile").exists():
        raise ConversionError(f"{out} holds no generated project (no Makefile); run convert first")
    cflags = host_cflags(cc) if cflags is None else cflags
    env = dict(os.environ, CFLAGS=cflags)
    if cc:
        env["CC"] = cc
    built_with = out / ".host_cflags"  # make sees files, not flags: start over when they change
    if not built_with.is_file() or built_with.read_text() != f"{cc} {cflags}":
        subprocess.run(["make", "-s", "-C", str(out), "clean"], env=env, capture_output=True)
    result = subprocess.run(["make", "-s", "-C", str(out), f"lib{prefix}.so"], env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building the generated code in {out} failed:\n{result.stderr}")
    built_with.write_text(f"{cc} {cflags}")
    return HostModel(out / f"lib{prefix}.so", prefix, cflags)
