"""Unsupported and malformed models stop with ConversionError naming the model, the op and its
index; the CLI prints one line and exits non-zero; nothing half-written is left behind."""
from __future__ import annotations

import numpy as np
import pytest

import tflm_mcunet
from tflm_mcunet import ConversionError, convert
from tflm_mcunet.cli import main

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf]  # the tiers: tests/conftest.py
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from tflm_mcunet.quantize import quantize_keras, quantize_tf_function  # noqa: E402


@pytest.fixture(scope="module")
def good_model() -> bytes:
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    m = keras.Model(inp, layers.Conv2D(4, 3, padding="same", activation="relu")(inp))
    return quantize_keras(m, np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 3)).astype("f4"))


def test_conversion_error_is_a_value_error():
    assert issubclass(ConversionError, ValueError)
    assert tflm_mcunet.ConversionError is ConversionError


def test_unsupported_op_names_op_index_and_supported_list(tmp_path):
    model = quantize_tf_function(lambda x: tf.nn.log_softmax(x * 2.0), (1, 4, 4, 2),
                                 np.random.default_rng(0).uniform(-1, 1, (8, 4, 4, 2)))
    with pytest.raises(ConversionError) as err:
        convert(model, tmp_path / "out")
    message = str(err.value)
    assert "LOG_SOFTMAX" in message and "operator #" in message and "CONV_2D" in message
    assert err.value.op_kind == "LOG_SOFTMAX" and err.value.op_index is not None
    assert not (tmp_path / "out").exists()


def test_float_model_is_rejected(tmp_path):
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2))
    m = keras.Model(inp, layers.Conv2D(3, 3)(inp))
    float_model = tf.lite.TFLiteConverter.from_keras_model(m).convert()
    with pytest.raises(ConversionError, match=r"float32.*int8"):
        convert(float_model, tmp_path / "out")


@pytest.mark.parametrize("mutate,pattern", [
    (lambda b: b[:40], "malformed|too short"),
    (lambda b: b[:4] + b"XXXX" + b[8:], "file identifier"),
    (lambda b: b"", "too short"),
])
def test_malformed_files(tmp_path, good_model, mutate, pattern):
    path = tmp_path / "bad.tflite"
    path.write_bytes(mutate(good_model))
    with pytest.raises(ConversionError, match=pattern) as err:
        convert(path, tmp_path / "out")
    assert "bad.tflite" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path):
    with pytest.raises(ConversionError, match="cannot read"):
        convert(tmp_path / "nope.tflite", tmp_path / "out")


def test_refuses_to_replace_a_foreign_folder(tmp_path, good_model):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConversionError, match="force"):
        convert(good_model, out)
    assert (out / "notes.txt").read_text() == "mine"
    convert(good_model, out, force=True)
    assert (out / "model.c").exists() and not (out / "notes.txt").exists()
    convert(good_model, out)  # our own folder may be replaced
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_error_is_one_line_and_nonzero(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    assert main(["convert", str(bad), "-o", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "bad.tflite" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_cli_convert_prints_report(tmp_path, good_model, capsys):
    path = tmp_path / "m.tflite"
    path.write_bytes(good_model)
    assert main(["convert", str(path), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "Peak SRAM" in out and "CONV_2D" in out


def test_cli_help_reads_well(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "convert" in capsys.readouterr().out
