"""The ``jiaoyan`` command. Subcommands live beside the code they drive and load lazily,
so ``jiaoyan --help`` stays fast and one component's imports never slow another's."""

from __future__ import annotations

import importlib
import sys

import click

from jiaoyan import log
from jiaoyan.errors import UserError

# name -> ("module:attribute" of a click command or group, one-line help for the listing)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo-data": ("jiaoyan.demo_world.cli:demo_data", "Generate the deterministic demo world into a landing zone."),
    "warehouse": ("jiaoyan.warehouse.cli:warehouse", "Start, stop and migrate the warehouse (local cluster)."),
    "contracts": ("jiaoyan.contracts.cli:contracts", "Show or document the data contracts; validate files."),
    "spark": ("spark_jobs.cli:spark", "Spark jobs: activity logs → validated, deduplicated facts in the lake."),
    "load": ("jiaoyan.load.cli:load", "Bulk-load nightly batches into the raw tables; quarantine what breaks."),
    "dbt": ("jiaoyan.dbt_runner:dbt_command", "Run dbt on the warehouse model as the transformer role."),
    "gate": ("expectations.cli:gate", "Quality gates (Great Expectations): raw before dbt, marts before publishing."),
    "infer": ("ray_inference.cli:infer", "Code lesson videos with the behaviour model on Ray, codes to the lake."),
    "model": ("behaviour_model.cli:model", "Train, evaluate and inspect the behaviour model (MLflow registry)."),
    "pipeline": ("jiaoyan.pipeline.cli:pipeline", "Nightly steps, backfill, a DAG run (dag.test), the whole demo."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name][0].split(":")
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # the listing uses the registered help, so --help imports no component
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING (default: JIAOYAN_LOG_LEVEL or INFO)")
def cli(log_level: str | None) -> None:
    """Jiaoyan: nightly warehouse and portrait pipeline for AI-assisted teaching research."""
    log.setup(log_level)


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="jiaoyan", standalone_mode=False)
    except UserError as exc:
        click.echo(f"jiaoyan: error: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("jiaoyan: aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"jiaoyan: error: {exc.format_message()}", err=True)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
