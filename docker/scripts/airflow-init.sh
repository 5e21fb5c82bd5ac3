#!/usr/bin/env bash
# One-shot Airflow set-up (compose service airflow-init); safe to rerun.
#   1. create or upgrade Airflow's metadata database
#   2. the admin login of the simple auth manager, from AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD
#   3. the pools the DAGs use: `warehouse` (COPY loads, gates, dbt) and `ray` (inference chunks), sized by
#      JIAOYAN_PIPELINE_WAREHOUSE_POOL_SLOTS / JIAOYAN_PIPELINE_RAY_POOL_SLOTS like the DAGs' own settings
set -euo pipefail

airflow db migrate

python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps({os.environ["AIRFLOW_ADMIN_USER"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}) + "\n")
path.chmod(0o600)
print(f"airflow login for {os.environ['AIRFLOW_ADMIN_USER']!r} written to {path}")
PY

airflow pools set warehouse "${JIAOYAN_PIPELINE_WAREHOUSE_POOL_SLOTS:-4}" \
  "tasks holding warehouse sessions at once: COPY loads, quality gates, dbt"
airflow pools set ray "${JIAOYAN_PIPELINE_RAY_POOL_SLOTS:-2}" \
  "inference chunks submitted to the Ray cluster at once"
