#!/bin/bash
# Golden tests of the real binary's output. `golden.sh cmdline`: each profile in
# tests/cmdline (and examples/) → `vmm cmdline --json`, one argument per line, diffed
# with NAME.argv. `golden.sh errors`: each broken profile in tests/errors → stderr and
# exit status, diffed with NAME.err. `golden.sh lint`: each profile in tests/lint → vmm lint's
# output (text and --json) and exit status. UPDATE=1 rewrites the expected files.
set -euo pipefail
: "${VMM:?}" "${SRCDIR:?}"
# Fixed directories (no VM has an identity in /data yet), a 16-CPU host and a recorded probe of Debian 12's QEMU 7.2, so the
# output is the same on every machine.
export VMM_RUN_DIR=/run/vmm-golden VMM_CACHE_DIR=/cache VMM_DATA_DIR=/data VMM_HOST_CPUS=16
export VMM_PROBE_FILE=$SRCDIR/tests/fixtures/qemu-7.2.caps.json
# A fixed machine id: the identity (UUID, MACs) derived from it is the same everywhere.
export VMM_MACHINE_ID=00112233445566778899aabbccddeeff
cd "$SRCDIR"
failed=0 n=0

# Compares actual output with the expected file (or rewrites it).
check() {
	local expected=$1 actual=$2
	n=$((n + 1))
	if [ "${UPDATE:-}" = 1 ]; then
		printf '%s\n' "$actual" >"$expected"
	elif diff -u "$expected" <(printf '%s\n' "$actual"); then
		echo "ok $n - $expected"
	else
		echo "not ok $n - $expected"
		failed=1
	fi
}

case $1 in
cmdline)
	# Profiles and examples as they are; bundled profiles (layers) on top of a small base.
	for p in tests/cmdline/*.json examples/*.json profiles/*.json; do
		case $p in
		profiles/*) args=(tests/cmdline/layer-base.json -p "$p") name=profile-$(basename "$p" .json) ;;
		tests/cmdline/layer-base.json) continue ;;
		*) args=("$p") name=$(basename "$p" .json) ;;
		esac
		out=$("$VMM" cmdline --json "${args[@]}" 2>&1) || { echo "not ok - $p: $out"; failed=1; continue; }
		check "tests/cmdline/$name.argv" \
			"$(printf '%s\n' "$out" | sed -e 's/","/",\n"/g' -e "s|$SRCDIR|@SRCDIR@|g")"
	done ;;
lint)
	# vmm lint on a stand-in host (tests/lint/sys for /sys), as text and as JSON.
	export VMM_SYSFS_ROOT=$SRCDIR/tests/lint/sys
	for p in tests/lint/*.json; do
		for mode in text json; do
			rc=0
			out=$("$VMM" lint "$p" $([ $mode = json ] && echo --json) 2>&1) || rc=$?
			check "${p%.json}.lint-$mode" "$out
exit $rc"
		done
	done ;;
errors)
	for p in tests/errors/*.json; do
		rc=0
		out=$("$VMM" cmdline "$p" 2>&1 >/dev/null) || rc=$?
		check "${p%.json}.err" "$(printf '%s\n' "$out" | sed "s|$SRCDIR|@SRCDIR@|g")
exit $rc"
	done ;;
esac
echo "1..$n"
exit $failed
