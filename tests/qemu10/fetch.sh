#!/bin/bash
# Fetches QEMU 10.0 from Debian's bookworm-backports into the cache, beside the system's QEMU:
# the packages are downloaded with a private apt state (nothing of the system's apt changes) and
# unpacked, not installed, into $VMM_CACHE_DIR/qemu-10.0, a tree laid out like / (usr/bin,
# usr/share/qemu, usr/lib/x86_64-linux-gnu/qemu, ...). vmm runs such a QEMU with -L for its
# firmware and QEMU_MODULE_DIR for its modules (README: "Which QEMU").
# Re-running does nothing once the stamp says this script fetched it; remove the directory
# to fetch a newer 10.0.x. Needs apt-get, dpkg-deb and the network.
set -euo pipefail

cache=${VMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
out=$cache/qemu-10.0
suite=bookworm-backports
# Every package of QEMU's that puts modules in usr/lib/x86_64-linux-gnu/qemu must be here: a
# module QEMU 10 does not find in its own directory is loaded from the system's QEMU 7.2, and
# QEMU aborts. seabios: QEMU 10 wants a newer one than Debian 12's.
packages=(qemu-system-x86 qemu-system-common qemu-system-data qemu-system-gui qemu-system-modules-opengl
	qemu-system-modules-spice qemu-block-extra seabios)
scripts=$(sha256sum <"$0" | cut -c1-16)

if [ -f "$out/stamp" ] && [[ $(cat "$out/stamp") == *" scripts=$scripts" ]]; then
	exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.qemu-10.0.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work"/{lists/partial,archives/partial,debs,root}
echo "deb http://deb.debian.org/debian $suite main" >"$work/sources.list"
apt=(-q -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::lists=$work/lists"
	-o "Dir::Cache::archives=$work/archives" -o APT::Sandbox::User=root)
apt-get "${apt[@]}" update >/dev/null
version=$(apt-cache "${apt[@]}" show "qemu-system-x86/$suite" | awk '/^Version:/ {print $2; exit}')
[[ $version == 1:10.0.* ]] ||
	{ echo "fetch-qemu10: $suite carries qemu-system-x86 '${version:-none}', not 10.0.x" >&2; exit 1; }
(cd "$work/debs" && apt-get "${apt[@]}" download "${packages[@]/%//$suite}" >/dev/null)
for deb in "$work"/debs/*.deb; do
	dpkg-deb -x "$deb" "$work/root"
done
rm -rf "$work/root/usr/share/doc" "$work/root/usr/share/man"

# What the binary needs that this machine lacks (bootstrap.sh installs Debian 12's libraries).
bin=$work/root/usr/bin/qemu-system-x86_64
missing=$(ldd "$bin" | awk '/not found/ {print $1}')
[ -z "$missing" ] || { echo "fetch-qemu10: QEMU 10.0 needs libraries this machine lacks:" $missing >&2; exit 1; }
# It starts, and loads every module it has (qom-list-types) from its own directory.
printf '%s\n' '{"execute": "qmp_capabilities"}' '{"execute": "qom-list-types"}' '{"execute": "quit"}' |
	QEMU_MODULE_DIR=$work/root/usr/lib/x86_64-linux-gnu/qemu "$bin" -machine none -nodefaults -display none \
		-qmp stdio >"$work/smoke" 2>&1 ||
	{ echo "fetch-qemu10: QEMU 10.0 does not start:" >&2; cat "$work/smoke" >&2; exit 1; }
grep 'failed to open module' "$work/smoke" | sed 's/^/fetch-qemu10: warning: /' >&2 || true

echo "qemu-system-x86=$version scripts=$scripts" >"$work/root/stamp"
rm -rf "$out"
mv "$work/root" "$out"
echo "fetch-qemu10: unpacked QEMU $version into $out"
