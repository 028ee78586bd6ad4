#!/bin/bash
# The desktop extras against the real QEMU: Looking Glass's shared memory file made by vmm
# (size, owner, mode) and shared with the guest as an ivshmem-plain device it sees on its
# PCI bus; a file in /dev/shm that another user planted is refused; a sound server QEMU
# cannot reach fails the start with QEMU's reason and leaves nothing.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

shm=/dev/shm/vmm-test-lg-$$
trap 'rm -f "$shm"; cleanup' EXIT
sed "s|\"lifecycle\"|\"looking_glass\": { \"size\": \"32M\", \"path\": \"$shm\", \"user\": \"nobody\" },\n  \"lifecycle\"|" \
	"$PROFILES/guest.json" >"$T/lg.json"
start_detached lg "$T/lg.json"
[ "$(stat -c '%s %U %a' "$shm")" = "33554432 nobody 660" ] || fail "the file: $(stat -c '%s %U %a' "$shm")"
"$VMM" qmp lg query-pci >"$T/pci.json" || fail "query-pci"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
sys.exit(not any(dev["id"]["vendor"] == 0x1af4 and dev["id"]["device"] == 0x1110 for b in d for dev in b["devices"]))' \
	"$T/pci.json" || fail "no ivshmem device (1af4:1110) in query-pci"
found=$(python3 "$SRCDIR/tests/integration/console.py" "$VMM" lg \
	'grep -l 0x1110 /sys/bus/pci/devices/*/device && echo lg-$((6*7))' 'lg-42' | tail -n1)
[ "$found" = lg-42 ] || fail "the guest does not see the ivshmem device"
# The guest writes into the shared memory (BAR 2, through /dev/mem); the host reads it in the file.
python3 "$SRCDIR/tests/integration/console.py" "$VMM" lg \
	'd=$(dirname $(grep -l 0x1110 /sys/bus/pci/devices/*/device)); devmem $(sed -n 3p $d/resource | cut -d" " -f1) 32 0x2d6d6d76 && echo wrote-$((1+1))' \
	'wrote-2' >/dev/null || fail "could not write through the guest's BAR"
[ "$(head -c 4 "$shm")" = vmm- ] || fail "the host's file does not hold what the guest wrote: $(head -c 4 "$shm" | od -c | head -1)"
expect_rc 0 stop lg
pass "Looking Glass: $shm 32M, owned by nobody (0660), ivshmem in the guest, its writes in the host's file"

# A file someone else put in /dev/shm under that name: refused before QEMU starts.
rm -f "$shm"
install -m 0666 -o daemon /dev/null "$shm"
expect_rc 2 start "$T/lg.json" --name lg2
grep -q "looking_glass.path: '$shm' belongs to uid $(id -u daemon), not to nobody: remove it" "$T/last.err" ||
	fail "a planted file: $(cat "$T/last.err")"
[ "$(qemus lg2)" = 0 ] || fail "a QEMU runs after the refused start"
pass "a file another user planted in /dev/shm is refused"

# Sound through PulseAudio on a QEMU without its driver module (qemu-system-gui is not installed here).
sed 's|"lifecycle"|"audio": "pulseaudio",\n  "lifecycle"|' "$PROFILES/guest.json" >"$T/snd.json"
expect_rc 2 start "$T/snd.json" --name snd
grep -q "audio driver" "$T/last.err" || fail "no reason from QEMU: $(cat "$T/last.err")"
[ "$(qemus snd)" = 0 ] || fail "a QEMU runs after the failed start"
assert_clean_rundir snd
pass "audio without QEMU's driver: the start fails with QEMU's reason ($(grep -o "Unknown audio driver[^.]*" "$T/last.err" | head -1))"
