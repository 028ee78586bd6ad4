#!/bin/bash
# vmm bench fio: a 2-variant matrix (iothread on and off) x 2 repeats x 3-second runs of the
# test guest's fio on a small disk, with the host reference: results.json, summary.csv, a
# manifest with every field per target, report.svg as XML, repeats interleaved; compare of a
# directory with itself finds no significant difference; a failing variant (a disk the profile
# lacks) is reported and the other kept; a guest without fio is said; bad input (an unknown
# preset or matrix key, a profile without an agent) is refused before anything boots.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data
mkdir -p "$VMM_DATA_DIR"
truncate -s 32M "$VMM_DATA_DIR/fio-data.img"
P=$PROFILES/guest-fio.json

# Nothing may have booted: no run directory was made, no output directory either.
assert_nothing_ran() {
	[ -z "$(ls -A "$VMM_RUN_DIR" 2>/dev/null)" ] || fail "$1: a VM was started: $(ls "$VMM_RUN_DIR")"
	[ ! -e "$T/none" ] || fail "$1: an output directory was made"
}
expect_rc 1 bench fio "$P" --preset nosuch --disk data --out "$T/none"
grep -q "preset nosuch: no such preset (randread-4k-qd1, " "$T/last.err" || fail "unknown preset: $(cat "$T/last.err")"
assert_nothing_ran "unknown preset"
expect_rc 1 bench fio "$P" --preset randread-4k-qd1 --disk data --matrix 'disks[data].iothraed=true,false' --out "$T/none"
grep -q "no variant can run (v1: disks\[data\].iothraed=true): .*disks\[1\]: unknown key 'iothraed'\|no variant can run .*iothraed" "$T/last.err" ||
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
[ -z "$(ls -A "$VMM_RUN_DIR" 2>/dev/null)" ] || fail "run directories left: $(ls "$VMM_RUN_DIR")"
ls "$VMM_DATA_DIR" | grep -qv '^fio-data.img$' && fail "files left in the data directory: $(ls "$VMM_DATA_DIR")"
pass "2 variants x 2 repeats, interleaved: results.json, summary.csv, report.svg, manifests, the host reference"

expect_rc 0 bench compare "$T/b1" "$T/b1"
[ "$(grep -c 'no significant difference' "$T/last.out")" = 18 ] && ! grep -Eq 'faster|slower|^different' "$T/last.out" ||
	fail "compare with itself: $(cat "$T/last.out")"
grep -q 'manifests: the same' "$T/last.out" || fail "compare manifests: $(cat "$T/last.out")"
pass "compare of a bench with itself: no significant difference"

expect_rc 1 bench fio "$P" --matrix disk=data,nosuch --preset seqread-1m --repeat 1 --runtime 2 --out "$T/b2"
grep -q "v2 (disk=nosuch) cannot run: the profile has no disk 'nosuch' (its disks: 'data')" "$T/last.err" ||
	fail "failing variant: $(cat "$T/last.err")"
grep -Eq '^v2 +disk=nosuch .*' "$T/last.out" && grep -q "failed (run 1): the profile has no disk 'nosuch'" "$T/last.out" ||
	fail "failing variant in the table: $(cat "$T/last.out")"
python3 - "$T/b2" <<'PY' || fail "results of b2"
import json, sys
t = {x["id"]: x for x in json.load(open(sys.argv[1] + "/results.json"))["targets"]}
assert t["v1"]["runs"][0]["ok"] and t["v1"]["summary"]["bw"]["median"] > 0
assert not t["v2"]["runs"][0]["ok"] and "no disk 'nosuch'" in t["v2"]["error"]
PY
pass "a failing variant is reported, the other's results kept"

expect_rc 1 bench fio "$P" --set 'boot.append=console=ttyS0 quiet vmm.nofio' --preset randread-4k-qd1 --disk data \
	--repeat 1 --runtime 2 --out "$T/b3"
grep -q "the guest has no fio on its PATH: install it in the guest" "$T/last.err" || fail "no fio: $(cat "$T/last.err")"
[ -z "$(ls -A "$VMM_RUN_DIR" 2>/dev/null)" ] || fail "run directories left after no fio: $(ls "$VMM_RUN_DIR")"
pass "a guest without fio is said"
