#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis on loopback, for tests and the demo. Source this file, then
# call start_services (exports FLAGSTAFF_TEST_POSTGRES_URL and FLAGSTAFF_TEST_REDIS_URL) and
# stop_services (trap it on EXIT). PostgreSQL refuses to run as root, so as root it runs as
# the `postgres` user that Debian's package creates.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_services() {
    FLAGSTAFF_SERVICES_DIR=$(mktemp -d /tmp/flagstaff-services.XXXXXX)
    chmod 755 "$FLAGSTAFF_SERVICES_DIR"
    local pgbin
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    # The server's own folder (data and log) belongs to the user it runs as.
    local pghome="$FLAGSTAFF_SERVICES_DIR/postgres"
    local pgdata="$pghome/data"
    mkdir -p "$pghome"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$pghome"; fi
    as_postgres "$pgbin/initdb" -D "$pgdata" -A trust -U flagstaff -E UTF8 --no-locale >/dev/null
    FLAGSTAFF_PG_PORT=$(free_port)
    as_postgres "$pgbin/pg_ctl" -D "$pgdata" -l "$pghome/postgres.log" -w \
        -o "-h 127.0.0.1 -p $FLAGSTAFF_PG_PORT -k $pgdata -c fsync=off" start >/dev/null
    export FLAGSTAFF_TEST_POSTGRES_URL="postgresql://flagstaff@127.0.0.1:$FLAGSTAFF_PG_PORT/postgres"

    FLAGSTAFF_REDIS_PORT=$(free_port)
    redis-server --bind 127.0.0.1 --port "$FLAGSTAFF_REDIS_PORT" --save '' --appendonly no --daemonize yes \
        --dir "$FLAGSTAFF_SERVICES_DIR" --pidfile "$FLAGSTAFF_SERVICES_DIR/redis.pid" \
        --logfile "$FLAGSTAFF_SERVICES_DIR/redis.log" >/dev/null
    for _ in $(seq 50); do
        redis-cli -p "$FLAGSTAFF_REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    export FLAGSTAFF_TEST_REDIS_URL="redis://127.0.0.1:$FLAGSTAFF_REDIS_PORT"
    export FLAGSTAFF_SERVICES_DIR FLAGSTAFF_PG_PORT FLAGSTAFF_REDIS_PORT
    echo "PostgreSQL on 127.0.0.1:$FLAGSTAFF_PG_PORT, Redis on 127.0.0.1:$FLAGSTAFF_REDIS_PORT" >&2
}

stop_services() {
    [ -n "${FLAGSTAFF_SERVICES_DIR:-}" ] || return 0
    local pgbin
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    as_postgres "$pgbin/pg_ctl" -D "$FLAGSTAFF_SERVICES_DIR/postgres/data" -m fast -w stop >/dev/null 2>&1 || true
    redis-cli -p "$FLAGSTAFF_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$FLAGSTAFF_SERVICES_DIR"
}
