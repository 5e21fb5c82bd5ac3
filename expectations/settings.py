"""Settings of the quality gates (``JIAOYAN_GATE_*``), read like every other component's."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jiaoyan.settings import JiaoyanSettings

COMMITTED_ROOT = Path(__file__).resolve().parent  # expectations/, holding the committed gx/ project


def gx_project_root() -> Path:
    """The folder holding the file-mode Great Expectations project (``gx/``): ``expectations/`` unless
    ``JIAOYAN_GATE_PROJECT_DIR`` puts a copy elsewhere (tests, or Data Docs on a shared disk)."""
    return get_gate_settings().project_dir or COMMITTED_ROOT


class GateSettings(JiaoyanSettings):
    model_config = SettingsConfigDict(env_prefix="JIAOYAN_GATE_")

    project_dir: Path | None = Field(default=None, description="folder for the GX project (gets a copy of "
                                     "expectations/gx/great_expectations.yml); default: expectations/")
    raw_url: str | None = Field(default=None, description="raw gate's connection (default: JIAOYAN_LOADER_URL)")
    marts_url: str | None = Field(default=None,
                                  description="marts gate's connection (default: JIAOYAN_TRANSFORMER_URL)")
    session_options: str = Field(
        default="-c jit=off -c work_mem=128MB -c max_parallel_workers_per_gather=0",
        description="PostgreSQL settings for the gates' sessions (libpq ``options``): a gate runs ~40 short "
                    "aggregates over one night's rows, where JIT compiling costs more than it saves, a 4 MB "
                    "work_mem spills the per-lesson sorts to disk, and parallel workers each rebuild the same hash")
    data_docs: bool = Field(default=True, description="build the Data Docs site after each gate run")
    docs_keep_days: int = Field(default=60, ge=1, description="days of validation results and Data Docs pages kept")
    sample_rows: int = Field(default=20, ge=1, le=200, description="unexpected rows kept per failed expectation")
    share_sum_tolerance: float | None = Field(
        default=None, ge=0, description="student shares of a point must sum to 1 within this (default: the contract's)")
    missing_points_tolerance: float = Field(
        default=0.02, ge=0, le=1,
        description="a lesson run may miss this share of its expected points (beyond quarantined ones) before it "
                    "counts as incomplete")
    baseline_nights: int = Field(default=7, ge=1, description="published nights the drift checks compare with")
    drift_min_lessons: int = Field(default=20, ge=1,
                                   description="lessons a province needs in the night and the baseline for a "
                                               "mode-mix comparison")
    mode_mix_warn: float = Field(default=0.25, ge=0, le=1,
                                 description="alert when a province's mode mix moves by this total-variation "
                                             "distance from the baseline")
    mode_mix_block: float = Field(default=0.5, ge=0, le=1,
                                  description="hold the batch when the move reaches this distance")
    drift_min_points: int = Field(default=2000, ge=1,
                                  description="points a model needs in the night and the baseline for a "
                                              "behaviour-share comparison")
    share_drift_warn: float = Field(default=0.1, ge=0, le=1,
                                    description="alert when a behaviour's share moves by this much (absolute) "
                                                "from the baseline with the same model")
    model_shift_block: float = Field(default=0.1, ge=0, le=1,
                                     description="hold the batch when a new model version moves a behaviour's "
                                                 "share by this much from the baseline's model")


@cache
def get_gate_settings() -> GateSettings:
    return GateSettings()


def reset_gate_settings_cache() -> None:
    get_gate_settings.cache_clear()
