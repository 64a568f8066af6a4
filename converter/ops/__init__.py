"""The operator registry: every OpDef subclass defined in this package, by builtin name.

Each module here defines one operator (or one small family); the registry finds them, so adding
an op means adding its module.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import OpDef

_REGISTRY: dict[str, OpDef] = {}


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _load() -> dict[str, OpDef]:
    if not _REGISTRY:
        for info in pkgutil.iter_modules(__path__):
            if info.name != "base":
                importlib.import_module(f"{__name__}.{info.name}")
        for cls in _subclasses(OpDef):
            for kind in cls.kinds:
                _REGISTRY[kind] = cls()
    return _REGISTRY


def registry() -> dict[str, OpDef]:
    """Every operator definition by builtin name (the converter's internal ones too)."""
    return dict(_load())


def lookup(kind: str) -> OpDef | None:
    return (_REGISTRY or _load()).get(kind)


def supported_kinds() -> list[str]:
    """Operators that can appear in generated code (not the ones only folded away)."""
    return sorted(k for k, d in _load().items()
                  if not getattr(d, "folds_only", False) and not d.internal and not d.refused)
