"""TinyNAS stage 2's search as a keras-tuner Oracle: evolution under the device's budget.

Why an Oracle: keras-tuner already runs trials, stores them, resumes a search and spreads it
over machines (chief and workers); its maintainers keep new algorithms out of it, so ours lives
here. `TinyNASOracle` searches one (width, resolutions) space of a `SearchSpace` with the
evolution of Once-for-All / MCUNet (parents = the best trials, children half by mutation, half
by crossover), its choices declared as keras-tuner `Choice` hyperparameters in
`SearchSpace.choices()` order. Every candidate is costed with `search.cost` (the converter's own
planner: the peak SRAM and Flash of the code we generate) before it becomes a trial; one that
does not fit is never trained, only counted (`oracle.rejected`).

What keras-tuner's distributed mode asks of an oracle (see the project's notes): the chief runs
`create_trial` / `update_trial` / `end_trial` for every worker and hangs for good if one of them
raises, so none of them raises here: errors are logged and the search ends with STOPPED. It
never answers IDLE (keras-tuner busy-polls IDLE): evolution is steady-state, so a child is bred
from the trials finished so far while others still run. Values, state and metrics are plain
Python. Each proposal draws from a generator seeded with (seed, trial id), so a seeded search
proposes the same candidates for the same scores, also after a resume.

Run it distributed as any keras-tuner search: the same script on every machine, with
`KERASTUNER_ORACLE_IP` / `KERASTUNER_ORACLE_PORT` (the chief's address) and
`KERASTUNER_TUNER_ID` ("chief" on the one process that hosts the oracle and trains nothing,
a distinct id per worker, e.g. "tuner0", "tuner1"), all sharing one `directory`:

    KERASTUNER_TUNER_ID=chief  KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 python search.py
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 python search.py
    KERASTUNER_TUNER_ID=tuner1 KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 python search.py

A worker that dies in a trial keeps that trial open: start a worker with the same id and it
runs the trial again (the chief waits for it: it does not finish without it). On a worker,
`tuner.oracle` is keras-tuner's client: `TinyNASOracle.of(tuner.oracle)` gives the oracle.

(Just over 400 lines: one class whose methods keras-tuner calls, kept whole so that its
contract with keras-tuner reads in one place; the evolution's genetics live in evolution.py.)
"""
from __future__ import annotations

import logging
import math
import random

from ..converter.targets import DEFAULT_STACK_BYTES
from ..devices import parse_size, get_device, with_memory
from ..quiet_tf import import_tf
from .cost import Cost, cost as arch_cost
from .evolution import Genes, narrow_space
from .space import Arch, SearchSpace

import_tf()  # keras-tuner imports TensorFlow: silence its start-up noise first
import keras_tuner  # noqa: E402
from keras_tuner.engine.trial import Trial, TrialStatus  # noqa: E402

__all__ = ["COST_METRICS", "TinyNASOracle"]

log = logging.getLogger(__name__)

#: the cost figures every trial carries in `trial.metrics` (direction "min"; `Cost`'s names)
COST_METRICS = ("peak_sram_bytes", "flash_bytes", "macs")
#: spaces up to this many architectures are enumerated once random draws find nothing new
ENUMERATE_LIMIT = 20_000
#: costs kept (by genome); a search rarely costs more candidates
CACHE_SIZE = 100_000


def _objective(objective):
    """keras-tuner's objective, the cost figures' names understood (minimised)."""
    if isinstance(objective, list):
        return [_objective(o) for o in objective]
    if isinstance(objective, str) and objective in COST_METRICS:
        return keras_tuner.Objective(objective, "min")
    return objective


