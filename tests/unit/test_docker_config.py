"""The Compose deployment (docker/) checked without Docker: structure, secrets, variables, GPUs, versions.

Parses docker/compose.yaml with PyYAML (anchors and merge keys resolved the way Compose resolves them)
and reads the Dockerfiles as text; the locked versions come from uv.lock and superset/uv.lock.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / "env.example"
DOCKERFILES = ("Dockerfile.pipeline", "Dockerfile.ray-gpu", "Dockerfile.superset", "Dockerfile.mlflow")

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; $$ escapes a literal $
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
SECRET_NAME = re.compile(r"PASSWORD(?!S_FILE)|SECRET|FERNET|SALT|TOKEN|(^|_)KEY$|ACCESS_KEY", re.IGNORECASE)
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^:/@\s]+:([^@\s]+)@", re.IGNORECASE)
# services that answer on a port: they need a healthcheck so dependants can wait for them
ONE_SHOT = {"warehouse-migrate", "airflow-init", "minio-init", "superset-init"}


def _compose_text() -> str:
    return COMPOSE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(_compose_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"env.example line without '=': {line!r}"
            assert name not in values, f"{name} twice in env.example"
            values[name] = value
    return values


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _strings(node: object) -> list[str]:
    """Every string value in a parsed YAML tree (commands, environment values, healthchecks, …)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def _locked(lock: Path, package: str) -> str:
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    versions = {p["version"] for p in data["package"] if p["name"] == package}
    assert len(versions) == 1, f"{package} in {lock.name}: {versions}"
    return versions.pop()


def _arg(dockerfile: str, name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", (DOCKER / dockerfile).read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{dockerfile} has no ARG {name}=…"
    return match.group(1)


# --- structure ------------------------------------------------------------------------------------------

def test_expected_services_exist(services: dict) -> None:
    expected = {
        "warehouse", "warehouse-migrate", "airflow-db", "airflow-init", "airflow-apiserver", "airflow-scheduler",
        "airflow-dag-processor", "airflow-triggerer", "ray-head", "ray-gpu-worker", "spark-master", "spark-worker",
        "mlflow-db", "minio", "minio-init", "mlflow", "superset-db", "superset-cache", "superset-init", "superset",
    }
    assert expected <= set(services), f"missing services: {sorted(expected - set(services))}"


def test_every_service_has_an_image_or_a_build(services: dict) -> None:
    for name, service in services.items():
        assert service.get("image") or service.get("build"), f"{name} has neither image nor build"
        build = service.get("build")
        if build:
            dockerfile = ROOT / build["dockerfile"] if (DOCKER / build["context"]).resolve() == ROOT else None
            assert dockerfile is not None and dockerfile.is_file(), f"{name}: build context/dockerfile not found"


def test_third_party_images_are_pinned(services: dict) -> None:
    for name, service in services.items():
        image = service.get("image", "")
        if service.get("build"):
            continue
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag ({image!r})"


def test_servers_have_healthchecks_and_restart_policies(services: dict) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f"one-shot {name} must not restart"
            continue
        health = service.get("healthcheck")
        assert health and health.get("test") and not health.get("disable"), f"{name} has no healthcheck"
        assert service.get("restart") in ("unless-stopped", "always"), f"{name} has no restart policy"


def test_dependants_wait_for_health_or_completion(services: dict) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions, not a bare list"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            wanted = "service_completed_successfully" if target in ONE_SHOT else "service_healthy"
            assert spec.get("condition") == wanted, f"{name} → {target}: condition should be {wanted}"


def test_named_volumes_are_declared_and_data_is_shared(compose: dict, services: dict) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source", "")
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source!r}"
    for postgres in ("warehouse", "airflow-db", "mlflow-db", "superset-db"):
        assert any(str(m).endswith(":/var/lib/postgresql/data") for m in services[postgres]["volumes"]), postgres
    # the night's files must be the same files for the task, the Spark executors and the Ray workers
    for name in ("airflow-scheduler", "spark-worker", "ray-gpu-worker", "ray-head"):
        mounts = [str(m) for m in services[name]["volumes"]]
        assert any(m.startswith("landing:/srv/jiaoyan/landing") for m in mounts), f"{name} lacks the landing zone"
        assert any(m.startswith("lake:/srv/jiaoyan/lake") for m in mounts), f"{name} lacks the lake"


