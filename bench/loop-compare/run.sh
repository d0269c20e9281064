#!/usr/bin/env bash
# One loop thread against the C floor: 4 KiB random O_DIRECT reads of a 1 GiB file at queue depths 1, 32 and 128,
# `aio bench` (io_uring engine, one IoThread) against bench/uring-probe (liburing, the same ring flags), on a file
# system backed by a disk and on tmpfs (CPU-bound), in interleaved rounds. Prints one markdown table: medians,
# min-max spread and process CPU per read, and the ratio of the medians against the better C variant (plain, or with
# registered file and buffers).
#
#   bench/loop-compare/run.sh [--rounds N] [--seconds S] [--ramp S] [--disk-dir DIR] [--tmpfs-dir DIR]
#                             [--depths "1 32 128"] [--cpu LIST]
#
# --ramp (default 1 s) runs every program that long before its measured seconds, unmeasured (fio's ramp_time): the
# managed loop's first fraction of a second runs unoptimised code while the JIT compiles the hot path on another
# thread, a start-up cost the C loop does not have and the comparison is not about. The C loop ramps too (-r).
#
# --cpu pins the C loop (taskset -c) and aio's loop thread (aio bench --cpus-allowed) to the same CPUs; aio's other
# threads (JIT, thread pool, the waiting main thread) stay free, as a C program has none. On a VM whose disk has one
# queue, whichever loop lands on the CPU that takes the disk's interrupts wins by 20-40 % at depth 128: pin both to
# that CPU (grep virtio /proc/interrupts) to compare the loops rather than the scheduler's placement.
#
# Host steal (bench/lib/steal.sh): on a shared VM the hypervisor takes the vCPUs away for tens of % of the time in a
# crowded hour, which moves the CPU-bound tmpfs cells most. Each measurement records it; one during which steal was
# above STEAL_MAX % (default 10) is taken again, at most STEAL_RETRIES (default 2) more times, and the last one counts.
# The table gives each cell's median steal.
#
# Needs gcc and liburing-dev (the probe is built into a temporary folder). Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/steal.sh

rounds=3
seconds=5
ramp=1
disk_dir=${TMPDIR:-/var/tmp}
tmpfs_dir=/dev/shm
depths="1 32 128"
pin_cpus=
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --ramp) ramp=$2; shift 2 ;;
    --disk-dir) disk_dir=$2; shift 2 ;;
    --tmpfs-dir) tmpfs_dir=$2; shift 2 ;;
    --depths) depths=$2; shift 2 ;;
    --cpu) pin_cpus=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
files=()
cleanup() { rm -rf "$work"; rm -f "${files[@]}"; }
trap cleanup EXIT

gcc -O2 -o "$work/uring_randread" bench/uring-probe/uring_randread.c -luring
dotnet build -c Release src/Aio.Cli/Aio.Cli.csproj -o "$work/aio" >/dev/null
aio() { dotnet "$work/aio/Aio.Cli.dll" "$@" ${pin_cpus:+--cpus-allowed "$pin_cpus"}; }
pin=(); [ -n "$pin_cpus" ] && pin=(taskset -c "$pin_cpus")

declare -A target
for t in disk tmpfs; do
  dir=$disk_dir; [ "$t" = tmpfs ] && dir=$tmpfs_dir
  f="$dir/aio-loop-compare-$$.img"
  files+=("$f")
  head -c 1G /dev/urandom > "$f"
  target[$t]=$f
  # One pass over the file first: a virtio disk's host cache warms up during the first reads, which would favour
  # whatever runs later.
  dd if="$f" of=/dev/null bs=1M iflag=direct status=none
done

results="$work/results.tsv"   # target depth engine round iops cpu_us_per_io steal_pct
for r in $(seq 1 "$rounds"); do
  for t in disk tmpfs; do
    f=${target[$t]}
    for d in $depths; do
      # Rounds come in pairs: a rotation (one step further each pair), then the same order reversed. A rotation alone
      # keeps the cyclic order, so aio would always run right after c-FB (which reads c's offsets, right after it).
      engines=(c c-FB aio); shift_by=$(( ((r - 1) / 2) % 3 ))
      order=("${engines[@]:$shift_by}" "${engines[@]:0:$shift_by}")
      if (( r % 2 == 0 )); then order=("${order[2]}" "${order[1]}" "${order[0]}"); fi
      for engine in "${order[@]}"; do
        for attempt in $(seq 0 "$STEAL_RETRIES"); do
          s0=$(steal_ticks)
          case $engine in
            c)    out=$("${pin[@]}" "$work/uring_randread" -d "$d" -t "$seconds" -r "$ramp" -f 2 "$f") ;;
            c-FB) out=$("${pin[@]}" "$work/uring_randread" -d "$d" -t "$seconds" -r "$ramp" -f 2 -F -B "$f") ;;
            aio)  out=$(aio bench "$f" --direct --iodepth "$d" --runtime "${seconds}s" --ramp-time "${ramp}s" --json |
                        python3 -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; d=d.get("results",[d])[0] if "results" in d else d; print("iops", d["iops"]); print("cpu_us_per_io", 1e6*(d["cpu_user_s"]+d["cpu_sys_s"])/max(1,d["ios"]))') ;;
          esac
          steal=$(steal_pct "$s0" "$(steal_ticks)")
          steal_too_high "$steal" || break
          [ "$attempt" -lt "$STEAL_RETRIES" ] && echo "$t qd$d $engine round $r: host steal ${steal}% > ${STEAL_MAX}%, measuring again" >&2
        done
        iops=$(echo "$out" | awk '$1=="iops"{print $2}')
        cpu=$(echo "$out" | awk '$1=="cpu_us_per_io"{print $2}')
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$d" "$engine" "$r" "$iops" "$cpu" "$steal" | tee -a "$results" >&2
      done
    done
  done
done

python3 - "$results" <<'PY'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    t, d, e, r, iops, cpu, steal = line.rstrip('\n').split('\t')
    rows[(t, int(d), e)].append((float(iops), float(cpu), float(steal)))
def fmt(v): return f"{v/1000:.1f}k"
print("| target | depth | C (median, min-max) | C -F -B | aio bench | aio / best C | CPU µs/read C / C -F -B / aio | host steal % |")
print("|---|---|---|---|---|---|---|---|")
for t in ("disk", "tmpfs"):
    for d in sorted({k[1] for k in rows if k[0] == t}):
        cell = {}
        for e in ("c", "c-FB", "aio"):
            v = rows[(t, d, e)]
            iops = [x[0] for x in v]; cpu = [x[1] for x in v]
            cell[e] = (statistics.median(iops), min(iops), max(iops), statistics.median(cpu))
        best = max(cell["c"][0], cell["c-FB"][0])
        steal = statistics.median([x[2] for e in ("c", "c-FB", "aio") for x in rows[(t, d, e)]])
        s = lambda e: f"{fmt(cell[e][0])} ({fmt(cell[e][1])}-{fmt(cell[e][2])})"
        print(f"| {t} | {d} | {s('c')} | {s('c-FB')} | {s('aio')} | **{cell['aio'][0]/best:.2f}** | "
              f"{cell['c'][3]:.2f} / {cell['c-FB'][3]:.2f} / {cell['aio'][3]:.2f} | {steal:.0f} |")
PY