class TinyNASOracle(keras_tuner.Oracle):
    """Evolutionary search over `space` at `width_mult` and `resolutions` (the space's own when
    None) for architectures that fit the budget.

    Budget: `device` (a catalogue name, a "NAME:sram=..,flash=.." spec or a Device), with
    `sram` / `flash` (bytes or "64K"-style) overriding its memory, or alone; `macs` a MACs
    limit; `latency_ms` a limit of the invoke's time on the device (`Cost.latency_ms`: the
    Cortex-M speed model of `search.latency` at the device's clock); `stack_bytes` the stack
    reserved beside the arena (the firmware's default); `patch` and `stream_input` as
    `search.cost` (patch-based inference: the peak of the patch plan).
    Feasible: arena + stack <= SRAM, model data + code <= Flash, MACs <= `macs`, latency <=
    `latency_ms`.

    Evolution: the first `population` trials are random feasible candidates; later ones are
    children of the best `parents` completed trials (a fraction of `population`, or a count),
    half by mutation (each choice resampled with `mutation_prob`, the resolution with
    `resolution_mutation_prob`), half by crossover. No architecture is proposed twice. A
    proposal tries up to `max_tries` children, then as many random candidates (then, in a
    small space, every architecture left) before the search stops (logged).
    Other keyword arguments are keras-tuner's `Oracle`'s (`max_retries_per_trial`, ...).
    """

    def __init__(self, space: SearchSpace, width_mult: float, resolutions=None, *, device=None,
                 sram=None, flash=None, macs=None, latency_ms=None, stack_bytes=None, patch=None,
                 stream_input=False, objective="val_accuracy", max_trials=100,
                 population=None, parents=0.25, mutation_prob=0.1, resolution_mutation_prob=0.5,
                 max_tries=1000, seed=None, hyperparameters=None, **kwargs):
        self.genes = Genes(narrow_space(space, width_mult, resolutions))
        hp = hyperparameters if hyperparameters is not None else keras_tuner.HyperParameters()
        self.genes.declare(hp)
        super().__init__(objective=_objective(objective), max_trials=max_trials,
                         hyperparameters=hp, seed=seed, **kwargs)
        if seed is not None:
            self.seed = self._seed_state = int(seed)  # (keras-tuner draws one for seed=0)
        for name, p in (("mutation_prob", mutation_prob),
                        ("resolution_mutation_prob", resolution_mutation_prob)):
            if not 0 <= p <= 1:
                raise ValueError(f"{name} must be in [0, 1], not {p!r}")
        self.population = int(population or max(4, min(100, (max_trials or 400) // 4)))
        if not (isinstance(parents, float) and 0 < parents <= 1 or isinstance(parents, int)
                and parents >= 1):
            raise ValueError(f"parents must be a fraction in (0, 1] or a count >= 1, "
                             f"not {parents!r}")
        count = parents * self.population if isinstance(parents, float) else parents
        self.parents = max(1, min(self.population, round(count)))
        self.mutation_prob, self.resolution_mutation_prob = mutation_prob, resolution_mutation_prob
        self.max_tries = max(1, int(max_tries))
        self.device = get_device(device) if device is not None else None
        sram, flash = parse_size(sram, "sram"), parse_size(flash, "flash")
        if self.device is not None:
            self.device = with_memory(self.device, sram_bytes=sram, flash_bytes=flash)
            sram, flash = self.device.sram_bytes, self.device.flash_bytes
        self.sram_bytes, self.flash_bytes = sram, flash
        self.macs = int(macs) if macs else None
        self.latency_ms = float(latency_ms) if latency_ms else None
        if self.latency_ms is not None:  # the speed model needs a clock and whole layers
            if self.device is None or not self.device.clock_mhz:
                raise ValueError("latency_ms needs a device with a clock (a catalogue device, "
                                 "or a spec with clock_mhz=...)")
            if patch:
                raise ValueError("latency_ms is not modelled for patch-based inference: give "
                                 "one or the other")
        self.stack_bytes = DEFAULT_STACK_BYTES if stack_bytes is None else int(stack_bytes)
        self.patch, self.stream_input = patch, bool(stream_input)
        #: candidates turned down, by reason (counted at every attempt)
        self.rejected = {"infeasible": 0, "duplicate": 0}
        #: why the search stopped early (exhausted, nothing feasible, failures), or None
        self.stop_reason: str | None = None
        self._tried: set[tuple] = set()
        self._genomes: dict[str, tuple] = {}  # trial id -> genome
        self._costs: dict[tuple, Cost] = {}

    @staticmethod
    def of(oracle) -> "TinyNASOracle":
        """The TinyNASOracle behind a tuner's `oracle` (on a worker, keras-tuner's client)."""
        return getattr(oracle, "_oracle", oracle)

    # -- architectures and their cost ---------------------------------------------------------

    def arch(self, hyperparameters) -> Arch:
        """The Arch of a trial, its HyperParameters, or a dict of choice values."""
        return self.genes.arch(self.genes.of(hyperparameters))

    def cost(self, arch: Arch) -> Cost:
        """`search.cost` of `arch` with this oracle's device and patch options (cached)."""
        try:
            key = self.genes.genome(arch)
        except ValueError:  # not of this space: cost it, do not keep it
            return self._cost(arch)
        return self._cost_genome(key, arch)

    def _cost(self, arch):
        return arch_cost(arch, self.device, self.patch, stream_input=self.stream_input)

    def _cost_genome(self, genome, arch=None) -> Cost:
        found = self._costs.get(genome)
        if found is None:
            found = self._cost(arch or self.genes.arch(genome))
            if len(self._costs) >= CACHE_SIZE:
                del self._costs[next(iter(self._costs))]
            self._costs[genome] = found
        return found

    def violations(self, c: Cost) -> list[str]:
        """The limits `c` breaks, as sentences (empty: it fits)."""
        out = []
        if self.sram_bytes is not None and c.peak_sram_bytes + self.stack_bytes > self.sram_bytes:
            out.append(f"SRAM {c.peak_sram_bytes:,} B + {self.stack_bytes:,} B stack > "
                       f"{self.sram_bytes:,} B")
        if self.flash_bytes is not None and c.flash_bytes > self.flash_bytes:
            out.append(f"Flash {c.flash_bytes:,} B (code included) > {self.flash_bytes:,} B")
        if self.macs is not None and c.macs > self.macs:
            out.append(f"MACs {c.macs:,} > {self.macs:,}")
        if self.latency_ms is not None and c.latency_ms > self.latency_ms:
            out.append(f"latency {c.latency_ms:.1f} ms > {self.latency_ms:g} ms")
        return out

    def feasible(self, arch: Arch) -> bool:
        return not self.violations(self.cost(arch))

    # -- proposing candidates (runs on the chief: never raises) -------------------------------

    def populate_space(self, trial_id):
        try:
            return self._propose(str(trial_id))
        except Exception as e:  # a bug here must not hang a distributed search
            log.exception("TinyNAS oracle: proposing trial %s failed", trial_id)
            return self._stop(f"proposing trial {trial_id} failed: {e!r}")

    def _stop(self, reason: str) -> dict:
        if self.stop_reason is None:
            self.stop_reason = reason
            log.warning("TinyNAS search stopped: %s", reason)
        return {"status": TrialStatus.STOPPED, "values": None}

    def _propose(self, trial_id: str) -> dict:
        if self.stop_reason is not None:
            return {"status": TrialStatus.STOPPED, "values": None}
        rng = random.Random(f"{self.seed}/{trial_id}")
        parents = self._parent_genomes() if len(self._tried) >= self.population else []
        makers = ([self._child] if parents else []) + [self._random]
        for make in makers:
            for _ in range(self.max_tries):
                genome = make(parents, rng)
                if self._accept(genome):
                    return self._running(trial_id, genome)
        if self.genes.count() <= ENUMERATE_LIMIT:
            left = [g for g in self.genes.enumerate() if g not in self._tried]
            rng.shuffle(left)
            for genome in left:
                if self._accept(genome):
                    return self._running(trial_id, genome)
            return self._stop(f"the search space is exhausted: its {self.genes.count():,} "
                              f"architectures were all tried ({len(self._tried):,}) or do not "
                              f"fit ({self._budget()})")
        return self._stop(f"no new feasible candidate in {self.max_tries * len(makers):,} tries"
                          f" ({self._budget()}; the smallest architecture: "
                          f"{'; '.join(self._smallest_violations()) or 'fits'}); rejected so "
                          f"far: {self.rejected}")

    def _running(self, trial_id, genome):
        self._tried.add(genome)
        self._genomes[trial_id] = genome
        return {"status": TrialStatus.RUNNING, "values": self.genes.values(genome)}

    def _accept(self, genome) -> bool:
        if genome in self._tried:
            self.rejected["duplicate"] += 1
            return False
        if self.violations(self._cost_genome(genome)):
            self.rejected["infeasible"] += 1
            return False
        return True

    def _random(self, parents, rng):
        return self.genes.random(rng)

    def _child(self, parents, rng):
        if len(parents) >= 2 and rng.random() < 0.5:
            a, b = rng.sample(parents, 2)
            return self.genes.crossover(a, b, rng)
        return self.genes.mutate(rng.choice(parents), rng, self.mutation_prob,
                                 self.resolution_mutation_prob)

    def _parent_genomes(self) -> list[tuple]:
        """The genomes of the best `parents` completed trials (ties: the earlier trial)."""
        order = {tid: k for k, tid in enumerate(self.start_order)}
        scored = []
        for tid, trial in self.trials.items():
            score = trial.score
            if trial.status != TrialStatus.COMPLETED or score is None or not math.isfinite(score):
                continue
            genome = self._genome(trial)
            if genome is not None:
                scored.append((-score if self.objective.direction == "max" else score,
                               order.get(tid, len(order)), genome))
        scored.sort(key=lambda item: item[:2])
        return [genome for _, _, genome in scored[:self.parents]]

    def _genome(self, trial):
        genome = self._genomes.get(trial.trial_id)
        if genome is None:
            try:
                genome = self._genomes[trial.trial_id] = self.genes.from_values(
                    trial.hyperparameters.values)
            except (ValueError, TypeError, AttributeError):
                return None
        return genome

    def _budget(self) -> str:
        limits = [f"{what} {value:,}" for what, value in
                  (("SRAM", self.sram_bytes), ("Flash", self.flash_bytes), ("MACs", self.macs),
                   ("ms", self.latency_ms)) if value is not None]
        return "budget: " + (", ".join(limits) or "none")

    def _smallest_violations(self):
        space = self.genes.space
        smallest = space.smallest(self.genes.width_mult, space.resolutions[0])
        return self.violations(self.cost(smallest))

    # -- keras-tuner's calls, made safe ---------------------------------------------------------

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        try:
            trial = super().create_trial(tuner_id)
        except Exception as e:
            log.exception("TinyNAS oracle: creating a trial for %s failed", tuner_id)
            self._stop(f"creating a trial for {tuner_id} failed: {e!r}")
            self.tuner_ids.discard(tuner_id)
            return Trial(self.get_space(), status=TrialStatus.STOPPED)
        if trial.status == TrialStatus.RUNNING:
            try:
                self._attach_cost(trial)
            except Exception:
                log.exception("TinyNAS oracle: the cost of trial %s", trial.trial_id)
        return trial

    def _attach_cost(self, trial):
        """The trial's cost figures as metrics (`COST_METRICS`), saved with the trial."""
        if trial.metrics.exists(COST_METRICS[0]):
            return
        genome = self._genome(trial)
        c = self._cost_genome(genome) if genome is not None else None
        for name in COST_METRICS if c is not None else ():
            trial.metrics.register(name, direction="min")
            trial.metrics.update(name, int(getattr(c, name)))
        self._save_trial(trial)

    @keras_tuner.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        try:
            return super().update_trial(trial_id, metrics, step)
        except Exception as e:
            log.error("TinyNAS oracle: ignored the metrics %r of trial %s: %r", metrics,
                      trial_id, e)
            found = self.trials.get(trial_id)
            return found if found is not None else Trial(self.get_space(), str(trial_id))

    @keras_tuner.synchronized
    def end_trial(self, trial):
        try:
            super().end_trial(trial)
            # keras-tuner saves before it drops the trial from the ongoing ones: save again, or
            # a resumed search would run the last finished trial once more
            self.save()
        except Exception as e:
            log.exception("TinyNAS oracle: ending trial %s failed",
                          getattr(trial, "trial_id", trial))
            self._close(getattr(trial, "trial_id", None), f"ending the trial failed: {e!r}")

    def _close(self, trial_id, message):
        """Finish what a failed `end_trial` left: the trial ended (failed unless it completed)
        and saved, and no longer running, so that the chief can finish."""
        known = self.trials.get(trial_id) if isinstance(trial_id, str) else None
        if known is None:
            return
        try:
            if known.status not in (TrialStatus.COMPLETED, TrialStatus.FAILED):
                known.status, known.message = TrialStatus.FAILED, message
            if trial_id not in self.end_order:
                self.end_order.append(trial_id)
            self._save_trial(known)
            self.save()
        finally:
            for tuner_id, ongoing in list(self.ongoing_trials.items()):
                if ongoing.trial_id == trial_id:
                    self.ongoing_trials.pop(tuner_id)

    def _check_consecutive_failures(self):
        try:
            super()._check_consecutive_failures()
        except RuntimeError as e:  # keras-tuner raises: stop instead (see the module notes)
            self._stop(str(e))

    def score_trial(self, trial):
        """The objective's best value (a list of objectives: keras-tuner's sum, minimised);
        NaN when the trial did not report it (keras-tuner then counts the trial invalid)."""
        try:
            objective, metrics = self.objective, trial.metrics
            if metrics.exists(objective.name):
                super().score_trial(trial)
            else:
                parts = getattr(objective, "objectives", [])
                values = [(o.direction, metrics.get_best_value(o.name)) for o in parts
                          if metrics.exists(o.name)]
                trial.score = (sum(v if d == "min" else -v for d, v in values)
                               if parts and len(values) == len(parts) else None)
                trial.best_step = 0
            score = float(trial.score) if trial.score is not None else math.nan
            trial.score = score if math.isfinite(score) else math.nan
            trial.best_step = int(trial.best_step or 0)
        except Exception:
            log.exception("TinyNAS oracle: scoring trial %s", getattr(trial, "trial_id", trial))
            trial.score = math.nan

    # -- state: resume a search --------------------------------------------------------------

    def _fingerprint(self) -> dict:
        return {"width_mult": self.genes.width_mult, "choices": {
            name: list(options) for name, options in zip(self.genes.names, self.genes.options)}}

    def get_state(self):
        state = super().get_state()
        state["tinynas"] = {"space": self._fingerprint(),
                            "tried": sorted(list(g) for g in self._tried),
                            "rejected": dict(self.rejected)}
        return state

    def set_state(self, state):
        super().set_state(state)
        mine = state.get("tinynas", {})
        if mine.get("space", self._fingerprint()) != self._fingerprint():
            raise ValueError("this project was searched in another space (width or choices "
                             "differ): resume it with the same space, or start another "
                             "(overwrite=True or another project_name)")
        self._tried = {tuple(int(v) for v in g) for g in mine.get("tried", [])}
        self._tried.update(g for g in map(self._genome, self.trials.values()) if g is not None)
        self.rejected = {"infeasible": 0, "duplicate": 0, **mine.get("rejected", {})}
