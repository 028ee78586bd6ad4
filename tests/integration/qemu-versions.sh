#!/bin/bash
# QEMU 7.2 (Debian 12's) and 10.0 (tests/qemu10/fetch.sh, unpacked into the cache) side by
# side: vmm probe A B shows what the upgrade changes; vmm cmdline gives 10.0 its own modules and
# firmware (QEMU_MODULE_DIR, -L), 7.2 neither; a VM created on 7.2 keeps its machine
# type pc-q35-7.2 (identity.json) when it next starts on 10.0, and one created on 10.0 is
# refused by 7.2, which lacks pc-q35-10.0; a machine type 10.0 deprecates is warned about; a
# binary that is no QEMU, or 10.0 without its own modules, is refused before anything runs.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data
QEMU7=$(command -v qemu-system-x86_64)
[ -x "$QEMU10" ] || fail "no QEMU 10.0 in $QEMU10 (run ./bootstrap.sh or tests/qemu10/fetch.sh)"

# Prints member KEY (a dotted path) of the JSON file FILE.
field() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"
}

# Prints the argv of VM NAME's QEMU, one argument per line.
qemu_argv() {
	tr '\0' '\n' <"/proc/$(state_field "$1" qemu_pid)/cmdline"
}

expect_rc 0 probe "$QEMU7" "$QEMU10" --json
cp "$T/last.out" "$T/both.json"
python3 - "$T/both.json" <<'PY' || fail "vmm probe A B --json: $(head -c 400 "$T/both.json")"
import json, sys
d = json.load(open(sys.argv[1]))
a, b = d["a"], d["b"]
assert (a["version"]["major"], b["version"]["major"]) == (7, 10), "versions"
for key in ("machines", "deprecated_machines", "types", "commands"):
    assert set(d["added"][key]) == set(b[key]) - set(a[key]), key
    assert set(d["removed"][key]) == set(a[key]) - set(b[key]), key
assert "pc-q35-10.0" in d["added"]["machines"] and "pc-q35-7.2" in b["machines"]
PY
expect_rc 0 probe "$QEMU7" "$QEMU10"
grep -Eq '^q35 +pc-q35-7\.2 +pc-q35-10\.0$' "$T/last.out" && grep -q '^machines added ([1-9][0-9]*):' "$T/last.out" &&
	[ "$(grep -cE '(^| )pc-q35-10\.0( |$)' "$T/last.out")" = 2 ] ||
	fail "vmm probe A B: $(cat "$T/last.out")"
pass "vmm probe 7.2 10.0: side by side, and what the upgrade adds and removes"

# 10.0 from its unpacked tree: its modules in its environment, its firmware first; 7.2 neither.
prefix=${QEMU10%/usr/bin/qemu-system-x86_64}
VMM_QEMU=$QEMU10 expect_rc 0 cmdline "$PROFILES/guest.json"
grep -q "^QEMU_MODULE_DIR=$prefix/usr/lib/x86_64-linux-gnu/qemu $QEMU10 -L $prefix/usr/share/qemu -L $prefix/usr/share/seabios -name " \
	"$T/last.out" || fail "vmm cmdline on 10.0: $(cut -c1-300 "$T/last.out")"
VMM_QEMU=$QEMU7 expect_rc 0 cmdline "$PROFILES/guest.json"
grep -q "^$QEMU7 -name " "$T/last.out" || fail "vmm cmdline on 7.2: $(cut -c1-300 "$T/last.out")"
pass "vmm cmdline: 10.0 with QEMU_MODULE_DIR and -L for its own tree, 7.2 as installed"

# Created on 7.2, started again on 10.0: the same machine type, identity and hardware.
VMM_QEMU=$QEMU7 "$VMM" start "$PROFILES/guest.json" --name up >/dev/null 2>"$T/up.err" || fail "start on 7.2: $(cat "$T/up.err")"
wait_boots up 1
[ "$(field "$VMM_DATA_DIR/up/identity.json" machine)" = pc-q35-7.2 ] || fail "identity on 7.2: $(cat "$VMM_DATA_DIR/up/identity.json")"
cp "$VMM_DATA_DIR/up/identity.json" "$T/up.identity"
expect_rc 0 kill up
VMM_QEMU=$QEMU10 "$VMM" start "$PROFILES/guest.json" --name up >/dev/null 2>"$T/up.err" || fail "start on 10.0: $(cat "$T/up.err")"
wait_boots up 2
expect_rc 0 qmp up query-version
[ "$(json_field qemu <"$T/last.out" | json_field major)" = 10 ] || fail "not QEMU 10: $(cat "$T/last.out")"
expect_rc 0 qmp up qom-get path=/machine property=type
grep -q '"pc-q35-7.2-machine"' "$T/last.out" || fail "the machine on 10.0: $(cat "$T/last.out")"
qemu_argv up | grep -Eqx 'pc-q35-7\.2(,.*)?' || fail "QEMU 10's argv: $(qemu_argv up)"
cmp -s "$T/up.identity" "$VMM_DATA_DIR/up/identity.json" || fail "the identity changed: $(cat "$VMM_DATA_DIR/up/identity.json")"
expect_rc 0 kill up
pass "a VM created on 7.2 runs on 10.0 as pc-q35-7.2, its identity untouched"

