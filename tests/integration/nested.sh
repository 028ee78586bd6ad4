# The real-kernel harness (sourced after lib.sh): the Debian cloud kernel boots under TCG,
# sees the host's / read-only through virtiofs (cached in the guest: nothing changes it
# during a test), runs a script from it (tests/guest/init's vmm.hostfs) with the env file
# $T/env (VMM, SRCDIR, GUEST) and powers off. No timer check: a loaded host can make the
# kernel's check of the timer through the remapped IO-APIC fail and panic. Used by the tests that need a kernel of their
# own: vfio-real.sh, isolate-real.sh, usb-real.sh.

# The guest whose kernel and initrd boot (a test may name another, e.g. guest-generic).
nested_guest=$GUEST

# nested_run SCRIPT SECONDS APPEND QEMU_ARGS...: boots it with QEMU_ARGS (-smp, -m, devices)
# and the extra kernel command line APPEND, prints the guest's ok/FAIL/SKIP lines, and fails
# unless SCRIPT exits 0 within SECONDS (with the console's last lines when it hangs).
nested_run() {
	local script=$1 secs=$2 append=$3 virtiofsd=/usr/lib/qemu/virtiofsd qemu i end
	shift 3
	[ -x "$virtiofsd" ] || fail "no $virtiofsd (apt install qemu-system-x86)"
	cat >"$T/env" <<EOF2
VMM=$VMM
SRCDIR=$SRCDIR
GUEST=$GUEST
EOF2
	"$virtiofsd" --socket-path="$T/vfs.sock" -o source=/ -o cache=always -o sandbox=chroot \
		>"$T/virtiofsd.log" 2>&1 &
	VMM_PIDS+=($!)
	for ((i = 0; i < 100; i++)); do [ -S "$T/vfs.sock" ] && break; sleep 0.05; done
	[ -S "$T/vfs.sock" ] || fail "virtiofsd did not start: $(cat "$T/virtiofsd.log")"
	qemu-system-x86_64 -nodefaults -display none -no-reboot -accel tcg -cpu max "$@" \
		-chardev socket,id=vfs,path="$T/vfs.sock" -device vhost-user-fs-pci,chardev=vfs,tag=hostroot,addr=0x3 \
		-kernel "$nested_guest/vmlinuz" -initrd "$nested_guest/initrd.img" \
		-append "console=ttyS0 cryptomgr.notests no_timer_check $append vmm.hostfs=hostroot:$script:$T/env" \
		-serial file:"$T/console.out" &
	qemu=$!
	VMM_PIDS+=($qemu)
	# The watchdog: the guest's verdict in time, or the console's tail (fail prints it).
	end=$((SECONDS + secs))
	while ((SECONDS < end)); do
		grep -q "vmm-guest: hostfs script exited" "$T/console.out" 2>/dev/null && break
		kill -0 "$qemu" 2>/dev/null || fail "the nested QEMU exited before the guest's verdict"
		! grep -q "Kernel panic" "$T/console.out" 2>/dev/null || fail "the guest's kernel panicked"
		sleep 0.1
	done
	grep -q "vmm-guest: hostfs script exited" "$T/console.out" || fail "no verdict from the nested guest within $secs s"
	grep -E "^(ok|FAIL|SKIP)" "$T/console.out" | tr -d '\r'
	grep -q "vmm-guest: hostfs script exited 0" "$T/console.out" || fail "the guest's checks failed"
}
