# Shared by infra/local/up, down and test: where things live and how to tell what runs.
# shellcheck shell=bash
set -euo pipefail

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"
STATE="$ROOT/.local"          # git-ignored: data, logs and pid files of what up started
RUN="$STATE/run"
LOGS="$STATE/logs"
mkdir -p "$RUN" "$LOGS"

# Defaults for everything the services read; a value already in the environment wins.
export COMMERCE_DATABASE_URL="${COMMERCE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/commerce}"
export COMMERCE_REDIS_URL="${COMMERCE_REDIS_URL:-redis://127.0.0.1:6379}"
export COMMERCE_AWS_ENDPOINT="${COMMERCE_AWS_ENDPOINT:-http://127.0.0.1:4566}"
export COMMERCE_COMMAND_API_ADDR="${COMMERCE_COMMAND_API_ADDR:-127.0.0.1:8080}"
export COMMERCE_READ_API_ADDR="${COMMERCE_READ_API_ADDR:-127.0.0.1:8081}"
export COMMERCE_SAGAS_ADDR="${COMMERCE_SAGAS_ADDR:-127.0.0.1:8082}"
export COMMERCE_PAYMENT_SIMULATOR_ADDR="${COMMERCE_PAYMENT_SIMULATOR_ADDR:-127.0.0.1:8083}"
export COMMERCE_AUTH_ADDR="${COMMERCE_AUTH_ADDR:-127.0.0.1:8084}"
export COMMERCE_WEB_ADDR="${COMMERCE_WEB_ADDR:-127.0.0.1:3000}"
WEB_DIR="$ROOT/clients/web"

# The web client's dependencies (pinned by its package-lock.json), installed when missing or older
# than the lock.
ensure_web_dependencies() {
  if [ ! -f "$WEB_DIR/node_modules/next/package.json" ] \
     || [ "$WEB_DIR/package-lock.json" -nt "$WEB_DIR/node_modules/.package-lock.json" ]; then
    say "installing the web client's dependencies (npm ci)"
    (cd "$WEB_DIR" && npm ci --no-audit --no-fund --loglevel=error >"$LOGS/web-npm.log" 2>&1) \
      || die "npm ci failed in clients/web (see $LOGS/web-npm.log)"
  fi
}

# Builds the web client (next build) for `next start`.
build_web() {
  ensure_web_dependencies
  say "building the web client (next build)"
  (cd "$WEB_DIR" && NEXT_TELEMETRY_DISABLED=1 npm run --silent build >"$LOGS/web-build.log" 2>&1) \
    || die "the web client does not build (see $LOGS/web-build.log)"
}
# Local mode lets the services fall back on their built-in development JWT secret (and tokens from
# `commerce token` match it). Outside local mode a missing COMMERCE_JWT_SECRET stops them at start.
export COMMERCE_LOCAL_MODE="${COMMERCE_LOCAL_MODE:-true}"
# Vendors' webhooks may point at receivers on this machine (http, 127.0.0.1); never in production.
export COMMERCE_WEBHOOK_LOCAL_TARGETS="${COMMERCE_WEBHOOK_LOCAL_TARGETS:-true}"

# host and port of a URL such as postgres://user@host:port/db (defaults when absent).
url_host() { local u="${1#*://}"; u="${u#*@}"; u="${u%%/*}"; echo "${u%%:*}"; }
url_port() { local u="${1#*://}"; u="${u#*@}"; u="${u%%/*}"; [[ "$u" == *:* ]] && echo "${u##*:}" || echo "$2"; }

PG_HOST="$(url_host "$COMMERCE_DATABASE_URL")"
PG_PORT="$(url_port "$COMMERCE_DATABASE_URL" 5432)"
REDIS_HOST="$(url_host "$COMMERCE_REDIS_URL")"
REDIS_PORT="$(url_port "$COMMERCE_REDIS_URL" 6379)"
AWS_PORT="$(url_port "$COMMERCE_AWS_ENDPOINT" 4566)"

say() { printf '[local] %s\n' "$*" >&2; }
die() { printf '[local] error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root (directly, or through sudo when available).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $* (install sudo or run as root)"; fi
}

apt_install() {
  say "installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# A TCP port answers on host.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_until() { # seconds description command...
  local limit="$1" what="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what did not come up within ${limit}s (logs: $LOGS)"
    sleep 0.2
  done
}
