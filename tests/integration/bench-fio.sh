#!/bin/bash
# vmm bench fio: a 2-variant matrix (iothread on and off) x 2 repeats x 3-second runs of the
# test guest's fio on a small disk, with the host reference: results.json, summary.csv, a
# manifest with every field per target, report.svg as XML, repeats interleaved; compare of a
# directory with itself finds no significant difference, with a changed copy the change and the
# other kernel and QEMU; a failing variant (a disk the profile lacks) is reported and the other
# kept, which runs pinned with vmm off its CPU; a guest without fio is said; SIGINT stops the
# VM under way; bad input (an unknown preset or matrix key, a profile without an agent) is
# refused before anything boots.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data
mkdir -p "$VMM_DATA_DIR"
truncate -s 32M "$VMM_DATA_DIR/fio-data.img"
P=$PROFILES/guest-fio.json

# Nothing may have booted: no run directory was made, no output directory either.
assert_nothing_ran() {
	# (ls without -A: the run base keeps the lock of QEMU users' grants, .grants.lock.)
	[ -z "$(ls "$VMM_RUN_DIR" 2>/dev/null)" ] || fail "$1: a VM was started: $(ls "$VMM_RUN_DIR")"
	[ ! -e "$T/none" ] || fail "$1: an output directory was made"
}
expect_rc 1 bench fio "$P" --preset nosuch --disk data --out "$T/none"
grep -q "preset nosuch: no such preset (randread-4k-qd1, " "$T/last.err" || fail "unknown preset: $(cat "$T/last.err")"
assert_nothing_ran "unknown preset"
expect_rc 1 bench fio "$P" --preset randread-4k-qd1 --disk data --matrix 'disks[data].iothraed=true,false' --out "$T/none"
grep -q "no variant can run (v1: disks\[data\].iothraed=true): --set: disks\[0\].iothraed: unknown key (did you mean 'iothread'?)" "$T/last.err" ||
	fail "unknown matrix key: $(cat "$T/last.err")"
assert_nothing_ran "unknown matrix key"
expect_rc 1 bench fio "$P" --set agent=false --preset randread-4k-qd1 --disk data --out "$T/none"
grep -q 'the profile has no guest agent channel ("agent": true)' "$T/last.err" || fail "no agent: $(cat "$T/last.err")"
assert_nothing_ran "no agent"
expect_rc 1 bench fio "$P" --preset randread-4k-qd1 --out "$T/none"
grep -q "name the disk fio runs on" "$T/last.err" || fail "no disk: $(cat "$T/last.err")"
pass "bad input (unknown preset, unknown matrix key, no agent, no disk) refused before anything boots"

expect_rc 0 bench fio "$P" --matrix 'disks[data].iothread=true,false' --preset randread-4k-qd1 --disk data \
	--repeat 2 --runtime 3 --out "$T/b1"
grep -Eq '^host +host .* reference$' "$T/last.out" && grep -Eq '^v1 +disks\[data\]\.iothread=true .*%$' "$T/last.out" &&
	grep -Eq '^v2 +disks\[data\]\.iothread=false ' "$T/last.out" || fail "table: $(cat "$T/last.out")"
grep -q 'vmm: bench: \[1/6\] host .*repeat 1 of 2' "$T/last.err" && grep -q '\[6/6\] v2 .*repeat 2 of 2, about' "$T/last.err" ||
	fail "progress: $(cat "$T/last.err")"
python3 - "$T/b1" <<'PY' || fail "bench files: $(cat "$T/last.out")"
import csv, json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
r = json.load(open(d + "/results.json"))
t = {x["id"]: x for x in r["targets"]}
assert set(t) == {"host", "v1", "v2"}, t.keys()
assert t["host"]["kind"] == "host" and t["v1"]["reference"] == "host", t["v1"]
for k in t.values():
    assert [x["ok"] for x in k["runs"]] == [True, True], k
    assert k["summary"]["iops"]["median"] > 0 and k["summary"]["iops"]["n"] == 2
    for m in ("iops", "bw", "lat_mean", "p50", "p99", "p99.9"):
        assert m in k["runs"][0]["metrics"] and m in k["summary"]
