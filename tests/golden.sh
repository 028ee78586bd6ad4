#!/bin/bash
# Golden tests of the real binary's output. `golden.sh cmdline`: each profile in
# tests/cmdline (and examples/) → `vmm cmdline --json`, one argument per line, diffed
# with NAME.argv. `golden.sh errors`: each broken profile in tests/errors → stderr and
# exit status, diffed with NAME.err. `golden.sh lint`: each profile in tests/lint → vmm lint's
# output (text and --json) and exit status. UPDATE=1 rewrites the expected files.
# Each runs on recorded probes of QEMU 7.2 (Debian 12's) and 10.0 (tests/fixtures): a new VM
# gets the newest versioned machine type of its QEMU (pc-q35-10.0 for q35 on 10.0), which is
# read as 7.2's; anything else must be the same, or be in NAME.10.0.EXT, with the reason in a
# comment of the profile.
set -euo pipefail
: "${VMM:?}" "${SRCDIR:?}"
# Fixed directories (no VM has an identity in /data yet) and a 16-CPU host, so the output is
# the same on every machine.
export VMM_RUN_DIR=/run/vmm-golden VMM_CACHE_DIR=/cache VMM_DATA_DIR=/data VMM_HOST_CPUS=16
# A fixed machine id: the identity (UUID, MACs) derived from it is the same everywhere.
export VMM_MACHINE_ID=00112233445566778899aabbccddeeff
cd "$SRCDIR"
failed=0 n=0

# Compares actual output with the expected file of the QEMU version (NAME.EXT, or NAME.VERSION.EXT
# where that version's differs), or rewrites it: NAME.EXT on 7.2, NAME.VERSION.EXT only where it
# differs. The version's versioned machine types are read as 7.2's first.
check() {
	local file=$1 actual own
	actual=$(printf '%s\n' "$2" | sed "$machines")
	own=${file%.*}.$version.${file##*.}
	[ "$version" != 7.2 ] && [ -f "$own" ] && file=$own
	n=$((n + 1))
	if [ "${UPDATE:-}" = 1 ] && [ "$version" = 7.2 ]; then
		printf '%s\n' "$actual" >"$file"
	elif [ "${UPDATE:-}" = 1 ]; then
		rm -f "$own"
		diff -q "$file" <(printf '%s\n' "$actual") >/dev/null || printf '%s\n' "$actual" >"$own"
	elif diff -u "$file" <(printf '%s\n' "$actual"); then
		echo "ok $n - $file (QEMU $version)"
	else
		echo "not ok $n - $file (QEMU $version)"
		failed=1
	fi
}

# Prints a sed script that turns the versioned machine types of the probe fixture $1 into 7.2's.
machine_map() {
	python3 - "$1" "$SRCDIR/tests/fixtures/qemu-7.2.caps.json" <<'PY'
import json, sys
now, old = (json.load(open(f))["machine_aliases"] for f in sys.argv[1:])
rules = []
for alias in sorted(now):
    if alias in old and now[alias] != old[alias]:
        rules.append("s/\\b%s\\b/%s/g" % (now[alias].replace(".", "\\."), old[alias]))
print("; ".join(rules))
PY
}

# Runs the golden tests of one kind (cmdline, errors, lint) on the probe of QEMU $version.
golden() {
	case $1 in
	cmdline)
		# Profiles and examples as they are; bundled profiles (layers) on top of a small base; on
		# a host every bundled example fits (tests/cmdline/host).
		export VMM_SYSFS_ROOT=$SRCDIR/tests/cmdline/host/sys VMM_PROC_ROOT=$SRCDIR/tests/cmdline/host/proc
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
		# vmm lint on a stand-in host (tests/lint/sys for /sys, tests/lint/data for the VMs it
		# knows), as text and as JSON.
		export VMM_SYSFS_ROOT=$SRCDIR/tests/lint/sys VMM_DATA_DIR=$SRCDIR/tests/lint/data
		for p in tests/lint/*.json; do
			for mode in text json; do
				rc=0
				out=$("$VMM" lint "$p" $([ $mode = json ] && echo --json) 2>&1) || rc=$?
				check "${p%.json}.lint-$mode" "$(printf '%s\n' "$out" | sed "s|$SRCDIR|@SRCDIR@|g")
exit $rc"
			done
		done ;;
	errors)
		# start-*.json: what vmm start refuses on a stand-in host (tests/errors/host/proc for
		# /proc, tests/lint/sys for /sys) before QEMU runs; small-host-*.json: what vmm cmdline
		# explains on that host with 2 CPUs; the rest: vmm cmdline.
		for p in tests/errors/*.json; do
			rc=0
			case $p in
			*/start-*) out=$(VMM_PROC_ROOT=$SRCDIR/tests/errors/host/proc VMM_SYSFS_ROOT=$SRCDIR/tests/lint/sys \
				"$VMM" start "$p" 2>&1 >/dev/null) || rc=$? ;;
			*/small-host-*) out=$(VMM_PROC_ROOT=$SRCDIR/tests/errors/host/proc VMM_SYSFS_ROOT=$SRCDIR/tests/lint/sys \
				VMM_HOST_CPUS=2 "$VMM" cmdline "$p" 2>&1 >/dev/null) || rc=$? ;;
			*) out=$("$VMM" cmdline "$p" 2>&1 >/dev/null) || rc=$? ;;
			esac
			check "${p%.json}.err" "$(printf '%s\n' "$out" | sed "s|$SRCDIR|@SRCDIR@|g")
exit $rc"
		done ;;
	esac
}

for version in 7.2 10.0; do
	export VMM_PROBE_FILE=$SRCDIR/tests/fixtures/qemu-$version.caps.json
	machines=$(machine_map "$VMM_PROBE_FILE")
	golden "$1"
done
echo "1..$n"
exit $failed