# --- secrets and variables ------------------------------------------------------------------------------

def test_no_literal_secrets_in_compose(services: dict) -> None:
    for name, service in services.items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert VARIABLE.fullmatch(value), f"{name}.{key} must be a ${{…}} reference, not a literal"
        for text in _strings(service):
            for password in URL_CREDENTIALS.findall(text):
                assert VARIABLE.fullmatch(password), f"{name}: literal password in a URL: {text!r}"


def test_required_secrets_fail_loudly_when_unset() -> None:
    for match in VARIABLE.finditer(_compose_text()):
        name, operator, message = match.groups()
        if SECRET_NAME.search(name):
            assert operator == ":?", f"${{{name}}} must be required: ${{{name}:?set {name} in docker/.env}}"
            assert "docker/.env" in message, f"${{{name}:?…}} should say where to set it"


def test_env_example_and_compose_use_the_same_variables() -> None:
    used = {m.group(1) for m in VARIABLE.finditer(_compose_text())}
    example = _env_example()
    assert sorted(used - set(example)) == [], "variables used in compose.yaml but missing from env.example"
    assert sorted(set(example) - used) == [], "variables in env.example that compose.yaml never reads"


def test_env_example_holds_placeholders_only() -> None:
    for name, value in _env_example().items():
        if SECRET_NAME.search(name) or name in ("MINIO_ROOT_USER",):
            assert value == "change-me", f"env.example {name} must be the placeholder change-me"


def test_real_env_file_is_ignored_by_git() -> None:
    import subprocess

    result = subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=ROOT, check=False)
    assert result.returncode == 0, "docker/.env must be ignored by git (.gitignore)"


def test_owner_url_only_reaches_the_migration(services: dict) -> None:
    for name, service in services.items():
        env = _environment(service)
        if name == "warehouse-migrate":
            assert "JIAOYAN_WAREHOUSE_URL" in env
            continue
        assert "JIAOYAN_WAREHOUSE_URL" not in env, f"{name} must not get the owner/admin URL"
        assert not any("WAREHOUSE_ADMIN_PASSWORD" in s for s in _strings(env)) or name == "warehouse", name
    for name in ("superset", "superset-init"):
        env = _environment(services[name])
        assert "jiaoyan_reader:" in env["JIAOYAN_READER_URL"], "Superset reads the warehouse as jiaoyan_reader"
        assert not {"JIAOYAN_LOADER_URL", "JIAOYAN_TRANSFORMER_URL"} & set(env), f"{name} gets write roles"


def test_role_urls_name_the_roles_migrate_expects(services: dict) -> None:
    from jiaoyan.warehouse.migrate import LOGIN_ROLE_SETTINGS

    env = _environment(services["warehouse-migrate"])
    for role, field in LOGIN_ROLE_SETTINGS.items():
        url = env[f"JIAOYAN_{field.upper()}"]
        assert url.startswith(f"postgresql://{role}:"), f"{field} must connect as {role}"


# --- Airflow ---------------------------------------------------------------------------------------------

