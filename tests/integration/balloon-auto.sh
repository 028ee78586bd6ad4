#!/bin/bash
# The automatic balloon (memory.balloon {"auto": true, "min": SIZE}): host memory pressure (PSI,
# a stand-in /proc/pressure/memory through VMM_PROC_ROOT that the test writes) lowers the
# balloon's target step by step and the guest gives its memory back (query-balloon), never
# below min; once the pressure is gone the target climbs back to memory.size and the guest
# has its memory again. Moderate pressure holds the target where it is.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data VMM_PROC_ROOT=$T/proc
mkdir -p "$T/proc/pressure"
# Writes the stand-in's memory pressure: "some avg10" of $1 percent.
pressure() {
	printf 'some avg10=%s avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' "$1" \
		>"$T/proc/pressure/memory.new"
	mv "$T/proc/pressure/memory.new" "$T/proc/pressure/memory"
}
# Waits up to 60 s until the balloon (vmm balloon --json) has actual and target as given (MiB;
# target "-" for none).
balloon_is() {
	local i got=
	for ((i = 0; i < 300; i++)); do
		got=$("$VMM" balloon ab --json | python3 -c 'import json,sys; b=json.load(sys.stdin); print(b["actual"] >> 20, b["target"] >> 20 if "target" in b else "-")')
		[ "$got" = "$1 $2" ] && return 0
		sleep 0.2
	done
	fail "the balloon is at '$got' (actual target, MiB), expected '$1 $2': $(tail -n 5 "$VMM_RUN_DIR/ab/vmm.log")"
}

pressure 0.00
"$VMM" start "$PROFILES/guest-agent.json" --name ab --set 'memory.balloon={"auto": true, "min": "160M"}' \
	>/dev/null 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
wait_boots ab 1
sleep 2
balloon_is 256 -
pass "no pressure: the guest keeps its 256M, no target set"

pressure 35.20
balloon_is 160 160
grep -q "host memory pressure 35.20%: the balloon's target goes to 224M" "$VMM_RUN_DIR/ab/vmm.log" ||
	fail "vmm.log: $(cat "$VMM_RUN_DIR/ab/vmm.log")"
sleep 3
balloon_is 160 160
pass "under pressure the target goes down a step at a time to min (160M) and stays there; the guest follows"

pressure 5.00
sleep 3
balloon_is 160 160
pressure 0.10
balloon_is 256 256
pass "moderate pressure holds it; without pressure the guest gets its 256M back"
expect_rc 0 kill ab
assert_clean_rundir ab

expect_rc 1 cmdline "$PROFILES/guest-agent.json" --set 'memory.balloon={"auto": true, "min": "160M"}' --set memory.hugepages=2M
grep -q "memory.balloon.auto: a balloon cannot give huge pages back to the host" "$T/last.err" || fail "hugepages: $(cat "$T/last.err")"
pass "refused with huge pages, in lint's words"
