"""``jiaoyan contracts docs|show|validate``."""

from __future__ import annotations

from pathlib import Path

import click

from jiaoyan.contracts import ALL_CONTRACTS, LAKE_CONTRACTS, Contract, ContractError, RubricFile, by_name, lake_by_name
from jiaoyan.contracts.batch import BATCH_MARKER, BatchManifest
from jiaoyan.errors import UserError

HEADER = """# Data contracts

*Generated from `jiaoyan/contracts/` by `make docs` (`jiaoyan contracts docs`); do not edit by hand —
a test fails when this file and the code disagree.*

Every source arrives in a nightly batch folder of the landing zone, `<landing>/<YYYY-MM-DD>/`, where
`YYYY-MM-DD` is the day whose data the batch carries. A batch is complete when its marker
`{marker}` is present; the marker lists every file with its SHA-256, size and row count
(`BatchManifest`). Any source may be absent on a given night.

Code lists (subjects, activity and resource kinds, event types, observer roles, titles, office scopes
and content types, the 9 behaviours and their S/T mapping) are the warehouse seeds in `dbt/seeds/`;
the contracts read their allowed values from there.

How bad input is handled: a row that breaks its contract goes to `quarantine.rejected_rows` with the
batch, file, line, field, value and reason, and the rest of the file loads; a file that cannot be used
at all (unreadable, a required column missing) goes to `quarantine.rejected_files`. Raw tables
(`raw.<contract name>`) are generated from these definitions and carry `_batch_id`, `_source_file`,
`_line` and `_loaded_at` besides the fields below.

| contract | files in a batch | format | key |
|---|---|---|---|
"""


def render_docs() -> str:
    parts = [HEADER.format(marker=BATCH_MARKER)]
    for contract in ALL_CONTRACTS:
        parts.append(f"| [`{contract.name}`](#{contract.name.replace('_', '-')}) | `{contract.location}` | "
                     f"{contract.format} | {', '.join(contract.key)} |\n")
    for contract in ALL_CONTRACTS:
        parts.append(_render_contract(contract))
    parts.append(_render_rubric_document())
    parts.append(_render_batch_marker())
    parts.append(_render_lake_contracts())
    return "".join(parts)


LAKE_HEADER = """
# Lake datasets (Spark activity job)

Written by `jiaoyan spark activity` (`spark_jobs/activity/`) to `<lake>/activity/<dataset>/event_date=<YYYY-MM-DD>/`
as Parquet, for the warehouse's bulk loader; raw tables `raw.<dataset>` are generated from these definitions
like the sources above. Every dataset carries its partition value as the column `fact_date`, so each file is
complete on its own. Days are China Standard Time: the day an event happened, not the day it arrived. A run
rewrites whole partitions and lists them in `<lake>/activity/_runs/<batch_id>.json` (`partitions` per dataset,
`changed_days`): the warehouse replaces exactly those `fact_date` values. Broken or invalid log lines are in
`<lake>/quarantine/activity/<batch_id>/` (Parquet, columns `source_file`, `line`, `field`, `value`, `reason`,
`raw`, as `quarantine.rejected_rows`).

| dataset | lake folder | key |
|---|---|---|
"""


def _render_lake_contracts() -> str:
    parts = [LAKE_HEADER]
    for contract in LAKE_CONTRACTS:
        parts.append(f"| [`{contract.name}`](#{contract.name.replace('_', '-')}) | `activity/{contract.name}/` | "
                     f"{', '.join(contract.key)} |\n")
    for contract in LAKE_CONTRACTS:
        parts.append(_render_contract(contract))
    return "".join(parts)


def _lookup(name: str) -> Contract:
    try:
        return by_name(name)
    except KeyError:
        return lake_by_name(name)


def _render_contract(contract: Contract) -> str:
    lines = [f"\n## {contract.name}\n\n{contract.description}\n\n",
             f"Files: `{contract.location}` ({contract.format}). Key: {', '.join(f'`{k}`' for k in contract.key)}.\n\n",
             "| field | type | meaning | rules |\n|---|---|---|---|\n"]
    for f in contract.fields:
        lines.append(f"| `{f.name}` | {f.type} | {f.description} | {f.rules().replace('|', '&#124;')} |\n")
    for note in contract.notes:
        lines.append(f"\n- {note}")
    if contract.notes:
        lines.append("\n")
    return "".join(lines)


def _render_rubric_document() -> str:
    return (
        "\n## The rubric document (`rubrics/rubrics.json`)\n\n"
        "`{\"rubrics\": [...]}`, each rubric validated as a whole by `jiaoyan.contracts.Rubric`: `rubric_id`, "
        "`rubric_name`, `kind` (`teaching_design` 教学设计 or `classroom_teaching` 课堂教学), `version`, "
        "`published_on`, optional `subject`, `bands` (best first, each `band`, `label_zh`, `min_ratio`; the last "
        "starts at 0) and `indicators` (`indicator_id`, `parent_id`, `level` 1–3, `name`, `position`; leaves "
        "carry `max_score` and `weight`). The loader flattens it into `rubric_indicators` and `rubric_bands`.\n"
    )


def _render_batch_marker() -> str:
    rows = "".join(f"| `{name}` | {info.description or ''} |\n"
                   for name, info in BatchManifest.model_fields.items())
    return f"\n## The batch marker (`{BATCH_MARKER}`)\n\n| field | meaning |\n|---|---|\n{rows}"


@click.group()
def contracts() -> None:
    """Show or document the data contracts; validate files against them."""


@contracts.command("docs")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write here instead of printing")
def docs_command(out: Path | None) -> None:
    """Render docs/data-contracts.md from the contract definitions."""
    text = render_docs()
    if out is None:
        click.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}")


@contracts.command("show")
@click.argument("name")
def show_command(name: str) -> None:
    """Print one contract."""
    try:
        contract = _lookup(name)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from exc
    click.echo(_render_contract(contract))


@contracts.command("validate")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--limit", default=20, show_default=True, help="rejects to print")
def validate_command(name: str, path: Path, limit: int) -> None:
    """Validate a file against a contract and print what would be quarantined."""
    from jiaoyan.contracts import validate

    try:
        contract = _lookup(name)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from exc
    try:
        if contract.format == "csv":
            result = validate.read_csv(contract, path)
        elif contract.format == "jsonl":
            result = validate.read_jsonl(contract, path)
        elif contract.format == "json":
            RubricFile.model_validate_json(path.read_bytes())
            click.echo(f"{path}: valid rubric document")
            return
        else:
            import pyarrow.parquet as pq

            result = validate.conform(contract, pq.read_table(path), str(path))
    except ContractError as exc:
        raise UserError(str(exc)) from exc
    click.echo(f"{path}: {result.n_good} good rows, {result.n_rejected} rejected")
    for row in result.rejects.slice(0, limit).to_pylist():
        click.echo(f"  line {row['line']}: {row['field'] or '-'} = {row['value']!r}: {row['reason']}")
