#!/bin/sh
# docker-compose.yml's temporal-schema job (temporalio/admin-tools): creates Temporal's two
# databases in PostgreSQL when missing and brings their schemas up to the image's version with
# temporal-sql-tool (SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD come from the
# environment). Run on every `up`: each step is a no-op on a database that is up to date.
set -eu
schema=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  # An existing database makes `create` fail: the next step fails too if it is anything else.
  temporal-sql-tool --db "$db" create-database || echo "temporal-schema: database $db exists"
done
temporal-sql-tool --db temporal setup-schema -v 0.0
temporal-sql-tool --db temporal update-schema -d "$schema/temporal/versioned"
temporal-sql-tool --db temporal_visibility setup-schema -v 0.0
temporal-sql-tool --db temporal_visibility update-schema -d "$schema/visibility/versioned"
echo "temporal-schema: up to date"
