#!/usr/bin/env bash
# The entrypoint of a simulated host (see Dockerfile): `engine` runs dockerd, `registry` the
# registry. The engine listens on /run/rig/docker.sock, which the test binds to a directory of
# its own, so nothing is reachable over TCP.
set -euo pipefail

# rig_forward_registry: the registry answers at 127.0.0.1:5000 inside this host as it does on
# the machine that pushes (same port), so an image is named the same everywhere, and a loopback registry
# needs no TLS.
rig_forward_registry() {
  [[ -n "${RIG_REGISTRY:-}" ]] || return 0
  socat "TCP-LISTEN:${RIG_REGISTRY_PORT:-5000},bind=127.0.0.1,fork,reuseaddr" "TCP:${RIG_REGISTRY}" &
}

# rig_cgroups_writable: without --privileged (which fails here) the engine finds the cgroup
# hierarchies read-only and cannot start a container. This host has its own cgroup namespace,
# so each hierarchy is mounted again, writable, at its root. cgroup v1 (these machines) only.
rig_cgroups_writable() {
  local point options
  while read -r point options; do
    options=$(tr ',' '\n' <<<"$options" | grep -vxE 'ro|rw|nosuid|nodev|noexec|relatime' | paste -sd,)
    umount "$point"
    mount -t cgroup -o "rw,nosuid,nodev,noexec,$options" cgroup "$point"
  done < <(awk '$3 == "cgroup" { print $2, $4 }' /proc/self/mounts)
}

case "${1:-engine}" in
  engine)
    rig_cgroups_writable
    rig_forward_registry
    # A killed host keeps its filesystem: the dead engine's pid files would stop the new one.
    rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
    mkdir -p /run/rig
    exec dockerd --host unix:///run/rig/docker.sock --host unix:///var/run/docker.sock
    ;;
  registry)
    mkdir -p /var/lib/registry
    cat >/tmp/registry.yml <<'YAML'
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: 0.0.0.0:5000
YAML
    exec docker-registry serve /tmp/registry.yml
    ;;
  *)
    echo "rig-host.sh: unknown command '$1' (engine or registry)" >&2
    exit 2
    ;;
esac
