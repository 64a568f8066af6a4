"""The memory plot: arena bytes in use at every layer, our plan beside TFLite Micro's."""
from __future__ import annotations

from pathlib import Path

from .converter import Conversion, read_tflite
from .converter.pipeline import load_graph
from .converter.passes.legalize import legalize
from .converter.planner import plan_memory


def tflm_style_plan(model):
    """TFLite Micro's way: the graph as in the file (no fusion), greedy largest-first
    placement with no buffer sharing bytes with another live one."""
    graph = read_tflite(model)
    legalize(graph)
    return graph, plan_memory(graph, overlap=False, orders=("largest first",))


def _layer_curve(graph, plan) -> tuple[list[int], list[float]]:
    """(operator index, kB in use) at every layer; a patch stage's layers share its value."""
    xs, ys = [], []
    for pos, op in enumerate(graph.ops):
        layers = op.params["stage"].ops if op.kind == "PATCH_STAGE" else [op]
        for layer in layers:
            xs.append(layer.index)
            ys.append(plan.high_water(pos) / 1000)
    return xs, ys


def plot_memory(conversion: Conversion, model, path) -> Path:
    """Write a PNG of memory over the layers: ours (and its lower bound) against TFLM's plan."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tflm_graph, tflm_plan = tflm_style_plan(model)
    ours = conversion.plan
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=120)
    x_tflm = [op.index for op in tflm_graph.ops]
    y_tflm = [tflm_plan.high_water(pos) / 1000 for pos in range(len(tflm_graph.ops))]
    x_ours, y_ours = _layer_curve(conversion.graph, ours)
    ax.step(x_tflm, y_tflm, where="mid", color="tab:gray",
            label=f"TFLite Micro-style plan (greedy by size, no sharing): peak {tflm_plan.arena_bytes / 1000:.1f} kB")
    patch = conversion.report.patch
    if patch is not None and patch.stages:
        layered = load_graph(model)
        layered_plan = plan_memory(layered)
        ax.step(*_layer_curve(layered, layered_plan), where="mid", color="tab:orange",
                label=f"tflm-mcunet, layer by layer: peak {layered_plan.arena_bytes / 1000:.1f} kB")
        for k, stage in enumerate(patch.stages):
            ax.axvspan(stage.ops[0].index - 0.5, stage.ops[-1].index + 0.5,
                       color="tab:blue" if k % 2 == 0 else "tab:cyan", alpha=0.08,
                       label=f"patch stage #{stage.ops[0].index}-#{stage.ops[-1].index}: "
                       f"{stage.patches_text}, "
                       f"+{stage.extra_macs / max(patch.model_macs, 1):.1%} MACs")
        where = "input streamed" if patch.streamed else "input in SRAM"
        ax.step(x_ours, y_ours, where="mid", color="tab:blue", linewidth=2,
                label=f"tflm-mcunet with patches ({where}): peak {ours.arena_bytes / 1000:.1f} kB")
    else:
        ax.step(x_ours, y_ours, where="mid", color="tab:blue", linewidth=2,
                label=f"tflm-mcunet: peak {ours.arena_bytes / 1000:.1f} kB")
        ax.axhline(ours.lower_bound_bytes / 1000, color="tab:green", linestyle="--",
                   label=f"lower bound, layer by layer: {ours.lower_bound_bytes / 1000:.1f} kB")
    ax.set_xlabel("operator index in the model")
    ax.set_ylabel("arena in use (kB)")
    ax.set_title(f"Activation memory over the layers: {Path(str(conversion.graph.source)).name}")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
