"""`SupernetTuner`: a keras-tuner Tuner whose trials are subnets of a trained supernet.

A trial takes the architecture the oracle proposes (`TinyNASOracle`), recalibrates the
supernet's batch-norm statistics for it on a few training batches, and scores it on the
validation images: seconds per trial, no training. It reports `val_accuracy` and `val_loss`
(the objective, by default); the oracle adds the subnet's exact cost as further metrics
(`peak_sram_bytes`, `flash_bytes`, `macs`), so keras-tuner's `results_summary()`,
`get_best_hyperparameters()` and `get_best_models()` (the extracted Keras model of a subnet,
recalibrated) work as usual.

Distributed (keras-tuner's chief/worker mode): every worker builds the same tuner around the
same trained supernet (`tinynas.search` loads it from the shared project directory); the
chief only serves the oracle.
"""
from __future__ import annotations

import time

import numpy as np

from .oracle import keras_tuner
from .supernet.layers import tf

__all__ = ["SupernetTuner"]


class SupernetTuner(keras_tuner.Tuner):
    """Scores the oracle's subnets inside `supernet`.

    `calibration`: float images prepared for the supernet's largest resolution (an array;
    `search.data.as_arrays`), from the training data; `validation`: (images, labels) prepared
    the same way. `calibration_batches` of `batch_size` recalibrate each subnet (20 x 128: the
    MCUNetV2 recipe). Other keyword arguments are keras-tuner's (`directory`, `project_name`,
    `overwrite`, `tuner_id`, ...).
    """

    #: `time.monotonic()` after which no trial starts (one process; a distributed search
    #: stops at the oracle's `max_trials`)
    deadline: float | None = None
    #: a progress bar over the trials (tqdm; use it with keras-tuner's `verbose=False`)
    progress: bool = False
    _bar = None

    def __init__(self, oracle, supernet, calibration, validation, *,
                 calibration_batches: int = 20, batch_size: int = 128, **kwargs):
        super().__init__(oracle=oracle, hypermodel=None, **kwargs)
        self.supernet = supernet
        self.calibration = np.asarray(calibration, np.float32)
        self.validation = (np.asarray(validation[0], np.float32),
                           np.asarray(validation[1]).reshape(-1).astype(np.int64))
        self.calibration_batches, self.batch_size = calibration_batches, batch_size

    def score(self, arch) -> dict:
        """Recalibrate `arch` and score it on the validation images: val_accuracy, val_loss."""
        self.supernet.recalibrate(arch, self.calibration, batches=self.calibration_batches,
                                  batch_size=self.batch_size)
        images, labels = self.validation
        correct, loss = 0, 0.0
        for start in range(0, len(images), 500):
            logits = self.supernet.run(images[start:start + 500], arch)
            part = labels[start:start + 500]
            loss += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
                part, logits)))
            correct += int((np.argmax(logits.numpy(), -1) == part).sum())
        return {"val_accuracy": correct / len(labels), "val_loss": loss / len(labels)}

    def run_trial(self, trial, *args, **kwargs):
        # the cost figures are already the trial's metrics: the oracle attached them
        return self.score(self.oracle.arch(trial.hyperparameters))

    def load_model(self, trial):
        """The Keras model of a trial's subnet (extracted from the supernet, recalibrated)."""
        return self.load_model_for(self.oracle.arch(trial.hyperparameters))

    def load_model_for(self, arch):
        self.supernet.recalibrate(arch, self.calibration, batches=self.calibration_batches,
                                  batch_size=self.batch_size)
        return self.supernet.extract(arch)

    def on_search_begin(self):
        super().on_search_begin()
        if self.progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=getattr(self.oracle, "max_trials", None), unit="trial",
                             desc="evolution")
            self._best = None

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self._bar is not None:
            if trial.metrics.exists("val_accuracy"):
                accuracy = trial.metrics.get_last_value("val_accuracy")
                self._best = max(self._best or 0.0, accuracy)
                self._bar.set_postfix(best=f"{100 * self._best:.2f}%", refresh=False)
            self._bar.update(1)

    def on_search_end(self):
        super().on_search_end()
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def pre_create_trial(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.oracle.max_trials = max(len(self.oracle.trials), 1)  # the oracle stops

    def save_model(self, trial_id, model, step=0):
        """Nothing to save: a trial's weights are the supernet's."""

