"""The weight-sharing supernet of one (width multiplier, resolution) space.

`Supernet(space, width_mult, resolution)` holds the largest network of the space: every stage
at its deepest, every block at the largest expansion ratio and kernel size. A subnet (an
`Arch` of the space) runs on slices of those weights:

- elastic depth: a stage of depth d runs its first d blocks (the others are residual blocks,
  skipped as identities);
- elastic expansion: a block of ratio e uses the first in x e channels of its expansion (after
  `sort_channels`, the most important ones);
- elastic kernel size: the largest kernel's centre, transformed (`layers.ElasticDepthwise`);
- elastic resolution (`resolution` given as several values): the input is resized in the
  graph to the subnet's resolution.

A subnet's choices go in as a vector of ints (`SearchSpace.choices()` order), so one traced
graph runs them all. `extract(arch)` writes the subnet's weights into the plain Keras model of
`search.build_keras` (Conv2D, DepthwiseConv2D, BatchNormalization, ReLU, Add, pooling, Dense):
that model converts to int8 and to C like any other. Batch-norm statistics depend on the
subnet: `recalibrate(arch, images)` sets them from a few batches before a subnet is evaluated or
extracted (without it, subnets are near chance).

How it trains (`compile`, `fit`, `train_step`: the sandwich rule) is `train.SandwichTraining`;
this module is the network.
"""
from __future__ import annotations

import collections
import dataclasses
import random
from typing import Mapping, Sequence

import numpy as np

from ..keras_model import build_keras
from ..space import Arch, SearchSpace
from .layers import ElasticBatchNorm, ElasticConv, ElasticDepthwise, graph_options, keras, tf
from .train import SandwichTraining

__all__ = ["Supernet"]


class _Block:
    """One block position of a stage: expansion (absent at ratio 1), depthwise, projection."""

    def __init__(self, net, name, cin, out, stride, kernels, expands):
        self.name, self.cin, self.out, self.stride = name, cin, out, stride
        self.kernels, self.expands = tuple(kernels), tuple(expands)
        mid = cin * max(expands)
        self.expand = None
        if max(expands) > 1:
            if min(expands) == 1:
                raise ValueError("an elastic expansion ratio may not include 1 (MBConv1 has "
                                 "no expansion layer to skip)")
            self.expand = ElasticConv(cin, mid, name=f"{name}_expand")
            self.expand_bn = ElasticBatchNorm(mid, name=f"{name}_expand_bn")
        self.dw = ElasticDepthwise(mid, kernels, stride, name=f"{name}_dw")
        self.dw_bn = ElasticBatchNorm(mid, name=f"{name}_dw_bn")
        self.project = ElasticConv(mid, out, name=f"{name}_project")
        self.residual = stride == 1 and cin == out
        self.project_bn = ElasticBatchNorm(out, "zeros" if self.residual else "ones",
                                           name=f"{name}_project_bn")
        for layer in self.layers():
            setattr(net, layer.name, layer)  # tracked by the Keras model

    def layers(self):
        return [layer for layer in (self.expand, getattr(self, "expand_bn", None), self.dw,
                                    self.dw_bn, self.project, self.project_bn) if layer]

    def forward(self, x, kernel, expand, mode, step):
        y = x
        if self.expand is not None:
            y = self.expand.forward(y, self.cin * expand)
            y = tf.nn.relu6(self.expand_bn.forward(y, mode, step))
        y = tf.nn.relu6(self.dw_bn.forward(self.dw.forward(y, kernel), mode, step))
        y = self.project_bn.forward(self.project.forward(y, self.out), mode, step)
        return x + y if self.residual else y


