#!/usr/bin/env bash
# Host probe for a GPU machine (bench/host_probe.c): the host's topology, then CPU copy and
# page-locking rates with and without a concurrent host-to-device copy. About 1 minute on an
# H200 host. Needs the NVIDIA driver and the probe binary, built elsewhere if the GPU host has no
# C compiler:
#   cc -O2 -mavx2 -mclflushopt -pthread -o target/host_probe bench/host_probe.c -ldl
#   PROBE=target/host_probe bash bench/host-probe.sh        # MODES="scaling ring readers"
# Writes a 4 GiB file (PROBE_FILE, default /tmp/trtq-host-probe.bin; removed at the end) and reads
# it once so the page cache holds it, as bench/feed.sh does for its data sets.
set -uo pipefail
PROBE="${PROBE:-target/host_probe}"
FILE="${PROBE_FILE:-/tmp/trtq-host-probe.bin}"
[ -x "$PROBE" ] || { echo "PROBE=$PROBE is not an executable (see the build line above)"; exit 2; }
echo "== host"; uname -r; nproc; lscpu | grep -E "Model name|Socket|NUMA node|L3" || true
nvidia-smi --query-gpu=name,pci.bus_id,driver_version --format=csv,noheader || true
for d in /sys/bus/pci/devices/*; do
  if [ "$(cat "$d/vendor")" = 0x10de ] && [ "$(cat "$d/class")" = 0x030200 ]; then
    echo "GPU $d numa_node=$(cat "$d/numa_node") local_cpus=$(cat "$d/local_cpulist") link=$(cat "$d/current_link_speed" 2>/dev/null) x$(cat "$d/current_link_width" 2>/dev/null)"
  fi
done
echo "THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"; df -T "$(dirname "$FILE")" | tail -1
echo "== file"; dd if=/dev/zero of="$FILE" bs=16M count=256 status=none && cat "$FILE" >/dev/null
for m in ${MODES:-scaling ring readers}; do echo "== $m"; "$PROBE" "$FILE" 38 "$m" ${PROBE_CPUS:-}; done
rm -f "$FILE"
