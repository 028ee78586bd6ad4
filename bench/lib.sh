# Shared by the bench scripts: the QEMU argv vmm builds for a profile, rewritten to run
# without vmm (chardevs on socket paths instead of inherited fds, plain RAM, another guest name).
#   raw_argv PROFILE WORKDIR   sets the array "argv"; sockets: WORKDIR/raw-mon.sock, raw-con.sock
#   (and raw-proxy.sock, the monitor vmm's proxy would use)

raw_argv() {
	local profile=$1 work=$2 i
	eval "argv=($("$vmm" cmdline "$profile" "${@:3}"))"
	for i in "${!argv[@]}"; do
		case ${argv[$i]} in
		guest=*) argv[$i]="guest=bench-raw,debug-threads=on" ;;
		socket,id=monitor,fd=3,*) argv[$i]="socket,id=monitor,path=$work/raw-mon.sock,server=on,wait=off" ;;
		socket,id=proxy-monitor,fd=5,*) argv[$i]="socket,id=proxy-monitor,path=$work/raw-proxy.sock,server=on,wait=off" ;;
		socket,id=agent,fd=6,*) argv[$i]="socket,id=agent,path=$work/raw-agent.sock,server=on,wait=off" ;;
		socket,id=console,fd=4,*) argv[$i]="socket,id=console,path=$work/raw-con.sock,server=on,wait=off,logfile=$work/raw.log" ;;
		# The guest RAM on the supervisor's memfd (LAUNCH_RAM_FD): plain RAM, QEMU's default.
		*'"mem-path":"/proc/self/fd/7"'*) argv[$i]=$(sed 's/"memory-backend-file"/"memory-backend-ram"/; s/,"mem-path":"\/proc\/self\/fd\/7","share":true//' <<<"${argv[$i]}") ;;
		esac
	done
	# An unpacked QEMU's environment (QEMU_MODULE_DIR=...) comes first: run through env.
	[[ ${argv[0]} != *=* ]] || argv=(env "${argv[@]}")
}

# Writes MiB of fresh anonymous memory, frees it and prints the rate in MB/s. A machine that is
# itself a VM may have its RAM backed by its host only on first touch (~450 MB/s on the machines vmm is tested on,
# ~10 GB/s once backed): a migration's destination allocating the guest's pages then measures
# the machine, not QEMU. Benches touch memory before each timed move so every side gets backed
# pages, and print the first rate so the effect shows.
touch_memory() {
	python3 - "$1" <<'PY'
import mmap, sys, time
n = int(sys.argv[1]) << 20
m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
m.madvise(mmap.MADV_HUGEPAGE)
chunk = b"\1" * (64 << 20)
t = time.monotonic()
for off in range(0, n, len(chunk)):
    m[off:off + len(chunk)] = chunk
print(int((n >> 20) / (time.monotonic() - t)))
PY
}