class Supernet(SandwichTraining, keras.Model):
    """The largest network of `space` at `width_mult`, running any of its subnets.

    `resolution`: one resolution, or several (elastic resolution; the training data come at
    the largest and each subnet's batch is resized in the graph). The space's `classes` and
    `input_channels` size the classifier and the first convolution.
    """

    def __init__(self, space: SearchSpace, width_mult: float, resolution: int | Sequence[int],
                 *, name: str = "supernet", **kwargs):
        super().__init__(name=name, **kwargs)
        resolutions = (resolution,) if isinstance(resolution, (int, np.integer)) else resolution
        self.space = dataclasses.replace(space, widths=(float(width_mult),),
                                         resolutions=tuple(sorted(int(r) for r in resolutions)))
        self.width_mult = float(width_mult)
        self.choice_names = tuple(self.space.choices())
        self.choice_options = tuple(self.space.choices().values())
        reference = self.space.largest(self.width_mult, self.max_resolution)
        self.input_channels = reference.input_channels
        self.first = ElasticConv(reference.input_channels, reference.first_conv,
                                 reference.first_kernel, reference.first_stride, name="first")
        self.first_bn = ElasticBatchNorm(reference.first_conv, name="first_bn")
        self.stages: list[list[_Block]] = []
        channels = reference.first_conv
        for i, stage in enumerate(reference.stages):
            kernels, expands = ((3,), (1,)) if i == 0 else (space.kernels, space.expands)
            blocks = []
            for j in range(stage.depth):
                blocks.append(_Block(self, f"s{i}_b{j}", channels, stage.out,
                                     stage.stride if j == 0 else 1, kernels, expands))
                channels = stage.out
            self.stages.append(blocks)
        self.feature_mix = None
        if reference.feature_mix:
            self.feature_mix = ElasticConv(channels, reference.feature_mix, name="feature_mix")
            self.feature_mix_bn = ElasticBatchNorm(reference.feature_mix, name="feature_mix_bn")
            channels = reference.feature_mix
        self.classifier = keras.layers.Dense(reference.classes, name="classifier")
        self.classifier.build((None, channels))
        #: the subnet `call` runs (and so `predict` and `evaluate`): the largest at first
        self.active = self.add_weight(shape=(len(self.choice_names),), dtype="int32",
                                      trainable=False, name="active_subnet",
                                      initializer=keras.initializers.Constant(
                                          self.encode(reference)))
        self._calibration_step = tf.Variable(0, trainable=False, dtype=tf.int64)
        self._run = self._calibrate = None
        #: how often each graph was traced (a retrace shows up here); set past Keras'
        #: attribute tracking, which would turn the Counter into a plain tracked dict
        object.__setattr__(self, "traces", collections.Counter())
        self.built = True  # every weight exists: their shapes do not depend on the input

    # -- the space ---------------------------------------------------------------------------

    @property
    def resolutions(self) -> tuple[int, ...]:
        return self.space.resolutions

    @property
    def max_resolution(self) -> int:
        return self.space.resolutions[-1]

    def largest(self) -> Arch:
        return self.space.largest(self.width_mult, self.max_resolution)

    def smallest(self) -> Arch:
        return self.space.smallest(self.width_mult, self.resolutions[0])

    def sample(self, rng: random.Random | None = None) -> Arch:
        """A subnet drawn uniformly: depths, kernels, expansions and resolution."""
        rng = rng or random.Random()
        return self.space.sample(self.width_mult, rng.choice(self.resolutions), rng)

    def encode(self, arch: Arch) -> list[int]:
        """The choice vector of a subnet (`SearchSpace.choices()` order)."""
        values = self.space.values(self._check(arch))
        return [values[name] for name in self.choice_names]

    def decode(self, vector) -> Arch:
        values = dict(zip(self.choice_names, (int(v) for v in vector)))
        return self.space.arch(values, self.width_mult, self.max_resolution)

    def _check(self, arch: Arch) -> Arch:
        reference = self.largest()
        same = dataclasses.replace(arch, stages=reference.stages, resolution=reference.resolution,
                                   name=reference.name, width_mult=reference.width_mult)
        if same != reference or [s.out for s in arch.stages] != [s.out for s in reference.stages]:
            raise ValueError(f"{arch.label()}: not a subnet of this supernet (widths, classes, "
                             f"input channels or first conv differ from {reference.label()})")
        if arch.resolution not in self.resolutions:
            raise ValueError(f"{arch.label()}: resolution {arch.resolution} is not one of the "
                             f"supernet's {list(self.resolutions)}")
        return arch

    # -- forward passes ----------------------------------------------------------------------

    def forward(self, x, choices: Mapping, mode: str = "inference"):
        """Logits of the subnet given by `choices` (name -> Python int: a static graph; or
        name -> scalar tensor). `mode`: see `layers.MODES`."""
        step = self._calibration_step
        if "resolution" in choices:
            r = choices["resolution"]
            if not isinstance(r, (int, np.integer)) or x.shape[1] != r or x.shape[2] != r:
                x = tf.image.resize(x, tf.stack([r, r]))
        x = tf.nn.relu6(self.first_bn.forward(self.first.forward(x, self.first.max_out),
                                              mode, step))
        for i, blocks in enumerate(self.stages):
            for j, block in enumerate(blocks):
                kernel = choices.get(f"s{i}_b{j}_kernel", block.kernels[0])
                expand = choices.get(f"s{i}_b{j}_expand", block.expands[0])
                depth = choices.get(f"s{i}_depth", len(blocks))
                if isinstance(depth, (int, np.integer)):
                    if j < depth:
                        x = block.forward(x, kernel, expand, mode, step)
                else:  # a block beyond the stage's depth is a skipped residual block
                    x = tf.cond(j < depth,
                                lambda b=block, x=x, k=kernel, e=expand: b.forward(
                                    x, k, e, mode, step),
                                lambda x=x: tf.identity(x))
        if self.feature_mix is not None:
            x = self.feature_mix.forward(x, self.feature_mix.max_out)
            x = tf.nn.relu6(self.feature_mix_bn.forward(x, mode, step))
        return self.classifier(tf.reduce_mean(x, axis=(1, 2)))

    def choices_of(self, vector) -> dict:
        """name -> scalar tensor, from a choice vector tensor."""
        return {name: vector[k] for k, name in enumerate(self.choice_names)}

    def static_choices(self, arch: Arch) -> dict:
        return dict(zip(self.choice_names, self.encode(arch)))

    def call(self, inputs, training=False):
        """The active subnet (`set_active`): batch statistics when training, else the moving
        ones."""
        return self.forward(inputs, self.choices_of(self.active.value),
                            "train" if training else "inference")

    def set_active(self, arch: Arch) -> None:
        """The subnet `call`, `predict` and `evaluate` run (no retracing)."""
        self.active.assign(np.array(self.encode(arch), np.int32))

    def run(self, images, arch: Arch):
        """Logits of subnet `arch` in inference mode, one traced graph for every subnet."""
        if self._run is None:
            def run(x, vector):
                self.traces["run"] += 1
                return self.forward(x, self.choices_of(vector))
            self._run = tf.function(run, reduce_retracing=True)
        with graph_options():
            return self._run(tf.convert_to_tensor(images, tf.float32),
                             tf.constant(self.encode(arch), tf.int32))

    # -- batch-norm recalibration ------------------------------------------------------------

    def recalibrate(self, arch: Arch, images, *, batches: int = 20, batch_size: int = 128):
        """Set the batch-norm statistics of `arch` to their average over `batches` batches of
        `images` (float images at the supernet's largest resolution, or a dataset of them, or
        of (images, labels)). Needed before a subnet is evaluated or extracted."""
        if self._calibrate is None:
            def calibrate(x, vector):
                self.traces["recalibrate"] += 1
                return self.forward(x, self.choices_of(vector), "calibrate")
            self._calibrate = tf.function(calibrate, reduce_retracing=True)
        vector = tf.constant(self.encode(arch), tf.int32)
        self._calibration_step.assign(0)
        count = 0
        with graph_options():
            for x in _batches(images, batch_size, batches):
                self._calibrate(x, vector)
                self._calibration_step.assign_add(1)
                count += 1
        if count == 0:
            raise ValueError("recalibrate: no images given")
        return count

    # -- extraction --------------------------------------------------------------------------

    def extract(self, arch: Arch):
        """The plain functional Keras model of subnet `arch` (`search.build_keras`) with the
        supernet's weights and current batch-norm statistics (`recalibrate` first)."""
        values = self.space.values(self._check(arch))
        model = build_keras(arch)
        get = model.get_layer
        get("first_conv").set_weights([self.first.weights_for(arch.input_channels,
                                                               arch.first_conv)])
        get("first_bn").set_weights(self.first_bn.weights_for(arch.first_conv))
        index = 0
        for i, blocks in enumerate(self.stages):
            depth = values.get(f"s{i}_depth", len(blocks))
            for j, block in enumerate(blocks[:depth]):
                kernel = values.get(f"s{i}_b{j}_kernel", block.kernels[0])
                mid = block.cin * values.get(f"s{i}_b{j}_expand", block.expands[0])
                name = f"block{index}"
                if block.expand is not None:
                    get(f"{name}_expand_conv").set_weights(
                        [block.expand.weights_for(block.cin, mid)])
                    get(f"{name}_expand_bn").set_weights(block.expand_bn.weights_for(mid))
                get(f"{name}_dw_dw").set_weights([block.dw.weights_for(kernel, mid)])
                get(f"{name}_dw_bn").set_weights(block.dw_bn.weights_for(mid))
                get(f"{name}_project_conv").set_weights(
                    [block.project.weights_for(mid, block.out)])
                get(f"{name}_project_bn").set_weights(block.project_bn.weights_for(block.out))
                index += 1
        if self.feature_mix is not None:
            get("feature_mix_conv").set_weights([self.feature_mix.weights_for(
                self.feature_mix.max_in, self.feature_mix.max_out)])
            get("feature_mix_bn").set_weights(self.feature_mix_bn.weights_for(
                self.feature_mix.max_out))
        get("classifier").set_weights(self.classifier.get_weights())
        return model


def _batches(images, batch_size: int, limit: int):
    """Up to `limit` float32 batches from an array or a dataset (of images or (x, y) pairs)."""
    if isinstance(images, tf.data.Dataset):
        for item in images.take(limit):
            yield item[0] if isinstance(item, (tuple, list)) else item
        return
    images = np.asarray(images, np.float32)
    for start in range(0, min(len(images), limit * batch_size), batch_size):
        yield tf.constant(images[start:start + batch_size])
