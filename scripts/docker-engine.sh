#!/usr/bin/env bash
# Installs and starts Debian's Docker engine on a Debian host, for CI and people without one.
#   scripts/docker-engine.sh start   install docker.io if missing; start dockerd unless an engine answers
#   scripts/docker-engine.sh stop    stop the dockerd this script started, and only that one
set -euo pipefail

readonly PIDFILE=/run/pgha-dockerd.pid
readonly LOG=/var/log/pgha-dockerd.log

log() { printf 'docker-engine: %s\n' "$*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

install_engine() {
  command -v dockerd >/dev/null && return 0
  [[ $(id -u) -eq 0 ]] || { log "dockerd is missing and installing it needs root"; exit 1; }
  log "installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
}

start() {
  if engine_answers; then
    log "an engine already answers; leaving it alone"
    return 0
  fi
  install_engine
  log "starting dockerd (log: $LOG)"
  nohup dockerd >"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  local i
  for i in $(seq 1 60); do
    if engine_answers; then
      log "engine up after ${i}s: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
      return 0
    fi
    sleep 1
  done
  log "dockerd did not answer within 60 s; last lines of $LOG:"
  tail -n 20 "$LOG" >&2
  exit 1
}

stop() {
  if [[ ! -f "$PIDFILE" ]]; then
    log "no dockerd started by this script; nothing to stop"
    return 0
  fi
  local pid
  pid=$(cat "$PIDFILE")
  log "stopping dockerd $pid"
  kill "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
