#!/bin/bash
# vmm usb list and vmm input list (libudev) on a recorded host (tests/hostdev/devices.umockdev,
# replayed by umockdev: a hub, a keyboard/mouse receiver, a USB stick, QEMU's tablet, the
# power button), compared with the expected output (UPDATE=1 rewrites it); then on the real
# host, which may have no USB or input at all.
set -euo pipefail
: "${VMM:?}" "${SRCDIR:?}"
dir=$SRCDIR/tests/hostdev
command -v umockdev-run >/dev/null || { echo "Bail out! umockdev-run is not installed (bootstrap.sh installs umockdev)"; exit 1; }
# umockdev preloads its library before the sanitizer runtime of an ASan build.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=0
check() {
	local name=$1
	shift
	n=$((n + 1))
	if ! umockdev-run -d "$dir/devices.umockdev" -- "$VMM" "$@" >"$out/$name" 2>&1; then
		echo "not ok $n - vmm $* failed: $(cat "$out/$name")"
		return
	fi
	[ "${UPDATE:-}" ] && cp "$out/$name" "$dir/$name"
	if diff -u "$dir/$name" "$out/$name" >"$out/diff"; then
		echo "ok $n - vmm $*"
	else
		echo "not ok $n - vmm $*"
		sed 's/^/# /' "$out/diff"
	fi
}
check usb.out usb list
check usb.json usb list --json
check input.out input list
check input.json input list --json
n=$((n + 1))
if "$VMM" usb list >"$out/host" 2>&1 && "$VMM" input list >>"$out/host" 2>&1; then
	echo "ok $n - on this host: $(tr '\n' ' ' <"$out/host" | cut -c1-100)"
else
	echo "not ok $n - on this host: $(cat "$out/host")"
fi
n=$((n + 1))
if "$VMM" usb show >"$out/bad" 2>&1; then
	echo "not ok $n - vmm usb show succeeded"
else
	echo "ok $n - vmm usb show: $(head -n1 "$out/bad")"
fi
echo "1..$n"