assert "vs_host_pct" in t["v1"]["summary"]["iops"]
# Interleaved: every target's first repeat before any second one.
assert max(x["runs"][0]["started_ms"] for x in t.values()) < min(x["runs"][1]["started_ms"] for x in t.values())
assert all(x["runs"][0]["timing"]["vmm_ms"] > 0 for x in (t["v1"], t["v2"]))
rows = list(csv.DictReader(open(d + "/summary.csv")))
assert len(rows) == 18 and {x["target"] for x in rows} == {"host", "v1", "v2"}, rows
assert all(float(x["median"]) > 0 for x in rows)
ET.parse(d + "/report.svg")
for v in ("v1", "v2"):
    m = json.load(open(d + "/" + v + "/manifest.json"))
    for k in ("profile", "argv", "sets", "qemu", "host", "image", "disk", "pinning", "cpu_map", "fio", "times"):
        assert k in m, (v, k)
    for k in ("kernel", "cpu_model", "governor", "smt", "thp", "hugepages"):
        assert k in m["host"], k
    assert m["qemu"]["version"] and "probe" in m["qemu"] and m["argv"][0].endswith("qemu-system-x86_64")
    assert m["image"]["filesystem"] and m["image"]["device"]
    assert m["disk"]["cache"] == "none" and m["disk"]["aio"] == "threads" and m["disk"]["iothread"] == (v == "v1")
    assert any(x["thread"].startswith("CPU 0/") for x in m["cpu_map"]), m["cpu_map"]
    assert (v == "v1") == any(x["thread"] == "IO io-data" for x in m["cpu_map"]), m["cpu_map"]
    assert m["fio"]["version"].startswith("fio-") and "filename=/dev/" in m["fio"]["job"]
    assert len(m["times"]) == 2
h = json.load(open(d + "/host/manifest.json"))
assert h["fio"]["version"].startswith("fio-") and h["image"]["filesystem"]
PY
[ -z "$(ls "$VMM_RUN_DIR" 2>/dev/null)" ] || fail "run directories left: $(ls "$VMM_RUN_DIR")"
ls "$VMM_DATA_DIR" | grep -qv '^fio-data.img$' && fail "files left in the data directory: $(ls "$VMM_DATA_DIR")"
pass "2 variants x 2 repeats, interleaved: results.json, summary.csv, report.svg, manifests, the host reference"

expect_rc 0 bench compare "$T/b1" "$T/b1"
[ "$(grep -c 'no significant difference' "$T/last.out")" = 18 ] && ! grep -Eq 'faster|slower|^different' "$T/last.out" ||
	fail "compare with itself: $(cat "$T/last.out")"
grep -q 'manifests: the same' "$T/last.out" || fail "compare manifests: $(cat "$T/last.out")"
pass "compare of a bench with itself: no significant difference"

# B: A with v1 ten times faster in IOPS and slower at p99, and another kernel and QEMU.
cp -r "$T/b1" "$T/b1x"
python3 - "$T/b1x" <<'PY'
import json, sys
d = sys.argv[1]
r = json.load(open(d + "/results.json"))
for t in r["targets"]:
    if t["id"] == "v1":
        for run in t["runs"]:
            run["metrics"]["iops"] *= 10
            run["metrics"]["p99"] *= 10
json.dump(r, open(d + "/results.json", "w"))
for t in ("host", "v1", "v2"):
    m = json.load(open(d + "/" + t + "/manifest.json"))
    m["host"]["kernel"] = "9.9.9-other"
    if t != "host":
        m["qemu"]["version"] = "99.0.0"
    json.dump(m, open(d + "/" + t + "/manifest.json", "w"))
