#!/bin/sh
# docker-compose.yml's synapse-init job (the Synapse image): migrates the platform database
# (DATABASE_URL) and adds the `s3` storage record once: bucket S3_BUCKET on the compose's S3
# server, created on first use, credentials from the workers' environment (AWS_*).
set -eu
synapse() { node /app/bin/synapse.mjs "$@"; }
synapse platform init
if synapse storage list --json | grep -Eq '"name": ?"s3"'; then
  echo "synapse-init: storage s3 exists"
else
  synapse storage add s3 "{\"provider\":\"s3\",\"bucket\":\"${S3_BUCKET:-synapse}\",\"endpoint\":\"http://s3:7070\",\"createBucket\":true}"
fi
