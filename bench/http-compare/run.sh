#!/usr/bin/env bash
# bench/http-compare/run.sh: the sample web app on Kestrel's Sockets transport (default, and with inline scheduling)
# against the Aio transport (ThreadPool and Loop scheduling), loaded by wrk, in interleaved rounds (ABCDABCD...).
# Prints a markdown table of medians: requests/s, p50/p99 latency, server CPU us/request (utime+stime of the server
# process from /proc/PID/stat over the run, divided by the requests wrk counted), and the client's CPU in % of one
# core over the run (wrk and h2load run one thread: near 100 % the client, not the server, sets the rate) and per
# request (the client's CPU per request is what a faster server cannot lower: at 100 % its inverse is the ceiling), and
# the host's steal (the share of the vCPUs' time the hypervisor gave to other guests, from /proc/stat; above a few %
# the rates say more about the neighbours than about the servers).
#
#   bench/http-compare/run.sh                 # unpinned, 2 loops, 5 rounds of 10 s (ROUNDS=5 DURATION=10: the defaults)
#   ROUNDS=2 DURATION=3 bench/http-compare/run.sh
#   PIN=1 bench/http-compare/run.sh           # server on CPU 1, client on CPU 0, 1 loop / 1 IOQueue
#   WORKLOADS="large-c64" CONFIGS="sockets aio-loop" H2LOAD=0 ROUNDS=1 DURATION=1 WARMUP=1 bench/http-compare/run.sh
#
# Workloads: plaintext-c64, plaintext-c256, pipelined16-c64 (wrk + pipeline.lua), json-c64, churn-c64
# (Connection: close), large-c64 (GET /bytes/1m: 1 MiB responses). Configs: sockets, sockets-inline, aio-threadpool,
# aio-loop; on request (CONFIGS): aio-loop-rp (Loop with one SO_REUSEPORT listener per loop) and aio-loop-1 (Loop with
# one loop whatever LOOPS says: on a small machine that the client shares, one loop can beat several). Other knobs: WARMUP
# (s of plaintext after each server start), WARMUP_EACH (s of each workload, unmeasured, right before it is measured;
# 0 skips), LOOPS (unpinned), POLL_MAX_NS (the Aio loops' busy-poll ceiling in ns, 0 = off; unset: the default),
# PORT, OUT, STEADY (1: every server runs with DOTNET_TC_CallCountingDelayMs=0, see below),
# STEAL_MAX and STEAL_RETRIES (bench/lib/steal.sh: a wrk measurement during which the host's steal exceeded STEAL_MAX %, default 10, is
# measured again, at most STEAL_RETRIES more times, default 2; the last one counts and its steal is reported: on a
# quiet host nothing is repeated, on a crowded one the run takes up to three times as long).
#
# Why WARMUP_EACH: the runtime tiers code up in stages (tier 0, instrumented, tier 1). Code a workload reaches for the
# first time (a connection's setup and teardown under churn) runs unoptimised or instrumented until tier 1 catches up,
# which took ~20 s under churn with the server on one core. Kestrel and the Sockets transport are precompiled
# (ReadyToRun) and start from optimised code; the Aio assemblies are JIT-compiled. Without a warm-up of the workload
# itself the row measures that transient rather than the transport. Under churn alone the transient lasts 25-60 s for
# both transports (connection set-up and teardown keep the tiering delay from expiring); STEADY=1 sets the runtime's
# call-counting delay to 0 for every configuration alike, so that the warm-up reaches the steady state.
#
# Needs wrk (Debian's `wrk`); h2load (`nghttp2-client`) is used for an h2load --h1 plaintext row when present
# (H2LOAD=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/steal.sh
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
WARMUP_EACH=${WARMUP_EACH:-3}
PIN=${PIN:-0}
STEADY=${STEADY:-0}
H2LOAD=${H2LOAD:-1}
POLL_MAX_NS=${POLL_MAX_NS:-}
PORT=${PORT:-5077}
OUT=${OUT:-$(mktemp -d /tmp/http-compare.XXXXXX)}
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 2; }

