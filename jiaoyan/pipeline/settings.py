"""Settings of the orchestration (``JIAOYAN_PIPELINE_*``): sizes, pools, deadlines and retries."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jiaoyan.settings import JiaoyanSettings


class PipelineSettings(JiaoyanSettings):
    model_config = SettingsConfigDict(env_prefix="JIAOYAN_PIPELINE_")

    owner: str = Field(default="jiaoyan-data", description="owner shown on every DAG")
    alert_email: str | None = Field(default=None, description="where failure and deadline alerts go (SMTP)")
    lessons_per_chunk: int = Field(default=25, ge=1, description="lesson videos per mapped inference task; "
                                   "size it so that a chunk is minutes of work for the Ray cluster")
    ray_pool: str = Field(default="ray", description="Airflow pool of the inference tasks")
    ray_pool_slots: int = Field(default=1, ge=1, description="inference chunks running at once (≈ cluster size / "
                                "the actors one chunk asks for)")
    warehouse_pool: str = Field(default="warehouse", description="Airflow pool of the tasks that write the warehouse")
    warehouse_pool_slots: int = Field(default=2, ge=1, description="warehouse-heavy tasks at once")
    batch_wait_hours: float = Field(default=6.0, gt=0, description="how long the sensor waits for the day's batch")
    batch_poke_seconds: int = Field(default=300, ge=1, description="how often the sensor looks for the batch marker")
    nightly_deadline_hours: float = Field(default=8.0, gt=0, description="the night must finish this long after "
                                          "its run was queued, or the deadline alert fires")
    retries: int = Field(default=2, ge=0, description="retries of the steps a retry can help (I/O, Ray, locks)")
    retry_delay_seconds: int = Field(default=60, ge=1, description="first retry delay; doubles each time")
    reports_dir: str | None = Field(default=None, description="where annual-report documents are written "
                                    "(default: .data/reports)")


def get_pipeline_settings() -> PipelineSettings:
    return PipelineSettings()
