#!/bin/sh
# docker-compose.yml's temporal-setup job (temporalio/admin-tools, the `temporal` CLI): the
# namespace the workers use and this project's search attributes (client/search-attributes.ts lists
# them; workers add missing ones at start too). Safe to run again.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
until temporal operator cluster health >/dev/null 2>&1; do sleep 2; done
temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1 ||
  temporal operator namespace create --namespace "$ns" --retention 30d
for sa in SynapsePluginCode SynapsePluginVersion SynapseAction SynapseCategory SynapseMethod; do
  temporal operator search-attribute create --namespace "$ns" --name "$sa" --type Keyword >/dev/null 2>&1 ||
    echo "temporal-setup: search attribute $sa exists"
done
echo "temporal-setup: namespace $ns ready"
