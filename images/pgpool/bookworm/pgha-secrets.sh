#!/usr/bin/env bash
# source: shell/lib/pgha-secrets.sh of pgha, copied verbatim into every image's build context by
# `npm run generate`; edit the source, not the copy.
#
# Secrets: from $NAME, or from the file named by ${NAME}_FILE (compose secrets); and the pass
# files made from them. Sourced by pgha-lib.sh, never on its own.

# pgha_check_secret NAME required|optional [WHAT]: the secret must come from $NAME or from a
# readable ${NAME}_FILE, not both, and be a single line with something in it once the trailing
# line breaks are gone (an empty password, or an empty wd_authkey that switches watchdog
# authentication off, is refused). WHAT names what is expected ("a password").
pgha_check_secret() {
  local name=$1 need=$2 what=${3:-a value} file_var="${1}_FILE" value
  if [[ -n "${!file_var:-}" && -n "${!name:-}" ]]; then
    pgha_problem "$name" "expected $what in $name or in the file named by $file_var, not both"
    return 0
  fi
  if [[ -n "${!file_var:-}" ]]; then
    if [[ ! -r "${!file_var}" ]]; then
      pgha_problem "$file_var" "expected a readable file, got ${!file_var}"
      return 0
    elif [[ ! -s "${!file_var}" ]]; then
      pgha_problem "$file_var" "expected a non-empty file, ${!file_var} is empty"
      return 0
    fi
  elif [[ -z "${!name:-}" ]]; then
    [[ "$need" == required ]] && pgha_problem "$name" "expected $what in $name or a file path in $file_var"
    return 0
  fi
  value=$(pgha_read_secret "$name") || value=
  local where=$name
  [[ -n "${!file_var:-}" ]] && where=$file_var
  if [[ -z "${value//[[:space:]]/}" ]]; then
    pgha_problem "$where" "expected $what, found only white space"
  elif [[ "$value" == *$'\n'* || "$value" =~ [[:cntrl:]] ]]; then
    pgha_problem "$where" "expected $what on one line without control characters"
  fi
}

# pgha_read_secret NAME: the value of $NAME, or the contents of the file named by ${NAME}_FILE.
pgha_read_secret() {
  local name=$1 file_var="${1}_FILE"
  if [[ -n "${!file_var:-}" ]]; then
    [[ -r "${!file_var}" ]] || return 1
    # Trailing newlines from `echo secret > file` are not part of the secret.
    printf '%s' "$(cat "${!file_var}")"
  elif [[ -n "${!name:-}" ]]; then
    printf '%s' "${!name}"
  else
    return 1
  fi
}

# pgha_export_secrets NAME...: each secret as the variable NAME, ${NAME}_FILE unset, so a
# process that cannot read the secret files (root-only bind mounts) gets the values. Call it
# in a subshell that starts only that process: the values stay out of everything else.
pgha_export_secrets() {
  local name value file_var
  for name in "$@"; do
    file_var="${name}_FILE"
    if value=$(pgha_read_secret "$name"); then
      export "$name=$value"
    fi
    unset "$file_var"
  done
}

# pgha_write_passfile FILE MATCH SECRET_NAME: a pass file (libpq's ~/.pgpass, pcp's
# .pcppass), mode 0600, of one line: MATCH (the fields before the password, e.g. '*:*:*:repl'
# or '*:*:pgpool') and the password from SECRET_NAME; an empty file when the secret is not set.
# Both readers stop a field at ':' and take '\' as an escape, so both are escaped.
pgha_write_passfile() {
  local file=$1 match=$2 secret=$3 pw
  (
    umask 077
    : >"$file"
    if pw=$(pgha_read_secret "$secret"); then
      pw=${pw//\\/\\\\}
      printf '%s:%s\n' "$match" "${pw//:/\\:}" >"$file"
    fi
  )
}
