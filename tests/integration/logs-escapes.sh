#!/bin/bash
# vmm logs takes the terminal escapes a guest wrote on its console out (colours, a window
# title, a screen clear, other control characters), keeping the text and newlines;
# vmm logs --raw gives the log as it is.
. "$(dirname "$0")/lib.sh"

start_detached le "$PROFILES/guest.json"
python3 "$SRCDIR/tests/integration/console.py" "$VMM" le \
	"printf 'X\\033[31mRED\\033[0m\\033]0;evil title\\007\\033[2J-done\\001\\n'" 'X.*RED.*-done' >/dev/null ||
	fail "the guest did not print on its console"
wait_for "$VMM_RUN_DIR/le/console.log" $'\x1b\\[31mRED' 20
expect_rc 0 logs le
grep -q '^XRED-done$' "$T/last.out" || fail "vmm logs: $(grep -a 'done' "$T/last.out" | od -c | head)"
! grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/last.out" || fail "vmm logs left control characters: $(grep -a $'\x1b' "$T/last.out" | od -c | head)"
grep -q 'vmm-guest: ready' "$T/last.out" || fail "vmm logs lost the guest's text"
expect_rc 0 logs le --json
python3 -c 'import json,sys; t=json.load(sys.stdin)["text"]; assert "XRED-done" in t and "\x1b" not in t' <"$T/last.out" ||
	fail "vmm logs --json: $(cat "$T/last.out" | head -c 2000)"
pass "vmm logs (and --json) shows the guest's text without its escapes and control characters"
expect_rc 0 logs le --raw
grep -q $'X\x1b\\[31mRED\x1b\\[0m\x1b\\]0;evil title\x07' "$T/last.out" || fail "vmm logs --raw: $(grep -a 'done' "$T/last.out" | od -c | head)"
pass "vmm logs --raw keeps them"
expect_rc 0 kill le
