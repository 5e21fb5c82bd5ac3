#!/usr/bin/env bash
# One-shot Superset set-up (compose service superset-init); safe to rerun.
#   1. create or upgrade the metadata database; roles and permissions (superset init)
#   2. the admin login from SUPERSET_ADMIN_USER / SUPERSET_ADMIN_PASSWORD
#   3. the warehouse connection "Jiaoyan warehouse" as the read-only role jiaoyan_reader (marts only)
#   4. dashboards as code, when the superset/ project has an assets/ export
set -euo pipefail

superset db upgrade
superset fab create-admin --username "$SUPERSET_ADMIN_USER" --firstname Jiaoyan --lastname Admin \
  --email "$SUPERSET_ADMIN_EMAIL" --password "$SUPERSET_ADMIN_PASSWORD" \
  || echo "admin user exists"
superset init
superset set-database-uri --database_name "Jiaoyan warehouse" --uri "$JIAOYAN_READER_URL"

if [ -d /opt/superset/project/assets ]; then
  superset import-directory --overwrite /opt/superset/project/assets
fi
