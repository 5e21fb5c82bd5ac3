"""``make bench``: run the benchmarks and print each figure with its baseline ratio.

Each ``bench_<name>.py`` beside this file defines ``run(report: Report) -> None`` and
records figures with ``report.figure(...)``; a figure that compares against a baseline
measured in the same run gives ``baseline=`` so the ratio is printed and checked
against its target. Results are written to ``.data/bench/results-<name>.json``; the
figures quoted in ``docs/benchmarks.md`` come from these files.

Usage: ``python tests/benchmarks/run.py [name ...]`` (default: all).
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    target: str | None = None  # e.g. ">= 20" applied to value/baseline (or to value without a baseline)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    def met(self) -> bool | None:
        if not self.target:
            return None
        op, _, number = self.target.partition(" ")
        subject = self.ratio if self.ratio is not None else self.value
        limit = float(number)
        return {">=": subject >= limit, "<=": subject <= limit, ">": subject > limit, "<": subject < limit}[op]


@dataclass
class Report:
    name: str
    figures: list[Figure] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def figure(self, name: str, value: float, unit: str, *, baseline: float | None = None,
               target: str | None = None, note: str = "") -> Figure:
        fig = Figure(name, value, unit, baseline, target, note)
        self.figures.append(fig)
        ratio = f"  ratio {fig.ratio:.2f}" if fig.ratio is not None else ""
        verdict = {True: "  [target met]", False: "  [TARGET MISSED]", None: ""}[fig.met()]
        print(f"  {name}: {value:,.3f} {unit}{ratio}{f' (target {target})' if target else ''}{verdict}", flush=True)
        return fig

    def save(self) -> Path:
        out = ROOT / ".data" / "bench" / f"results-{self.name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "benchmark": self.name,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started)),
            "seconds": round(time.time() - self.started, 1),
            "machine": {"cpus": _cpus(), "python": platform.python_version(), "platform": platform.platform()},
            "figures": [asdict(f) | {"ratio": f.ratio, "met": f.met()} for f in self.figures],
        }
        out.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        return out


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def discover() -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def main(names: list[str]) -> int:
    available = discover()
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    missed = 0
    for name in names or list(available):
        print(f"== {name}", flush=True)
        spec = importlib.util.spec_from_file_location(f"bench_{name}", available[name])
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        report = Report(name)
        module.run(report)
        print(f"  -> {report.save().relative_to(ROOT)}")
        missed += sum(1 for f in report.figures if f.met() is False)
    if missed:
        print(f"{missed} target(s) missed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
