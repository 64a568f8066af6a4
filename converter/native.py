"""Host helpers in C, compiled on demand: a `.c` file shipped beside the converter's modules is
built once with the system compiler (`$CC`, else `cc`) into the user cache
(`$XDG_CACHE_HOME/tflm-mcunet`, else `~/.cache/tflm-mcunet`; a folder under the temporary
directory when that is not writable) and loaded with ctypes. The library's name carries a hash
of its source, so an edited source is built again. Callers keep a Python reference of what the
C code does and fall back to it when no compiler is at hand (`load` gives None and warns once).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL | None] = {}


def cache_dirs() -> list[Path]:
    """Where built libraries go, in order of preference."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [Path(base) / "tflm-mcunet", Path(tempfile.gettempdir()) / f"tflm-mcunet-{os.getuid()}"]


def _build(source: Path) -> ctypes.CDLL:
    text = source.read_bytes()
    digest = hashlib.sha256(text).hexdigest()[:16]
    last_error = None
    for folder in cache_dirs():
        lib = folder / f"{source.stem}_{digest}.so"
        try:
            if not lib.is_file():
                folder.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(suffix=".so", dir=folder)
                os.close(fd)
                try:
                    cc = os.environ.get("CC", "cc")
                    subprocess.run([cc, "-std=c99", "-O2", "-shared", "-fPIC", "-o", tmp,
                                    str(source)], check=True, capture_output=True, timeout=120)
                    os.replace(tmp, lib)  # atomic: parallel workers may build it too
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
            return ctypes.CDLL(str(lib))
        except (OSError, subprocess.SubprocessError) as e:
            last_error = e
    raise OSError(f"cannot build {source.name}: {last_error}")


def load(source: Path, fallback: str) -> ctypes.CDLL | None:
    """The library built from `source`, or None (with a warning naming `fallback`, what runs
    instead) when it cannot be built."""
    key = str(source)
    if key not in _loaded:
        with _lock:
            if key not in _loaded:
                try:
                    _loaded[key] = _build(source)
                except OSError as e:
                    _loaded[key] = None
                    warnings.warn(f"{e}; {fallback}", RuntimeWarning, stacklevel=3)
    return _loaded[key]
