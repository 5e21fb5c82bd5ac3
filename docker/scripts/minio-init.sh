#!/bin/sh
# One-shot MinIO set-up (compose service minio-init); safe to rerun.
# The `mlflow` bucket, and a MinIO user for the MLflow server whose policy reaches that bucket only.
set -eu

mc alias set jiaoyan http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing jiaoyan/mlflow

cat > /tmp/mlflow-bucket.json <<'JSON'
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": ["arn:aws:s3:::mlflow"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::mlflow/*"]}
  ]
}
JSON
mc admin policy create jiaoyan mlflow-bucket /tmp/mlflow-bucket.json   # creates or replaces
mc admin user add jiaoyan "$MLFLOW_S3_ACCESS_KEY" "$MLFLOW_S3_SECRET_KEY"
# attaching twice is refused ("already attached"): fine on a rerun
mc admin policy attach jiaoyan mlflow-bucket --user "$MLFLOW_S3_ACCESS_KEY" || true
echo "minio: bucket mlflow and user $MLFLOW_S3_ACCESS_KEY ready"
