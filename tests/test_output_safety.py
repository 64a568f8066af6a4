"""The output folder and the CLI, in front of users' mistakes and interrupts.

- conversion writes a hidden folder and moves it into place: a failure or an interrupt at any
  point leaves the old folder (or none) as it was, and no stray folders;
- a folder tflm-mcunet did not write is replaced only with --force; the current folder, its
  parents, the home folder and a folder holding the model are never replaced;
- every user error of the CLI is one line naming what and where, with exit status 2;
  --verbose (before or after the command) adds the traceback; a bug says it is one (status
  1); SIGTERM and Ctrl-C leave nothing half-written (status 130).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import tflm_mcunet.converter.pipeline as pipeline
from flatbuffer_models import seed_models
from fuzz_mutations import Seeds, byte_mutant, structured_mutant
from tflm_mcunet import ConversionError, convert
from tflm_mcunet.cli import main

MODEL = seed_models()["cnn"]


def strays(folder: Path) -> list[str]:
    """Hidden leftovers of a conversion next to its output."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---- the output folder -------------------------------------------------------------------

def test_new_folder_is_written_whole_with_normal_permissions(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    convert(MODEL, out)
    assert (out / "model.c").exists() and (out / pipeline.MARKER).exists()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert strays(out.parent) == []


def test_foreign_folder_needs_force_and_own_folder_does_not(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConversionError, match="not written by tflm-mcunet.*--force"):
        convert(MODEL, out)
    assert (out / "notes.txt").read_text() == "mine"
    convert(MODEL, out, force=True)
    assert not (out / "notes.txt").exists()
    (out / "model.c").write_text("edited")
    convert(MODEL, out)  # ours: replaced without --force
    assert (out / "model.c").read_text() != "edited"
    empty = tmp_path / "empty"
    empty.mkdir()
    convert(MODEL, empty)  # an empty folder holds nothing to lose
    assert strays(tmp_path) == []


def test_never_replaces_the_current_folder_its_parents_or_the_models_folder(tmp_path,
                                                                             monkeypatch):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    model = work / "m.tflite"
    model.write_bytes(MODEL)
    monkeypatch.chdir(work / "sub")
    for out in (work / "sub", work, Path(".")):
        with pytest.raises(ConversionError, match="refusing to replace"):
            convert(model, out, force=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConversionError, match="refusing to replace.*holds the model"):
        convert(model, work, force=True)
    assert model.read_bytes() == MODEL


def test_refuses_a_file_or_a_symlink_as_output(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConversionError, match="not a folder"):
        convert(MODEL, tmp_path / "file", force=True)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ConversionError, match="symbolic link"):
        convert(MODEL, tmp_path / "link", force=True)
    assert (tmp_path / "file").read_text() == "x" and (tmp_path / "link").is_symlink()


class Boom(BaseException):
    pass


