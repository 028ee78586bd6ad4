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
fver=$(apt-cache policy fio | awk '/Candidate:/ {print $2}')
stamp="$kpkg=$kver busybox-static=$bver qemu-guest-agent=$gver fio=$fver scripts=$(cat "$here/init" "$0" | sha256sum | cut -c1-16)"

if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && chmod 755 . &&
	apt-get download -q -o APT::Sandbox::User=root "$kpkg" busybox-static qemu-guest-agent fio >/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/k"
dpkg-deb -x "$work"/busybox-static_*.deb "$work/b"
dpkg-deb -x "$work"/qemu-guest-agent_*.deb "$work/ga"
dpkg-deb -x "$work"/fio_*.deb "$work/fio"

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

# fio (vmm bench fio): Debian's binary with the small libraries it links (libaio, libnuma,
# zlib, libc). The network, RDMA and PMEM engines' libraries (rbd and rados alone bring 80 MB
# of Ceph, Boost and ICU) are replaced by stubs that define what fio links of them (with their
# symbol versions, as fio binds at load time) and trap if called: those engines are never used.
stubs="libgfapi.so.0 libnbd.so.0 libibverbs.so.1 librdmacm.so.1 libpmem.so.1 libpmemblk.so.1 librados.so.2 librbd.so.1"
fio=$work/fio/usr/bin/fio
cp "$fio" "$root/bin/fio"
ldd "$fio" >"$work/fio-ldd"
objdump -T "$fio" | awk '/\*UND\*/ && $2 != "w" { v = $(NF-1); gsub(/[()]/, "", v); print $NF, v }' >"$work/fio-syms"
for lib in $stubs; do
	path=$(awk -v l="$lib" '$1 == l && $3 ~ /^\// { print $3 }' "$work/fio-ldd")
	[ -n "$path" ] || { echo "build-guest: fio needs $lib, not installed here (apt-get install fio)" >&2; exit 1; }
	nm -D --defined-only "$path" | awk '{ s = $3; sub(/@.*/, "", s); print s }' | sort -u >"$work/defs"
	awk 'NR == FNR { d[$1] = 1; next } ($1 in d)' "$work/defs" "$work/fio-syms" >"$work/stub.syms"
	awk '{ print "void " $1 "(void) { __builtin_trap(); }" }' "$work/stub.syms" >"$work/stub.c"
	awk '$2 != "Base" { if (!($2 in v)) order[n++] = $2; v[$2] = v[$2] " " $1 ";" } $2 == "Base" { base = base " " $1 ";" }
		END { for (i = 0; i < n; i++) print order[i] " { global:" v[order[i]] (i ? "" : base) " };"; if (!n) print "{ global:" base " local: *; };" }' \
		"$work/stub.syms" >"$work/stub.map"
	mkdir -p "$root$(dirname "$path")"
	gcc -shared -fPIC -nostdlib -o "$root$path" -Wl,-soname,"$lib" -Wl,--version-script="$work/stub.map" "$work/stub.c"
done
objdump -p "$fio" | awk '$1 == "NEEDED" { print $2 }' | while read -r lib; do
	case " $stubs " in *" $lib "*) continue ;; esac
	path=$(awk -v l="$lib" '$1 == l { print $3 }' "$work/fio-ldd")
	{ echo "$path"; ldd "$path" | awk '$1 ~ /^\// { print $1 } $3 ~ /^\// { print $3 }'; }
done | sort -u | while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	[ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
done
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