PY
expect_rc 0 bench compare "$T/b1" "$T/b1x"
sed -n 3,4p "$T/last.out" | grep -q '^different host kernel: .* (A) vs 9.9.9-other (B)$' &&
	sed -n 3,4p "$T/last.out" | grep -q '^different QEMU: .* (A) vs 99.0.0 (B)$' || fail "compare headline: $(cat "$T/last.out")"
sed -n '/^v1 /,/^v2 /p' "$T/last.out" | grep -Eq '^  iops +faster by 900\.0 % ± [0-9.]+ %$' &&
	sed -n '/^v1 /,/^v2 /p' "$T/last.out" | grep -Eq '^  p99 +slower by 900\.0 % ± [0-9.]+ %$' &&
	sed -n '/^v1 /,/^v2 /p' "$T/last.out" | grep -q '^  host.kernel: ".*" -> "9.9.9-other"$' &&
	[ "$(sed -n '/^v2 /,$p' "$T/last.out" | grep -c 'no significant difference')" = 6 ] ||
	fail "compare of a changed bench: $(cat "$T/last.out")"
pass "compare: a real change beyond the spread, the kernel and QEMU that differ said first"

# A job file of two sections, which vmm points at the disk (its directory dropped). Of the
# variants, those with the disk and a QEMU that takes its options run, pinned (vCPU and iothread
# on CPU 1) with vmm off that CPU; those lacking the disk fail before they boot, those whose
# QEMU refuses an option when it starts. With a loop device, the disk's image is once a file and
# once the device, which the host reference then reads itself: a reference per filesystem or device.
printf '[global]\nioengine=libaio\ndirect=1\ndirectory=/nowhere\n[r]\nrw=read\nbs=64k\n[rr]\nrw=randread\nbs=4k\n' >"$T/two.fio"
pin=()
[ "$(nproc)" -ge 2 ] && pin=(--set 'cpu.pin=[1]' --set 'disks[data].iothread_pin="1"')
LOOP=
files=()
if LOOP=$(losetup -f --show "$(truncate -s 16M "$T/loop.img" && echo "$T/loop.img")" 2>/dev/null); then
	trap 'losetup -d "$LOOP"; cleanup' EXIT
	files=(--matrix "disks[data].file=$VMM_DATA_DIR/fio-data.img,$LOOP")
fi
expect_rc 1 bench fio "$P" "${pin[@]}" --matrix 'qemu.extra_args=[],["-no-such-option"]' --matrix disk=data,nosuch \
	"${files[@]}" --job "$T/two.fio" --repeat 1 --runtime 2 --out "$T/b2" --json
grep -q "(qemu.extra_args=\[\] disk=nosuch[^)]*) cannot run: the profile has no disk 'nosuch' (its disks: 'data')" "$T/last.err" ||
	fail "failing variant: $(cat "$T/last.err")"
grep -q "vmm: bench: v[0-9] failed: the VM did not start (exit status 2: .*no-such-option" "$T/last.err" ||
	fail "variant whose QEMU fails: $(cat "$T/last.err")"
python3 - "$T/b2" "$T/last.out" "${#pin[@]}" "$LOOP" <<'PY' || fail "results of b2: $(cat "$T/last.out")"
import json, sys
d, out, pinned, loop = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3] != "0", sys.argv[4]
assert out == json.load(open(d + "/results.json"))
byid = {x["id"]: x for x in out["targets"]}
ran = [x for x in out["targets"] if x["kind"] == "variant" and x["runs"][0]["ok"]]
assert [x["label"].startswith("qemu.extra_args=[] disk=data") for x in ran] == [True] * (2 if loop else 1), ran
for x in out["targets"]:
    if x["kind"] == "variant" and "disk=nosuch" in x["label"]:
        assert not x["runs"][0]["ok"] and "no disk 'nosuch'" in x["error"], x
    elif x["kind"] == "variant" and "no-such-option" in x["label"]:
        assert not x["runs"][0]["ok"] and "did not start" in x["runs"][0]["error"], x
