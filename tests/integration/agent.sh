#!/bin/bash
# The guest agent, through the supervisor: ping, info, osinfo, exec (output and exit status),
# --raw; vmm ip and vmm wait (agent, ip, ssh); the agent again after kill -9 of the supervisor
# and vmm attach; a hung agent (6 callers at once too; an exec it started said) and a guest without an agent time out cleanly; a VM with no
# agent channel says so; vmm stop of a guest that ignores the power button powers it off
# through the agent; bad input gets a clear error.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

# Starts VM NAME detached from PROFILE with more options, and waits for the guest's ready line.
start_with() {
	local name=$1 profile=$2
	shift 2
	"$VMM" start "$profile" --name "$name" "$@" >"$T/$name.start.out" 2>"$T/$name.start.err" ||
		fail "vmm start $name failed: $(cat "$T/$name.start.err")"
	wait_for "$VMM_RUN_DIR/$name/console.log" 'vmm-guest: ready' 60
}

start_detached ag "$PROFILES/guest-agent.json"
expect_rc 0 wait ag agent --timeout 60
expect_rc 0 agent ag ping
grep -q "the guest agent of VM 'ag' answers" "$T/last.out" || fail "ping: $(cat "$T/last.out")"
expect_rc 0 agent ag info
grep -Eq '^version +[0-9]+\.' "$T/last.out" && grep -q ' guest-exec ' "$T/last.out" || fail "info: $(cat "$T/last.out")"
expect_rc 0 agent ag osinfo
grep -Eq '^pretty-name +vmm test guest$' "$T/last.out" || fail "osinfo: $(cat "$T/last.out")"
expect_rc 0 agent ag time
grep -Eq '^20[0-9-]+ [0-9:.]+ UTC \([0-9.]+ s (ahead of|behind) the host' "$T/last.out" || fail "time: $(cat "$T/last.out")"
pass "wait agent, then ping, info, osinfo and time answer"

expect_rc 0 agent ag exec cat /proc/uptime
grep -Eq '^[0-9]+\.[0-9]+ [0-9]+\.[0-9]+$' "$T/last.out" || fail "exec cat /proc/uptime: $(cat "$T/last.out")"
expect_rc 3 agent ag exec sh -c 'echo out; echo err >&2; exit 3'
[ "$(cat "$T/last.out")" = out ] && [ "$(cat "$T/last.err")" = err ] || fail "exec output: $(cat "$T/last.out" "$T/last.err")"
expect_rc 0 agent ag exec --json ls -l /
[ "$(json_field exitcode <"$T/last.out")" = 0 ] || fail "exec --json: $(cat "$T/last.out")"
expect_rc 1 agent ag exec /no/such/program
grep -q "the guest agent failed guest-exec: .*No such file" "$T/last.err" || fail "exec missing: $(cat "$T/last.err")"
expect_rc 0 agent ag --raw '{"execute": "guest-get-osinfo"}'
[ "$(json_field id <"$T/last.out")" = vmm-guest ] || fail "--raw: $(cat "$T/last.out")"
pass "exec returns the command's output and exit status; --raw prints the agent's answer"

expect_rc 0 ip ag
grep -Eq '^eth0 +52:54:00:[0-9a-f:]+ +net0 user +10\.0\.2\.15/24' "$T/last.out" || fail "ip: $(cat "$T/last.out")"
grep -q "user networking: the host reaches the guest only through ports forwarded to it" "$T/last.out" ||
	fail "ip says nothing of user networking: $(cat "$T/last.out")"
expect_rc 0 ip ag --json
python3 -c 'import json,sys; i=json.load(sys.stdin); sys.exit(not (i[0]["nic"] == "net0" and i[0]["network"] == "user" and "10.0.2.15/24" in i[0]["addresses"]))' \
	<"$T/last.out" || fail "ip --json: $(cat "$T/last.out")"
expect_rc 0 wait ag ip --timeout 30
[ "$(cat "$T/last.out")" = 10.0.2.15 ] || fail "wait ip: $(cat "$T/last.out")"
pass "vmm ip: the guest's address on net0 (user networking, said); wait ip prints it"

expect_rc 1 wait ag ssh --timeout 2
grep -q "waited 2 s for ssh: VM 'ag': nothing listens on port 22 in the guest" "$T/last.err" ||
	fail "wait ssh without sshd: $(cat "$T/last.err")"
expect_rc 0 agent ag exec sh -c 'nc -ll -p 22 -e /bin/echo SSH-2.0-stand-in </dev/null >/dev/null 2>&1 &'
expect_rc 0 wait ag ssh --timeout 30
grep -q "the guest listens on port 22 (user networking" "$T/last.out" || fail "wait ssh: $(cat "$T/last.out")"
pass "wait ssh with user networking: the guest listening on port 22"

sup=$(state_field ag supervisor_pid)
kill -9 "$sup"
assert_gone "$sup"
expect_rc 0 attach ag
expect_rc 0 agent ag exec cat /proc/uptime
pass "after kill -9 of the supervisor and vmm attach, the agent answers again"

# A hung agent: its sync times out, cleanly; once it runs again, stale answers do not count.
expect_rc 0 agent ag --raw '{"execute": "guest-exec", "arguments": {"path": "sh", "arg": ["-c", "sleep 0.5; killall -STOP qemu-ga"]}}'
sleep 2
start=$(date +%s)
expect_rc 1 agent ag ping
grep -q "the guest agent did not answer within 5 s (it has its port open" "$T/last.err" ||
	fail "hung agent: $(cat "$T/last.err")"
