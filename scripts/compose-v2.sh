#!/usr/bin/env bash
# Installs Compose v2 (`docker compose`) as a Docker CLI plugin on a Debian bookworm host, for
# CI and people without it. Bookworm ships only docker-compose 1.29; Debian trixie packages
# v2 as a static Go binary, which runs on bookworm. The package is fetched with apt from a
# private apt state (the host's sources and installed packages are not touched), so apt
# checks it against trixie's signed index; only the plugin binary is copied out.
#   scripts/compose-v2.sh install   install the plugin unless `docker compose` already answers
set -euo pipefail

readonly PLUGIN_DIR=${PGHA_COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
readonly SUITE=trixie

log() { printf 'compose-v2: %s\n' "$*" >&2; }

# compose_v2_apt ARGS...: apt-get on a private state that knows only trixie's main.
compose_v2_apt() {
  apt-get -qq \
    -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" \
    -o APT::Sandbox::User=root -o APT::Architecture="$(dpkg --print-architecture)" "$@"
}

compose_v2_install() {
  if docker compose version >/dev/null 2>&1; then
    log "already there: $(docker compose version)"
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || { log "installing into $PLUGIN_DIR needs root"; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main" >"$work/sources.list"
  compose_v2_apt update
  (cd "$work" && compose_v2_apt download docker-compose)
  dpkg-deb -x "$work"/docker-compose_*.deb "$work/pkg"
  command install -D -m 0755 "$work/pkg/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGIN_DIR/docker-compose"
  log "installed $("$PLUGIN_DIR/docker-compose" version) from $(basename "$work"/docker-compose_*.deb) into $PLUGIN_DIR"
}

case "${1:-}" in
  install) compose_v2_install ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
