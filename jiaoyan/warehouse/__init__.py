"""The PostgreSQL warehouse: local cluster lifecycle, migrations and roles, connections."""
