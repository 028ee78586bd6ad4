#!/bin/bash
# accel "auto": KVM when /dev/kvm can create a VM; with /dev/kvm masked (a private mount
# namespace binds /dev/null over it) TCG, a one-line warning, and the guest still boots.
# Profiles by name: VMM_PROFILE_PATH is searched in order; a missing name says where.
. "$(dirname "$0")/lib.sh"

sed 's/"accel": "tcg"/"accel": "auto"/' "$PROFILES/guest.json" >"$T/auto.json"

out=$("$VMM" cmdline "$T/auto.json" 2>"$T/cmdline.err")
if [ -c /dev/kvm ] && [ -w /dev/kvm ] && ! grep -q warning "$T/cmdline.err"; then
	[[ " $out " == *" -accel kvm -cpu host "* ]] || fail "usable /dev/kvm but: $out"
	pass "auto with a usable /dev/kvm: -accel kvm -cpu host"
else
	[[ " $out " == *" -accel tcg -cpu max "* ]] || fail "no usable /dev/kvm but: $out"
	pass "auto without a usable /dev/kvm: -accel tcg -cpu max"
fi

[ "$(id -u)" = 0 ] || fail "masking /dev/kvm needs root (unshare -m)"
# Runs a command with /dev/kvm replaced by /dev/null in a private mount namespace
# (through exec, so the command keeps unshare's pid).
mask_kvm=(unshare -m sh -c 'mount --bind /dev/null /dev/kvm && exec "$@"' sh)
if [ -e /dev/kvm ]; then
	out=$("${mask_kvm[@]}" "$VMM" cmdline "$T/auto.json" 2>"$T/cmdline.err")
	[[ " $out " == *" -accel tcg -cpu max "* ]] || fail "masked /dev/kvm: $out"
	[ "$(cat "$T/cmdline.err")" = "vmm: auto: warning: KVM is not usable here (/dev/kvm), using TCG (slow)" ] ||
		fail "cmdline warning: $(cat "$T/cmdline.err")"
	"${mask_kvm[@]}" "$VMM" run "$T/auto.json" >"$T/auto.out" 2>"$T/auto.err" &
else
	"$VMM" run "$T/auto.json" >"$T/auto.out" 2>"$T/auto.err" &
fi
VMM_PID=$! VMM_PIDS+=("$!")
wait_for "$T/auto.out" '^vmm-guest: ready' 60
wait_for "$T/auto.err" 'status running' 10
[ "$(head -n1 "$T/auto.err")" = "vmm: auto: warning: KVM is not usable here (/dev/kvm), using TCG (slow)" ] ||
	fail "run warning: $(head -n1 "$T/auto.err")"
grep -q '(tcg), status running' "$T/auto.err" || fail "not TCG: $(cat "$T/auto.err")"
kill -INT "$VMM_PID"
wait_exit
[ "$RC" = 0 ] || fail "exit $RC after a graceful stop"
pass "KVM unusable: one warning, TCG, the guest boots and powers off"

mkdir -p "$T/first" "$T/second"
sed 's/"256M"/"192M"/' "$PROFILES/guest.json" >"$T/first/guest.json"
cp "$PROFILES/guest.json" "$T/second/guest.json"
out=$(VMM_PROFILE_PATH=$T/first:$T/second "$VMM" cmdline guest) || fail "by name: $out"
[[ " $out " == *" -m 192M "* && $out == *"guest=guest,"* ]] || fail "VMM_PROFILE_PATH order: $out"
out=$(VMM_PROFILE_PATH=$T/second "$VMM" cmdline guest)
[[ " $out " == *" -m 256M "* ]] || fail "VMM_PROFILE_PATH second dir: $out"
rc=0
err=$(VMM_PROFILE_PATH=$T/first "$VMM" cmdline no-such-vm 2>&1) || rc=$?
[ "$rc" = 1 ] && [[ $err == "vmm: no profile named 'no-such-vm' (searched \$VMM_PROFILE_PATH, "* ]] || fail "missing name: $err"
pass "profiles by name follow VMM_PROFILE_PATH in order; a missing one says where vmm looked"
