"""Training the supernet: `train_supernet(supernet, train_data, ...)`, Keras' `fit` underneath.

How it trains, and why (measured on 2 CPU cores, Fashion-MNIST, w0.3 at 32 x 32; the numbers
are in the supernet benchmark, `python -m tflm_mcunet.benchmarks.supernet`):

- The sandwich rule: every step trains the largest subnet (cross-entropy on the labels; its
  pass also keeps the batch-norm moving statistics, so the largest can be validated without
  recalibration), the smallest and `subnets - 2` random ones (cross-entropy plus distillation
  from the largest's predictions), and applies their averaged gradients. The largest and the
  smallest run as static graphs; the random ones share one traced loop body, their choices
  drawn in the graph from (seed, step): one trace for the whole run, no retracing.
  Progressive shrinking (Once-for-All: the largest alone, then kernel, depth, expansion phases)
  needs a schedule and its own epoch budget per phase; on a budget of minutes the sandwich
  trains every subnet from the first step.
- Keras conventions: `fit` with a progress bar, `callbacks` (TensorBoard, ModelCheckpoint with
  `save_weights_only=True`, EarlyStopping on `val_accuracy`, which is the largest subnet's),
  a `History`; `backup_dir` resumes an interrupted run where it stopped (Keras'
  BackupAndRestore: weights, optimizer state and step, so the subnets drawn continue as well).
- Several devices or machines: build the supernet inside `strategy.scope()` of any
  `tf.distribute.Strategy`; `fit` runs each step on every replica and sums the gradients.
- Grappler's meta-optimizer is off while the supernet's graphs run (`layers.graph_options`).
"""
from __future__ import annotations

import math
import time

from ..data import image_dataset
from .layers import graph_options, keras, tf

__all__ = ["train_supernet", "SandwichTraining", "CosineDecayToEnd", "TimeBudget",
           "RecalibrateForValidation"]