dotnet build -c Release samples/Aio.Sample.Web >/dev/null
DLL=samples/Aio.Sample.Web/bin/Release/net10.0/Aio.Sample.Web.dll
LUA=bench/http-compare/pipeline.lua
URL=http://127.0.0.1:$PORT
if [ "$PIN" = 1 ]; then SERVER_PIN="taskset -c 1"; CLIENT_PIN="taskset -c 0"; LOOPS=1; else SERVER_PIN=""; CLIENT_PIN=""; LOOPS=${LOOPS:-2}; fi
TICK_US=$((1000000 / $(getconf CLK_TCK)))

read -r -a configs <<<"${CONFIGS:-sockets sockets-inline aio-threadpool aio-loop}"
read -r -a workloads <<<"${WORKLOADS:-plaintext-c64 plaintext-c256 pipelined16-c64 json-c64 churn-c64 large-c64}"
case $PIN in 0|1) ;; *) echo "PIN=0 (unpinned) or PIN=1 (server CPU 1, client CPU 0), not $PIN"; exit 2 ;; esac
case $STEADY in 0|1) ;; *) echo "STEADY=0 (the runtime's defaults) or STEADY=1 (call-counting delay 0), not $STEADY"; exit 2 ;; esac
for n in "$ROUNDS" "$DURATION" "$WARMUP"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS, DURATION and WARMUP are whole numbers >= 1 (got '$n')"; exit 2; }
done
[[ $WARMUP_EACH =~ ^[0-9]+$ ]] || { echo "WARMUP_EACH is a whole number of seconds (0: none), not '$WARMUP_EACH'"; exit 2; }
for c in "${configs[@]}"; do
  case $c in sockets|sockets-inline|aio-threadpool|aio-loop|aio-loop-rp|aio-loop-1) ;; *) echo "unknown config $c"; exit 2 ;; esac
done
for w in "${workloads[@]}"; do
  case $w in plaintext-c64|plaintext-c256|pipelined16-c64|json-c64|churn-c64|large-c64) ;; *) echo "unknown workload $w"; exit 2 ;; esac
done

SERVER=
# An aborted run must not leave its server on the port: the next run would measure it instead of its own.
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true' EXIT

start_server() {
  local args=(--urls "$URL")
  if curl -sf "$URL/plaintext" >/dev/null 2>&1; then
    echo "something already answers on $URL: stop it first (it would be measured instead)"; exit 1
  fi
  local env=()
  [ "$STEADY" = 1 ] && env=(DOTNET_TC_CallCountingDelayMs=0)
  case $1 in
    sockets) args+=(--transport sockets) ;;
    sockets-inline) args+=(--transport sockets --inline true); env+=(DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1) ;;
    aio-threadpool) args+=(--transport aio --scheduling threadpool --loops "$LOOPS") ;;
    aio-loop) args+=(--transport aio --scheduling loop --loops "$LOOPS") ;;
    aio-loop-rp) args+=(--transport aio --scheduling loop --loops "$LOOPS" --listener-per-loop true) ;;
    aio-loop-1) args+=(--transport aio --scheduling loop --loops 1) ;;
  esac
  case $1 in aio-*) [ -n "$POLL_MAX_NS" ] && args+=(--poll-max-ns "$POLL_MAX_NS") ;; esac
  env "${env[@]}" DOTNET_gcServer=1 $SERVER_PIN dotnet "$DLL" "${args[@]}" >"$OUT/server-$1.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do
    if curl -sf "$URL/plaintext" >/dev/null 2>&1; then
      kill -0 "$SERVER" 2>/dev/null || { echo "server $1 exited, yet something answers on $URL"; cat "$OUT/server-$1.log"; exit 1; }
      # An Aio server whose io_uring was refused serves on Sockets: its rows would be Sockets' numbers.
      local want=sockets served
      case $1 in aio-*) want=aio ;; esac
      served=$(curl -sf "$URL/transport" || true)
      [ "$served" = "$want" ] && return 0
      echo "server $1 is served by the '$served' transport, not $want"; cat "$OUT/server-$1.log"; kill "$SERVER"; exit 1
    fi
    sleep 0.1
  done
  echo "server $1 did not start"; cat "$OUT/server-$1.log"; kill "$SERVER"; exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

