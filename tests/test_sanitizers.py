"""The generated C under AddressSanitizer and UndefinedBehaviorSanitizer.

Every project here is built with `-fsanitize=address,undefined -fno-sanitize-recover=all`
and the harness of tests/harness/run_model.c (tests/sanitize.py), run on random inputs and
the extremes, and compared byte for byte with TFLite Micro. Any sanitizer report fails.

- the seed models of the fuzz tests (every supported operator, no TensorFlow needed);
- the whole model zoo (slow);
- random Keras graphs of the property test (hypothesis, TFLM_MCUNET_SANITIZER_EXAMPLES);
- models whose tensor names and file name are hostile C (comment terminators, quotes,
  newlines, preprocessor directives, trigraphs, invalid UTF-8): the names never reach the
  C unescaped, the code compiles with -pedantic -Werror and runs.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flatbuffer_models import ModelBuilder, seed_models
from sanitize import CC, random_batches, sanitized_matches_tflm
from conftest import host_has_avx2
from tflm_mcunet import compile_host, convert
from tflm_mcunet.converter.emit import c_comment, c_string

SANITIZER_EXAMPLES = int(os.environ.get("TFLM_MCUNET_SANITIZER_EXAMPLES", "10"))


@pytest.mark.tflm
@pytest.mark.parametrize("name", sorted(seed_models()))
def test_seed_models_run_clean_and_bit_exact(tmp_path, name):
    sanitized_matches_tflm(seed_models()[name], tmp_path / "c",
                           lambda c: random_batches(c, 6, 0))


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    "mobilenet_v2_0.35_96", "ds_cnn", "resnet8", "mobilenet_v1_0.25_96", "fc_autoencoder",
    "mbv2-w0.35-r144", "mcunet-in1", "mcunet-in3", "proxyless-w0.3-r176"])
def test_zoo_model_runs_clean_and_bit_exact(tmp_path, zoo_tflite, name):
    pytest.importorskip("tensorflow")
    from tflm_mcunet.benchmarks import zoo

    assert name in zoo.zoo_names()
    # the AVX2 kernels where the CPU has them (the other tests here check the portable ones)
    sanitized_matches_tflm(zoo_tflite(name), tmp_path / "c", lambda c: random_batches(c, 3, 0),
                           extra_flags=("-mavx2",) if host_has_avx2() else ())


@pytest.mark.tf
@pytest.mark.tflm
def test_property_graphs_run_clean_and_bit_exact():
    pytest.importorskip("tensorflow")
    from test_property import build, graphs

    from tflm_mcunet.quantize import quantize_keras

    @settings(max_examples=SANITIZER_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(graphs())
    def run(recipe):
        shape, _, _, scale, seed = recipe
        data = np.random.default_rng(seed).uniform(-scale, scale, (12, *shape)).astype("f4")
        tflite = quantize_keras(build(recipe), data)
        with tempfile.TemporaryDirectory() as tmp:
            sanitized_matches_tflm(tflite, Path(tmp) / "c",
                                   lambda c: random_batches(c, 3, seed))

    run()


# ------------------------------------------------------------------------------------------
# names from the model never reach the C unescaped
# ------------------------------------------------------------------------------------------

HOSTILE = [
    b'*/ int evil = 1; /*',
    b'"; int evil = 1; const char *x = "',
    b"\n#include <evil.h>\n",
    b"\\\n#define model_invoke abort",
    b"??/\n#error trigraph",
    b"x\\",
    b"/* nested /* */",
    b"\xff\xfe invalid UTF-8 \xc3",
    b"tab\there\rcarriage",
    b"%s%n%x",
    "ünïcødé ✓ \u202e".encode(),
    b"a" * 300,
]


def hostile_model() -> tuple[bytes, list[bytes]]:
    """A small conv -> pool -> dense model whose every tensor has a hostile name."""
    rng = np.random.default_rng(4)
    b = ModelBuilder()
    x = b.tensor(HOSTILE[0], (1, 6, 6, 3), "int8", 0.02, 1)
    c, s = b.conv(rng, x, 0.02, (1, 6, 6, 4), 3, act="relu", name="conv")
    p = b.tensor(HOSTILE[5], (1, 3, 3, 4), "int8", s, 0)
    b.op("MAX_POOL_2D", [c], [p], "Pool2DOptions", padding=0, strideH=2, strideW=2,
         filterHeight=2, filterWidth=2, fusedActivationFunction=0)
    y1 = b.tensor(HOSTILE[1], (1, 3, 3, 4), "int8", s, 0)
    b.op("RELU6", [p], [y1])
    y2 = b.tensor(HOSTILE[2], (1, 3, 3, 4), "int8", s * 2, 3)
    b.op("RELU", [p], [y2])
    names = iter(HOSTILE[3:5] + HOSTILE[6:])
    for t in b.tensors:  # the weights, biases and the conv output get the others
        if t.name.startswith(b"conv"):
            t.name = next(names, b"*/")
    return b.build([x], [y1, y2], "*/ hostile description \n#error"), HOSTILE


def code_only(text: str) -> str:
    """C source without its string and character literals and comments."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            assert end >= 0, "unterminated comment"
            out.append(" ")
            i = end + 2
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text[i] in "\"'":
            quote, i = text[i], i + 1
            while i < n and text[i] != quote:
                assert text[i] != "\n", "unterminated literal"
                i += 2 if text[i] == "\\" else 1
            out.append('""')
            i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


_DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*(.*)$")


@pytest.mark.tflm
def test_hostile_names_never_reach_the_c_unescaped(tmp_path):
    model, names = hostile_model()
    # the file name reaches the generated comments and the Makefile too
    path = tmp_path / 'evil* "name"\n#include <x>\\ ??.tflite'
    path.write_bytes(model)
    out = tmp_path / "c"
    conversion = convert(path, out)
    prefix = "MODEL_"
    for f in sorted(out.iterdir()):
        if f.suffix not in (".c", ".h") and f.name != "Makefile":
            continue
        text = f.read_text()
        if f.suffix in (".c", ".h"):  # outside literals and comments: none of the names
            code = code_only(text)
            assert "evil" not in code and "abort" not in code and "trigraph" not in code, f
        for line in text.splitlines():
            m = _DIRECTIVE.match(line) if f.suffix in (".c", ".h") else None
            if not m:
                continue
            kind, rest = m.groups()
            assert kind in ("include", "define", "ifndef", "ifdef", "if", "endif", "else",
                            "elif", "undef", "error"), (f.name, line)
            if kind == "include":
                assert re.fullmatch(r'"(model|model_weights|tme_\w+)\.h"|<\w+\.h>', rest), line
            if kind == "define":
                name = rest.split()[0]
                assert name.startswith((prefix, "TME_")) or name.endswith("_H"), line
            assert kind != "error", line
    # strict C99: no warning of any kind, also with the trigraph and pedantic checks
    sources = [str(p) for p in out.glob("*.c")]
    result = subprocess.run([CC, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror",
                             "-Wtrigraphs", "-fsyntax-only", *sources], cwd=out,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # the names arrive in the C strings intact (as the converter decoded them)
    host = compile_host(out)
    read = [t.name for t in conversion.graph.inputs + conversion.graph.outputs]
    got = [info["name"] for info in host.inputs + host.outputs]
    assert got == read
    assert read[0] == names[0].decode() and read[2] == names[2].decode()
    # and it runs clean, with TFLite Micro's bytes
    sanitized_matches_tflm(model, tmp_path / "san", lambda c: random_batches(c, 4, 0))


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=25))
def test_c_string_and_c_comment_are_safe_for_any_text(texts):
    """Any text: the literal compiles and holds exactly its UTF-8 bytes; the comment stays a
    comment (one compile for many texts)."""
    lines = ["#include <stdio.h>", "int main(void) {"]
    for t in texts:
        comment = c_comment(t)
        assert "*/" not in comment and "/*" not in comment and "\n" not in comment
        lines.append(f"  /* {comment} */")
        lines.append(f'  fputs({c_string(t)}, stdout); putchar(0);')
    lines += ["  return 0;", "}"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "t.c"
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        exe = Path(tmp) / "t"
        result = subprocess.run([CC, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror",
                                 "-Wtrigraphs", str(src), "-o", str(exe)], capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stderr
        printed = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    expected = b"".join(t.encode("utf-8", "surrogatepass").split(b"\0")[0] + b"\0"
                        for t in texts)
    assert printed == expected
