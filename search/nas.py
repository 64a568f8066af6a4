"""TinyNAS in one call: `search(train_data, device=...)` returns a network that fits.

    >>> from tflm_mcunet import tinynas, datasets
    >>> (x, y), (x_test, y_test) = datasets.fashion_mnist()
    >>> result = tinynas.search((x, y), device="fm:sram=64K,flash=256K,core=cortex-m7",
    ...                         time_budget=15 * 60)                               # doctest: +SKIP
    >>> result.arch, result.cost.peak_sram_bytes, result.model                     # doctest: +SKIP
    >>> result.convert("model_c", device="...")                                   # doctest: +SKIP

The steps, each on the converter's exact cost model:

1. stage 1 (`optimize_space`): the (width, resolution) space whose fitting models have the
   most computation, among resolutions near the images' size (`default_resolutions`);
2. the weight-sharing supernet of that space, trained by the sandwich rule (`train`; saved in
   the project directory and reused by later calls);
3. the evolution (`TinyNASOracle` + `SupernetTuner`, keras-tuner): candidates that do not fit
   are rejected before they are scored; each trial recalibrates a subnet and scores it on the
   held-out validation images;
4. the best subnet extracted and trained on (fine-tuned) at the supernet's learning rate,
   decayed to zero: under a time budget, half of it (TIME_SHARES).

Distributed, with keras-tuner's chief/worker mode: `train(...)` once (any machine; a
`tf.distribute` strategy for several GPUs), then the chief and every worker run the same
`search(...)` call with the same `directory`, `project_name` and the environment variables
KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT and KERASTUNER_TUNER_ID ("chief" on the chief):
workers load the supernet, the chief serves the oracle, then fine-tunes and returns the result
(workers return None).
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from ..devices import custom_device, get_device, parse_size, with_memory
from .cost import cost as arch_cost
from .result import SearchResult
from .space import SearchSpace, WIDTHS
from .stage1 import optimize_space

__all__ = ["search", "train", "train_model", "plan_search", "evaluation_arrays",
           "default_resolutions", "budget_device"]

#: shares of a time budget (`time_shares`): supernet training, then fine-tuning; the trials
#: get what is left. Measured on Fashion-MNIST under 32 kB / 128 kB in 14 minutes (2 cores,
#: float test accuracy of the result): 75% / 12% with a tenth of the learning rate 90.14%;
#: 40% / 50%, a tenth 90.30%; 40% / 50%, the full rate 91.70%. Under budgets of minutes the
#: supernet is a warm start and a ranking, and the chosen subnet needs the training time.
TIME_SHARES = (0.4, 0.5)


def budget_device(device=None, sram=None, flash=None):
    """The device whose memory the network must fit: a catalogue name, a spec or a Device,
    with `sram` / `flash` (bytes or "64K") replacing its sizes; without a device, a
    Cortex-M7 with just those sizes."""
    sram, flash = parse_size(sram, "sram"), parse_size(flash, "flash")
    if device is None:
        if sram is None or flash is None:
            raise ValueError("give a device (e.g. device='stm32f746') or both sram= and flash=")
        return custom_device(f"cortex-m7-{sram // 1024}k-{flash // 1024}k", sram=sram,
                             flash=flash, core="cortex-m7")
    return with_memory(get_device(device), sram_bytes=sram, flash_bytes=flash)


def default_resolutions(image_size: int) -> tuple[int, ...]:
    """Input resolutions that make sense for images of `image_size` pixels: MCUNet's (48 to
    224 by 16) up to the images' own size; for images under 48 pixels, their size rounded up
    to 8 and the next multiple of 8 (small images gain a little from upsampling, and their
    networks are cheap to train)."""
    if image_size >= 48:
        return tuple(r for r in range(48, 225, 16) if r <= image_size) or (48,)
    base = -(-image_size // 8) * 8
    return (base, base + 8)


def _project(directory, project_name) -> Path:
    return Path(directory) / project_name


def _data(train_data, validation_data, validation_split: float, seed: int):
    """(train, validation, image size, channels, classes) from arrays or datasets."""
    from .data import as_arrays

    if isinstance(train_data, (tuple, list)):
        x, y = np.asarray(train_data[0]), np.asarray(train_data[1]).reshape(len(train_data[0]), -1)
        y = y.argmax(-1) if y.shape[1] > 1 else y[:, 0]
        if validation_data is None:  # held out: 10%, at most 5,000 images (MCUNetV2)
            count = min(max(1, int(len(x) * validation_split)), 5000)
            order = np.random.default_rng(seed).permutation(len(x))
            validation_data = (x[order[:count]], y[order[:count]])
            x, y = x[order[count:]], y[order[count:]]
        train_data = (x, y)
        size, channels = x.shape[1], (x.shape[3] if x.ndim == 4 else 1)
        labels = np.concatenate([y, np.asarray(validation_data[1]).reshape(-1)])
    else:
        if validation_data is None:
            raise ValueError("give validation_data when train_data is a tf.data.Dataset")
        shape = train_data.element_spec[0].shape
        size, channels = shape[-3] if len(shape) == 4 else shape[-2], (
            shape[-1] if len(shape) == 4 or shape[-1] in (1, 3) else 1)
        labels = as_arrays(validation_data, 8, int(channels))[1]
    return train_data, validation_data, int(size), int(channels), int(labels.max()) + 1


def _choose_space(dev, size, channels, classes, space, resolutions, seed, progress):
    """(SearchSpace of one width, width, resolution, stage 1 result or None)."""
    if isinstance(space, SearchSpace) and len(space.widths) == 1 and len(
            space.resolutions) == 1:
        return space, space.widths[0], space.resolutions[0], None
    base = space if isinstance(space, SearchSpace) else SearchSpace(
        widths=WIDTHS, resolutions=tuple(resolutions or default_resolutions(size)),
        classes=classes, input_channels=channels)
    stage1 = optimize_space(dev, samples=200, space=base, seed=seed, progress=progress)
    best = stage1.best
    if not best.fitting:
        raise ValueError(f"no architecture of the search space fits {dev.describe()}: the "
                         f"smallest arena sampled is {best.min_sram_bytes:,} B; give a larger "
                         "budget or a space with smaller widths or resolutions")
    return base, best.width_mult, best.resolution, stage1


def train(train_data, validation_data=None, *, device=None, sram=None, flash=None, space=None,
          resolutions=None, epochs: int = 30, time_budget: float | None = None,
          learning_rate: float = 3e-3, batch_size: int = 128, subnets: int = 4, augment=None,
          validation_split: float = 0.1, directory="tinynas", project_name="search",
          overwrite: bool = False, seed: int = 0, verbose="auto"):
    """TinyNAS's first half: stage 1, then the supernet trained and saved in the project
    directory (`supernet.weights.h5`, `supernet.json`). Returns the Supernet. A saved
    supernet of the same space is loaded instead of trained again, unless `overwrite`."""
    plan = plan_search(train_data, validation_data, device, sram, flash, space, resolutions,
                       validation_split, seed, verbose)
    return _supernet(plan, epochs, time_budget, learning_rate, batch_size, subnets, augment,
                     _project(directory, project_name), overwrite, seed, verbose)


def plan_search(train_data, validation_data=None, device=None, sram=None, flash=None,
                space=None, resolutions=None, validation_split: float = 0.1, seed: int = 0,
                verbose="auto") -> dict:
    """What `search` and `train` start from (arguments as theirs), as a dict: "train" and
    "validation" data (the split held out), the budget "device", the "space" and the "width"
    and "resolution" stage 1 chose in it, "stage1" (its result, or None)."""
    train_data, validation_data, size, channels, classes = _data(
        train_data, validation_data, validation_split, seed)
    dev = budget_device(device, sram, flash)
    base, width, resolution, stage1 = _choose_space(dev, size, channels, classes, space,
                                                    resolutions, seed, verbose != 0)
    return dict(train=train_data, validation=validation_data, device=dev, space=base,
                width=width, resolution=resolution, stage1=stage1)


def _supernet(plan, epochs, time_budget, learning_rate, batch_size, subnets, augment, folder,
              overwrite, seed, verbose):
    from .supernet import Supernet, train_supernet

    meta = {"width_mult": plan["width"], "resolution": plan["resolution"],
            "space": dataclasses.asdict(plan["space"])}
    net = Supernet(plan["space"], plan["width"], plan["resolution"])
    weights, described = folder / "supernet.weights.h5", folder / "supernet.json"
    if not overwrite and weights.is_file() and described.is_file() and \
            json.loads(described.read_text()) == json.loads(json.dumps(meta)):
        net.load_weights(weights)  # trained before for this very space
        return net
    folder.mkdir(parents=True, exist_ok=True)
    train_supernet(net, plan["train"], plan["validation"], epochs=epochs,
                   time_budget=time_budget, learning_rate=learning_rate,
                   batch_size=batch_size, subnets=subnets, augment=augment, seed=seed,
                   backup_dir=folder / "supernet_backup", verbose=verbose)
    net.save_weights(weights)
    described.write_text(json.dumps(meta, indent=1))
    return net


def search(train_data, validation_data=None, *, device=None, sram=None, flash=None,
           macs: int | None = None, latency_ms: float | None = None, patch=None,
           stream_input: bool = False, space=None, resolutions=None, epochs: int = 30,
           time_budget: float | None = None, time_shares: tuple[float, float] = TIME_SHARES,
           max_trials: int = 100, finetune_epochs: int | None = None,
           learning_rate: float = 3e-3,
           finetune_learning_rate: float | None = None, batch_size: int = 128,
           subnets: int = 4, augment=None, validation_split: float = 0.1,
           directory="tinynas", project_name="search", overwrite: bool = False,
           seed: int = 0, verbose="auto"):
    """Search a network for `device` (or `sram=` / `flash=`) on `train_data`; a SearchResult.

    `train_data`, `validation_data`: (images, labels) arrays (a validation split of 10%, at
    most 5,000 images, is held out when none is given) or `tf.data.Dataset`s; images of any
    size, grey or colour, uint8 or float in [0, 1]; labels are class indices.
    Budget: the device's SRAM (arena + the firmware's stack reserve) and Flash (model data +
    code), optionally `macs`, `latency_ms` (Cortex-M speed model), `patch="auto"`
    (patch-based inference, MCUNetV2) and `stream_input`.
    `space`: None (stage 1 picks a width and resolution), a SearchSpace (stage 1 within it;
    one width and resolution: that space). `resolutions`: stage 1's candidates.
    Learning rates: the peaks of cosine decays to zero, `learning_rate` for the supernet and
    `finetune_learning_rate` for the chosen subnet (default the same; MCUNetV2's tenth suits
    a supernet trained for long, see TIME_SHARES for what it costs under a budget of minutes).
    Effort: `epochs` of supernet training, `max_trials` subnets scored, `finetune_epochs`
    (default 3); or `time_budget` seconds for the whole search, split by `time_shares`
    (supernet, fine-tuning; default 40% and 50%, the rest the trials), where epochs and
    trials are maxima and fine-tuning, unless `finetune_epochs` is given, lasts its share.
    `directory` / `project_name` / `overwrite` as keras-tuner: a search resumes from what is
    there.
    """
    from keras_tuner.src.distribute import utils as dist_utils

    from .oracle import TinyNASOracle
    from .tuner import SupernetTuner

    start = time.monotonic()
    supernet_share, finetune_share = time_shares
    if not (0 < supernet_share and 0 <= finetune_share and supernet_share + finetune_share < 1):
        raise ValueError(f"time_shares {time_shares}: the supernet's and fine-tuning's shares "
                         "must be > 0 and >= 0 and leave time for the trials (sum < 1)")
    share = (lambda part: None if time_budget is None else part * time_budget)  # noqa: E731
    plan = plan_search(train_data, validation_data, device, sram, flash, space, resolutions,
                       validation_split, seed, verbose)
    r = plan["resolution"]
    oracle = TinyNASOracle(plan["space"], plan["width"], r, device=plan["device"], macs=macs,
                           latency_ms=latency_ms, patch=patch, stream_input=stream_input,
                           max_trials=max_trials, seed=seed)  # checks the budget before training
    folder = _project(directory, project_name)
    chief = dist_utils.has_chief_oracle() and dist_utils.is_chief_oracle()
    net = None if chief else _supernet(plan, epochs, share(supernet_share), learning_rate,
                                       batch_size, subnets, augment, folder, overwrite, seed,
                                       verbose)
    calibration, validation = evaluation_arrays(plan, batch_size)
    tuner = SupernetTuner(oracle, net, calibration, validation, batch_size=batch_size,
                          directory=directory, project_name=project_name,
                          overwrite=overwrite and not chief)
    if time_budget is not None:
        tuner.deadline = start + time_budget * (1 - finetune_share)
    tuner.progress = verbose != 0
    tuner.search(verbose=False)  # the progress bar, not keras-tuner's table of every trial
    if dist_utils.has_chief_oracle() and not chief:
        return None  # a worker: its trials are in the oracle
    if net is None:  # the chief: the workers' supernet, from the project directory
        net = _supernet(plan, epochs, None, learning_rate, batch_size, subnets, augment,
                        folder, False, seed, verbose)
        tuner.supernet = net
    trials = SearchResult.trials_of(tuner)
    if not trials:
        raise RuntimeError("the search finished without a completed trial; see the log above")
    best = max(trials, key=lambda t: t["val_accuracy"])
    arch = oracle.arch(best["values"])
    model = tuner.load_model_for(arch)
    before = best["val_accuracy"]  # scored inside the supernet as a trial
    if time_budget is not None and finetune_share == 0:
        finetune_epochs = 0
    elif finetune_epochs is None:
        finetune_epochs = 3 if time_budget is None else 1000  # then its share of the time ends it
    after = train_model(model, plan, epochs=finetune_epochs,
                        learning_rate=finetune_learning_rate or learning_rate,
                        batch_size=batch_size, augment=augment,
                        time_budget=share(finetune_share), seed=seed, verbose=verbose)
    return SearchResult(arch=arch, model=model, cost=arch_cost(arch, plan["device"],
                                                               patch=patch,
                                                               stream_input=stream_input),
                        device=plan["device"], trials=trials,
                        accuracy={"supernet": before, "finetuned": after},
                        calibration=calibration[:256], stage1=plan["stage1"],
                        patch=patch, stream_input=stream_input,
                        minutes=(time.monotonic() - start) / 60)


def evaluation_arrays(plan: dict, batch_size: int = 128):
    """What a SupernetTuner scores subnets with: the calibration images (20 batches of the
    training images) and the validation (images, labels), prepared for the plan's
    resolution."""
    from .data import as_arrays

    r, channels = plan["resolution"], plan["space"].input_channels
    calibration = as_arrays(plan["train"], r, channels, limit=20 * batch_size)[0]
    return calibration, as_arrays(plan["validation"], r, channels)


def train_model(model, plan, *, epochs: int, learning_rate: float, batch_size: int = 128,
                augment=None, time_budget: float | None = None, seed: int = 0,
                verbose="auto") -> float:
    """Train a Keras classifier (a subnet to fine-tune, or a network from scratch) on the
    plan's training images at its own input resolution: Adam, cosine decay to zero at the
    end of `epochs` or of `time_budget` seconds, whichever comes first; then its batch norm
    recalibrated on 20 batches of training images. Its validation accuracy."""
    import keras

    from .data import as_arrays, image_dataset
    from .keras_model import recalibrate_batch_norm
    from .supernet.train import CosineDecayToEnd, TimeBudget

    r, c = int(model.input_shape[1]), int(model.input_shape[3])
    train = image_dataset(plan["train"], r, c, batch_size=batch_size, shuffle=True, seed=seed,
                          augment=augment)
    val = image_dataset(plan["validation"], r, c, batch_size=500)
    if epochs > 0:
        steps = int(train.cardinality()) * epochs
        schedule = CosineDecayToEnd(learning_rate, steps)
        model.compile(keras.optimizers.Adam(schedule),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], jit_compile=False)
        callbacks = [TimeBudget(time_budget, schedule)] if time_budget else []
        model.fit(train, epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False)
        recalibrate_batch_norm(model, as_arrays(plan["train"], r, c,
                                                limit=20 * batch_size)[0])
    else:
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], jit_compile=False)
    return float(model.evaluate(val, verbose=0, return_dict=True)["accuracy"])

