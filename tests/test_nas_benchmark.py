"""The NAS quality benchmark's verdicts (issue 20), from rows as the benchmark builds them."""
from __future__ import annotations

from tflm_mcunet.benchmarks.nas import quality_goals, quality_markdown


def row(network: str, qat: float, ptq: float, identical: bool = True) -> dict:
    return {"budget": "64 kB / 256 kB", "network": network, "arch": "w0.3-r40",
            "float": qat, "ptq": ptq, "qat": qat, "qat_tflm": qat, "identical": identical,
            "test_images": 10_000, "peak_sram": 19_000, "flash": 240_000, "macs": 2_000_000,
            "minutes": 15.0, "int8_minutes": 1.0}


def test_goals_against_mobilenetv2_and_the_absolute_floor():
    rows = [row("TinyNAS", 0.9290, 0.9295), row("mobilenetv2", 0.9180, 0.9170),
            row("proxylessnas", 0.9300, 0.9290, identical=False)]
    goals = quality_goals(rows, "64K")
    assert goals == {"int8 >= MobileNetV2 + 1.0 pp": True, "int8 >= 92.0%": True,
                     "QAT >= PTQ": False, "identical outputs (all networks)": False}
    rows[0]["goals"] = goals
    text = quality_markdown(rows)
    assert "| 64 kB / 256 kB | TinyNAS | w0.3-r40 | 92.90% | 92.95% | 92.90% |" in text
    assert ("Goals at 64 kB / 256 kB: int8 >= MobileNetV2 + 1.0 pp: met; int8 >= 92.0%: met; "
            "QAT >= PTQ: NOT met; identical outputs (all networks): NOT met") in text
    assert "| NO |" in text


def test_without_mobilenetv2_the_margin_is_not_measured():
    rows = [row("TinyNAS", 0.9010, 0.9000)]
    rows[0]["goals"] = quality_goals(rows, "32K")
    assert rows[0]["goals"]["int8 >= MobileNetV2 + 1.5 pp"] is None
    assert "int8 >= MobileNetV2 + 1.5 pp: not measured; int8 >= 90.0%: met" in \
        quality_markdown(rows)
