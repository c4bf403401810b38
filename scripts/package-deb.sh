#!/usr/bin/env bash
# Builds the Debian package .scratch/flagstaff_<version>_<arch>.deb from a built binary, with
# dpkg-deb and nothing from the network: /usr/bin/flagstaff, the units of systemd/ (pointed
# at /usr/bin), the example settings as conffiles under /etc/flagstaff/, the docs, and the
# scripts that create the `flagstaff` system user and its state directory.
#
#   bash scripts/package-deb.sh                 # release build, Swift's runtime linked in
#   FLAGSTAFF_BIN=path/to/flagstaff bash scripts/package-deb.sh   # package that binary as is
#   FLAGSTAFF_DEB_COMPRESSION=gzip …                                # instead of xz
#
# Without FLAGSTAFF_BIN it builds `swift build -c release --static-swift-stdlib` (into
# .build/, whose release binary it then packages), so the package runs on a Debian 12 machine
# without Swift. A binary given in FLAGSTAFF_BIN that links Swift's shared runtime (a debug
# build, as the tests package) runs only where that runtime is at the path it was built with.
# The SQL migrations are inside the binary; nothing is installed for them.
# Prints the path of the package on standard output.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${FLAGSTAFF_BIN:-}" ]; then
    bin=$FLAGSTAFF_BIN
else
    bin=.build/release/flagstaff
    swift build -c release --product flagstaff --static-swift-stdlib >&2
fi
[ -x "$bin" ] || { echo "package-deb: no binary at $bin" >&2; exit 1; }
if [ -z "${FLAGSTAFF_BIN:-}" ] && ldd "$bin" | grep -q libswiftCore; then
    echo "package-deb: $bin links Swift's shared runtime; expected a --static-swift-stdlib build" >&2
    exit 1
fi

# One source for the version: the binary says what it is (Sources/flagstaff/Version.swift).
version=$("$bin" --version)
arch=$(dpkg --print-architecture)
out=.scratch/flagstaff_${version}_${arch}.deb

stage=$(mktemp -d /tmp/flagstaff-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/flagstaff" \
    "$root/usr/share/doc/flagstaff"

# Symbols are not needed to run; they are nearly half of a release binary (137 MB → 77 MB).
install -m 0755 "$bin" "$root/usr/bin/flagstaff"
strip --strip-unneeded "$root/usr/bin/flagstaff"

# The units in systemd/ are written for a copy in /usr/local/bin; the package's is in /usr/bin.
for unit in flagstaff.service flagstaff-replica.service; do
    sed 's|/usr/local/bin/flagstaff|/usr/bin/flagstaff|g' "systemd/$unit" > "$root/lib/systemd/system/$unit"
    chmod 0644 "$root/lib/systemd/system/$unit"
done
# Settings hold secrets: root:flagstaff 0640, set by postinst once the group exists.
install -m 0640 systemd/flagstaff.env.example "$root/etc/flagstaff/flagstaff.env"
install -m 0640 systemd/replica.env.example "$root/etc/flagstaff/replica.env"
printf '%s\n' /etc/flagstaff/flagstaff.env /etc/flagstaff/replica.env > "$root/DEBIAN/conffiles"

doc=$root/usr/share/doc/flagstaff
install -m 0644 README.md "$doc/README.md"
install -m 0644 docs/service.md docs/language.md docs/diagnostics.md "$doc/"
install -d "$doc/examples"
install -m 0644 examples/grafana/flagstaff-dashboard.json "$doc/examples/"
cat > "$doc/copyright" <<'EOT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: flagstaff
Source: https://github.com/flagstaff/flagstaff

Files: *
Copyright: 2026 the Flagstaff authors
License: none-stated
 The Flagstaff repository does not state a license yet.

Files: usr/bin/flagstaff
Comment: A release build links Swift's runtime and Foundation statically (Apache-2.0
 with the Runtime Library Exception, https://swift.org/LICENSE.txt; Foundation's ICU
 data under the Unicode license), and the Swift packages it depends on: swift-nio,
 swift-crypto (BoringSSL), swift-log, swift-argument-parser, swift-service-lifecycle,
 swift-http-types, hummingbird (Apache-2.0; BoringSSL also OpenSSL and ISC).
 On Debian systems, Apache-2.0 is in /usr/share/common-licenses/Apache-2.0.
