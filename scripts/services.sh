#!/usr/bin/env bash
# Start Postgres and Redis on 127.0.0.1 if they are not running (Debian machines), and wait.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
  fi
fi
for _ in $(seq 1 60); do
  if pg_up && redis_up; then
    echo "postgres and redis are up"
    exit 0
  fi
  sleep 0.5
done
pg_up || echo "postgres is NOT reachable on 127.0.0.1:5432" >&2
redis_up || echo "redis is NOT reachable on 127.0.0.1:6379" >&2
exit 1
