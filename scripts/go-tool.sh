# Sourced by setup.sh and s3-server.sh: find a Go-built tool, or build it once with `go install`.
#   go_tool NAME ENV_VAR MODULE@VERSION [nopath]   -> prints the binary's path (build messages on stderr)
# Looks at $ENV_VAR, then NAME on PATH (not with `nopath`: generic names such as `server` and
# `sql` may be other programs there), then $HOME/go/bin and $(go env GOPATH)/bin.
go_tool_find() {
  local name=$1 var=$2 nopath=${3:-} override gobin f
  override=${!var:-}
  if [ -n "$override" ] && [ -x "$override" ]; then echo "$override"; return 0; fi
  if [ "$nopath" != nopath ] && command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  gobin="$(go env GOPATH 2>/dev/null | cut -d: -f1)/bin"
  for f in "$HOME/go/bin/$name" "$gobin/$name"; do
    if [ -x "$f" ]; then echo "$f"; return 0; fi
  done
  return 1
}

go_tool() {
  local name=$1 var=$2 module=$3 nopath=${4:-}
  go_tool_find "$name" "$var" "$nopath" && return 0
  if ! command -v go >/dev/null 2>&1; then
    echo "no $name and no Go toolchain; install Go or set $var" >&2
    return 1
  fi
  echo "building $name: go install $module (a few minutes, once)" >&2
  CGO_ENABLED=0 go install "$module" >&2
  go_tool_find "$name" "$var" "$nopath"
}