def test_airflow_components_share_one_configuration(services: dict) -> None:
    components = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
    for name in (*components, "airflow-init"):
        env = _environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@airflow-db:5432/airflow"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
            assert VARIABLE.fullmatch(env[key]), f"{name}.{key}"
    scheduler = _environment(services["airflow-scheduler"])
    assert scheduler["RAY_ADDRESS"] == "ray://ray-head:10001"
    assert scheduler["JIAOYAN_SPARK_MASTER"] == "spark://spark-master:7077"
    assert scheduler["JIAOYAN_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert any(key.startswith("AIRFLOW_CONN_") for key in scheduler)


def test_airflow_init_creates_the_pools() -> None:
    script = (DOCKER / "scripts" / "airflow-init.sh").read_text(encoding="utf-8")
    assert "airflow db migrate" in script
    pools = {"warehouse": "JIAOYAN_PIPELINE_WAREHOUSE_POOL_SLOTS", "ray": "JIAOYAN_PIPELINE_RAY_POOL_SLOTS"}
    for pool, slots in pools.items():
        assert re.search(rf'airflow pools set {pool} "\$\{{{slots}', script), f"pool {pool} is not created"


# --- Ray and GPUs ----------------------------------------------------------------------------------------

def test_ray_gpu_worker_reserves_nvidia_gpus(services: dict) -> None:
    worker = services["ray-gpu-worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    gpu = [d for d in devices if d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", [])]
    assert gpu, "ray-gpu-worker must reserve NVIDIA GPUs (deploy.resources.reservations.devices)"
    assert gpu[0].get("count") or gpu[0].get("device_ids"), "say how many GPUs (count or device_ids)"
    command = " ".join(worker["command"]) if isinstance(worker["command"], list) else worker["command"]
    assert re.search(r"--num-gpus[= ]\S+", command), "the worker must announce its GPUs to Ray (--num-gpus)"
    assert "--address=ray-head:6379" in command
    assert worker["build"]["dockerfile"] == "docker/Dockerfile.ray-gpu"


def test_inference_sizing_uses_the_real_settings(services: dict) -> None:
    from ray_inference.settings import InferenceSettings

    fields = {f"JIAOYAN_INFER_{name.upper()}" for name in InferenceSettings.model_fields}
    for name, service in services.items():
        for key in _environment(service):
            if key.startswith("JIAOYAN_INFER_"):
                assert key in fields, f"{name}.{key} is not an inference setting"
    scheduler = _environment(services["airflow-scheduler"])
    for key in ("JIAOYAN_INFER_FEATURIZER_GPUS", "JIAOYAN_INFER_CODER_GPUS", "JIAOYAN_INFER_FEATURIZERS"):
        assert key in scheduler, f"the Ray driver (airflow-scheduler) needs {key}"


def test_jiaoyan_settings_in_compose_exist(services: dict) -> None:
    from behaviour_model.settings import MlflowSettings

    from expectations.settings import GateSettings
    from jiaoyan.settings import Settings
    from ray_inference.settings import InferenceSettings
    from spark_jobs.session import SparkSettings

    # read with os.environ or by dbt, outside the pydantic settings classes
    known = {"JIAOYAN_DBT_THREADS", "JIAOYAN_LOG_LEVEL", "JIAOYAN_PSEUDONYM_SALT", "JIAOYAN_HOME", "JIAOYAN_DATA_DIR"}
    from jiaoyan.pipeline.settings import PipelineSettings

    classes = [Settings, InferenceSettings, SparkSettings, MlflowSettings, GateSettings, PipelineSettings]
    for cls in classes:
        prefix = cls.model_config["env_prefix"]
        known |= {f"{prefix}{name}".upper() for name in cls.model_fields}
    used = {key for service in services.values() for key in _environment(service) if key.startswith("JIAOYAN_")}
    used |= {m.group(1) for m in VARIABLE.finditer(_compose_text()) if m.group(1).startswith("JIAOYAN_")}
    assert sorted(used - known) == [], "JIAOYAN_ variables in compose.yaml that no setting reads"


# --- images and versions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dockerfile", ["Dockerfile.pipeline", "Dockerfile.ray-gpu", "Dockerfile.superset"])
def test_project_images_install_from_the_lock(dockerfile: str) -> None:
    text = (DOCKER / dockerfile).read_text(encoding="utf-8")
    assert "uv sync --frozen --no-dev" in text, f"{dockerfile} must install with `uv sync --frozen --no-dev`"
    assert "pip install -r" not in text