@pytest.mark.parametrize("after_files", [0, 3])
@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, OSError, Boom])
def test_interrupted_write_leaves_the_old_folder(tmp_path, monkeypatch, after_files, interrupt):
    out = tmp_path / "deep" / "out"
    fresh = tmp_path / "fresh" / "x" / "out"
    convert(MODEL, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    written = []
    real = Path.write_text

    def write_text(self, *args, **kwargs):
        if len(written) >= after_files:
            raise interrupt(28, "No space left on device") if interrupt is OSError else \
                interrupt()
        written.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    for target in (out, fresh):
        with pytest.raises(ConversionError if interrupt is OSError else interrupt) as err:
            convert(seed_models()["mixed"], target)
        if interrupt is OSError:
            assert "cannot write the output folder" in str(err.value)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert strays(out.parent) == []
    assert not (tmp_path / "fresh").exists()  # the parents it created are gone too


def test_interrupt_between_the_two_renames_restores_the_old_folder(tmp_path, monkeypatch):
    out = tmp_path / "out"
    convert(MODEL, out)
    before = sorted(p.name for p in out.iterdir())
    real = Path.rename
    calls = []

    def rename(self, target):
        calls.append(self)
        if len(calls) == 2:  # the new folder moving into place
            raise KeyboardInterrupt
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        convert(seed_models()["mixed"], out)
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == before
    assert strays(tmp_path) == []


def test_sigterm_during_a_cli_conversion_leaves_nothing(tmp_path):
    """A real SIGTERM in the middle of writing the files: status 130, no folder, no leftover."""
    model = tmp_path / "m.tflite"
    model.write_bytes(MODEL)
    code = f"""
import os, signal, sys
from pathlib import Path
real = Path.write_text
written = []
def write_text(self, *a, **k):
    written.append(self)
    if len(written) == 3:  # some files are written, others not yet
        os.kill(os.getpid(), signal.SIGTERM)
    return real(self, *a, **k)
Path.write_text = write_text
from tflm_mcunet.cli import main
sys.exit(main(["convert", {str(model)!r}, "-o", {str(tmp_path / 'out')!r}]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 130, result.stderr
    assert "interrupted" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and strays(tmp_path) == []


def test_write_error_is_a_clear_conversion_error(tmp_path):
    (tmp_path / "afile").write_text("x")  # a parent that is a file (works as root, too)
    with pytest.raises(ConversionError, match="cannot write the output folder .*afile"):
        convert(MODEL, tmp_path / "afile" / "sub" / "out")
    assert strays(tmp_path) == []


# ---- the CLI -----------------------------------------------------------------------------

def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def user_errors(tmp_path) -> list[tuple[list, str]]:
    """(arguments, a word the message must contain) of user errors, one of each kind."""
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    good = tmp_path / "good.tflite"
    good.write_bytes(MODEL)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    (tmp_path / "afile").write_text("x")
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(MODEL[:len(MODEL) // 2])
    return [
        (["convert", tmp_path / "missing.tflite", "-o", tmp_path / "o1"], "missing.tflite"),
        (["convert", tmp_path, "-o", tmp_path / "o2"], "cannot read"),
        (["convert", bad, "-o", tmp_path / "o3"], "bad.tflite"),
        (["convert", truncated, "-o", tmp_path / "o4"], "cut.tflite"),
        (["convert", good, "-o", foreign], "--force"),
        (["convert", good, "-o", tmp_path / "afile"], "not a folder"),
        (["convert", good, "-o", tmp_path / "o5", "--prefix", "my-model"], "prefix"),
        (["demo", bad, "-o", tmp_path / "o6"], "bad.tflite"),
    ]


def test_every_user_error_is_one_clear_line(tmp_path, capsys):
    for argv, word in user_errors(tmp_path):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2, (argv, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and word in lines[0] and "Traceback" not in err, (argv, err)
        assert lines[0].startswith(f"tflm-mcunet {argv[0]}: error: "), err
    assert (tmp_path / "foreign" / "keep.txt").read_text() == "x"
    assert not any((tmp_path / f"o{k}").exists() for k in range(1, 7))


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_adds_the_traceback(tmp_path, capsys, where):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    argv = ["convert", bad, "-o", tmp_path / "o"]
    argv = ["--verbose", *argv] if where == "before" else [*argv, "--verbose"]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "Traceback" in err and "ConversionError" in err
    assert err.strip().splitlines()[-1].startswith("tflm-mcunet convert: error: ")


def test_a_bug_says_it_is_one(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError("something inside")

    monkeypatch.setattr(pipeline, "emit_project", broken)
    good = tmp_path / "good.tflite"
    good.write_bytes(MODEL)
    code, _, err = run_cli(capsys, "convert", good, "-o", tmp_path / "o")
    assert code == 1 and "internal error" in err and "bug" in err and "--verbose" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_cli_on_mutated_files(tmp_path, capsys):
    """Broken files through the whole CLI: exit 0 or 2, never a traceback."""
    seeds = Seeds(seed_models())
    codes = []

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        mutant = (structured_mutant if data.draw(st.booleans()) else byte_mutant)(data, seeds)
        path = tmp_path / "m.tflite"
        path.write_bytes(mutant)
        code, _, err = run_cli(capsys, "convert", path, "-o", tmp_path / "out")
        assert code in (0, 2) and "Traceback" not in err, err
        if code == 2:
            assert len(err.strip().splitlines()) == 1 and "m.tflite" in err, err
        codes.append(code)

    run()
    assert 2 in codes
    assert strays(tmp_path) == []


def test_ctrl_c_in_the_cli(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "plan_memory", interrupted)
    good = tmp_path / "good.tflite"
    good.write_bytes(MODEL)
    code, _, err = run_cli(capsys, "convert", good, "-o", tmp_path / "o")
    assert code == 130 and "interrupted" in err and not (tmp_path / "o").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(
        signal.getsignal(signal.SIGTERM))
