#!/usr/bin/env bash
# Reproduces the figures of docs/performance.md (issue 7) on this machine:
# the form vote under wrk (cyoa in memory, cyoa on its data file, cyoa on
# Redis, the Flask-SocketIO peer when its venv exists), redis-benchmark of the same vote script, Redis
# round trips per vote, and cyoa-load runs (connections held and memory per
# connection, votes per second over sockets, vote to push latency). Prints a
# table at the end. Not run by CI; it takes a few minutes.
#
#   scripts/bench.sh                       # everything
#   PEER_DIR=/tmp/peer scripts/bench.sh    # where the peer's copy and .venv are
#   CONNECTIONS=19800 scripts/bench.sh     # audience sockets to hold
#   FLAT_VOTERS=12000 scripts/bench.sh     # voters of the flat-out socket runs
#   FORM_ONLY=1 scripts/bench.sh           # only the form votes: memory, data file, Redis
#   FORM_ONLY=1 CYOA_BIN=/tmp/cyoa scripts/bench.sh   # the same, with that cyoa binary, unbuilt
#
# Needs: cargo, redis-server, redis-cli, redis-benchmark, wrk, curl
# (apt-get install redis-server redis-tools wrk curl). Every process it
# starts is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PEER_DIR=${PEER_DIR:-/tmp/cyoa-peer}
CONNECTIONS=${CONNECTIONS:-19800}
WRK_SECONDS=${WRK_SECONDS:-10}
LOAD_SECONDS=${LOAD_SECONDS:-20}
FLAT_VOTERS=${FLAT_VOTERS:-12000}
TOKEN=bench-presenter-token
SECRET=bench-secret-bench-secret-bench-secret
TWILIO=bench-twilio-token
REDIS_PORT=${REDIS_PORT:-16400}
MEM_PORT=18200
RED_PORT=18201
DATA_PORT=18202
PEER_PORT=5055
WORK=$(mktemp -d /tmp/cyoa-bench.XXXXXX)
PIDS=()

for tool in redis-server redis-cli redis-benchmark wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool is missing: apt-get install redis-server redis-tools wrk curl" >&2; exit 1; }
done

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Sockets are files: take every file this shell may have, for the servers
# and the generator it starts.
ulimit -n "$(ulimit -Hn)"

if [ -n "${CYOA_BIN:-}" ] && [ "${FORM_ONLY:-0}" = 1 ]; then
  CYOA=$CYOA_BIN # a cyoa built elsewhere (comparing builds): nothing is built
else
  echo "== building (release)" >&2
  cargo build --release -p cyoa -p cyoa-load >&2
  CYOA=$ROOT/target/release/cyoa
fi
LOAD=$ROOT/target/release/cyoa-load

