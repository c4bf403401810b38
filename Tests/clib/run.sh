#!/usr/bin/env bash
# libflagstaff from C: builds the library (scripts/build-libflagstaff.sh) and the programs
# here with the system cc, checks that the library needs no Swift library and exports only
# the header's functions, then runs every shared vector (Tests/Vectors/) through it, from one
# thread and from several. With BENCH=1, also the benchmark (Tests/clib/bench.c).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-.build/libflagstaff}"
lib="$(bash scripts/build-libflagstaff.sh "$out")"
dir="$(dirname "$lib")"
cc -std=c11 -O2 -Wall -Wextra -Werror -pthread -Iinclude -o "$dir/vectors" Tests/clib/vectors.c -L"$dir" -lflagstaff
cc -std=c11 -O2 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -Iinclude -o "$dir/bench" Tests/clib/bench.c \
    -L"$dir" -lflagstaff

echo "== $lib ($(du -h "$lib" | cut -f1))"
ldd "$lib"
if ldd "$lib" | grep -q 'libswift\|libFoundation\|libdispatch\|libBlocksRuntime'; then
    echo "FAIL: libflagstaff.so needs a Swift library at run time" >&2
    exit 1
fi
unexpected="$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^flagstaff_' || true)"
if [ -n "$unexpected" ]; then
    echo "FAIL: libflagstaff.so exports more than the header's functions:" >&2
    echo "$unexpected" | head >&2
    exit 1
fi
missing=""
for f in $(grep -o 'flagstaff_[a-z_]*(' include/flagstaff.h | tr -d '(' | sort -u); do
    nm -D --defined-only "$lib" | grep -qw "$f" || missing="$missing $f"
done
if [ -n "$missing" ]; then
    echo "FAIL: the header's functions missing from the library:$missing" >&2
    exit 1
fi

# Only the library's own folder on the search path: nothing of a Swift installation.
env -u LD_PRELOAD LD_LIBRARY_PATH="$dir" "$dir/vectors" Tests/Vectors "${THREADS:-8}"

if [ "${BENCH:-0}" = 1 ]; then
    env LD_LIBRARY_PATH="$dir" "$dir/bench" Tests/Vectors/snapshots/flags-storefront-production.json new-checkout \
        '{"targetingKey":"user-4242","userId":"u-4242","email":"ana@example.org","plan":"pro","country":"NL"}'
fi
