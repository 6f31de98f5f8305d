#!/usr/bin/env bash
# Starts Debian's clickhouse-server in the background for the ClickHouse warehouse tests, and
# waits until its HTTP interface (127.0.0.1:8123) answers a query. Installs the package when
# missing. Idempotent: does nothing when the server already answers.
# Works without systemd (containers): the package's init script starts the daemon as the
# clickhouse user.
set -euo pipefail

URL=http://127.0.0.1:8123
ERRLOG=/var/log/clickhouse-server/clickhouse-server.err.log

answers() {
  if command -v curl >/dev/null; then
    [ "$(curl -sf --max-time 2 "$URL/?query=SELECT%201" 2>/dev/null)" = 1 ]
  else
    # No curl: a bare HTTP request over bash's /dev/tcp.
    exec 3<>/dev/tcp/127.0.0.1/8123 2>/dev/null || return 1
    printf 'GET /?query=SELECT%%201 HTTP/1.0\r\n\r\n' >&3
    local body
    body=$(timeout 2 cat <&3 | tail -n 1) || true
    exec 3<&- 3>&-
    [ "$body" = 1 ]
  fi
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if answers; then
  echo "clickhouse: already answering on $URL"
  exit 0
fi

if [ ! -x /usr/sbin/clickhouse-server ]; then
  echo "clickhouse: installing clickhouse-server from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
fi

# The package creates the data directory only with the clickhouse user; make sure it exists (a
# purge removes it while the user stays).
as_root install -d -o clickhouse -g clickhouse /var/lib/clickhouse /var/log/clickhouse-server
as_root /etc/init.d/clickhouse-server start

for _ in $(seq 1 120); do
  if answers; then
    echo "clickhouse: answering on $URL ($(/usr/bin/clickhouse-client --version 2>/dev/null | head -n 1 || echo 'version unknown'))"
    exit 0
  fi
  sleep 0.5
done

echo "clickhouse: did not answer on $URL within 60 s" >&2
as_root tail -n 30 "$ERRLOG" >&2 || true
exit 1
