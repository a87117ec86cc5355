#!/usr/bin/env bash
# The long soak of docs/reliability.md (issue 5): thousands of simulated
# voters (cyoa-load soak) joining, voting, changing, leaving and coming back
# over web and SMS across several cyoa instances on one Redis for minutes,
# while one instance is killed (kill -9) and restarted and Redis is
# restarted once. At the end every counter on every instance must equal the
# simulator's ground truth and `cyoa audit` must find every counter equal to
# the voter records. Exit code 0 when all of it held.
#
#   scripts/soak.sh                         # 5 minutes, 3 instances, 2000 voters, 300 phones
#   scripts/soak.sh --minutes 10 --voters 5000 --phones 500 --instances 3 --outage 10
#
# Needs: cargo, redis-server, redis-cli, curl (apt-get install redis-server
# redis-tools curl). Builds the release binaries (SOAK_NO_BUILD=1 skips it).
# Every process it starts is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
MINUTES=5 VOTERS=2000 PHONES=300 INSTANCES=3 OUTAGE=10 GRACE=10 PAUSE=4
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    --voters) VOTERS=$2; shift 2 ;;
    --phones) PHONES=$2; shift 2 ;;
    --instances) INSTANCES=$2; shift 2 ;;
    --outage) OUTAGE=$2; shift 2 ;;
    --grace) GRACE=$2; shift 2 ;;
    --pause) PAUSE=$2; shift 2 ;;
    *) echo "soak.sh: unknown option $1 (see the top of scripts/soak.sh)" >&2; exit 2 ;;
  esac
done
[ "$INSTANCES" -ge 2 ] || { echo "soak.sh: --instances must be 2 or more (one is killed)" >&2; exit 2; }

for tool in redis-server redis-cli curl; do
  command -v "$tool" >/dev/null || { echo "soak.sh: $tool is missing: apt-get install redis-server redis-tools curl" >&2; exit 1; }
done

TOKEN=soak-presenter-token
SECRET=soak-secret-soak-secret-soak-secret
TWILIO=soak-twilio-auth-token
REDIS_PORT=${REDIS_PORT:-16500}
BASE_PORT=${BASE_PORT:-18300}
PREFIX="soak$(date +%s):"
WORK=$(mktemp -d /tmp/cyoa-soak.XXXXXX)
declare -A PID
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

if [ "${SOAK_NO_BUILD:-}" != 1 ]; then
  echo "== building (release)" >&2
  cargo build --release -p cyoa -p cyoa-load >&2
fi
CYOA=$ROOT/target/release/cyoa
LOAD=$ROOT/target/release/cyoa-load

start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
    --logfile "$WORK/redis.log" --maxclients 20000 &
  PID[redis]=$!
  until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done
}
start_instance() { # N
  local port=$((BASE_PORT + $1))
  RUST_LOG=cyoa=warn "$CYOA" serve --bind "127.0.0.1:$port" --presenter-token "$TOKEN" --secret "$SECRET" \
    --redis-url "redis://127.0.0.1:$REDIS_PORT/0" --redis-prefix "$PREFIX" --presence-grace "$GRACE" \
    --twilio-auth-token "$TWILIO" \
    --address-rate 10000000 --address-burst 10000000 --max-connections-per-address 1000000 \
    >>"$WORK/instance-$1.log" 2>&1 &
  PID[i$1]=$!
  for _ in $(seq 1 400); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "soak.sh: instance $1 did not start; its log:" >&2; cat "$WORK/instance-$1.log" >&2; exit 1
}

start_redis
URLS=()
for n in $(seq 1 "$INSTANCES"); do
  start_instance "$n"
  URLS+=(--url "http://127.0.0.1:$((BASE_PORT + n))")
done

SECONDS_TOTAL=$((MINUTES * 60))
echo "== soak: $VOTERS web voters, $PHONES phones, $INSTANCES instances, $MINUTES min, grace $GRACE s" >&2
"$LOAD" soak "${URLS[@]}" --presenter-token "$TOKEN" --twilio-auth-token "$TWILIO" \
  --voters "$VOTERS" --sms-voters "$PHONES" --duration "$SECONDS_TOTAL" --grace "$GRACE" --pause "$PAUSE" \
  >"$WORK/report.txt" &
PID[load]=$!
LOAD_PID=${PID[load]}
began=$(date +%s.%N)
wait_until() { # SECONDS: sleeps until that long after the start
  local left
  left=$(awk -v b="$began" -v s="$1" -v n="$(date +%s.%N)" 'BEGIN{d=b+s-n; print (d>0)?d:0}')
  sleep "$left"
}

# Instance 2 is killed a quarter of the way in and restarted 5 s later;
# Redis stops (SHUTDOWN SAVE) half way and starts again after --outage s.
VICTIM=2
wait_until $((SECONDS_TOTAL / 4))
kill -9 "${PID[i$VICTIM]}"; wait "${PID[i$VICTIM]}" 2>/dev/null || true
echo "== $(date -u +%T) kill -9 of instance $VICTIM" >&2
sleep 5
start_instance "$VICTIM"
echo "== $(date -u +%T) instance $VICTIM restarted" >&2
wait_until $((SECONDS_TOTAL / 2))
down=$(date +%s.%N)
redis-cli -p "$REDIS_PORT" shutdown save >/dev/null 2>&1 || true
wait "${PID[redis]}" 2>/dev/null || true
echo "== $(date -u +%T) Redis stopped" >&2
sleep "$OUTAGE"
start_redis
up=$(date +%s.%N)
OUTAGE_MEASURED=$(awk -v a="$down" -v b="$up" 'BEGIN{printf "%.1f", b-a}')
echo "== $(date -u +%T) Redis back after ${OUTAGE_MEASURED} s" >&2

status=0
wait "$LOAD_PID" || status=$?
unset 'PID[load]'
cat "$WORK/report.txt"
echo "kills: 1 (instance $VICTIM, kill -9, restarted after 5 s); Redis restarts: 1 (down ${OUTAGE_MEASURED} s)"
if "$CYOA" audit --redis-url "redis://127.0.0.1:$REDIS_PORT/0" --redis-prefix "$PREFIX"; then
  echo "cyoa audit: every counter equals the voter records"
else
  echo "cyoa audit: DRIFT (see above)"
  status=1
fi
NEGATIVE=$(redis-cli -p "$REDIS_PORT" --scan --pattern "${PREFIX}run:*:tally:*" | while read -r key; do
  redis-cli -p "$REDIS_PORT" hgetall "$key" | awk 'NR % 2 == 0 && $1 < 0'
done | wc -l)
echo "negative counters in Redis: $NEGATIVE"
[ "$NEGATIVE" -eq 0 ] || status=1
echo "machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
