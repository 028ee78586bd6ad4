#!/bin/bash
# Numbers on the real binary's command line are taken whole or refused with one error naming
# the option and what it takes, before any VM is asked: no blanks, signs, other bases or
# exponents (strtol took ' 5' and '+5', strtod '1e1' and ' 0x10'). A valid value gets past
# the check (to "no VM named ..."). --set words are JSON only when the whole word is.
set -euo pipefail
: "${VMM:?}" "${SRCDIR:?}"
T=$(cd "$(mktemp -d /tmp/vmm-cli-numbers.XXXXXX)" && pwd -P)
trap 'rm -rf "$T"' EXIT
export VMM_RUN_DIR=$T/run VMM_CACHE_DIR=/cache VMM_DATA_DIR=$T/data VMM_HOST_CPUS=16
export VMM_PROBE_FILE=$SRCDIR/tests/fixtures/qemu-7.2.caps.json
cd "$T"
n=0 failed=0
none="vmm: no VM named 'nosuch' is running (no '$T/run/nosuch')"

# Runs vmm with the arguments after WANT; checks exit status 1 and that stderr is WANT.
check() {
	local want=$1 rc=0 err
	shift
	n=$((n + 1))
	err=$("$VMM" "$@" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" = 1 ] && [ "$err" = "$want" ]; then
		echo "ok $n - vmm $*"
	else
		echo "not ok $n - vmm $*"
		printf '#   exit %s (want 1), stderr: %s\n#   want: %s\n' "$rc" "$err" "$want"
		failed=1
	fi
}

for v in ' 5' '5 ' '+5' '-5' '0x5' '5s' '' '3601' '99999999999999999999'; do
	check "vmm: --timeout: expected seconds from 0 to 3600, not '$v'" stop nosuch --timeout "$v"
	check "vmm: --timeout: expected seconds from 1 to 3600, not '$v'" balloon nosuch 1G --wait --timeout "$v"
	check "vmm: --timeout: expected seconds from 1 to 3600, not '$v'" agent nosuch ping --timeout "$v"
done
check "$none" stop nosuch --timeout 0
check "$none" balloon nosuch 1G --wait --timeout 3600
check "$none" agent nosuch ping --timeout 5
for v in ' 5' '+5' '-5' '0' '86401'; do
	check "vmm: --timeout: expected seconds from 1 to 86400, not '$v'" wait nosuch running --timeout "$v"
done
check "$none" wait nosuch running --timeout 86400
for v in '1e1' ' 5' '0x10' '+5' '-1' '.5' '5.' 'inf' 'nan' '0' '0.0001' '86400.5'; do
	check "vmm: --timeout: expected seconds (more than 0, at most 86400, such as 5 or 0.5), not '$v'" \
		qmp nosuch --timeout "$v" query-status
done
check "$none" qmp nosuch --timeout 0.5 query-status
for v in ' 2' '+2' '2 ' '0' '1025' '0x2'; do
	check "vmm: 'cpus=$v': expected a number of vCPUs from 1 to 1024" set nosuch "cpus=$v"
done
check "$none" set nosuch cpus=2
for v in ' 1G' '1G ' '+1G' '' '0G' '16E' '99999999999999999999G' '1.5G' '0x10M' '1 G'; do
	check "vmm: '$v' is not a size (expected one like 512M or 2G)" balloon nosuch "$v"
done
check "vmm: usage: vmm balloon NAME [SIZE] [--wait [--timeout S]] [--stats] [--json]" balloon nosuch -1G
check "$none" balloon nosuch 1g
for v in ' 1G' '+1G' '0' '1.5G'; do
	check "vmm: --bandwidth '$v': expected bytes per second, such as 100M or 1G" migrate nosuch tcp:127.0.0.1:1 --bandwidth "$v"
done
check "$none" migrate nosuch tcp:127.0.0.1:1 --bandwidth 100M

echo '{ "memory": { "size": "1G" }, "boot": { "kernel": "/vmlinuz" } }' >vm.json
check "vmm: --repeat: expected a whole number from 1 to 100, not ' 3'" bench fio vm.json --preset seqread-1m --repeat ' 3'
check "vmm: --runtime: expected seconds from 1 to 86400, not '-1'" bench fio vm.json --preset seqread-1m --runtime -1
for v in ' 4' '4 ' '+4' '0x4' '04' '4.0'; do
	check "vmm: --set: cpu.cores: expected an integer from 1 to 256" cmdline vm.json --set "cpu.cores=$v"
done

echo "1..$n"
exit $failed