[ $(($(date +%s) - start)) -lt 12 ] || fail "a hung agent took $(($(date +%s) - start)) s"
# 6 callers at once: those queued behind the first fail with it, not 5 s more each in turn.
start=$(date +%s)
for i in 1 2 3 4 5 6; do "$VMM" agent ag ping >/dev/null 2>"$T/hung$i.err" & done
wait
for i in 1 2 3 4 5 6; do
	grep -q "the guest agent did not answer within 5 s (it has its port open" "$T/hung$i.err" ||
		fail "caller $i of a hung agent: $(cat "$T/hung$i.err")"
done
[ $(($(date +%s) - start)) -lt 12 ] || fail "6 callers of a hung agent took $(($(date +%s) - start)) s"
expect_rc 0 status ag
python3 "$SRCDIR/tests/integration/console.py" "$VMM" ag 'killall -CONT qemu-ga; echo con''tinued' 'continued' >/dev/null ||
	fail "could not resume the agent on the console"
expect_rc 0 agent ag osinfo
grep -q "vmm test guest" "$T/last.out" || fail "after a hang: $(cat "$T/last.out")"
pass "a hung agent times out in 5 s, for 6 callers at once too; resumed, it answers the next call, not a stale one"

# exec whose agent hangs once the command runs: the error says that the command was started.
# (Which call finds the agent hung depends on the timing: a sync, 5 s, or the status poll, 10 s.)
expect_rc 1 agent ag exec sh -c 'killall -STOP qemu-ga; echo hi'
grep -Eq "the command was started in the guest \(pid [0-9]+\); whether it ended is unknown: .*did not answer (within 5 s|guest-exec-status within 10 s)" \
	"$T/last.err" || fail "exec with the agent hung after it started: $(cat "$T/last.err")"
python3 "$SRCDIR/tests/integration/console.py" "$VMM" ag 'killall -CONT qemu-ga; echo con''tinued' 'continued' >/dev/null ||
	fail "could not resume the agent on the console"
expect_rc 0 agent ag ping
pass "exec whose agent hangs after it started says so (pid in the guest), not only that the agent did not answer"

expect_rc 0 stop ag
grep -q "guest powered off" "$T/last.err" || fail "stop: $(cat "$T/last.err")"
assert_clean_rundir ag

# A guest with the channel but no agent running: refused at once; wait gives up cleanly.
start_with noagent "$PROFILES/guest-agent.json" --set 'boot.append=console=ttyS0 quiet vmm.noagent'
start=$(date +%s)
expect_rc 1 agent noagent ping
grep -q "no guest agent runs in the guest (it has not opened its port org.qemu.guest_agent.0" "$T/last.err" ||
	fail "no agent: $(cat "$T/last.err")"
expect_rc 1 wait noagent agent --timeout 3
grep -q "waited 3 s for agent: VM 'noagent': no guest agent runs in the guest" "$T/last.err" ||
	fail "wait without an agent: $(cat "$T/last.err")"
[ $(($(date +%s) - start)) -lt 8 ] || fail "no agent took $(($(date +%s) - start)) s"
expect_rc 0 kill noagent
pass "a guest without an agent: refused at once, wait gives up after --timeout"

# A VM without an agent channel, and bad input.
start_detached plain "$PROFILES/guest.json"
expect_rc 1 agent plain ping
grep -q "VM 'plain' has no guest agent channel (\"agent\": true in its profile" "$T/last.err" ||
	fail "no channel: $(cat "$T/last.err")"
expect_rc 1 wait plain agent --timeout 30
grep -q "has no guest agent channel" "$T/last.err" || fail "wait without a channel: $(cat "$T/last.err")"
expect_rc 1 ip plain
expect_rc 0 wait plain running
expect_rc 1 agent plain
grep -q "usage: vmm agent NAME \[--timeout S\] \[--json\] ping|info" "$T/last.err" || fail "no subcommand: $(cat "$T/last.err")"
expect_rc 1 agent plain reboot
expect_rc 1 agent plain exec
expect_rc 1 agent plain --raw '[1]'
grep -q -- "--raw: expected one JSON object" "$T/last.err" || fail "--raw [1]: $(cat "$T/last.err")"
expect_rc 1 agent plain ping --timeout 0
grep -q -- "--timeout: expected seconds from 1 to 3600, not '0'" "$T/last.err" || fail "--timeout 0: $(cat "$T/last.err")"
expect_rc 1 wait plain booted
grep -q "wait: expected running, agent, ip or ssh, not 'booted'" "$T/last.err" || fail "wait booted: $(cat "$T/last.err")"
expect_rc 1 wait nosuch agent
grep -q "no VM named 'nosuch' is running" "$T/last.err" || fail "wait nosuch: $(cat "$T/last.err")"
expect_rc 0 kill plain
pass "no agent channel, unknown subcommands and bad options: clear errors"

# A guest that ignores the power button: the agent's guest-shutdown powers it off.
start_with noacpi "$PROFILES/guest-noacpi.json" --set agent=true
expect_rc 0 wait noacpi agent --timeout 60
qemu=$(state_field noacpi qemu_pid)
expect_rc 0 stop noacpi --timeout 2
grep -q "vmm: noacpi: guest powered off (through its guest agent: it ignored the power button)" "$T/last.err" ||
	fail "stop through the agent: $(cat "$T/last.err")"
grep -q "stopping: the guest agent took guest-shutdown" "$VMM_RUN_DIR/noacpi/vmm.log" ||
	fail "no agent step in the log: $(cat "$VMM_RUN_DIR/noacpi/vmm.log")"
assert_gone "$qemu"
assert_clean_rundir noacpi
pass "vmm stop of a guest ignoring the power button: guest-shutdown through the agent, exit 0"
