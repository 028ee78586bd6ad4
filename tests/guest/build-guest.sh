#!/bin/bash
# Builds the tiny test/demo guest (kernel + busybox initramfs) from Debian packages only.
# Output: $VMM_CACHE_DIR/guest/{vmlinuz,initrd.img,stamp}. Re-running with the same
# package versions does nothing. Needs apt-get (the packages are downloaded, not installed).
#   build-guest.sh            the cloud kernel (small, fast; no USB or HID drivers)
#   build-guest.sh generic    Debian's generic kernel with xHCI, USB HID and evdev as well,
#                             into $VMM_CACHE_DIR/guest-generic (the real-kernel USB test)
set -euo pipefail

cache=${VMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
here=$(cd "$(dirname "$0")" && pwd)
case ${1:-cloud} in
cloud) meta=linux-image-cloud-amd64 out=$cache/guest extra_modules=() ;;
generic)
	meta=linux-image-amd64 out=$cache/guest-generic
	extra_modules=(usb/common/usb-common usb/core/usbcore usb/host/xhci-hcd usb/host/xhci-pci hid/hid
		hid/usbhid/usbhid hid/hid-generic)
	;;
*) echo "build-guest: unknown flavour '$1' (cloud or generic)" >&2; exit 2 ;;
esac

kpkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "build-guest: cannot resolve $meta (run apt-get update)" >&2; exit 1; }
kver=$(apt-cache policy "$kpkg" | awk '/Candidate:/ {print $2}')
bver=$(apt-cache policy busybox-static | awk '/Candidate:/ {print $2}')
gver=$(apt-cache policy qemu-guest-agent | awk '/Candidate:/ {print $2}')
stamp="$kpkg=$kver busybox-static=$bver qemu-guest-agent=$gver scripts=$(cat "$here/init" "$0" | sha256sum | cut -c1-16)"

if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && chmod 755 . &&
	apt-get download -q -o APT::Sandbox::User=root "$kpkg" busybox-static qemu-guest-agent >/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/k"
dpkg-deb -x "$work"/busybox-static_*.deb "$work/b"
dpkg-deb -x "$work"/qemu-guest-agent_*.deb "$work/ga"

root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,var,etc/acpi/PWRF,lib/modules,mnt,host}
cp "$work/b/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
ln -s ../run "$root/var/run"
install -m 0755 "$here/init" "$root/init"
printf '#!/bin/sh\nexec /bin/busybox poweroff -f\n' > "$root/etc/acpi/PWRF/00000080"
chmod 0755 "$root/etc/acpi/PWRF/00000080"

# The guest agent: Debian's qemu-ga with the shared libraries it links (as this host's
# Debian has them: the same release) and the dynamic loader. Its guest-shutdown runs
# /sbin/shutdown -P|-H|-r +0 MESSAGE, which busybox lacks.
cp "$work/ga/usr/sbin/qemu-ga" "$root/bin/qemu-ga"
ldd "$work/ga/usr/sbin/qemu-ga" | awk '/not found/ { print "build-guest: qemu-ga needs " $1 ", not installed here" > "/dev/stderr"; bad = 1 }
	$1 ~ /^\// { print $1 } $3 ~ /^\// { print $3 } END { exit bad }' >"$work/libs"
while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done <"$work/libs"
cat > "$root/sbin/shutdown" <<'EOF'
#!/bin/sh
case " $* " in
*" -r "*) exec /bin/busybox reboot -f ;;
*" -H "*) exec /bin/busybox halt -f ;;
*) exec /bin/busybox poweroff -f ;;
esac
EOF
chmod 0755 "$root/sbin/shutdown"
printf 'PRETTY_NAME="vmm test guest"\nNAME="vmm test guest"\nID=vmm-guest\nVERSION_ID=1\n' > "$root/etc/os-release"
# Addresses from DHCP (user networking's, for vmm ip).
cat > "$root/etc/udhcpc.script" <<'EOF'
#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ifconfig "$interface" "$ip" ${subnet:+netmask "$subnet"} up
[ -n "$router" ] && route add default gw "${router%% *}" dev "$interface"
exit 0
EOF
chmod 0755 "$root/etc/udhcpc.script"

# Flat module directory: the init script insmods them in dependency order.
mods=$(ls -d "$work"/k/lib/modules/*/kernel)
for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev virtio/virtio_pci_modern_dev \
	virtio/virtio_pci virtio/virtio_mem char/hw_random/virtio-rng virtio/virtio_balloon block/virtio_blk scsi/scsi_common \
	scsi/scsi_mod scsi/sd_mod scsi/virtio_scsi ../net/core/failover net/net_failover net/virtio_net char/virtio_console input/evdev acpi/button misc/pvpanic/pvpanic misc/pvpanic/pvpanic-mmio \
	vfio/vfio vfio/vfio_iommu_type1 vfio/vfio_virqfd ../virt/lib/irqbypass vfio/pci/vfio-pci-core \
	vfio/pci/vfio-pci ../fs/fuse/fuse ../fs/fuse/virtiofs cdrom/cdrom ../fs/isofs/isofs "${extra_modules[@]}"; do
	f=$(find "$mods" -path "*drivers/$m.ko*" | head -n1)
	[ -n "$f" ] || f=$(find "$mods" -path "*/${m#../}.ko*" | head -n1)
	[ -n "$f" ] || { echo "build-guest: module $m not found in $kpkg" >&2; exit 1; }
	case "$f" in
	*.xz) xz -dc "$f" > "$root/lib/modules/$(basename "$m").ko" ;;
	*.zst) zstd -qdc "$f" > "$root/lib/modules/$(basename "$m").ko" ;;
	*) cp "$f" "$root/lib/modules/$(basename "$m").ko" ;;
	esac
done

mkdir -p "$out.new"
cp "$work"/k/boot/vmlinuz-* "$out.new/vmlinuz"
# zstd: the guest unpacks it faster than gzip under TCG (it boots as fast as before the agent).
(cd "$root" && find . | cpio -o -H newc --quiet | zstd -q -12) > "$out.new/initrd.img"
echo "$stamp" > "$out.new/stamp"
rm -rf "$out"
mv "$out.new" "$out"
echo "build-guest: built $out ($kpkg $kver, busybox $bver, qemu-guest-agent $gver)"