# Created on 10.0: 7.2 lacks its machine type and refuses it before anything runs.
VMM_QEMU=$QEMU10 "$VMM" start "$PROFILES/guest.json" --name down >/dev/null 2>"$T/down.err" || fail "start on 10.0: $(cat "$T/down.err")"
[ "$(field "$VMM_DATA_DIR/down/identity.json" machine)" = pc-q35-10.0 ] || fail "identity on 10.0: $(cat "$VMM_DATA_DIR/down/identity.json")"
expect_rc 0 kill down
VMM_QEMU=$QEMU7 expect_rc 2 start "$PROFILES/guest.json" --name down
grep -q "down: failed to start: this QEMU has no machine type 'pc-q35-10.0', the VM's since it was created" "$T/last.err" ||
	fail "7.2 on a VM of 10.0: $(cat "$T/last.err")"
[ "$(qemus down)" = 0 ] || fail "a QEMU was started"
pass "a VM created on 10.0 is refused by 7.2: $(head -c 90 "$T/last.err")..."

# A machine type 10.0 deprecates (7.2 does not): warned about, by cmdline and by start.
mkdir -p "$VMM_DATA_DIR/old"
echo '{ "version": 1, "machine": "pc-q35-7.0" }' >"$VMM_DATA_DIR/old/identity.json"
VMM_QEMU=$QEMU7 expect_rc 0 cmdline "$PROFILES/guest.json" --name old
! grep -q deprecated "$T/last.err" || fail "7.2 warned: $(cat "$T/last.err")"
VMM_QEMU=$QEMU10 expect_rc 0 cmdline "$PROFILES/guest.json" --name old
grep -q "warning: machine type 'pc-q35-7.0' is deprecated in this QEMU .*set \"machine\" in '$VMM_DATA_DIR/old/identity.json'" \
	"$T/last.err" || fail "10.0 did not warn: $(cat "$T/last.err")"
VMM_QEMU=$QEMU10 expect_rc 0 start "$PROFILES/guest.json" --name old
grep -q "^vmm: old: warning: machine type 'pc-q35-7.0' is deprecated" "$T/last.err" || fail "vmm start: $(cat "$T/last.err")"
expect_rc 0 kill old
pass "pc-q35-7.0, deprecated in 10.0: a warning saying which file to edit"

# Binaries that are no QEMU, and QEMU 10 run without its own modules (through a script, so
# vmm sees no unpacked tree): refused before anything runs, saying how they ended.
printf '#!/bin/sh\necho "not a QEMU at all" >&2\nexit 3\n' >"$T/fake"
printf '#!/bin/sh\nexec %s "$@"\n' "$QEMU10" >"$T/nomodules"
chmod +x "$T/fake" "$T/nomodules"
expect_rc 2 start "$PROFILES/guest.json" --name bad --set qemu.binary=/bin/true
grep -q "bad: failed to start: '/bin/true' did not start as a QEMU (no QMP greeting): it exited with status 0$" "$T/last.err" ||
	fail "/bin/true: $(cat "$T/last.err")"
VMM_QEMU=$T/fake expect_rc 2 run "$PROFILES/guest.json" --name bad
grep -q "'$T/fake' did not start as a QEMU (no QMP greeting): it exited with status 3: not a QEMU at all$" "$T/last.err" ||
	fail "a script: $(cat "$T/last.err")"
expect_rc 1 probe "$T/nomodules"
grep -q "'$T/nomodules': it died of signal 6 (Aborted)" "$T/last.err" || fail "10.0 without its modules: $(cat "$T/last.err")"
[ "$(qemus bad)" = 0 ] && [ ! -e "$VMM_RUN_DIR/bad" ] || fail "something ran: $(ls -A "$VMM_RUN_DIR/bad")"
pass "no QEMU (/bin/true, a script) and 10.0 without its modules: refused before anything runs"
