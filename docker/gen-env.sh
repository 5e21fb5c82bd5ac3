#!/usr/bin/env sh
# Write docker/.env from docker/env.example with a random value for every change-me (mode 0600).
#   docker/gen-env.sh [OUT]       OUT defaults to docker/.env; an existing file is never overwritten
# Values are letters and digits (safe inside postgresql:// URLs); AIRFLOW_FERNET_KEY is a Fernet key.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/.env}
if [ -e "$out" ]; then
  echo "$out exists; not overwriting (delete it to generate a new one)" >&2
  exit 1
fi
random() { head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' | cut -c1-"$1"; }
fernet() { head -c 32 /dev/urandom | base64 | tr '+/' '-_'; }
umask 077
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    AIRFLOW_FERNET_KEY=change-me) echo "AIRFLOW_FERNET_KEY=$(fernet)" ;;
    MINIO_ROOT_USER=change-me) echo "MINIO_ROOT_USER=minio$(random 8)" ;;
    MLFLOW_S3_ACCESS_KEY=change-me) echo "MLFLOW_S3_ACCESS_KEY=mlflow$(random 8)" ;;
    *=change-me) echo "${line%=change-me}=$(random 40)" ;;
    *) echo "$line" ;;
  esac
done < "$here/env.example" > "$out"
echo "wrote $out"
