# Two hosts for the migration tests, sourced after lib.sh: network namespaces A and B joined
# by a veth pair (names with "mig" and a random suffix, a random 10.x.y.0/24), each side with
# its own VMM_RUN_DIR and VMM_DATA_DIR; the test guest prints a counter on its console
# (vmm.counter), so a test sees it keep counting where it moved. Everything is removed on exit.
command -v ip >/dev/null || { echo "SKIP: no ip (iproute2)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root"; exit 77; }

SUF=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NS_a=mig-a-$SUF
NS_b=mig-b-$SUF
NET=10.$((200 + RANDOM % 50)).$((RANDOM % 250))
IP_a=$NET.1
IP_b=$NET.2
PROFILE=$PROFILES/guest.json
APPEND='boot.append=console=ttyS0 quiet vmm.counter'

# Kills the QEMUs and supervisors of both sides, removes the namespaces, then lib.sh's cleanup.
migrate_cleanup() {
	local f p
	for f in "$T"/run-?/*/state.json; do
		[ -f "$f" ] || continue
		for p in $(sed -n 's/.*"\(qemu\|supervisor\)_pid": *\([0-9]*\).*/\2/p' "$f"); do
			kill -9 "$p" 2>/dev/null || true
		done
	done
	ip netns del "$NS_a" 2>/dev/null || true
	ip netns del "$NS_b" 2>/dev/null || true
	cleanup
}
trap migrate_cleanup EXIT

ip netns add "$NS_a"
ip netns add "$NS_b"
ip link add "mig${SUF}a" netns "$NS_a" type veth peer name "mig${SUF}b" netns "$NS_b"
for s in a b; do
	ns=NS_$s ip=IP_$s
	ip -n "${!ns}" addr add "${!ip}/24" dev "mig$SUF$s"
	ip -n "${!ns}" link set "mig$SUF$s" up
	ip -n "${!ns}" link set lo up
	mkdir -p "$T/run-$s" "$T/data-$s"
done

# The command line that runs vmm on side S (a or b): in its namespace, with its directories,
# and with QEMU_S (when a test sets it) as the QEMU of profiles naming none.
side() {
	local ns=NS_$1 qemu=QEMU_$1
	echo ip netns exec "${!ns}" env "VMM_RUN_DIR=$T/run-$1" "VMM_DATA_DIR=$T/data-$1" \
		${!qemu:+"VMM_QEMU=${!qemu}"} "$VMM"
}

# Runs vmm on side S, expecting exit status RC; output in $T/last.out and $T/last.err.
on() {
	local s=$1 rc=$2 got=0
	shift 2
	$(side "$s") "$@" >"$T/last.out" 2>"$T/last.err" || got=$?
	[ "$got" = "$rc" ] || fail "vmm $* on $s exited $got, expected $rc: $(cat "$T/last.err")"
}

# The console log of VM NAME on side S.
console_of() {
	echo "$T/run-$1/$2/console.log"
}

# Prints the "COUNTER UPTIME" lines VM NAME on side S printed.
counters() {
	[ -f "$(console_of "$1" "$2")" ] || return 0
	tr -d '\r' <"$(console_of "$1" "$2")" | sed -n 's/^vmm-counter: \([0-9]*\) uptime=\([0-9.]*\)$/\1 \2/p'
}

# Prints the last "COUNTER UPTIME" VM NAME on side S printed.
counter() {
	counters "$1" "$2" | tail -n 1
}

# Prints the first "COUNTER UPTIME" VM NAME on side S printed.
first_counter() {
	counters "$1" "$2" | sed -n 1p
}

# Waits up to 60 s until VM NAME on side S has counted past N.
wait_count() {
	local s=$1 name=$2 n=$3 i c
	for ((i = 0; i < 600; i++)); do
		c=$(counter "$s" "$name")
		[ -n "$c" ] && [ "${c%% *}" -gt "$n" ] && return 0
		sleep 0.1
	done
	fail "$name on $s did not count past $n (the guest lacks vmm.counter? rebuild it: tests/guest/build-guest.sh): $(tail -n 5 "$(console_of "$s" "$name")" 2>&1)"
}

