# Sourced by scripts/install and scripts/test: make sure a local PostgreSQL server runs.
# Installs it from the system's packages where there is none (no Docker needed).

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

have_server() {
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && command -v pg_ctlcluster >/dev/null
}

apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "error: cannot install $* here: no apt-get; install them with your package manager" >&2
    return 1
  fi
  echo "installing $* ..." >&2
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# Set to 1 by ensure_postgres when it installed the server itself.
INSTALLED_SERVER=0

# ensure_postgres: a server answering on 127.0.0.1:5432. Prints nothing on stdout.
ensure_postgres() {
  if ! have_server; then
    apt_install postgresql postgresql-client postgresql-contrib
    INSTALLED_SERVER=1
  elif ! command -v psql >/dev/null || ! command -v pgbench >/dev/null; then
    apt_install postgresql-client postgresql-contrib
  fi
  local ver
  ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if ! pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main"' | grep -q .; then
      as_root pg_createcluster "$ver" main -p 5432 >&2
    fi
    echo "starting PostgreSQL $ver ..." >&2
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 || true
  fi
  local i
  for i in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return 0
    sleep 0.5
  done
  echo "error: PostgreSQL does not answer on 127.0.0.1:5432; see /var/log/postgresql/" >&2
  return 1
}

# ensure_role_password USER PASSWORD VARIABLE: when USER cannot log in over TCP without a
# password (a freshly installed server uses scram-sha-256 there), give it that password, but
# only on a server this script installed itself: a server that was already there belongs to
# someone, and its passwords are theirs. There, say which variable to set instead.
ensure_role_password() {
  local user=$1 password=$2 variable=$3
  if psql -X -q -w -d "postgresql://$user@127.0.0.1:5432/postgres" -c 'select 1' >/dev/null 2>&1; then
    return 0
  fi
  if psql -X -q -w -d "postgresql://$user:$password@127.0.0.1:5432/postgres" -c 'select 1' >/dev/null 2>&1; then
    return 0
  fi
  if [ "$INSTALLED_SERVER" != 1 ]; then
    echo "error: PostgreSQL role $user cannot log in on 127.0.0.1:5432 without a password, and" \
      "this server was not installed by this script, so its password is left alone; set" \
      "$variable to a URL that logs in (postgresql://USER:PASSWORD@127.0.0.1:5432/...)" >&2
    return 1
  fi
  echo "setting the password of PostgreSQL role $user for local TCP logins ..." >&2
  (cd / && as_postgres psql -X -q -c "ALTER ROLE \"$user\" WITH LOGIN PASSWORD '$password'") >&2
}
