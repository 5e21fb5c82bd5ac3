"""Run a DAG of ``dags/`` for real in this process (``dag.test()``) and read back what each task did.

Used by ``make demo`` (the nightly DAG for the demo's video nights) and the end-to-end tests. ``dag.test()`` runs
every task of one DAG run — sensors, dynamic task mapping, trigger rules, pools' task settings and assets — in
this process against the Airflow metadata database configured by :mod:`jiaoyan.pipeline.airflow_env`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jiaoyan import log
from jiaoyan.settings import project_root

LOG = log.get(__name__)


@dataclass(frozen=True)
class TaskOutcome:
    task_id: str
    map_index: int
    state: str
    seconds: float


@dataclass(frozen=True)
class DagRunOutcome:
    dag_id: str
    run_id: str
    state: str
    tasks: list[TaskOutcome]

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    def states(self) -> dict[str, str]:
        """task id -> state (a mapped task: the worst state of its instances)."""
        order = ["failed", "upstream_failed", "up_for_retry", "skipped", "success"]
        result: dict[str, str] = {}
        for t in self.tasks:
            seen = result.get(t.task_id)
            rank = order.index(t.state) if t.state in order else 0
            if seen is None or rank < (order.index(seen) if seen in order else 0):
                result[t.task_id] = t.state
        return result

    def seconds_by_task(self) -> dict[str, float]:
        """task id -> seconds (a mapped task: the sum over its instances)."""
        result: dict[str, float] = {}
        for t in self.tasks:
            result[t.task_id] = result.get(t.task_id, 0.0) + t.seconds
        return result


def load_dag(dag_id: str) -> Any:
    """The DAG object from ``dags/<dag_id>.py`` (each file declares one DAG named like the file)."""
    from airflow.dag_processing.dagbag import DagBag

    path = project_root() / "dags" / f"{dag_id}.py"
    bag = DagBag(dag_folder=str(path))
    if bag.import_errors or dag_id not in bag.dags:
        raise RuntimeError(f"{path}: cannot load DAG {dag_id}: {bag.import_errors or 'not declared'}")
    return bag.dags[dag_id]


def test_run(dag_id: str, conf: dict[str, Any] | None = None, logical_date: Any = None) -> DagRunOutcome:
    """One real run of the DAG with ``conf`` as its parameters; returns the run's and each task's outcome."""
    dag = load_dag(dag_id)
    # Airflow 3.3.2's dag.test() schedules from an in-memory copy of the DAG whose deadline alerts are still
    # dicts, and DagRun.update_state then fails looking them up by id once every task has succeeded. The copy
    # synced to the metadata database keeps them (the scheduler's path); only the test loop runs without.
    dag.deadline = None
    kwargs: dict[str, Any] = {"run_conf": conf or {}}
    if logical_date is not None:
        kwargs["logical_date"] = logical_date
    run = dag.test(**kwargs)
    outcome = read_outcome(dag_id, run.run_id)
    LOG.info("%s %s: %s", dag_id, run.run_id, outcome.state)
    return outcome


def read_outcome(dag_id: str, run_id: str) -> DagRunOutcome:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one()
        tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id,
                                                         TaskInstance.run_id == run_id)).all()
        tasks = [TaskOutcome(ti.task_id, ti.map_index, str(ti.state), float(ti.duration or 0.0)) for ti in tis]
        return DagRunOutcome(dag_id, run_id, str(run.state), sorted(tasks, key=lambda t: (t.task_id, t.map_index)))
