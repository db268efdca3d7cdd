# A throwaway PostgreSQL cluster for a lane or the benchmark: sourced, not run.
#
#   . conformance/lib/pg.sh
#   pg_find || install postgresql          # sets pg_bin (the dir holding initdb and pg_ctl)
#   pg_start DIR PORT LOG                  # initdb in DIR/data, start on 127.0.0.1:PORT (socket
#                                          # in DIR), fsync off; initdb's output in LOG
#   pg_psql -d postgres -c '…'             # psql as the superuser on that cluster
#   pg_stop DIR                            # immediate stop (safe to call when not started)
#
# As root every PostgreSQL command runs as the postgres user (runuser); DIR is handed to it.
pg_bin=""
pg_port=""
pg_find() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { pg_bin="$d"; return 0; }
    done
    command -v initdb >/dev/null && command -v pg_ctl >/dev/null && pg_bin="$(dirname "$(command -v initdb)")"
    [ -n "$pg_bin" ]
}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() { # DIR PORT LOG
    local dir="$1" log="$3"
    pg_port="$2"
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    as_pg "$pg_bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$log" 2>&1 \
        || { echo "pg.sh: initdb failed:" >&2; tail -n 20 "$log" >&2; return 2; }
    as_pg "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $pg_port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
        || { echo "pg.sh: PostgreSQL did not start:" >&2; tail -n 20 "$dir/postgres.log" >&2; return 2; }
}
pg_psql() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
pg_stop() { # DIR
    [ -d "$1/data" ] || return 0
    as_pg "$pg_bin/pg_ctl" -D "$1/data" -m immediate -w stop >/dev/null 2>&1 || true
}
