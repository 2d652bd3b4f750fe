#!/usr/bin/env bash
# The Temporal time-skipping test server for the fast workflow tests (test/workflow-test-env.ts).
# The TypeScript SDK would download it from temporal.download; we take the same server from
# Maven Central instead (io.temporal:temporal-test-server, part of the Java SDK; Apache-2.0),
# which package mirrors serve, and run it with the local Java (17+).
#
#   bash scripts/test-server.sh            -> fetches it once (Maven, ~40 MB of jars), prints the
#                                             path of the executable the SDK starts
#   bash scripts/test-server.sh --find     -> prints that path if it is installed, else exits 1
#
# The executable is a wrapper: the SDK runs `<path> <port> [extra args]`, and the wrapper
# `exec`s `java ... io.temporal.testserver.TestServer <port>`, so the process the SDK kills
# on teardown is the JVM itself. Where: $TEMPORAL_TEST_SERVER_PATH if set (an executable),
# else $TEMPORAL_TEST_SERVER_DIR (default $HOME/.cache/synapse/temporal-test-server-<version>).
set -euo pipefail

VERSION=${TEMPORAL_TEST_SERVER_VERSION:-1.38.0}
DIR=${TEMPORAL_TEST_SERVER_DIR:-$HOME/.cache/synapse/temporal-test-server-$VERSION}
EXE="$DIR/temporal-test-server"

installed() {
  if [ -n "${TEMPORAL_TEST_SERVER_PATH:-}" ]; then
    [ -x "$TEMPORAL_TEST_SERVER_PATH" ] && echo "$TEMPORAL_TEST_SERVER_PATH" && return 0
    echo "TEMPORAL_TEST_SERVER_PATH=$TEMPORAL_TEST_SERVER_PATH is not an executable file" >&2
    return 1
  fi
  [ -x "$EXE" ] && [ -f "$DIR/lib/temporal-test-server-$VERSION.jar" ] && command -v java >/dev/null 2>&1 && echo "$EXE"
}

if installed; then exit 0; fi
if [ "${1:-}" = "--find" ]; then exit 1; fi

for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "test-server: no $tool; install Java 17+ and Maven (Debian: apt-get install default-jre-headless maven)" >&2
    exit 1
  fi
done

echo "test-server: fetching io.temporal:temporal-test-server:$VERSION and its dependencies from Maven (once)" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.synapse</groupId>
  <artifactId>temporal-test-server-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>$VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
mkdir -p "$DIR"
rm -rf "$DIR/lib.tmp"
mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$DIR/lib.tmp" >&2
rm -rf "$DIR/lib"
mv "$DIR/lib.tmp" "$DIR/lib"

# Quick start-up matters: the SDK gives the server 5 s to accept connections.
cat >"$EXE.tmp" <<WRAPPER
#!/bin/sh
# Started by the Temporal SDK as \`temporal-test-server <port> [args]\` (scripts/test-server.sh wrote this).
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$DIR/lib/*" io.temporal.testserver.TestServer "\$@"
WRAPPER
chmod +x "$EXE.tmp"
mv "$EXE.tmp" "$EXE"
echo "$EXE"
