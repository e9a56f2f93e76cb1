#!/usr/bin/env bash
# source: shell/postgres/init-ssh.sh of pgha, copied verbatim into the postgres image's build
# context by `npm run generate`; edit the source, not the copy.
#
# pgha-init's SSH material in the deploy directory's ssh/: a host key and a client key per
# node, made once and kept, and every node's authorized_keys and known_hosts written again from
# them at every run. Written through pgha-init.sh's owner-only helpers. Sourced by
# pgha-init.sh, never run.

# pgha_init_keypair HOST PATH COMMENT: an ed25519 key pair at PATH and PATH.pub. A kept private
# key must be one ssh-keygen reads; PATH.pub is written again from it when missing or when it
# does not hold that key (an empty one left by an interrupted run). Made in this run's work
# directory, then placed; HOST is noted as given a new key.
pgha_init_keypair() {
  local host=$1 path=$2 comment=$3 work=$PGHA_INIT_WORK/key
  rm -f "$work" "$work.pub"
  if [[ -e "$path" || -L "$path" ]]; then
    [[ ! -L "$path" ]] || pgha_die init "$(pgha_init_rel "$path"): expected a private key, found a link; move it away"
    pgha_init_check_kept "$path"
    pgha_init_read "$path" >"$work"
    ssh-keygen -y -f "$work" >"$work.pub" 2>/dev/null ||
      pgha_die init "$(pgha_init_rel "$path"): expected a private key ssh-keygen can read; remove it and $(basename "$path").pub to have a new pair made"
    if [[ "$(pgha_init_key_of "$path.pub" 2>/dev/null || true)" != "$(pgha_init_key_of "$work.pub")" ]]; then
      echo "$(pgha_init_key_of "$work.pub") $comment" >"$work.pub"
      pgha_init_place "$work.pub" "$path.pub" 0644
    fi
    rm -f "$work" "$work.pub"
    return 0
  fi
  [[ " ${PGHA_INIT_MADE_KEYS[*]} " == *" $host "* ]] || PGHA_INIT_MADE_KEYS+=("$host")
  ssh-keygen -q -t ed25519 -N '' -C "$comment" -f "$work"
  pgha_init_place "$work.pub" "$path.pub" 0644
  pgha_init_place "$work" "$path" 0600
}

# pgha_init_key_of FILE: the key type and key of public key FILE (its comment left out), read
# as the owner; fails unless it is an ed25519 key.
pgha_init_key_of() {
  local type key _ line
  line=$(if [[ "$1" == "$PGHA_INIT_WORK"/* ]]; then cat -- "$1"; else pgha_init_read "$1"; fi)
  read -r type key _ <<<"$line"
  [[ "$type" == ssh-ed25519 && "$key" =~ ^[A-Za-z0-9+/]{60,}=*$ ]] || return 1
  printf '%s %s' "$type" "$key"
}

# pgha_init_pub HOST FILE: the key type and key of HOST's FILE.pub; the run stops when it holds
# none (pgha_init_keypair has just written every one).
pgha_init_pub() {
  local file=$PGHA_INIT_DIR/ssh/$1/$2.pub key
  key=$(pgha_init_key_of "$file") || pgha_die init "$(pgha_init_rel "$file"): expected an ed25519 public key"
  printf '%s' "$key"
}

# pgha_init_authorized_keys HOST: the keys that may log in on HOST, one per caller that
# PGHA_SSH_ACCESS names, each restricted, accepted only from the cluster network and forced
# through ssh-command with its caller's kind.
pgha_init_authorized_keys() {
  local entry host caller kind key
  for entry in $PGHA_SSH_ACCESS; do
    IFS=: read -r host caller kind <<<"$entry"
    [[ "$host" == "$1" ]] || continue
    key=$(pgha_init_pub "$caller" id_ed25519)
    printf 'restrict,from="%s",command="%s %s" %s postgres@%s\n' "$PGHA_CLUSTER_SUBNET" "$PGHA_SSH_COMMAND" "$kind" "$key" "$caller"
  done
}

# pgha_init_known_hosts: every node's host key, pinned as [node]:PGHA_SSH_PORT.
pgha_init_known_hosts() {
  local host key
  for host in $(pgha_init_hosts); do
    key=$(pgha_init_pub "$host" ssh_host_ed25519_key)
    printf '[%s]:%s %s\n' "$host" "$PGHA_SSH_PORT" "$key"
  done
}

# pgha_init_ssh: keys made where missing, then authorized_keys and known_hosts of every node
# rewritten from them (a node added later is learned by all).
pgha_init_ssh() {
  local host dir
  pgha_init_dir "$PGHA_INIT_DIR/ssh"
  for host in $(pgha_init_hosts); do
    dir=$PGHA_INIT_DIR/ssh/$host
    pgha_init_dir "$dir"
    pgha_init_keypair "$host" "$dir/ssh_host_ed25519_key" "pgha host key of $host"
    pgha_init_keypair "$host" "$dir/id_ed25519" "postgres@$host"
  done
  for host in $(pgha_init_hosts); do
    dir=$PGHA_INIT_DIR/ssh/$host
    pgha_init_write "$dir/authorized_keys" 0600 pgha_init_authorized_keys "$host"
    pgha_init_write "$dir/known_hosts" 0600 pgha_init_known_hosts
  done
}
