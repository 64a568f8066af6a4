"""The operators the converter knows, as a table read from the registry and the kernel sources:
`tflm-mcunet operators` prints it and docs/operators.md holds it (a test keeps it current).

Each column comes from where the behaviour is decided, so the table cannot drift from it:
the kernel families an op declares (`OpDef.kernels`); whether those families have a Cortex-M
DSP or an x86 AVX2 path (their engine_c sources branch on TME_DSP or TME_AVX2); how its output
may share memory with its input (`OpDef.alias`, the in-place depthwise kernel, `overlap_slack`);
and how it runs inside a patch stage (`patch_role`, the rule the patch pass applies).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .emit import engine_files
from .ops import OpDef, registry
from .passes.patch.stage import patch_role


@dataclass(frozen=True)
class OperatorRow:
    kind: str
    kernels: tuple[str, ...]  # engine_c families; () for ops without code
    dsp: bool
    avx2: bool
    memory: str
    patches: str
    refused: str | None = None


def _isa_paths(families: tuple[str, ...]) -> tuple[bool, bool]:
    """Whether the families' own sources (not the shared headers every kernel includes) have a
    DSP and an AVX2 path."""
    shared = engine_files(set())
    texts = [text for name, text in engine_files(set(families)).items() if name not in shared]
    return (any(re.search(r"\bTME_DSP\b", t) for t in texts),
            any(re.search(r"\bTME_AVX2\b", t) for t in texts))


def _memory(definition: OpDef) -> str:
    if definition.memory_note:
        return definition.memory_note
    if getattr(definition, "folds_only", False):
        return "folded at conversion"
    if definition.alias:
        return "its input's bytes (no code)"
    if callable(getattr(definition, "can_run_inplace", None)):
        return "in place, or over its input"
    if definition.elementwise or type(definition).overlap_slack is not OpDef.overlap_slack:
        return "over its input"
    return "its own buffer"


def operator_rows() -> list[OperatorRow]:
    """Every builtin operator in the registry (not the converter's internal ones), by name."""
    rows = []
    for kind, definition in sorted(registry().items()):
        if definition.internal:
            continue
        folded = getattr(definition, "folds_only", False)
        kernels = () if folded or definition.refused else tuple(definition.kernels)
        dsp, avx2 = _isa_paths(kernels) if kernels else (False, False)
        role = patch_role(definition)
        rows.append(OperatorRow(kind, kernels, dsp, avx2, _memory(definition),
                                {"window": "yes (window)", "pointwise": "yes"}.get(role, "no"),
                                definition.refused))
    return rows


def operator_table() -> str:
    """The Markdown table of the operators that run (or fold), then the refused ones."""
    def mark(flag: bool) -> str:
        return "yes" if flag else "-"

    rows = operator_rows()
    lines = ["| operator | kernel families | portable C | Cortex-M DSP | x86 AVX2 | output memory "
             "| in patch stages |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.refused:
            continue
        code = bool(r.kernels)
        lines.append(f"| {r.kind} | {', '.join(r.kernels) or '-'} | {mark(code)} | "
                     f"{mark(r.dsp)} | {mark(r.avx2)} | {r.memory} | {r.patches} |")
    reasons: dict[str, list[str]] = {}
    for r in rows:
        if r.refused:
            reasons.setdefault(r.refused, []).append(r.kind)
    if reasons:
        lines += ["", "Refused, with the reason the converter gives:", ""]
        lines += [f"- {', '.join(kinds)}: {reason}" for reason, kinds in reasons.items()]
    return "\n".join(lines) + "\n"
