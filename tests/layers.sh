#!/bin/bash
# Checks that includes run one way between the layers (HACKING.md): a file may include
# its own layer and those below it, always by its path from the source root, never "../".
#   cli -> supervisor -> launch -> profiles -> passthrough -> qmp, base
set -u
cd "${SRCDIR:-$(dirname "$0")/..}"

# The layers a layer may include, its own first.
declare -A allowed=(
	[vmm/base]="vmm/base"
	[qmp]="qmp"
	[passthrough]="passthrough vmm/base"
	[profiles]="profiles passthrough vmm/base"
	[vmm/launch]="vmm/launch profiles passthrough qmp vmm/base"
	[vmm/supervisor]="vmm/supervisor vmm/launch profiles passthrough qmp vmm/base"
	[vmm/cli]="vmm/cli vmm/supervisor vmm/launch profiles passthrough qmp vmm/base"
)

fail=0
checked=0
for layer in "${!allowed[@]}"; do
	for f in "$layer"/*.[ch]; do
		[ -e "$f" ] || continue
		while IFS= read -r inc; do
			checked=$((checked + 1))
			ok=0
			case "$inc" in
			*../*) ;;
			*) for a in ${allowed[$layer]}; do [ "${inc%/*}" = "$a" ] && ok=1; done ;;
			esac
			if [ $ok = 0 ]; then
				echo "$f: includes \"$inc\": $layer may include only ${allowed[$layer]}"
				fail=1
			fi
		done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
	done
done
# Everything else (tests, bench) includes by path from the root as well.
while IFS=: read -r f inc; do
	echo "$f: includes $inc: name the path from the source root, not ../"
	fail=1
done < <(grep -rHo '^#include "\.\./[^"]*"' tests bench 2>/dev/null)
[ $checked -gt 50 ] || { echo "only $checked includes found: is SRCDIR right?"; fail=1; }
[ $fail = 0 ] && echo "layers: $checked includes, all downward"
exit $fail