# Starts VM NAME on side S and waits until its guest counts.
boot_on() {
	on "$1" 0 start "$PROFILE" --name "$2" --set "$APPEND"
	wait_count "$1" "$2" 2
}

# Starts the destination of VM NAME on side S, listening on URI, with more options of vmm start.
incoming_on() {
	local s=$1 name=$2 uri=$3
	shift 3
	on "$s" 0 start "$PROFILE" --name "$name" --set "$APPEND" --incoming "$uri" --json "$@"
	grep -q "\"incoming\": \"$uri\"" "$T/last.out" || fail "start --incoming: $(cat "$T/last.out")"
}

# Copies VM NAME's identity from side FROM to side TO (what vmm migrate over ssh sends along).
copy_identity() {
	mkdir -p "$T/data-$3/$1"
	cp "$T/data-$2/$1/identity.json" "$T/data-$3/$1/identity.json"
}

# Prints the state VM NAME has on side S ("running", "ended", ...).
state_on() {
	$(side "$1") status "$2" --json 2>/dev/null | json_field state
}

# Waits up to 30 s until VM NAME on side S has ended (its supervisor gone, its record left).
wait_ended() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(state_on "$1" "$2")" = ended ] && return 0
		sleep 0.1
	done
	fail "$2 on $1 did not end: $($(side "$1") status "$2" 2>&1)"
}

# Checks that VM NAME moved from side FROM to side TO without a reboot: the counter on TO
# starts after the last one FROM printed before (BEFORE: "COUNTER UPTIME"), goes on counting,
# the guest's uptime goes on, no boot on TO; FROM says "migrated to DEST" and left only its record.
assert_moved() {
	local name=$1 from=$2 to=$3 before=$4 dest=$5 first left
	wait_count "$to" "$name" "$((${before%% *} + 5))"
	first=$(first_counter "$to" "$name")
	[ "${first%% *}" -gt "${before%% *}" ] &&
		python3 -c 'import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))' "${first#* }" "${before#* }" ||
		fail "$name on $to: counter/uptime $first after $before on $from: not the same guest"
	! grep -q 'vmm-guest: ready' "$(console_of "$to" "$name")" || fail "$name rebooted on $to"
	wait_ended "$from" "$name"
	$(side "$from") status "$name" >"$T/status.out" 2>&1 || true
	grep -q "migrated to $dest" "$T/status.out" || fail "status on $from: $(cat "$T/status.out")"
	[ "$($(side "$from") status "$name" --json | json_field last_end)" = migrated ] || fail "last_end on $from"
	[ "$(state_on "$to" "$name")" = running ] || fail "$name is not running on $to"
	left=$(cd "$T/run-$from/$name" && ls -A | grep -Ev '^(console\.log(\.[0-9])?|vmm\.log|ended\.json)$' || true)
	[ -z "$left" ] || fail "left behind on $from: $left"
}

# Fails unless VM NAME still runs on side S and its guest still counts.
assert_runs_on() {
	local c
	[ "$(state_on "$1" "$2")" = running ] || fail "$2 does not run on $1: $($(side "$1") status "$2" 2>&1)"
	c=$(counter "$1" "$2")
	wait_count "$1" "$2" "$((${c%% *} + 2))"
}

# Starts a sink in side S's namespace that reads every connection to 127.0.0.1:$port to its end
# (a QEMU migrating there with multifd opens several), and waits until it listens; sets port.
start_sink() {
	local ns=NS_$1 i
	port=$((47000 + RANDOM % 1000))
	ip netns exec "${!ns}" python3 -c 'import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
open(sys.argv[2], "w").close()
def drain(c):
    while c.recv(1 << 20): pass
while True:
    threading.Thread(target=drain, args=(s.accept()[0],), daemon=True).start()' "$port" "$T/sink.ready" &
	VMM_PIDS+=("$!")
	for ((i = 0; i < 100; i++)); do [ -e "$T/sink.ready" ] && break; sleep 0.1; done
}
