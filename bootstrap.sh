#!/bin/bash
# Sets up vmm on a fresh Debian 12 machine and runs the demo: installs the build and
# runtime dependencies with apt-get, builds vmm into build/, builds the demo guest and
# fetches QEMU 10.0 (the tests run on it too, beside Debian's 7.2) into the cache (outside
# the repo), then boots the demo VM under `vmm run`, waits for its console's ready line,
# and stops it gracefully. Re-running only re-runs the demo.
#   ./bootstrap.sh            set up, then the demo
#   ./bootstrap.sh --no-demo  set up only
set -euo pipefail
cd "$(dirname "$0")"

packages=(
	gcc meson ninja-build pkg-config
	libjson-c-dev libevent-dev libudev-dev libpci-dev
	qemu-system-x86 qemu-utils ovmf pciutils
	busybox-static cpio gzip xz-utils zstd
	gdb iproute2 python3
	swtpm swtpm-tools # the TPM (profile key tpm)
	tpm2-tools libtss2-tcti-swtpm0 # tests/integration/tpm.sh reads the TPM state back
	xorriso # cloud-init NoCloud seeds (vmm/launch/seed.c)
	umockdev # replays a recorded host's USB and input devices for vmm usb/input list (tests/hostdev.sh)
	systemd # systemd-analyze verifies the vmm@.service unit (tests/integration/systemd-notify.sh)
	fio # vmm bench fio's host reference; the test guest gets Debian's fio (tests/guest/build-guest.sh)
	libvirglrenderer1 # QEMU 10.0's virtio-gpu-gl module (tests/qemu10), which 7.2 lacks
	openssh-server openssh-client openssl # the migration tests: sshd for ssh://, x509 certificates for --tls
)

# Installs what is missing; apt-get runs only when something is.
install_packages() {
	local missing=() p
	for p in "${packages[@]}"; do
		[ "$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
	done
	# The guest build asks apt for the kernel package: it needs package lists.
	local policy
	policy=$(apt-cache policy linux-image-cloud-amd64 2>/dev/null)
	if [ ${#missing[@]} -gt 0 ] || [[ $policy != *"Candidate: "[0-9]* ]]; then
		[ "$(id -u)" = 0 ] || { echo "bootstrap: run as root (apt-get installs ${missing[*]:-package lists})" >&2; exit 1; }
		apt-get update -q
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
}

# The system user a root vmm runs QEMU as (qemu.user's default), in group kvm where there is one.
create_qemu_user() {
	[ "$(id -u)" = 0 ] || return 0
	id vmm >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin vmm
	if getent group kvm >/dev/null; then
		usermod -aG kvm vmm
	fi
}

# Configures build/ once, then brings it up to date.
build_vmm() {
	[ -f build/build.ninja ] || meson setup build
	ninja -C build
}

# Boots the demo VM: console to the terminal, QMP status line, graceful stop.
demo() {
	local log rc=0
	log=$(mktemp)
	trap 'rm -f "$log"' RETURN
	echo "bootstrap: booting the demo VM (examples/demo.json) under vmm"
	build/vmm run examples/demo.json > >(tee "$log") &
	local pid=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^vmm-guest: ready' "$log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^vmm-guest: ready' "$log"; then
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" || true
		echo "bootstrap: the demo guest did not reach its ready line" >&2
		exit 1
	fi
	sleep 0.5
	echo
	echo "bootstrap: the guest is ready; stopping it gracefully (SIGINT -> ACPI power button)"
	kill -INT "$pid"
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || { echo "bootstrap: vmm exited with status $rc" >&2; exit 1; }
	echo "bootstrap: done. Run the tests with: meson test -C build"
}

install_packages
create_qemu_user
build_vmm
tests/guest/build-guest.sh
tests/guest/build-guest.sh generic # the real-kernel USB test (xHCI and HID drivers)
tests/qemu10/fetch.sh
[ "${1:-}" = --no-demo ] || demo
