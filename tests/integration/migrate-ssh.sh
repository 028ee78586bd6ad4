#!/bin/bash
# vmm migrate NAME ssh://root@HOST: sshd (a key made here, the host key known) runs in
# namespace B (migrate-lib.sh) with vmm on its PATH; vmm migrate runs ssh with an argv list,
# starts the destination there with the VM's resolved profile and identity on stdin
# (`vmm start - --incoming`), then migrates to it directly: the guest keeps counting on B.
# A destination that cannot start there (no such host key) fails before anything moves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate-lib.sh"
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || fail "no sshd (apt-get install openssh-server; ./bootstrap.sh installs it)"

k=$T/ssh
mkdir -p "$k" "$T/bin" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$k/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$k/id"
ln -s "$VMM" "$T/bin/vmm"
printf 'environment="PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin",environment="VMM_RUN_DIR=%s",environment="VMM_DATA_DIR=%s",environment="VMM_CACHE_DIR=%s"%s %s\n' \
	"$T/bin" "$T/run-b" "$T/data-b" "$VMM_CACHE_DIR" "${VMM_QEMU:+,environment=\"VMM_QEMU=$VMM_QEMU\"}" \
	"$(cat "$k/id.pub")" >"$k/authorized_keys"
cat >"$k/sshd_config" <<CONF
ListenAddress $IP_b
HostKey $k/host_key
AuthorizedKeysFile $k/authorized_keys
PermitRootLogin prohibit-password
PermitUserEnvironment yes
PasswordAuthentication no
StrictModes no
UsePAM no
PidFile $k/sshd.pid
CONF
echo "$IP_b $(cat "$k/host_key.pub")" >"$k/known_hosts"
cat >"$k/ssh_config" <<CONF
Host *
  IdentityFile $k/id
  UserKnownHostsFile $k/known_hosts
  StrictHostKeyChecking yes
  ConnectTimeout 10
CONF
printf '#!/bin/sh\nexec ssh -F %s "$@"\n' "$k/ssh_config" >"$T/bin/ssh"
chmod +x "$T/bin/ssh"
export VMM_SSH=$T/bin/ssh
ip netns exec "$NS_b" "$SSHD" -D -e -f "$k/sshd_config" 2>"$T/sshd.err" &
VMM_PIDS+=($!)
disown
for ((i = 0; i < 100; i++)); do
	ip netns exec "$NS_a" "$VMM_SSH" -o BatchMode=yes "root@$IP_b" true 2>/dev/null && break
	sleep 0.1
done
ip netns exec "$NS_a" "$VMM_SSH" -o BatchMode=yes "root@$IP_b" true || fail "sshd on B: $(cat "$T/sshd.err")"

boot_on a vm
# A host whose key is not known: ssh refuses, nothing starts there, the VM runs on.
on a 1 migrate vm "ssh://root@$IP_a"
grep -q "the destination on root@$IP_a did not start" "$T/last.err" || fail "unknown host: $(cat "$T/last.err")"
on a 1 migrate vm "ssh://root@-oProxyCommand=x"
grep -q "expected ssh://\[USER@\]HOST" "$T/last.err" || fail "bad host: $(cat "$T/last.err")"
assert_runs_on a vm
pass "a destination ssh cannot start, or a host that is no host name: a clear error, the VM runs on"

before=$(counter a vm)
on a 0 migrate vm "ssh://root@$IP_b"
assert_moved vm a b "$before" "ssh://root@$IP_b"
cmp -s "$T/data-a/vm/identity.json" "$T/data-b/vm/identity.json" || fail "the identity did not travel"
pass "over ssh://: the destination started there with the profile and identity on stdin, the guest keeps counting"
