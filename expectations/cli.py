"""``jiaoyan gate raw|marts|publish|accept|docs``: the quality gates from the command line.

Exit status: 0 when the batch may go on (passed, or passed with warnings), 1 when a blocking expectation
failed (the verdict names each failed expectation with a sample of its rows), 2 when the gate could not run.
"""

from __future__ import annotations

import click

from jiaoyan.errors import UserError


class GateFailedExit(click.ClickException):
    exit_code = 1

    def show(self, file: object = None) -> None:  # the verdict was printed in full already
        click.echo(f"jiaoyan: {self.message}", err=True)


@click.group()
def gate() -> None:
    """Great Expectations gates: raw data before dbt, marts before they are published."""


def _report(verdict: object) -> None:
    from expectations.verdict import GateVerdict

    assert isinstance(verdict, GateVerdict)
    click.echo(verdict.render())
    if not verdict.passed:
        raise GateFailedExit(verdict.headline())


@gate.command("raw")
@click.option("--batch", "batch_id", required=True, help="batch id (its date, YYYY-MM-DD)")
def raw_command(batch_id: str) -> None:
    """Validate a loaded batch's raw rows (and the batch as a whole) before dbt builds."""
    from expectations import gates

    _report(gates.run_raw_gate(batch_id))


@gate.command("marts")
@click.option("--batch", "batch_id", required=True, help="batch id the build carries")
@click.option("--publish/--no-publish", default=True, show_default=True,
              help="swap the checked build into marts when it passes")
def marts_command(batch_id: str, publish: bool) -> None:
    """Validate the marts build (marts_next) and publish it when it passes."""
    from expectations import gates

    _report(gates.run_marts_gate(batch_id, publish=publish))


@gate.command("publish")
@click.option("--batch", "batch_id", required=True, help="batch whose marts gate passed")
def publish_command(batch_id: str) -> None:
    """Publish a checked build (after `gate marts --no-publish`)."""
    from expectations import gates

    click.echo(f"batch {batch_id}: published (publication {gates.publish_marts(batch_id)})")


@gate.command("accept")
@click.option("--batch", "batch_id", required=True, help="held batch")
@click.option("--gate", "gate_name", type=click.Choice(["raw", "marts"]), required=True, help="the gate that held it")
@click.option("--reason", required=True, help="why it may go on (recorded in ops.gate_runs)")
def accept_command(batch_id: str, gate_name: str, reason: str) -> None:
    """Release a held batch without fixing it, with a reason (e.g. a mode-mix move that is real)."""
    from expectations import gates

    run_id = gates.accept(batch_id, gate_name, reason)
    click.echo(f"batch {batch_id}: {gate_name} gate accepted (run {run_id}); later batches may go on")


@gate.command("docs")
def docs_command() -> None:
    """Print where the Data Docs site is (built by every gate run)."""
    from expectations import project

    path = project.data_docs_index()
    if not path.exists():
        raise UserError(f"no Data Docs yet at {path}: run a gate first")
    click.echo(str(path))
