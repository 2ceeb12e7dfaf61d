#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the tuning tests (and for trying
# `kit tune --storage postgresql://...` by hand).
#
#   scripts/test_postgres.sh start DIR [PORT]   initdb in DIR, start, create database kit_test;
#                                               prints postgresql://postgres@127.0.0.1:PORT/kit_test
#   scripts/test_postgres.sh stop DIR
#
# Needs Debian's postgresql package (initdb, pg_ctl, createdb). PostgreSQL refuses to run as
# root, so as root the server runs as the package's `postgres` user.
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?a folder for the cluster}
initdb=$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$initdb" ]; then
    echo "PostgreSQL is not installed: apt-get install postgresql" >&2
    exit 3
fi
bin=$(dirname "$(readlink -f "$initdb")")
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
start)
    port=${3:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off" start >/dev/null
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres kit_test
    echo "postgresql://postgres@127.0.0.1:$port/kit_test"
    ;;
stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: $0 start DIR [PORT] | stop DIR" >&2
    exit 2
    ;;
esac
