# bench/lib/steal.sh: the host's steal, sourced by the bench scripts. Steal is the share of the vCPUs' time the
# hypervisor gave to other guests (/proc/stat's eighth counter); on a shared VM it moves rates by tens of % within
# an hour, so a measurement taken while it was high says more about the neighbours than about the programs.
#
#   source bench/lib/steal.sh
#   s0=$(steal_ticks); ...measure...; pct=$(steal_pct "$s0" "$(steal_ticks)")
#   steal_too_high "$pct" && ...measure again...   # above STEAL_MAX (default 10) %
#
# STEAL_MAX (%, default 10) and STEAL_RETRIES (default 2) are the same knobs in every script that sources this.
STEAL_MAX=${STEAL_MAX:-10}
STEAL_RETRIES=${STEAL_RETRIES:-2}
[[ $STEAL_MAX =~ ^[0-9]+$ && $STEAL_RETRIES =~ ^[0-9]+$ ]] ||
  { echo "STEAL_MAX and STEAL_RETRIES are whole numbers (got '$STEAL_MAX', '$STEAL_RETRIES')" >&2; exit 2; }

steal_ticks() { # "steal total" from /proc/stat's cpu line
  awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t }' /proc/stat
}

steal_pct() { # "steal total" before, after -> % of the vCPUs' time stolen in between (whole number)
  awk -v b="$1" -v a="$2" 'BEGIN { split(b, x, " "); split(a, y, " "); d = y[2] - x[2]; printf "%.0f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0) }'
}

steal_too_high() { # pct -> true when above STEAL_MAX
  [ "$1" -gt "$STEAL_MAX" ]
}
