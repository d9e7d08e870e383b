#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The EPC cgroup experiment of issue 17 (docs/epc-cgroups.md): a VMM's vEPC
# and host enclaves, each in an EPC cgroup of the platform service, on one
# 16 MiB EPC, without and with limits. Each scenario starts a fresh service
# in a private socket directory, starts the host side (enclaves built, then
# touched page by page for the run), then the VMM side (a vEPC prefaulted,
# then touched likewise), and prints one table row per side: pages it holds
# at the end, SIGBUS and ENOMEM counts, rounds over its memory, pages the
# reclaimer took from it (zaps), build time, the average round and the last
# round (the steady state once both run); then the cgroups
# as `softsgx cgroup` lists them. The last scenario also prints
# `softsgx top --once --json`'s service object while both run.
#
# Usage: examples/cgroup-experiment.sh [SOFTSGX [EPC_PRESSURE [KEY]]]
#   defaults: build/release/softsgx, build/release/examples/epc_pressure,
#   build/keys/test-signer.pem (make; make build/keys/test-signer.pem)
# Env: SECONDS_PER_RUN (default 5), EPC (default 16M).
set -eu

SOFTSGX=${1:-build/release/softsgx}
PRESSURE=${2:-build/release/examples/epc_pressure}
KEY=${3:-build/keys/test-signer.pem}
RUN=${SECONDS_PER_RUN:-5}
EPC=${EPC:-16M}

for f in "$SOFTSGX" "$PRESSURE" "$KEY"; do
	[ -e "$f" ] || { echo "cgroup-experiment: $f is missing (make first)" >&2; exit 2; }
done

SOFTSGX_RUNTIME_DIR=$(mktemp -d /tmp/softsgx-cgexp-XXXXXX)
export SOFTSGX_RUNTIME_DIR
trap '"$SOFTSGX" platform stop --force >/dev/null 2>&1 || true; rm -rf "$SOFTSGX_RUNTIME_DIR"' EXIT

row() {
	# One JSON line of epc_pressure as a table row.
	[ -s "$1" ] || { printf '| %-22s | %s: no result (it died) |\n' "$2" "${1##*.}"; return; }
	sed -e 's/[{}"]//g' -e 's/, /,/g' "$1" | tr ',' '\n' | awk -F': ' -v name="$2" '
		{ v[$1] = $2 }
		END {
			printf "| %-22s | %-5s | %-6s | %4s MiB | %6s | %6s | %6s | %6s | %8s | %6s ms | %7s ms | %7s ms |\n",
				name, v["role"], v["cgroup"], v["mib"], v["ok_pages"], v["sigbus"],
				v["enomem"], v["rounds"], v["evicted_zaps"], v["build_ms"],
				v["round_ms_avg"], v["round_ms_last"]
		}'
}

# scenario NAME VMM_MIB HOST_MIB VM_MAX HOST_MAX [top]
scenario() {
	name=$1 vmm_mib=$2 host_mib=$3 vm_max=$4 host_max=$5
	"$SOFTSGX" platform start --epc "$EPC" --sections 1 --idle-timeout 0 >/dev/null
	[ "$vm_max" = max ] || "$SOFTSGX" cgroup /vm --max "$vm_max" >/dev/null
	[ "$host_max" = max ] || "$SOFTSGX" cgroup /host --max "$host_max" >/dev/null
	out=$SOFTSGX_RUNTIME_DIR/$$
	SOFTSGX_CGROUP=/host "$PRESSURE" --role host --mib "$host_mib" --seconds "$RUN" \
		--key "$KEY" >"$out.host" &
	hpid=$!
	sleep 1 # the host's enclaves are built and resident when the guest boots
	SOFTSGX_CGROUP=/vm "$PRESSURE" --role vmm --mib "$vmm_mib" --seconds "$((RUN - 1))" \
		>"$out.vmm" &
	vpid=$!
	if [ "${6:-}" = top ]; then
		sleep 2
		"$SOFTSGX" top --once --json --interval 0.1 |
			sed -e 's/.*"service": //' -e 's/}$//' >"$out.top"
	fi
	wait "$hpid" || true
	wait "$vpid" || true
	row "$out.host" "$name"
	row "$out.vmm" "$name"
	"$SOFTSGX" cgroup >"$out.cg"
	"$SOFTSGX" platform stop --force >/dev/null
	sed 's/^/    /' "$out.cg" >>"$SOFTSGX_RUNTIME_DIR/cgroups"
}

echo "EPC $EPC, $RUN s per run; host starts first, the VMM 1 s later"
echo
echo "| scenario               | side  | cgroup | asked    | pages  | SIGBUS | ENOMEM | rounds | evicted  | build     | round avg  | last round |"
echo "|------------------------|-------|--------|----------|--------|--------|--------|--------|----------|-----------|------------|------------|"
: >"$SOFTSGX_RUNTIME_DIR/cgroups"
scenario "no limits, 8+12 MiB" 8 12 max max
scenario "no limits, 15+8 MiB" 15 8 max max
scenario "no limits, 16+8 MiB" 16 8 max max
scenario "/vm 8M, /host 8M" 12 12 8M 8M
scenario "/vm 6M, /host 10M" 15 8 6M 10M top
echo
echo "cgroups at the end of each run (softsgx cgroup):"
cat "$SOFTSGX_RUNTIME_DIR/cgroups"
echo
echo "softsgx top --once --json, service object, during the last run:"
cat "$SOFTSGX_RUNTIME_DIR/$$.top"
