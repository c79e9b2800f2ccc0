#!/usr/bin/env bash
# Start (or stop) a throw-away PostgreSQL server for the sweep-storage tests
# (tests/whatif/test_storage.py). `start` prints the URL for PLANNER_TEST_POSTGRES_URL, or
# nothing when PostgreSQL is not installed (the tests then skip, saying why).
#   .ci/postgres.sh start DIR     # data, socket and log under DIR
#   .ci/postgres.sh stop DIR
set -euo pipefail
cmd=${1:?start or stop}; dir=${2:?a scratch folder}
pg=$(command -v pg_ctl 2>/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | tail -1 || true)
bin=$(dirname "$(readlink -f "${pg:-/nonexistent}")")
[ -x "$bin/pg_ctl" ] || exit 0
as=()
if [ "$(id -u)" = 0 ]; then  # the server refuses to run as root
  id postgres >/dev/null 2>&1 || exit 0
  as=(runuser -u postgres --)
fi
port=${PLANNER_TEST_POSTGRES_PORT:-54329}
case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ ${#as[@]} -gt 0 ]; then chown postgres "$dir" && chmod o+x "$(dirname "$dir")"; fi
    if ! "${as[@]}" "$bin/initdb" -D "$dir/data" -U planner --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1; then
      echo "postgres.sh: initdb failed: $(tail -1 "$dir/initdb.log")" >&2; exit 0
    fi
    for p in $(seq "$port" $((port + 9))); do  # the first free port of ten
      if "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
           -o "-p $p -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1; then
        "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$p" -U planner sweeps || exit 0
        echo "postgresql://planner@127.0.0.1:$p/sweeps"
        exit 0
      fi
    done
    echo "postgres.sh: the server did not start: $(tail -1 "$dir/server.log" 2>/dev/null)" >&2
    ;;
  stop)
    [ -d "$dir/data" ] && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
esac