children_ticks() { # CPU ticks (user+system) of this shell's waited-for children so far: the clients, from /proc
  # Fields 16 and 17 (cutime, cstime) of the script's own /proc/PID/stat count the children it has waited for; $$ is
  # the script even inside the command substitution that calls this.
  awk '{print $16 + $17}' "/proc/$$/stat"
}

run_wrk() { # workload duration -> wrk output
  case $1 in
    plaintext-c64) $CLIENT_PIN wrk -t1 -c64 -d"$2" --latency "$URL/plaintext" ;;
    plaintext-c256) $CLIENT_PIN wrk -t1 -c256 -d"$2" --latency "$URL/plaintext" ;;
    pipelined16-c64) $CLIENT_PIN wrk -t1 -c64 -d"$2" --latency -s "$LUA" "$URL/plaintext" -- 16 ;;
    json-c64) $CLIENT_PIN wrk -t1 -c64 -d"$2" --latency "$URL/json" ;;
    churn-c64) $CLIENT_PIN wrk -t1 -c64 -d"$2" --latency -H 'Connection: close' "$URL/plaintext" ;;
    large-c64) $CLIENT_PIN wrk -t1 -c64 -d"$2" --latency "$URL/bytes/1m" ;;
  esac
}

to_ms() { # wrk latency (12.3us / 1.2ms / 1.01s) -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

echo "kernel $(uname -r), $(dotnet --version), $(nproc) CPUs, pin=$PIN steady=$STEADY loops=$LOOPS rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s+${WARMUP_EACH}s/workload workloads=${workloads[*]}" | tee "$OUT/info"
: >"$OUT/results.tsv"
for round in $(seq "$ROUNDS"); do
  for config in "${configs[@]}"; do
    start_server "$config"
    run_wrk plaintext-c64 "${WARMUP}s" >/dev/null
    for workload in "${workloads[@]}"; do
      [ "$WARMUP_EACH" = 0 ] || run_wrk "$workload" "${WARMUP_EACH}s" >/dev/null
      for attempt in $(seq 0 "$STEAL_RETRIES"); do
        before=$(cpu_ticks "$SERVER"); client_before=$(children_ticks); steal_before=$(steal_ticks)
        run_wrk "$workload" "${DURATION}s" >"$OUT/wrk.txt" 2>&1
        after=$(cpu_ticks "$SERVER"); client_after=$(children_ticks); steal=$(steal_pct "$steal_before" "$(steal_ticks)")
        steal_too_high "$steal" || break
        [ "$attempt" -lt "$STEAL_RETRIES" ] && echo "round $round $config $workload: host steal ${steal}% > ${STEAL_MAX}%, measuring again" >&2
      done
      requests=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
      rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")
      p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$OUT/wrk.txt")")
      p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$OUT/wrk.txt")")
      errors=$(awk '/Socket errors|Non-2xx/ {print}' "$OUT/wrk.txt" | tr '\n' ' ')
      us=$(awk -v t=$((after - before)) -v r="$requests" -v k="$TICK_US" 'BEGIN { printf "%.2f", (r > 0 ? t * k / r : 0) }')
      client=$(awk -v t=$((client_after - client_before)) -v k="$TICK_US" -v d="$DURATION" 'BEGIN { printf "%.0f", t * k / (d * 10000) }')
      client_us=$(awk -v t=$((client_after - client_before)) -v r="$requests" -v k="$TICK_US" 'BEGIN { printf "%.1f", (r > 0 ? t * k / r : 0) }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$config" "$workload" "$rps" "$p50" "$p99" "$us" "$client" "$errors" "$steal" "$client_us" >>"$OUT/results.tsv"
      echo "round $round $config $workload: $rps req/s p50 ${p50}ms p99 ${p99}ms ${us} us/req client ${client}% (${client_us} us/req) steal ${steal}% $errors" >&2
    done
    if [ "$H2LOAD" = 1 ] && command -v h2load >/dev/null; then
      before=$(cpu_ticks "$SERVER"); client_before=$(children_ticks); steal_before=$(steal_ticks)
      if ! $CLIENT_PIN h2load --h1 -t1 -c64 -D "$DURATION" "$URL/plaintext" >"$OUT/h2load.txt" 2>&1; then
        # Recorded as 0 it would drag the median down: a failed client run stops the benchmark.
        echo "h2load failed against $config:"; cat "$OUT/h2load.txt"; exit 1
      fi
      after=$(cpu_ticks "$SERVER"); client_after=$(children_ticks); steal=$(steal_pct "$steal_before" "$(steal_ticks)")
      rps=$(awk '/finished in/ {for (i = 1; i <= NF; i++) if ($i == "req/s,") print $(i - 1)}' "$OUT/h2load.txt")
      requests=$(awk '/requests:/ && /succeeded/ {for (i = 1; i <= NF; i++) if ($i == "succeeded,") print $(i - 1)}' "$OUT/h2load.txt")
      us=$(awk -v t=$((after - before)) -v r="${requests:-0}" -v k="$TICK_US" 'BEGIN { printf "%.2f", (r > 0 ? t * k / r : 0) }')
      client=$(awk -v t=$((client_after - client_before)) -v k="$TICK_US" -v d="$DURATION" 'BEGIN { printf "%.0f", t * k / (d * 10000) }')
      client_us=$(awk -v t=$((client_after - client_before)) -v r="${requests:-0}" -v k="$TICK_US" 'BEGIN { printf "%.1f", (r > 0 ? t * k / r : 0) }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$config" "h2load-h1-c64" "${rps:-0}" "-" "-" "$us" "$client" "" "$steal" "$client_us" >>"$OUT/results.tsv"
    fi
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  done
done

python3 - "$OUT/results.tsv" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r, config, workload, rps, p50, p99, us, client, errors, steal, client_us = (line.rstrip('\n').split('\t') + [''] * 11)[:11]
    rows[(workload, config)].append((float(rps or 0), p50, p99, float(us or 0), errors, client, steal, client_us))
configs = ['sockets', 'sockets-inline', 'aio-threadpool', 'aio-loop', 'aio-loop-rp', 'aio-loop-1']
workloads = []
for w, _ in rows:
    if w not in workloads:
        workloads.append(w)
def med(values):
    values = [float(v) for v in values if v not in ('', '-')]
    return statistics.median(values) if values else float('nan')
print('| workload | transport | req/s (median, min-max) | vs Sockets | p50 ms | p99 ms | CPU us/req | vs Sockets | client CPU % | client us/req | host steal % |')
print('|---|---|---|---|---|---|---|---|---|---|---|')
for w in workloads:
    base = rows.get((w, 'sockets'))
    base_rps = med([x[0] for x in base]) if base else float('nan')
    base_us = med([x[3] for x in base]) if base else float('nan')
    for c in configs:
        xs = rows.get((w, c))
        if not xs:
            continue
        rps = med([x[0] for x in xs]); us = med([x[3] for x in xs])
        ratio = lambda a, b: f'{a / b:.2f}x' if b == b and b > 0 else '-'   # '-' without a Sockets run (CONFIGS)
        print(f'| {w} | {c} | {rps:,.0f} ({min(x[0] for x in xs):,.0f}-{max(x[0] for x in xs):,.0f}) | {ratio(rps, base_rps)} | '
              f'{med([x[1] for x in xs]):.2f} | {med([x[2] for x in xs]):.2f} | {us:.1f} | {ratio(us, base_us)} | {med([x[5] for x in xs]):.0f} | '
              f'{med([x[7] for x in xs]):.1f} | {med([x[6] for x in xs]):.0f} |'
              + ''.join(f' errors (round {i + 1}): {x[4]}' for i, x in enumerate(xs) if x[4].strip()))
PY
echo "raw results: $OUT/results.tsv" >&2