def test_pipeline_image_has_java_17_for_spark() -> None:
    assert "openjdk-17" in (DOCKER / "Dockerfile.pipeline").read_text(encoding="utf-8")


def test_image_versions_match_the_locks(services: dict) -> None:
    lock, superset_lock = ROOT / "uv.lock", ROOT / "superset" / "uv.lock"
    assert _arg("Dockerfile.pipeline", "AIRFLOW_VERSION") == _locked(lock, "apache-airflow")
    assert _arg("Dockerfile.pipeline", "RAY_VERSION") == _locked(lock, "ray")
    assert _arg("Dockerfile.pipeline", "PYSPARK_VERSION") == _locked(lock, "pyspark")
    assert _arg("Dockerfile.pipeline", "MLFLOW_VERSION") == _locked(lock, "mlflow")
    assert _arg("Dockerfile.ray-gpu", "RAY_VERSION") == _locked(lock, "ray")
    assert "FROM rayproject/ray:${RAY_VERSION}-py311-gpu" in (DOCKER / "Dockerfile.ray-gpu").read_text()
    assert _arg("Dockerfile.mlflow", "MLFLOW_VERSION") == _locked(lock, "mlflow")
    assert "FROM ghcr.io/mlflow/mlflow:v${MLFLOW_VERSION}" in (DOCKER / "Dockerfile.mlflow").read_text()
    assert _arg("Dockerfile.mlflow", "PSYCOPG2_VERSION") == _locked(lock, "psycopg2-binary")
    assert _arg("Dockerfile.superset", "SUPERSET_VERSION") == _locked(superset_lock, "apache-superset")
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    for dockerfile in ("Dockerfile.pipeline", "Dockerfile.superset"):
        assert python == f"=={_arg(dockerfile, 'PYTHON_VERSION')}.*", f"{dockerfile}: Python {python}"
    # one uv for every image, the one that wrote the locks' format
    assert len({_arg(d, "UV_VERSION") for d in ("Dockerfile.pipeline", "Dockerfile.ray-gpu",
                                                "Dockerfile.superset")}) == 1


def test_pipeline_services_share_the_pipeline_image(services: dict) -> None:
    pipeline = [name for name, service in services.items()
                if (service.get("build") or {}).get("dockerfile") == "docker/Dockerfile.pipeline"]
    assert {"airflow-scheduler", "spark-master", "spark-worker", "ray-head", "warehouse-migrate"} <= set(pipeline)
    assert len({services[n]["image"] for n in pipeline}) == 1, "one pipeline image for Airflow, Spark and Ray"


def test_mlflow_server_uses_postgres_and_proxied_minio_artifacts(services: dict) -> None:
    mlflow = services["mlflow"]
    command = mlflow["command"] if isinstance(mlflow["command"], str) else " ".join(mlflow["command"])
    assert "--serve-artifacts" in command and "--artifacts-destination s3://mlflow" in command
    env = _environment(mlflow)
    backend = env["MLFLOW_BACKEND_STORE_URI"]
    assert backend.startswith("postgresql://") and "@mlflow-db:5432/mlflow" in backend
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert "mlflow-db" in mlflow["depends_on"] and "minio-init" in mlflow["depends_on"]
    assert "mc mb --ignore-existing jiaoyan/mlflow" in (DOCKER / "scripts" / "minio-init.sh").read_text()


def test_build_contexts_exclude_local_state() -> None:
    for dockerfile in ("Dockerfile.pipeline", "Dockerfile.ray-gpu"):
        ignored = (DOCKER / f"{dockerfile}.dockerignore").read_text(encoding="utf-8").split()
        for path in (".venv", ".data", ".env", "docker/.env", ".git"):
            assert path in ignored, f"{dockerfile}.dockerignore must exclude {path}"
