"""The dbt project's wiring, without a database: runner arguments, profile variables, sources vs contracts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jiaoyan import dbt_runner
from jiaoyan.contracts import ALL_CONTRACTS, LAKE_CONTRACTS
from jiaoyan.errors import UserError

DBT = Path(dbt_runner.__file__).resolve().parents[1] / "dbt"
SYSTEM_COLUMNS = ("_batch_id", "_source_file", "_line", "_loaded_at")


def test_profile_env_comes_from_the_transformer_url() -> None:
    env = dbt_runner.profile_env("postgresql://jiaoyan_transformer:p%40ss@db.example:6543/warehouse?sslmode=require")
    assert env == {
        "JIAOYAN_DBT_HOST": "db.example",
        "JIAOYAN_DBT_PORT": "6543",
        "JIAOYAN_DBT_USER": "jiaoyan_transformer",
        "JIAOYAN_DBT_PASSWORD": "p@ss",
        "JIAOYAN_DBT_DBNAME": "warehouse",
        "JIAOYAN_DBT_SSLMODE": "require",
    }


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "postgresql://h/db", "postgresql://u@h/"])
def test_profile_env_refuses_unusable_urls(url: str) -> None:
    with pytest.raises(UserError):
        dbt_runner.profile_env(url)


def test_project_paths_are_absolute_and_added_only_where_dbt_takes_them(tmp_path: Path) -> None:
    args = dbt_runner.dbt_arguments(["build", "--select", "marts"], project=tmp_path)
    assert args == ["build", "--select", "marts", "--project-dir", str(tmp_path), "--profiles-dir", str(tmp_path)]
    assert dbt_runner.dbt_arguments(["--version"], project=tmp_path) == ["--version"]
    mine = ["run", "--project-dir", "/elsewhere", "--profiles-dir", "/p"]
    assert dbt_runner.dbt_arguments(mine, project=tmp_path) == mine


def test_profile_reads_only_environment_variables() -> None:
    profile = yaml.safe_load((DBT / "profiles.yml").read_text())
    output = profile["jiaoyan"]["outputs"]["warehouse"]
    for key in ("host", "user", "password", "dbname", "port"):
        assert "env_var(" in str(output[key]), key


def test_every_contract_is_a_source_with_every_field() -> None:
    sources = yaml.safe_load((DBT / "models/staging/jiaoyan/_jiaoyan__sources.yml").read_text())["sources"]
    tables = {t["name"]: t for t in sources[0]["tables"]}
    for contract in (*ALL_CONTRACTS, *LAKE_CONTRACTS):
        assert contract.name in tables, f"raw.{contract.name} has no dbt source"
        columns = [c["name"] for c in tables[contract.name]["columns"]]
        assert columns == [*contract.field_names, *SYSTEM_COLUMNS], contract.name


def test_every_model_has_a_description_and_documented_columns() -> None:
    documented: dict[str, dict] = {}
    for path in (DBT / "models").rglob("*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            documented[model["name"]] = model
    for sql in (DBT / "models").rglob("*.sql"):
        model = documented.get(sql.stem)
        assert model is not None, f"{sql.relative_to(DBT)} has no YAML entry"
        assert model.get("description"), f"{sql.stem} has no description"
        assert model.get("columns"), f"{sql.stem} documents no column"
        for column in model["columns"]:
            assert column.get("description"), f"{sql.stem}.{column['name']} has no description"