EOT
# Debian wants a changelog in every package; this one points at Git's.
maintainer="Flagstaff maintainers <maintainers@users.noreply.b-seed-1515f1f4.example>"
printf 'flagstaff (%s) unstable; urgency=medium\n\n  * Built from %s; the history is in Git.\n\n -- %s  %s\n' \
    "$version" "$(git describe --always --dirty 2>/dev/null || echo "a source tree")" "$maintainer" \
    "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
    | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# Depends: the packages that ship the shared libraries the binary links. dpkg-shlibdeps wants
# a debian/control beside it; libraries no package owns (Swift's runtime from a toolchain, for
# a debug build) cannot be depended on and are left out, as said above.
shlib=$stage/shlib
install -d "$shlib/debian"
printf 'Source: flagstaff\n\nPackage: flagstaff\nArchitecture: any\n' > "$shlib/debian/control"
depends=$(cd "$shlib" && dpkg-shlibdeps -O --ignore-missing-info --warnings=0 \
    -e"$root/usr/bin/flagstaff" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

cat > "$root/DEBIAN/control" <<EOT
Package: flagstaff
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: adduser, $depends
Section: net
Priority: optional
Homepage: https://github.com/flagstaff/flagstaff
Description: GitOps feature flags: a sync daemon and an OFREP evaluation service
 Flagstaff follows a Git repository of flags written in YAML, compiles and tests
 every commit, records it in PostgreSQL with a hash-chained audit log, publishes
 snapshots to Redis, and serves evaluations over OpenFeature's OFREP.
 .
 This package installs the flagstaff command, the flagstaff and
 flagstaff-replica systemd units, example settings in /etc/flagstaff/ and a
 flagstaff system user.
EOT

cat > "$root/DEBIAN/postinst" <<'EOT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent passwd flagstaff >/dev/null; then
        adduser --system --group --quiet --home /var/lib/flagstaff --no-create-home \
            --gecos "Flagstaff daemon" flagstaff
    fi
    # The mirror of a remote flag repository lives here (systemd's StateDirectory= too).
    install -d -o flagstaff -g flagstaff -m 0750 /var/lib/flagstaff
    # The settings hold database URLs and the webhook secret.
    for f in /etc/flagstaff/flagstaff.env /etc/flagstaff/replica.env; do
        if [ -f "$f" ]; then chown root:flagstaff "$f"; chmod 0640 "$f"; fi
    done
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null || true
        # An upgrade: whatever runs restarts on the new binary; nothing is started otherwise.
        if [ -n "$2" ]; then systemctl try-restart flagstaff.service flagstaff-replica.service >/dev/null || true; fi
    fi
fi
exit 0
EOT

cat > "$root/DEBIAN/prerm" <<'EOT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop flagstaff.service flagstaff-replica.service >/dev/null 2>&1 || true
fi
exit 0
EOT

cat > "$root/DEBIAN/postrm" <<'EOT'
#!/bin/sh
set -e
case "$1" in
    remove)
        if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
        ;;
    purge)
        if [ -d /run/systemd/system ]; then
            systemctl disable flagstaff.service flagstaff-replica.service >/dev/null 2>&1 || true
            systemctl daemon-reload >/dev/null || true
        fi
        rm -rf /etc/flagstaff /var/lib/flagstaff
        # userdel rather than deluser, which complains about crontab where cron is not installed.
        if getent passwd flagstaff >/dev/null; then userdel flagstaff || true; fi
        if getent group flagstaff >/dev/null; then groupdel flagstaff || true; fi
        ;;
esac
exit 0
EOT
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

mkdir -p .scratch
# xz is Debian's default and the smallest; the tests ask for gzip, ten times faster here.
dpkg-deb --root-owner-group "-Z${FLAGSTAFF_DEB_COMPRESSION:-xz}" --build "$root" "$out" >&2
echo "$out"
