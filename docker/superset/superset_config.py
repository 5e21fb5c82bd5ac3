"""Superset configuration of the Compose deployment (docker/compose.yaml); every secret from the environment.

SUPERSET_CONFIG_PATH points here in the image built by docker/Dockerfile.superset.
"""

import os


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set (docker/.env)")
    return value


SECRET_KEY = _required("SUPERSET_SECRET_KEY")
SQLALCHEMY_DATABASE_URI = _required("SUPERSET_DATABASE_URI")  # Superset's own metadata database
_REDIS = os.environ.get("SUPERSET_REDIS_URL", "redis://superset-cache:6379")

# caches: metadata and chart data in Redis db 1 and 2; the rate limiter's counters in db 3
CACHE_CONFIG = {"CACHE_TYPE": "RedisCache", "CACHE_DEFAULT_TIMEOUT": 3600, "CACHE_KEY_PREFIX": "superset_meta_",
                "CACHE_REDIS_URL": f"{_REDIS}/1"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "RedisCache", "CACHE_DEFAULT_TIMEOUT": 6 * 3600,
                     "CACHE_KEY_PREFIX": "superset_data_", "CACHE_REDIS_URL": f"{_REDIS}/2"}
FILTER_STATE_CACHE_CONFIG = {**CACHE_CONFIG, "CACHE_KEY_PREFIX": "superset_filter_"}
EXPLORE_FORM_DATA_CACHE_CONFIG = {**CACHE_CONFIG, "CACHE_KEY_PREFIX": "superset_explore_"}
RATELIMIT_STORAGE_URI = f"{_REDIS}/3"

# dashboards are published nightly; viewers see only the dashboards their roles are granted, and a
# regional monitor's role carries a row-level-security filter on the region codes (docker/README.md)
FEATURE_FLAGS = {"DASHBOARD_RBAC": True, "EMBEDDED_SUPERSET": False, "ALERT_REPORTS": False}
PUBLIC_ROLE_LIKE = None
SQLLAB_CTAS_NO_LIMIT = False
PREVENT_UNSAFE_DB_CONNECTIONS = True
WTF_CSRF_ENABLED = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = os.environ.get("SUPERSET_COOKIE_SECURE", "false").lower() == "true"
BABEL_DEFAULT_LOCALE = "zh"
LANGUAGES = {"zh": {"flag": "cn", "name": "简体中文"}, "en": {"flag": "us", "name": "English"}}
