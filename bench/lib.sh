# Shared by the bench scripts: the QEMU argv vmm builds for a profile, rewritten to run
# without vmm (chardevs on socket paths instead of inherited fds, another guest name).
#   raw_argv PROFILE WORKDIR [ARG...]   sets the array "argv" (ARGs: more options of vmm cmdline,
#   such as --set); sockets: WORKDIR/raw-mon.sock, raw-con.sock

raw_argv() {
	local profile=$1 work=$2 i
	eval "argv=($("$vmm" cmdline "$profile" "${@:3}"))"
	for i in "${!argv[@]}"; do
		case ${argv[$i]} in
		guest=*) argv[$i]="guest=bench-raw,debug-threads=on" ;;
		socket,id=monitor,fd=3,*) argv[$i]="socket,id=monitor,path=$work/raw-mon.sock,server=on,wait=off" ;;
		socket,id=proxy-monitor,fd=5,*) argv[$i]="socket,id=proxy-monitor,path=$work/raw-proxy.sock,server=on,wait=off" ;;
		socket,id=console,fd=4,*) argv[$i]="socket,id=console,path=$work/raw-con.sock,server=on,wait=off,logfile=$work/raw.log" ;;
		esac
	done
}