assert byid["host"]["runs"][0]["ok"] and byid["host"]["label"] == "host " + d.rsplit("/", 1)[0] + "/data"
m = json.load(open(d + "/" + ran[0]["id"] + "/manifest.json"))
job = m["fio"]["job"]
assert "directory" not in job and job.count("filename=/dev/vd") == 3 and job.count("runtime=2") == 3, job
assert "[r]" in job and "[rr]" in job and m["fio"]["job_name"].endswith("two.fio")
h = json.load(open(d + "/host/manifest.json"))
assert "size=33554432" in h["fio"]["job"] and "filename=" + d.rsplit("/", 1)[0] + "/data/.vmm-bench-fio-" in h["fio"]["job"], h["fio"]["job"]
if loop:
    assert ran[0]["reference"] == "host" and ran[1]["reference"] == "host2" and byid["host2"]["label"] == "host " + loop
    h2 = json.load(open(d + "/host2/manifest.json"))
    assert h2["image"]["block_device"] and "filename=" + loop in h2["fio"]["job"] and "size=" not in h2["fio"]["job"]
    assert json.load(open(d + "/" + ran[1]["id"] + "/manifest.json"))["image"]["block_device"]
    assert byid["host2"]["runs"][0]["ok"]
if pinned:
    assert m["pinning"]["vmm_kept_off"] == [1], m["pinning"]
    cpus = {x["thread"]: x["host_cpus"] for x in m["cpu_map"]}
    assert cpus["CPU 0/TCG"] == "1" and cpus["IO io-data"] == "1", cpus
    for x in m["supervisor_cpu_map"] + m["bench_cpu_map"]:
        assert "1" not in x["host_cpus"].replace("-", ",").split(","), x
PY
pass "a job file pointed at the disk; failing variants (no disk, QEMU refusing) reported, the others kept (--json); vmm kept off the pinned CPU; a block device's reference reads the device"

expect_rc 1 bench fio "$P" --set 'boot.append=console=ttyS0 quiet vmm.nofio' ${LOOP:+--set "disks[data].file=$LOOP"} \
	--preset randwrite-4k-qd32 --disk data --repeat 1 --runtime 2 --out "$T/b3"
grep -q "the guest has no fio on its PATH: install it in the guest" "$T/last.err" || fail "no fio: $(cat "$T/last.err")"
[ -z "$(ls "$VMM_RUN_DIR" 2>/dev/null)" ] || fail "run directories left after no fio: $(ls "$VMM_RUN_DIR")"
if [ -n "$LOOP" ]; then
	python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["targets"]; assert [x["id"] for x in t] == ["v1"] and "block device and the job writes" in t[0]["reference_note"], t' \
		"$T/b3/results.json" || fail "a writing job on a block device got a reference"
fi
pass "a guest without fio is said (and a job writing on a block device gets no host reference)"

# SIGINT while a variant boots: its VM is stopped, the results so far written.
"$VMM" bench fio "$P" --preset randread-4k-qd1 --disk data --repeat 2 --runtime 3 --out "$T/b4" \
	>"$T/b4.out" 2>"$T/b4.err" &
bench=$!
VMM_PIDS+=("$bench")
wait_for "$T/b4.err" '\[2/4\] v1' 60
sleep 1
kill -INT "$bench"
rc=0
wait "$bench" || rc=$?
[ "$rc" = 1 ] && grep -q "vmm: interrupted: the results so far are in '$T/b4'" "$T/b4.err" || fail "SIGINT: exit $rc: $(cat "$T/b4.err")"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/b4/results.json" || fail "SIGINT: no results.json"
[ -z "$(ls "$VMM_RUN_DIR" 2>/dev/null)" ] || fail "SIGINT: the VM was left: $(ls "$VMM_RUN_DIR")"
pass "SIGINT stops the VM under way and keeps the results so far"
