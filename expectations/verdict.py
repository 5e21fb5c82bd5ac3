"""What a gate run found: one finding per expectation, and the verdict they add up to."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

PASSED, WARNED, FAILED, ERROR, ACCEPTED = "passed", "warned", "failed", "error", "accepted"


class GateFailed(Exception):
    """A blocking expectation failed (or the gate could not run): the batch must not be published."""

    def __init__(self, verdict: GateVerdict) -> None:
        self.verdict = verdict
        super().__init__(verdict.headline())


@dataclass
class Finding:
    suite: str
    check: str
    expectation_type: str
    blocking: bool
    success: bool
    column: str | None = None
    unexpected_count: int | None = None
    element_count: int | None = None
    observed: str | None = None
    sample: list[dict] = field(default_factory=list)
    description: str | None = None
    why: str | None = None
    exception: str | None = None

    @property
    def severity(self) -> str:
        return "blocking" if self.blocking else "warning"

    @property
    def key(self) -> tuple[str, str]:
        return self.suite, self.check

    def sample_json(self) -> str | None:
        return json.dumps(self.sample, ensure_ascii=False, default=str) if self.sample else None

    def render(self, rows: int = 5) -> str:
        what = f"{self.suite} · {self.check}"
        count = "" if self.unexpected_count is None else f": {self.unexpected_count:,} unexpected"
        lines = [f"  [{self.severity.upper()}] {what}{count}"]
        if self.description:
            lines.append(f"      expected: {self.description}")
        if self.exception:
            lines.append(f"      error: {self.exception.strip().splitlines()[0][:300]}")
        if self.observed and not self.sample:
            lines.append(f"      observed: {self.observed[:300]}")
        for row in self.sample[:rows]:
            lines.append("      " + json.dumps(row, ensure_ascii=False, default=str)[:300])
        if len(self.sample) > rows:
            lines.append(f"      … {len(self.sample) - rows} more in ops.gate_results")
        return "\n".join(lines)


@dataclass
class GateVerdict:
    gate: str
    batch_id: str
    run_id: int
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    data_docs: Path | None = None
    error: str | None = None
    publication_id: int | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of the run

    @property
    def failed_blocking(self) -> list[Finding]:
        return [f for f in self.findings if not f.success and f.blocking]

    @property
    def failed_warning(self) -> list[Finding]:
        return [f for f in self.findings if not f.success and not f.blocking]

    @property
    def status(self) -> str:
        if self.error:
            return ERROR
        if self.failed_blocking:
            return FAILED
        return WARNED if self.failed_warning else PASSED

    @property
    def passed(self) -> bool:
        """True when the batch may go on (passed, or passed with warnings)."""
        return self.status in (PASSED, WARNED)

    def failed(self, check: str, suite: str | None = None) -> bool:
        """Whether the named check failed (in any suite, or in ``suite``)."""
        return any(f.check == check and (suite is None or f.suite == suite) and not f.success
                   for f in self.findings)

    def headline(self) -> str:
        verb = {PASSED: "passed", WARNED: "passed with warnings", FAILED: "FAILED — not published",
                ERROR: "could not run — not published"}[self.status]
        counts = (f"{len(self.findings)} expectations, {len(self.failed_blocking)} blocking and "
                  f"{len(self.failed_warning)} warning failures")
        return f"batch {self.batch_id}: {self.gate} gate {verb} ({counts}; run {self.run_id}, {self.seconds:.1f} s)"

    def render(self) -> str:
        lines = [self.headline()]
        if self.error:
            lines.append(f"  error: {self.error}")
        lines += [f.render() for f in (*self.failed_blocking, *self.failed_warning)]
        if self.publication_id is not None:
            lines.append(f"  published: the marts now serve batch {self.batch_id} "
                         f"(publication {self.publication_id})")
        if self.data_docs:
            lines.append(f"  Data Docs: {self.data_docs}")
        return "\n".join(lines)

    def raise_for_status(self) -> GateVerdict:
        if not self.passed:
            raise GateFailed(self)
        return self
