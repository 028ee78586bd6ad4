#!/bin/bash
# Builds the tiny test/demo guest (kernel + busybox initramfs) from Debian packages only.
# Output: $VMM_CACHE_DIR/guest/{vmlinuz,initrd.img,stamp}. Re-running with the same
# package versions does nothing. Needs apt-get (the packages are downloaded, not installed).
set -euo pipefail

cache=${VMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
out=$cache/guest
here=$(cd "$(dirname "$0")" && pwd)

kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "build-guest: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
kver=$(apt-cache policy "$kpkg" | awk '/Candidate:/ {print $2}')
bver=$(apt-cache policy busybox-static | awk '/Candidate:/ {print $2}')
stamp="$kpkg=$kver busybox-static=$bver scripts=$(cat "$here/init" "$0" | sha256sum | cut -c1-16)"

if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && chmod 755 . && apt-get download -q -o APT::Sandbox::User=root "$kpkg" busybox-static >/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/k"
dpkg-deb -x "$work"/busybox-static_*.deb "$work/b"

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc/acpi/PWRF,lib/modules,mnt,host}
cp "$work/b/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 0755 "$here/init" "$root/init"
printf '#!/bin/sh\nexec /bin/busybox poweroff -f\n' > "$root/etc/acpi/PWRF/00000080"
chmod 0755 "$root/etc/acpi/PWRF/00000080"

# Flat module directory: the init script insmods them in dependency order.
mods=$(ls -d "$work"/k/lib/modules/*/kernel)
for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev virtio/virtio_pci_modern_dev \
	virtio/virtio_pci virtio/virtio_mem char/hw_random/virtio-rng virtio/virtio_balloon block/virtio_blk scsi/scsi_common \
	scsi/scsi_mod scsi/sd_mod scsi/virtio_scsi ../net/core/failover net/net_failover net/virtio_net char/virtio_console input/evdev acpi/button misc/pvpanic/pvpanic misc/pvpanic/pvpanic-mmio \
	vfio/vfio vfio/vfio_iommu_type1 vfio/vfio_virqfd ../virt/lib/irqbypass vfio/pci/vfio-pci-core \
	vfio/pci/vfio-pci ../fs/fuse/fuse ../fs/fuse/virtiofs; do
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
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.new/initrd.img"
echo "$stamp" > "$out.new/stamp"
rm -rf "$out"
mv "$out.new" "$out"
echo "build-guest: built $out ($kpkg $kver, busybox $bver)"
