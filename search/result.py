"""`SearchResult`: what `tinynas.search` found, and the way from it to firmware.

    result.arch, result.model, result.cost          # the network, its Keras model, its cost
    print(result.to_markdown())                     # every trial, the Pareto front marked
    result.plot("pareto.png")                       # accuracy against peak SRAM
    tflite = result.to_tflite()                     # int8, calibrated on training images
    tflite = result.quantize((x, y))                # int8 by quantization-aware training
    result.convert("model_c", tflite=tflite)        # the C project for the device
    result.save("found"); SearchResult.load("found")
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cost import Cost, cost as arch_cost
from .space import Arch

__all__ = ["SearchResult", "pareto_front"]


def pareto_front(trials: list[dict]) -> list[dict]:
    """The trials no other trial beats on both accuracy (higher) and peak SRAM (lower),
    by increasing peak SRAM."""
    front, best = [], -1.0
    for t in sorted(trials, key=lambda t: (t["peak_sram_bytes"], -t["val_accuracy"])):
        if t["val_accuracy"] > best:
            front.append(t)
            best = t["val_accuracy"]
    return front


@dataclass
class SearchResult:
    arch: Arch
    model: object  # the fine-tuned Keras model (float)
    cost: Cost  # exact peak SRAM, Flash, MACs of the generated code
    device: object  # the budget: devices.Device
    trials: list[dict]  # every completed trial: values, arch, accuracy, cost figures
    accuracy: dict  # validation accuracy: "supernet" (inside it), "finetuned"
    calibration: np.ndarray  # training images prepared for the model (int8 calibration)
    stage1: object = None  # the Stage1Result, when stage 1 chose the space
    patch: object = None
    stream_input: bool = False
    minutes: float = 0.0
    extra: dict = field(default_factory=dict)

    # -- from keras-tuner --------------------------------------------------------------------

    @staticmethod
    def trials_of(tuner) -> list[dict]:
        """The completed trials of a SupernetTuner's oracle, as plain dicts."""
        from .oracle import COST_METRICS

        rows = []
        for trial in tuner.oracle.trials.values():
            if not trial.metrics.exists("val_accuracy"):
                continue
            values = dict(trial.hyperparameters.values)
            row = {"trial": trial.trial_id, "values": values,
                   "arch": tuner.oracle.arch(values).to_dict(),
                   "val_accuracy": float(trial.metrics.get_last_value("val_accuracy"))}
            for name in ("val_loss",) + COST_METRICS:
                if trial.metrics.exists(name):
                    row[name] = float(trial.metrics.get_last_value(name))
            rows.append(row)
        return rows

    # -- reports -----------------------------------------------------------------------------

    @property
    def pareto(self) -> list[dict]:
        return pareto_front(self.trials)

    def to_markdown(self, top: int | None = 20) -> str:
        c, d = self.cost, self.device
        front = {t["trial"] for t in self.pareto}
        lines = [f"TinyNAS for {d.name} ({d.sram_bytes // 1024} kB SRAM, "
                 f"{d.flash_bytes // 1024} kB Flash): {len(self.trials)} subnets scored in "
                 f"{self.minutes:.1f} minutes",
                 f"Chosen: {self.arch.label()} depths {list(self.arch.depths)}: peak SRAM "
                 f"{c.peak_sram_bytes:,} B, Flash {c.flash_bytes:,} B (model data "
                 f"{c.model_data_bytes:,} + code {c.code_bytes:,}), {c.macs / 1e6:.2f} M MACs; "
                 f"validation accuracy {100 * self.accuracy['supernet']:.2f}% inside the "
                 f"supernet, {100 * self.accuracy['finetuned']:.2f}% fine-tuned",
                 "", "| trial | val accuracy | peak SRAM (kB) | Flash (kB) | MMACs | Pareto |",
                 "|---|---:|---:|---:|---:|---|"]
        ranked = sorted(self.trials, key=lambda t: -t["val_accuracy"])
        for t in ranked[:top] if top else ranked:
            lines.append(f"| {t['trial']} | {100 * t['val_accuracy']:.2f}% | "
                         f"{t.get('peak_sram_bytes', 0) / 1000:.1f} | "
                         f"{t.get('flash_bytes', 0) / 1000:.1f} | "
                         f"{t.get('macs', 0) / 1e6:.2f} | {'yes' if t['trial'] in front else ''} |")
        return "\n".join(lines)

    def plot(self, path):
        """Accuracy against peak SRAM: every trial, the Pareto front, the device's SRAM for
        the arena (its SRAM less the stack reserve) and the chosen network."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..converter.targets import DEFAULT_STACK_BYTES

        fig, ax = plt.subplots(figsize=(7, 4.5))
        kb = [t["peak_sram_bytes"] / 1000 for t in self.trials]
        ax.scatter(kb, [100 * t["val_accuracy"] for t in self.trials], s=14, alpha=0.6,
                   label="subnets scored (inside the supernet)")
        front = self.pareto
        ax.step([t["peak_sram_bytes"] / 1000 for t in front],
                [100 * t["val_accuracy"] for t in front], where="post", color="tab:green",
                label="Pareto front")
        limit = (self.device.sram_bytes - DEFAULT_STACK_BYTES) / 1000
        ax.axvline(limit, color="tab:red", linestyle="--",
                   label=f"{self.device.name}: SRAM less the stack reserve ({limit:.0f} kB)")
        ax.scatter([self.cost.peak_sram_bytes / 1000], [100 * self.accuracy["supernet"]],
                   marker="*", s=220, color="tab:orange", zorder=5, label="chosen")
        ax.set_xlabel("peak SRAM of the generated code (kB)")
        ax.set_ylabel("validation accuracy (%)")
        ax.set_title(f"TinyNAS on {self.device.name}: {len(self.trials)} subnets")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path

    # -- to firmware -------------------------------------------------------------------------

    def to_tflite(self) -> bytes:
        """The model quantized to full int8 (post-training; calibrated on training images)."""
        from ..quantize import quantize_keras

        return quantize_keras(self.model, self.calibration)

    def quantize(self, train_data, validation_data=None, *, epochs: int = 2,
                 learning_rate: float = 1e-4, batch_size: int = 128, seed: int = 0,
                 verbose="auto") -> bytes:
        """Quantization-aware training of the model (tensorflow-model-optimization, through
        `quantize.quantize_aware`) on `train_data` (images and labels as given to `search`),
        then full int8 `.tflite` bytes; `convert(..., tflite=...)` takes them."""
        from ..quantize import quantize_aware
        from .data import image_dataset

        r, c = self.arch.resolution, self.arch.input_channels
        train = image_dataset(train_data, r, c, batch_size=batch_size, shuffle=True, seed=seed)
        val = None if validation_data is None else image_dataset(validation_data, r, c,
                                                                  batch_size=500)
        return quantize_aware(self.model, train, epochs=epochs, learning_rate=learning_rate,
                              validation_data=val, verbose=verbose)

    def convert(self, out_dir, *, tflite: bytes | None = None, device=None, patch=None,
                **options):
        """The C project of the int8 model `tflite` (default: `to_tflite()`, post-training
        quantization; or `quantize(...)`'s), for the search's device and patch setting unless
        others are given (`tflm_mcunet.convert`)."""
        from ..converter import convert

        model = self.to_tflite() if tflite is None else tflite
        return convert(model, out_dir, device=device or self.device,
                       patch=self.patch if patch is None else patch,
                       stream_input=options.pop("stream_input", self.stream_input), **options)

    # -- save and load -----------------------------------------------------------------------

    def save(self, folder) -> Path:
        """`folder`: model.keras, result.json (arch, cost, device, trials, accuracy),
        calibration.npy."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(folder / "model.keras")
        np.save(folder / "calibration.npy", self.calibration)
        (folder / "result.json").write_text(json.dumps({
            "arch": self.arch.to_dict(), "cost": _cost_dict(self.cost),
            "device": dataclasses.asdict(self.device),
            "trials": self.trials, "accuracy": self.accuracy, "patch": self.patch,
            "stream_input": self.stream_input, "minutes": self.minutes, "extra": self.extra},
            indent=1))
        return folder

    @classmethod
    def load(cls, folder) -> "SearchResult":
        import keras

        from ..devices import Device

        folder = Path(folder)
        data = json.loads((folder / "result.json").read_text())
        arch = Arch.from_dict(data["arch"])
        device = Device(**{**data["device"], "aliases": tuple(data["device"]["aliases"])})
        # the cost again (milliseconds): with its fit to the device, which JSON does not keep
        cost = arch_cost(arch, device, data["patch"], stream_input=data["stream_input"])
        return cls(arch=arch,
                   model=keras.models.load_model(folder / "model.keras", compile=False),
                   cost=cost, device=device,
                   trials=data["trials"], accuracy=data["accuracy"],
                   calibration=np.load(folder / "calibration.npy"), patch=data["patch"],
                   stream_input=data["stream_input"], minutes=data["minutes"],
                   extra=data.get("extra", {}))


def _cost_dict(c: Cost) -> dict:
    return {k: getattr(c, k) for k in ("peak_sram_bytes", "flash_bytes", "macs", "weight_bytes",
                                       "requant_bytes", "code_bytes", "params",
                                       "instructions")}
