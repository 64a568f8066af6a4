"""One process of test_oracle's distributed search: the chief or a worker, as keras-tuner reads
KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT.

    python tests/distributed_search.py DIRECTORY

A trial trains nothing: its score is a known function of its choices (their sum), so a trial
takes a fraction of a second. Every trial run is appended to DIRECTORY/ran.txt ("trial_id
tuner_id"). With HANG_IN_TRIAL=n, the worker writes DIRECTORY/<id>.hanging (the trial id) in
its n-th trial and hangs there, to be killed.
"""
import os
import sys
import time
from pathlib import Path

import keras_tuner as kt

from tflm_mcunet.search import SearchSpace, TinyNASOracle

SPACE = SearchSpace(depths=(1, 2), kernels=(3, 5), expands=(3, 6), classes=10, input_channels=1)


class ScoreTuner(kt.Tuner):
    """Scores a candidate without training it."""

    runs = 0

    def run_trial(self, trial, *args, **kwargs):
        me = os.environ["KERASTUNER_TUNER_ID"]
        self.runs += 1
        with open(DIRECTORY / "ran.txt", "a") as f:
            f.write(f"{trial.trial_id} {me}\n")
        if os.environ.get("HANG_IN_TRIAL") == str(self.runs):
            (DIRECTORY / f"{me}.hanging").write_text(trial.trial_id)
            time.sleep(600)
        time.sleep(0.2)
        return {"val_accuracy": float(sum(trial.hyperparameters.values.values()))}


if __name__ == "__main__":
    DIRECTORY = Path(sys.argv[1])
    oracle = TinyNASOracle(SPACE, 0.2, (32, 48), sram="64K", flash="256K", max_trials=12,
                           population=4, seed=0)
    tuner = ScoreTuner(oracle=oracle, directory=str(DIRECTORY), project_name="dist")
    tuner.search(verbose=0)
    print(os.environ["KERASTUNER_TUNER_ID"], "done", flush=True)
