#!/usr/bin/env bash
# Builds libflagstaff.so, the engine as a C library (include/flagstaff.h), in release, with the
# Swift standard library linked in statically, so that the program that loads it needs no Swift.
#
#   bash scripts/build-libflagstaff.sh [OUTDIR]     (default .build/libflagstaff)
#
# Prints the library's path. It is FlagModel, FlagEngine and Sources/FlagstaffC compiled as one
# module, so that the optimizer sees the engine and the exports whole (their `import FlagModel`
# and `import FlagEngine` lines dropped), exporting only the flagstaff_* functions.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.build/libflagstaff}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$out/obj"
mkdir -p "$work"

rm -rf "$work/src"
sources=()
while IFS= read -r file; do
    copy="$work/src/$file"
    mkdir -p "$(dirname "$copy")"
    sed -E '/^import (FlagModel|FlagEngine)$/d' "$file" > "$copy"
    sources+=("$copy")
done < <(find Sources/FlagModel Sources/FlagEngine Sources/FlagstaffC -name '*.swift' | LC_ALL=C sort)

# Only the header's functions are exported: the Swift runtime inside stays private, so a
# process may load this library next to another Swift library without the two mixing.
cat > "$work/exports.map" <<'MAP'
{
  global: flagstaff_*;
  local: *;
};
MAP

swiftc -O -wmo -parse-as-library -emit-library -static-stdlib \
    -module-name FlagstaffLibrary -warnings-as-errors \
    -module-cache-path "$work/module-cache" \
    -Xlinker --version-script="$work/exports.map" -Xlinker -soname=libflagstaff.so \
    -o "$out/libflagstaff.so.tmp" "${sources[@]}" >&2
mv "$out/libflagstaff.so.tmp" "$out/libflagstaff.so"
echo "$out/libflagstaff.so"
