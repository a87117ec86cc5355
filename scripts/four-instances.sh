#!/usr/bin/env bash
# Four cyoa instances on one Redis under `cyoa-load soak`: once 80% of the
# audience sockets are open, Redis's CPU time and commands a second over
# 10 s, each instance's sweep calls, and whether the soak's counters ended
# exact. The figures of docs/performance.md, "One sweeper at a time".
# Not run by CI.
#
#   scripts/four-instances.sh [CYOA [CYOA_LOAD [VOTERS]]]
#
# Defaults: target/release/cyoa and cyoa-load (build them first with
# `cargo build --release -p cyoa -p cyoa-load`), 12,000 voters. Uses ports
# 16600 (Redis) and 18310 to 18313. Needs redis-server, redis-cli, curl.
set -u
cd "$(dirname "$0")/.." || exit 1
CYOA=${1:-target/release/cyoa}
LOAD=${2:-target/release/cyoa-load}
VOTERS=${3:-12000}
PORTS=(18310 18311 18312 18313)
ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/cyoa-four.XXXXXX)
PIDS=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
redis-server --port 16600 --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" --maxclients 20000 &
PIDS+=($!)
until redis-cli -p 16600 ping >/dev/null 2>&1; do sleep 0.05; done
URLS=()
for port in "${PORTS[@]}"; do
  RUST_LOG=cyoa=warn "$CYOA" serve --bind "127.0.0.1:$port" --presenter-token bench-presenter-token \
    --secret bench-secret-bench-secret-bench-secret \
    --address-rate 10000000 --address-burst 10000000 --max-connections-per-address 1000000 \
    --voter-mint-rate 10000000 --voter-mint-burst 10000000 --voter-min-age 0 --presence-grace 10 \
    --redis-url redis://127.0.0.1:16600/2 --redis-prefix four: >"$WORK/$port.log" 2>&1 &
  PIDS+=($!)
  URLS+=(--url "http://127.0.0.1:$port")
done
for port in "${PORTS[@]}"; do
  for _ in $(seq 400); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
done
"$LOAD" soak "${URLS[@]}" --presenter-token bench-presenter-token --voters "$VOTERS" --duration 45 \
  >"$WORK/soak.out" 2>"$WORK/soak.err" &
SOAK=$!
sockets() {
  local sum=0 n port
  for port in "${PORTS[@]}"; do
    n=$(curl -fs "http://127.0.0.1:$port/metrics" | sed -n 's/^cyoa_sockets_open{role="audience"} \([0-9]*\).*/\1/p')
    sum=$((sum + ${n:-0}))
  done
  echo "$sum"
}
# Waits for the sockets (an event, polled), at most a minute.
for _ in $(seq 600); do [ "$(sockets)" -ge $((VOTERS * 8 / 10)) ] && break; sleep 0.1; done
echo "sockets open: $(sockets)"
cpu() { redis-cli -p 16600 info cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.2f", s }'; }
commands() { redis-cli -p 16600 info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'; }
c0=$(cpu); k0=$(commands); t0=$(date +%s.%N)
sleep 10
c1=$(cpu); k1=$(commands); t1=$(date +%s.%N)
awk -v c0="$c0" -v c1="$c1" -v k0="$k0" -v k1="$k1" -v t0="$t0" -v t1="$t1" \
  'BEGIN { d = t1 - t0; printf "over %.1f s: Redis CPU %.2f s/s, commands %.0f/s\n", d, (c1 - c0) / d, (k1 - k0) / d }'
for port in "${PORTS[@]}"; do
  echo "$port: $(curl -fs "http://127.0.0.1:$port/metrics" |
    grep -E 'cyoa_store_calls_total\{operation="(withdraw_absent|sweep_turn)"\}' | tr '\n' ' ')"
done
wait "$SOAK"
rc=$?
tail -4 "$WORK/soak.out"
exit "$rc"