class CosineDecayToEnd(keras.optimizers.schedules.LearningRateSchedule):
    """Cosine decay from `learning_rate` to zero at step `steps`; `steps` is a variable, so
    that a time budget can bring the end forward once the speed of a step is known."""

    def __init__(self, learning_rate: float, steps: int):
        self.learning_rate = float(learning_rate)
        self.steps = tf.Variable(float(max(steps, 1)), trainable=False, dtype=tf.float32)

    def __call__(self, step):
        progress = tf.minimum(tf.cast(step, tf.float32) / self.steps, 1.0)
        return self.learning_rate * 0.5 * (1.0 + tf.cos(math.pi * progress))

    def get_config(self):
        return {"learning_rate": self.learning_rate, "steps": float(self.steps.numpy())}


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `seconds` have passed, and ends the learning-rate schedule then:
    from the speed of the steps after the first (which includes the trace), it predicts the
    last step and moves `schedule.steps` there (never later than planned)."""

    def __init__(self, seconds: float, schedule: CosineDecayToEnd):
        super().__init__()
        self.seconds, self.schedule = float(seconds), schedule
        self.planned = float(schedule.steps.numpy())

    def on_train_begin(self, logs=None):
        self.start, self.first = time.monotonic(), None

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        step = int(self.model.optimizer.iterations.numpy())
        if self.first is None:
            self.first = (now, step)
        elif step - self.first[1] >= 10:
            per_step = (now - self.first[0]) / (step - self.first[1])
            left = max(self.seconds - (now - self.start), 0.0) / per_step
            self.schedule.steps.assign(min(self.planned, step + left))
        if now - self.start >= self.seconds:
            self.model.stop_training = True


class RecalibrateForValidation(keras.callbacks.Callback):
    """Before `fit` scores the validation data: the active subnet's batch-norm statistics
    recalibrated on `batches` batches of `images` (a dataset of training batches). The moving
    averages kept while training lag the shared weights far behind (measured after 46 steps:
    the depthwise layers' variances 5-20x too large, 9% validation accuracy against 72%
    recalibrated), so, as OFA and MCUNet do, every evaluation recalibrates first."""

    def __init__(self, images, batches: int = 20):
        super().__init__()
        self.images, self.batches = images, batches

    def on_test_begin(self, logs=None):
        net = self.model
        net.recalibrate(net.decode(net.active.numpy()), self.images, batches=self.batches)


class SandwichTraining:
    """How the supernet trains, as Keras expects of a model: `compile`, `train_step` (the
    sandwich rule), `test_step`, and `fit` / `evaluate` / `predict` without Grappler. Mixed
    into `Supernet` (which gives `forward`, `largest`, `smallest`, `static_choices`,
    `choices_of`, `choice_names` and `choice_options`)."""

    def compile(self, optimizer="adam", *, subnets: int = 4, distillation: float = 1.0,
                label_smoothing: float = 0.0, seed: int = 0, **kwargs):
        """Keras' compile, plus how `fit` trains: each step runs `subnets` subnets on the batch
        (>= 2: the largest, the smallest, then random ones) and averages their gradients; the
        others also learn the largest's predictions (in-place distillation, weight
        `distillation`). Subnets are drawn from (`seed`, step): reproducible, the same on every
        replica, and resumed where they stopped. No XLA (30x slower for these graphs)."""
        if subnets < 1:
            raise ValueError(f"subnets must be >= 1, not {subnets}")
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer, **kwargs)
        self.sandwich = dict(subnets=int(subnets), distillation=float(distillation),
                             label_smoothing=float(label_smoothing), seed=int(seed))
        self._trackers = {name: keras.metrics.Mean(name=name) for name in
                          ("loss", "subnet_loss")}
        self._trackers["accuracy"] = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        with self.distribute_strategy.scope():  # its slots now, not inside the first trace
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return list(getattr(self, "_trackers", {}).values())

    def _cross_entropy(self, labels, logits):
        classes = tf.shape(logits)[-1]
        target = tf.one_hot(labels, classes)
        smoothing = self.sandwich["label_smoothing"]
        if smoothing:
            target = target * (1.0 - smoothing) + smoothing / tf.cast(classes, tf.float32)
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(target, logits))

    def _random_choices(self, step, count: int):
        """A (count, choices) int32 matrix of subnets drawn uniformly from (seed, step)."""
        u = tf.random.stateless_uniform((count, len(self.choice_names)), seed=tf.stack(
            [tf.constant(self.sandwich["seed"], tf.int64), tf.cast(step, tf.int64)]))
        columns = [tf.gather(tf.constant(options, tf.int32),
                             tf.cast(u[:, n] * len(options), tf.int32))
                   for n, options in enumerate(self.choice_options)]
        return tf.stack(columns, axis=1)

    def _subnet_gradients(self, x, labels, choices, teacher, mode="train"):
        """(loss, gradients) of one subnet: cross-entropy plus distillation from `teacher`."""
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.forward(x, choices, mode)
            loss = self._cross_entropy(labels, logits)
            if teacher is not None and self.sandwich["distillation"]:
                soft = -tf.reduce_mean(tf.reduce_sum(teacher * tf.nn.log_softmax(logits), -1))
                loss += self.sandwich["distillation"] * soft
        return loss, logits, _dense(tape.gradient(loss, variables), variables)

    def train_step(self, data):
        self.traces["train_step"] += 1  # Python runs only while TensorFlow traces
        x, labels = data[0], tf.cast(tf.reshape(data[1], (-1,)), tf.int32)
        n = self.sandwich["subnets"]
        loss, logits, grads = self._subnet_gradients(
            x, labels, self.static_choices(self.largest()), None, "train_update")
        teacher = tf.stop_gradient(tf.nn.softmax(logits))
        subnet_loss = tf.constant(0.0)
        if n > 1:
            subnet_loss, _, more = self._subnet_gradients(
                x, labels, self.static_choices(self.smallest()), teacher)
            grads = [g + h for g, h in zip(grads, more)]
        if n > 2:
            # the random subnets in a loop: one traced body (no retracing, a shorter trace)
            drawn = self._random_choices(self.optimizer.iterations, n - 2)

            def body(k, total, *acc):
                part, _, more = self._subnet_gradients(x, labels, self.choices_of(drawn[k]),
                                                       teacher)
                return (k + 1, total + part, *[a + b for a, b in zip(acc, more)])

            _, subnet_loss, *grads = tf.while_loop(
                lambda k, *_: k < n - 2, body, (tf.constant(0), subnet_loss, *grads),
                parallel_iterations=1)
        # the mean over the subnets; replicas' gradients are summed, so divide by them too
        scale = 1.0 / (n * tf.distribute.get_strategy().num_replicas_in_sync)
        self.optimizer.apply_gradients(zip([g * scale for g in grads], self.trainable_variables))
        self._trackers["loss"].update_state(loss)
        self._trackers["subnet_loss"].update_state(subnet_loss / max(n - 1, 1))
        self._trackers["accuracy"].update_state(labels, logits)
        return {name: t.result() for name, t in self._trackers.items()}

    def fit(self, *args, **kwargs):
        """Keras' fit (the sandwich rule: `compile`), without Grappler (`graph_options`)."""
        with graph_options():
            return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        with graph_options():
            return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        with graph_options():
            return super().predict(*args, **kwargs)

    def test_step(self, data):
        """Loss and accuracy of the active subnet (the largest while `fit` runs)."""
        x, labels = data[0], tf.cast(tf.reshape(data[1], (-1,)), tf.int32)
        logits = self(x, training=False)
        self._trackers["loss"].update_state(self._cross_entropy(labels, logits))
        self._trackers["accuracy"].update_state(labels, logits)
        return {name: self._trackers[name].result() for name in ("loss", "accuracy")}


