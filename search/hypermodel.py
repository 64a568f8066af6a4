"""The keras-tuner HyperModel of a TinyNAS space: a trial trains its architecture from scratch.

The standard keras-tuner way, for those who do not want a supernet (small data, or a final
comparison of a few candidates):

    >>> import keras_tuner
    >>> from tflm_mcunet.search import HyperModel, SearchSpace, TinyNASOracle   # doctest: +SKIP
    >>> space = SearchSpace(classes=10, input_channels=1)
    >>> oracle = TinyNASOracle(space, 0.3, [48, 64], sram="64K", flash="256K", max_trials=20)
    >>> tuner = keras_tuner.Tuner(oracle=oracle, hypermodel=HyperModel(space, 0.3, [48, 64]),
    ...                           directory="nas", project_name="fmnist")
    >>> tuner.search(x, y, validation_data=(xv, yv), epochs=5)
    >>> tuner.results_summary()
    >>> arch = oracle.arch(tuner.get_best_hyperparameters()[0])

`build(hp)` declares the space's choices in `hp` (the same `Choice`s as the oracle's), builds
`search.build_keras` of their Arch and compiles it: Adam, sparse categorical cross-entropy on
the logits, accuracy. The images fed to `fit` must have the architecture's resolution: with
several resolutions, resize them in the data pipeline (`HyperModel.fit` can be overridden).
`fit` recalibrates batch norm on the training images before each validation: after a few
epochs the moving averages lag the weights, and the candidates would be ranked by them
(measured: MobileNetV2 0.25 after 5 epochs, 10% validation accuracy, 78% recalibrated).
"""
from __future__ import annotations

from ..quiet_tf import import_tf
from .evolution import Genes, narrow_space
from .keras_model import build_keras, recalibrating_callback
from .space import Arch, SearchSpace

import_tf()  # keras-tuner imports TensorFlow: silence its start-up noise first
import keras_tuner  # noqa: E402

__all__ = ["HyperModel"]


class HyperModel(keras_tuner.HyperModel):
    """Keras models of `space` at `width_mult` and `resolutions` (as `TinyNASOracle`'s),
    compiled with Adam at `learning_rate`; `seed` seeds the initial weights."""

    def __init__(self, space: SearchSpace, width_mult: float, resolutions=None, *,
                 learning_rate: float = 1e-3, seed: int | None = None, name: str = "tinynas",
                 tunable: bool = True):
        super().__init__(name=name, tunable=tunable)
        self.genes = Genes(narrow_space(space, width_mult, resolutions))
        self.learning_rate, self.seed = learning_rate, seed

    def declare_hyperparameters(self, hp):
        self.genes.declare(hp)

    def arch(self, hp) -> Arch:
        """The Arch of HyperParameters (or of a dict of choice values)."""
        return self.genes.arch(self.genes.of(hp))

    def build(self, hp):
        import keras

        values = self.genes.declare(hp)
        model = build_keras(self.arch(values), seed=self.seed)
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):
        """`model.fit(*args, **kwargs)` with batch norm recalibrated on the training images
        (`x`, an array or a dataset) before every validation."""
        x = kwargs["x"] if "x" in kwargs else args[0] if args else None
        callbacks = list(kwargs.pop("callbacks", None) or [])
        if x is not None:
            callbacks.append(recalibrating_callback(x, batch_size=kwargs.get("batch_size") or 32))
        return model.fit(*args, callbacks=callbacks, **kwargs)