wait_for() { # URL
  for _ in $(seq 1 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "bench.sh: $1 did not answer" >&2; exit 1
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" --maxclients 20000 &
PIDS+=($!)
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done

# The per-address limits are raised: here the whole audience comes from a
# few loopback addresses, not from a hall of phones. Per-voter limits stand.
# Voters vote the moment they have a cookie (--voter-min-age 0).
SMS_FLAGS=()
if "$CYOA" serve --help | grep -q -- --twilio-auth-token; then SMS_FLAGS=(--twilio-auth-token "$TWILIO"); fi
serve() { # PORT LOG [flags...]
  local port=$1 log=$2; shift 2
  RUST_LOG=cyoa=warn "$CYOA" serve --bind "127.0.0.1:$port" --presenter-token "$TOKEN" --secret "$SECRET" \
    --address-rate 10000000 --address-burst 10000000 --max-connections-per-address 1000000 \
    --voter-mint-rate 10000000 --voter-mint-burst 10000000 --voter-min-age 0 \
    "${SMS_FLAGS[@]}" "$@" >"$WORK/$log" 2>&1 &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$port/healthz"
}
serve "$MEM_PORT" mem.log --memory
MEM_PID=${PIDS[-1]}
serve "$RED_PORT" redis.log --redis-url "redis://127.0.0.1:$REDIS_PORT/2" --redis-prefix bench:
RED_PID=${PIDS[-1]}
# The default store: every vote committed to the data file (group commit)
# before it is answered. The file is in $WORK (a temporary folder in /tmp).
serve "$DATA_PORT" data.log --data "$WORK/bench.sqlite3"
DATA_PID=${PIDS[-1]}

PEER=no
if [ -x "$PEER_DIR/.venv/bin/gunicorn" ]; then
  (cd "$PEER_DIR" && REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" SOCKETIO_MQ="redis://127.0.0.1:$REDIS_PORT/1" \
    exec .venv/bin/gunicorn -k geventwebsocket.gunicorn.workers.GeventWebSocketWorker -w 2 \
    -b "127.0.0.1:$PEER_PORT" app:app >"$WORK/peer.log" 2>&1) &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$PEER_PORT/api/state"
  PEER=yes
else
  echo "bench.sh: no peer venv in $PEER_DIR (copy /work/shared/peers/flask-socketio there and create it): skipping the peer" >&2
fi

presenter() { # PORT COMMAND [JSON]
  curl -fs -X POST -H "Authorization: Bearer $TOKEN" ${3:+-H 'Content-Type: application/json' -d "$3"} \
    "http://127.0.0.1:$1/api/presenter/$2" >/dev/null
}
open_decision() { # PORT
  presenter "$1" new-run
  presenter "$1" goto '{"slide":"what-did-you-build"}'
  presenter "$1" open
}
cyoa_total() { # PORT
  curl -fs "http://127.0.0.1:$1/api/state" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'
}

# A vote counts only from a voter a page minted: scripts/mint.lua loads
# cyoa's audience page for VOTERS voters and keeps their cookies, then
# scripts/vote.lua posts choice=... to /vote/what-did-you-build as those
# voters in turn (each request a vote of a real voter; a voter votes again,
# moving its vote, once the list wraps). It also sends a random cookie
# named `voter`, which cyoa ignores, so that a peer keying voters on it
# sees a new voter per request.
cp "$ROOT/scripts/vote.lua" "$ROOT/scripts/mint.lua" "$WORK/"
VOTERS=${VOTERS:-20000}
mint_voters() { # PORT FILE: VOTERS cookies of new voters, one a line
  rm -f "$2"
  while [ "$(wc -l <"$2" 2>/dev/null || echo 0)" -lt "$VOTERS" ]; do
    wrk -t1 -c16 -d2s -s "$WORK/mint.lua" "http://127.0.0.1:$1" -- "$2" >/dev/null
  done
}

ROWS=()
row() { ROWS+=("$(printf '%-58s %s' "$1" "$2")"); }

wrk_run() { # NAME URL [VOTERS FILE] -> prints requests/s, checks the tally
  local name=$1 url=$2 out
  out=$(wrk -t1 -c64 -d"${WRK_SECONDS}s" --latency -s "$WORK/vote.lua" "$url" ${3:+-- "$3"})
  echo "$out" >&2
  local total bad rps p99
  total=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
  bad=$(echo "$out" | sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\)/\1/p'); bad=${bad:-0}
  rps=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p')
  p99=$(echo "$out" | sed -n 's/^ *99% *\([0-9.]*[a-z]*\)/\1/p')
  echo "$name $rps $((total - bad)) $bad $p99"
}

echo "== form votes under wrk (-t1 -c64 -d${WRK_SECONDS}s)" >&2
open_decision "$MEM_PORT"
# Both servers sign with the same --secret: one list of voters serves both.
mint_voters "$MEM_PORT" "$WORK/voters.txt"
read -r _ MEM_RPS MEM_OK MEM_BAD MEM_P99 < <(wrk_run mem "http://127.0.0.1:$MEM_PORT" "$WORK/voters.txt")
MEM_TOTAL=$(cyoa_total "$MEM_PORT")
# Every ok response is a counted vote; the tally holds one per voter.
voted() { echo $(($1 < VOTERS ? $1 : VOTERS)); }
row "form vote, cyoa memory (wrk)" "$MEM_RPS votes/s, p99 $MEM_P99, tally $MEM_TOTAL = voters who voted $(voted "$MEM_OK") ($MEM_OK ok responses, $MEM_BAD other)"

open_decision "$DATA_PORT"
read -r _ DATA_RPS DATA_OK DATA_BAD DATA_P99 < <(wrk_run data "http://127.0.0.1:$DATA_PORT" "$WORK/voters.txt")
DATA_TOTAL=$(cyoa_total "$DATA_PORT")
row "form vote, cyoa data file (wrk)" "$DATA_RPS votes/s, p99 $DATA_P99, tally $DATA_TOTAL = voters who voted $(voted "$DATA_OK") ($DATA_OK ok responses, $DATA_BAD other)"
row "data file / memory (target >= 50%, p99 <= 20ms)" "$(awk "BEGIN{printf \"%.0f%%\", 100*$DATA_RPS/$MEM_RPS}")"

open_decision "$RED_PORT"
redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
read -r _ RED_RPS RED_OK RED_BAD RED_P99 < <(wrk_run redis "http://127.0.0.1:$RED_PORT" "$WORK/voters.txt")
RED_TOTAL=$(cyoa_total "$RED_PORT")
EVALSHA=$(redis-cli -p "$REDIS_PORT" info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
row "form vote, cyoa Redis (wrk)" "$RED_RPS votes/s, p99 $RED_P99, tally $RED_TOTAL = voters who voted $(voted "$RED_OK") ($RED_OK ok responses, $RED_BAD other)"
row "Redis round trips per vote (EVALSHA calls / votes)" "$EVALSHA / $RED_OK = $(awk "BEGIN{printf \"%.3f\", $EVALSHA/$RED_OK}") (pushes' tally reads included)"

if [ "${FORM_ONLY:-0}" = 1 ]; then
  echo
  echo "cyoa bench (form votes only), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%s\n' "${ROWS[@]}"
  exit 0
fi

if [ "$PEER" = yes ]; then
  redis-cli -p "$REDIS_PORT" -n 0 flushdb >/dev/null
  read -r _ PEER_RPS PEER_OK PEER_BAD PEER_P99 < <(wrk_run peer "http://127.0.0.1:$PEER_PORT")
  PEER_TOTAL=$(curl -fs "http://127.0.0.1:$PEER_PORT/api/state" | python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["tally"].values()))')
  row "form vote, Flask-SocketIO peer (wrk)" "$PEER_RPS votes/s, p99 $PEER_P99, tally $PEER_TOTAL = $PEER_OK ok responses ($PEER_BAD other)"
  row "cyoa Redis / peer, cyoa memory / peer" "$(awk "BEGIN{printf \"%.1fx, %.1fx\", $RED_RPS/$PEER_RPS, $MEM_RPS/$PEER_RPS}")"
fi

echo "== redis-benchmark of the vote script" >&2
SCRIPT=$(cat "$ROOT/src/store/lua/common.lua" "$ROOT/src/store/lua/vote.lua")
SHA=$(redis-cli -p "$REDIS_PORT" -x script load <<<"$SCRIPT")
# The server's run on the Redis store is open on the decision (db 2, prefix bench:).
RUN=$(curl -fs "http://127.0.0.1:$RED_PORT/api/state" | sed -n 's/^{"run":\([0-9]*\).*/\1/p')
RB=$(redis-benchmark -p "$REDIS_PORT" --dbnum 2 -n 200000 -P 1 -c 50 -r 100000000 -q \
  EVALSHA "$SHA" 0 bench: "$RUN" what-did-you-build "w:__rand_int__" tinder S | tr '\r' '\n' | tail -1)
echo "$RB" >&2
RB_RPS=$(echo "$RB" | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p')
row "redis-benchmark EVALSHA vote script (-P 1 -c 50)" "$RB_RPS calls/s; cyoa Redis wrk is $(awk "BEGIN{printf \"%.0f%%\", 100*$RED_RPS/$RB_RPS}") of it"

echo "== cyoa-load" >&2
load() { # NAME PORT PID [flags...]
  local name=$1 port=$2 pid=$3; shift 3
  local out
  if [ "${#SMS_FLAGS[@]}" = 0 ]; then # no /sms in this build: no phones
    local args=() skip=0
    for a in "$@"; do
      if [ $skip = 1 ]; then skip=0; continue; fi
      case $a in --sms-voters|--sms-interval-ms) skip=1 ;; *) args+=("$a") ;; esac
    done
    set -- "${args[@]}"
  fi
  out=$("$LOAD" --url "http://127.0.0.1:$port" --presenter-token "$TOKEN" --server-pid "$pid" \
    "${SMS_FLAGS[@]}" "$@") || true
  echo "$out" >&2
  row "$name: connections" "$(echo "$out" | sed -n 's/^connections held: \([0-9]* of [0-9]*\).*/\1/p')"
  row "$name: votes/s" "$(echo "$out" | sed -n 's/^votes: .* = \([0-9]* votes\/s\).*/\1/p')"
  row "$name: vote to push" "$(echo "$out" | sed -n 's/^vote to presenter push: //p')"
  row "$name: pushes" "$(echo "$out" | sed -n 's/^presenter pushes: //p')"
  row "$name: memory" "$(echo "$out" | sed -n 's/^server memory: //p')"
  row "$name: errors, tally" "$(echo "$out" | sed -n 's/^errors: //p'), $(echo "$out" | grep -o '^tallies [A-Za-z]*')"
}
load "held sockets, memory ($CONNECTIONS voters)" "$MEM_PORT" "$MEM_PID" \
  --voters "$CONNECTIONS" --rate 1000 --duration 10 --leave 0
load "latency, memory (10,000 voters, 5,000 votes/s)" "$MEM_PORT" "$MEM_PID" \
  --voters 10000 --rate 5000 --duration "$LOAD_SECONDS" --sms-voters 100 --sms-interval-ms 1000
load "latency, data file (10,000 voters, 5,000 votes/s)" "$DATA_PORT" "$DATA_PID" \
  --voters 10000 --rate 5000 --duration "$LOAD_SECONDS" --sms-voters 100 --sms-interval-ms 1000
load "latency, Redis (10,000 voters, 5,000 votes/s)" "$RED_PORT" "$RED_PID" \
  --voters 10000 --rate 5000 --duration "$LOAD_SECONDS" --sms-voters 100 --sms-interval-ms 1000
# Flat out: every voter votes as often as the server allows one voter (5
# a second), so FLAT_VOTERS voters offer 5 x FLAT_VOTERS votes a second:
# 60,000 with the default 12,000, above the 50,000 target.
load "socket votes flat out, memory ($FLAT_VOTERS voters)" "$MEM_PORT" "$MEM_PID" \
  --voters "$FLAT_VOTERS" --voter-interval-ms 200 --duration 10 --leave 0
load "socket votes flat out, Redis ($FLAT_VOTERS voters)" "$RED_PORT" "$RED_PID" \
  --voters "$FLAT_VOTERS" --voter-interval-ms 200 --duration 10 --leave 0

echo
echo "cyoa bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${ROWS[@]}"