def _dense(grads, variables):
    """Gradients with zeros for the variables a subnet does not use."""
    return [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(grads, variables)]


def train_supernet(supernet, train_data, validation_data=None, *, epochs: int = 1,
                   batch_size: int = 128, learning_rate: float = 2e-3, subnets: int = 4,
                   distillation: float = 1.0, label_smoothing: float = 0.0,
                   augment=None, callbacks=None, backup_dir=None, verbose="auto",
                   seed: int = 0, steps_per_epoch: int | None = None,
                   time_budget: float | None = None):
    """Train `supernet` by the sandwich rule; returns Keras' `History`.

    `train_data` / `validation_data`: (images, labels) arrays or `tf.data.Dataset`s of them,
    images of any size, grey or colour, uint8 or float in [0, 1] (`search.data.preprocess`
    resizes them to the supernet's largest resolution). Labels are class indices.
    `learning_rate`: Adam's, with a cosine decay to zero over all steps.
    `augment`: a function of a batch of images in [0, 1] (a Keras preprocessing layer, e.g.
    `keras.layers.RandomFlip("horizontal")`), applied to the training images only.
    `subnets`: per step (>= 2: the largest, the smallest, then random ones).
    `validation_data` is scored on the largest subnet (val_loss, val_accuracy), its batch
    norm recalibrated first (`RecalibrateForValidation`).
    `time_budget`: seconds; training stops when they are spent (`epochs` is then the most it
    runs) and the learning rate reaches zero there (`TimeBudget`).
    """
    r, c = supernet.max_resolution, supernet.input_channels
    train = image_dataset(train_data, r, c, batch_size=batch_size, shuffle=True, seed=seed,
                          augment=augment)
    val = None if validation_data is None else image_dataset(validation_data, r, c,
                                                             batch_size=batch_size)
    steps = steps_per_epoch or int(train.cardinality())
    if steps <= 0:
        raise ValueError("train_data: the number of batches per epoch is unknown; give "
                         "steps_per_epoch (or a dataset of known length)")
    with supernet.distribute_strategy.scope():  # the strategy the supernet was built in
        schedule = CosineDecayToEnd(learning_rate, steps * epochs)
        supernet.compile(keras.optimizers.Adam(schedule), subnets=subnets,
                         distillation=distillation, label_smoothing=label_smoothing, seed=seed)
    user_callbacks = list(callbacks or [])
    if time_budget is not None:
        user_callbacks.insert(0, TimeBudget(time_budget, schedule))
    if backup_dir is not None:
        user_callbacks.insert(0, keras.callbacks.BackupAndRestore(str(backup_dir)))
    if val is not None:
        user_callbacks.insert(0, RecalibrateForValidation(image_dataset(
            train_data, r, c, batch_size=batch_size, shuffle=True, seed=seed)))
    supernet.set_active(supernet.largest())
    return supernet.fit(train, validation_data=val, epochs=epochs,
                        steps_per_epoch=steps_per_epoch, callbacks=user_callbacks,
                        verbose=verbose, shuffle=False)  # (the dataset shuffles)
