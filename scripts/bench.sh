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
#   PROBES=1000 scripts/bench.sh           # single-tap voters timed from tap to push
#   FORM_ONLY=1 scripts/bench.sh           # only the form votes: memory, data file, Redis
#   FORM_ONLY=1 CYOA_BIN=/tmp/cyoa scripts/bench.sh   # the same, with that cyoa binary, unbuilt
#   PRESS_SOCKETS=10000 PRESSES=20 scripts/bench.sh   # store calls per key press at that many sockets
#   OPEN_FILES=1048576 scripts/bench.sh    # the hard open-file limit to raise to, as root
#   STICKY_VOTERS=1000000 scripts/bench.sh # sticky voters the store knows before the tail row (0: no row)
#   MULTI_INSTANCES=4 MULTI_VOTERS=16000 scripts/bench.sh  # instances on one Redis sharing that many sockets (0: no rows)
#
# A smoke run (every row, small and short; its figures prove the rows
# work, not the targets):
#   WRK_SECONDS=2 LOAD_SECONDS=3 VOTERS=2000 CONNECTIONS=1000 FLAT_VOTERS=500 PROBES=50 \
#     PRESS_SOCKETS=1000 PRESSES=10 PRESS_HOLD=10 scripts/bench.sh
#
# Needs: cargo, redis-server, redis-cli, redis-benchmark, wrk, curl, nginx
# (apt-get install redis-server redis-tools wrk curl nginx). Every process
# it starts is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PEER_DIR=${PEER_DIR:-/tmp/cyoa-peer}
CONNECTIONS=${CONNECTIONS:-19800}
WRK_SECONDS=${WRK_SECONDS:-10}
LOAD_SECONDS=${LOAD_SECONDS:-20}
FLAT_VOTERS=${FLAT_VOTERS:-12000}
# Probes: voters more, each tapping once into the busy room; their exact
# vote-to-push times are the latency rows' target figures.
PROBES=${PROBES:-1000}
TOKEN=bench-presenter-token
SECRET=bench-secret-bench-secret-bench-secret
TWILIO=bench-twilio-token
REDIS_PORT=${REDIS_PORT:-16400}
MEM_PORT=18200
RED_PORT=18201
DATA_PORT=18202
NGINX_PORT=18203
STICKY_PORT=18204
# The instances of the several-instances rows: 18210, 18211, ...; their
# Redis is a second one, on REDIS_PORT + 1.
MULTI_BASE_PORT=18210
MULTI_INSTANCES=${MULTI_INSTANCES:-4}
MULTI_VOTERS=${MULTI_VOTERS:-16000}
STICKY_VOTERS=${STICKY_VOTERS:-1000000}
PRESS_SOCKETS=${PRESS_SOCKETS:-10000}
PRESSES=${PRESSES:-20}
PRESS_HOLD=${PRESS_HOLD:-15}
PEER_PORT=5055
WORK=$(mktemp -d /tmp/cyoa-bench.XXXXXX)
PIDS=()

for tool in redis-server redis-cli redis-benchmark wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool is missing: apt-get install redis-server redis-tools wrk curl nginx" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench.sh: nginx is missing: apt-get install nginx" >&2; exit 1; }

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Sockets are files. As root, first raise the hard open-file limit this
# shell (and so every server and generator it starts) runs under, up to
# OPEN_FILES or the kernel's fs.nr_open, whichever is lower; a container
# without CAP_SYS_RESOURCE refuses, and the bench says so and goes on with
# the limit it has. Then take every file the hard limit allows.
OPEN_FILES=${OPEN_FILES:-1048576}
HARD_BEFORE=$(ulimit -Hn)
if [ "$(id -u)" = 0 ]; then
  want=$OPEN_FILES
  nr_open=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo "$want")
  [ "$nr_open" -lt "$want" ] && want=$nr_open
  if [ "$HARD_BEFORE" != unlimited ] && [ "$HARD_BEFORE" -lt "$want" ]; then
    ulimit -Hn "$want" 2>/dev/null ||
      echo "bench.sh: could not raise the hard open-file limit from $HARD_BEFORE to $want (a container without CAP_SYS_RESOURCE?)" >&2
  fi
else
  echo "bench.sh: not root: the hard open-file limit stays $HARD_BEFORE" >&2
fi
ulimit -n "$(ulimit -Hn)"
echo "== open files: soft $(ulimit -Sn), hard $(ulimit -Hn) (hard was $HARD_BEFORE)" >&2

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

# The ceiling of the HTTP path: nginx answering every request with
# `return 204`, no body, no logging, one worker per core, keep-alive for
# the whole run (as cyoa's connections are), driven by the same wrk script.
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { return 204; }
    }
}
CONF
"$NGINX" -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
wait_for "http://127.0.0.1:$NGINX_PORT/healthz"

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
# A wrong tally anywhere fails the bench (exit 1), after the table.
WRONG=()
check_form_tally() { # NAME TALLY OK [CONNECTIONS]: the tally of a wrk run
  # Every ok response is a counted vote, and the tally holds one vote per
  # voter: all the minted voters once each went through the list, else the
  # ok responses and at most the votes in flight (one per connection, 64
  # unless said) when wrk stopped (counted after its timer ended).
  local name=$1 tally=$2 ok=$3 inflight=${4:-64}
  if [ "$ok" -ge "$MINTED" ]; then
    [ "$tally" = "$MINTED" ] || WRONG+=("$name: tally $tally, expected $MINTED (every voter)")
  elif [ "$tally" -lt "$ok" ] || [ "$tally" -gt $((ok + inflight)) ]; then
    WRONG+=("$name: tally $tally for $ok ok responses")
  fi
}
row "open files the bench runs under (soft, hard)" "$(ulimit -Sn), $(ulimit -Hn) (hard was $HARD_BEFORE; asked for $OPEN_FILES as root)"

wrk_run() { # NAME URL [VOTERS FILE] -> prints requests/s, checks the tally
  local name=$1 url=$2 out
  out=$(wrk -t1 -c"${WRK_CONNECTIONS:-64}" -d"${WRK_SECONDS}s" --latency -s "$WORK/vote.lua" "$url" ${3:+-- "$3"})
  echo "$out" >&2
  echo "$out" >"$WORK/wrk-$name.out"
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
MINTED=$(wc -l <"$WORK/voters.txt")
read -r _ MEM_RPS MEM_OK MEM_BAD MEM_P99 < <(wrk_run mem "http://127.0.0.1:$MEM_PORT" "$WORK/voters.txt")
MEM_TOTAL=$(cyoa_total "$MEM_PORT")
# Every ok response is a counted vote; the tally holds one per voter.
voted() { echo $(($1 < MINTED ? $1 : MINTED)); }
check_form_tally "form vote, cyoa memory" "$MEM_TOTAL" "$MEM_OK"
row "form vote, cyoa memory (wrk)" "$MEM_RPS votes/s, p99 $MEM_P99, tally $MEM_TOTAL = voters who voted $(voted "$MEM_OK") ($MEM_OK ok responses, $MEM_BAD other)"

read -r _ NGINX_RPS NGINX_OK NGINX_BAD NGINX_P99 < <(wrk_run nginx "http://127.0.0.1:$NGINX_PORT" "$WORK/voters.txt")
row "nginx return 204, same wrk script (the ceiling)" "$NGINX_RPS requests/s, p99 $NGINX_P99 ($NGINX_OK ok responses, $NGINX_BAD other)"
row "form vote, cyoa memory / nginx (target >= 60%)" "$(awk "BEGIN{printf \"%.0f%%\", 100*$MEM_RPS/$NGINX_RPS}")"

# What the data file's process hands to the disk (/proc/PID/io write_bytes:
# the WAL's pages and the checkpoints into the file) over its wrk run.
disk_bytes() { sed -n 's/^write_bytes: *\([0-9]*\)/\1/p' "/proc/$DATA_PID/io"; }
open_decision "$DATA_PORT"
DATA_DISK_BEFORE=$(disk_bytes)
read -r _ DATA_RPS DATA_OK DATA_BAD DATA_P99 < <(wrk_run data "http://127.0.0.1:$DATA_PORT" "$WORK/voters.txt")
DATA_DISK=$(($(disk_bytes) - DATA_DISK_BEFORE))
DATA_TOTAL=$(cyoa_total "$DATA_PORT")
check_form_tally "form vote, cyoa data file" "$DATA_TOTAL" "$DATA_OK"
row "form vote, cyoa data file (wrk)" "$DATA_RPS votes/s, p99 $DATA_P99, tally $DATA_TOTAL = voters who voted $(voted "$DATA_OK") ($DATA_OK ok responses, $DATA_BAD other)"
row "data file / memory (target >= 50%, p99 <= 20ms)" "$(awk "BEGIN{printf \"%.0f%%\", 100*$DATA_RPS/$MEM_RPS}")"
row "data file: bytes written to the disk per vote" "$(awk "BEGIN{printf \"%.0f\", $DATA_DISK/$DATA_OK}") ($DATA_DISK bytes for $DATA_OK votes)"
# At -c64 at most 64 votes wait for one commit, so the data file's rate is
# bounded by 64 / (one fsync); a hall of phones is many more connections.
# The same two stores at -c256, one after the other:
open_decision "$MEM_PORT"
read -r _ MEM256_RPS MEM256_OK _ MEM256_P99 < <(WRK_CONNECTIONS=256 wrk_run mem256 "http://127.0.0.1:$MEM_PORT" "$WORK/voters.txt")
check_form_tally "form vote, cyoa memory -c256" "$(cyoa_total "$MEM_PORT")" "$MEM256_OK" 256
open_decision "$DATA_PORT"
read -r _ DATA256_RPS DATA256_OK _ DATA256_P99 < <(WRK_CONNECTIONS=256 wrk_run data256 "http://127.0.0.1:$DATA_PORT" "$WORK/voters.txt")
check_form_tally "form vote, cyoa data file -c256" "$(cyoa_total "$DATA_PORT")" "$DATA256_OK" 256
row "form vote at -c256: memory, data file" "$MEM256_RPS votes/s (p99 $MEM256_P99), $DATA256_RPS votes/s (p99 $DATA256_P99)"
row "data file / memory at -c256" "$(awk "BEGIN{printf \"%.0f%%\", 100*$DATA256_RPS/$MEM256_RPS}")"

redis_memory() { redis-cli -p "$REDIS_PORT" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
redis_cpu() { # PORT: the Redis server's CPU seconds so far (user and system)
  redis-cli -p "$1" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f", s }'
}
open_decision "$RED_PORT"
redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
RED_MEM_BEFORE=$(redis_memory)
read -r _ RED_RPS RED_OK RED_BAD RED_P99 < <(wrk_run redis "http://127.0.0.1:$RED_PORT" "$WORK/voters.txt")
RED_TOTAL=$(cyoa_total "$RED_PORT")
check_form_tally "form vote, cyoa Redis" "$RED_TOTAL" "$RED_OK"
RED_MEM_AFTER=$(redis_memory)
EVALSHA=$(redis-cli -p "$REDIS_PORT" info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
row "form vote, cyoa Redis (wrk)" "$RED_RPS votes/s, p99 $RED_P99, tally $RED_TOTAL = voters who voted $(voted "$RED_OK") ($RED_OK ok responses, $RED_BAD other)"
row "Redis round trips per form vote (EVALSHA calls / votes)" "$EVALSHA / $RED_OK = $(awk "BEGIN{printf \"%.3f\", $EVALSHA/$RED_OK}") (pushes' tally reads included)"
row "Redis memory per form voter (used_memory)" "$(awk "BEGIN{printf \"%.0f bytes\", ($RED_MEM_AFTER-$RED_MEM_BEFORE)/$(voted "$RED_OK")}") ($RED_MEM_BEFORE to $RED_MEM_AFTER bytes for $(voted "$RED_OK") voters' records)"

# The tail with a crowd behind it: a memory store that already holds
# STICKY_VOTERS sticky votes (a story whose web votes are sticky, as every
# text is) takes form votes at -c64; its p99 must not grow with them (the
# presence sweep walks presence voters only, and holds the store's lock
# for a bounded step at a time).
if [ "$STICKY_VOTERS" -gt 0 ]; then
  echo "== form votes after $STICKY_VOTERS sticky voters (memory)" >&2
  sed 's/^web_votes = .*/web_votes = "sticky"/' "$ROOT/stories/wsgi-deployment-adventure.toml" >"$WORK/sticky.toml"
  serve "$STICKY_PORT" sticky.log --memory --story "$WORK/sticky.toml"
  STICKY_PID=${PIDS[-1]}
  open_decision "$STICKY_PORT"
  VOTERS=$STICKY_VOTERS mint_voters "$STICKY_PORT" "$WORK/sticky.txt"
  # Every voter votes once at least: one long pass at about the rate
  # measured above (the list wraps when it is faster).
  PASS=$(awk "BEGIN{printf \"%d\", $STICKY_VOTERS/($MEM_RPS*0.5)+5}")
  wrk -t1 -c64 -d"${PASS}s" -s "$WORK/vote.lua" "http://127.0.0.1:$STICKY_PORT" -- "$WORK/sticky.txt" >&2
  STICKY_HELD=$(cyoa_total "$STICKY_PORT")
  [ "$STICKY_HELD" = "$(wc -l <"$WORK/sticky.txt")" ] ||
    WRONG+=("sticky voters: tally $STICKY_HELD, expected $(wc -l <"$WORK/sticky.txt") (one vote each)")
  read -r _ STICKY_RPS STICKY_OK STICKY_BAD STICKY_P99 < <(wrk_run sticky "http://127.0.0.1:$STICKY_PORT" "$WORK/sticky.txt")
  STICKY_MAX=$(grep -o 'Latency *[0-9.]*[a-z]* *[0-9.]*[a-z]* *[0-9.]*[a-z]*' "$WORK/wrk-sticky.out" 2>/dev/null | awk '{print $4}')
  [ "$(cyoa_total "$STICKY_PORT")" = "$STICKY_HELD" ] ||
    WRONG+=("sticky voters: the tally moved from $STICKY_HELD to $(cyoa_total "$STICKY_PORT") with no new voter")
  row "form vote after $STICKY_HELD sticky voters, memory (wrk)" "$STICKY_RPS votes/s, p99 $STICKY_P99 (target <= 10ms)${STICKY_MAX:+, max $STICKY_MAX}, $STICKY_OK ok responses ($STICKY_BAD other); server RSS $(awk '/VmRSS/{printf "%.0f MiB", $2/1024}' /proc/"$STICKY_PID"/status)"
  kill "$STICKY_PID" 2>/dev/null || true
fi

# The table, and exit 1 when a tally was wrong.
report() { # TITLE
  echo
  echo "cyoa bench$1, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%s\n' "${ROWS[@]}"
  if [ "${#WRONG[@]}" -gt 0 ]; then
    echo
    printf 'WRONG TALLY: %s\n' "${WRONG[@]}"
    exit 1
  fi
  exit 0
}

if [ "${FORM_ONLY:-0}" = 1 ]; then
  report " (form votes only)"
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
  LOAD_VOTES=$(echo "$out" | sed -n 's/^votes: \([0-9]*\) in .*/\1/p')
  row "$name: connections" "$(echo "$out" | sed -n 's/^connections held: \([0-9]* of [0-9]*\).*/\1/p')"
  row "$name: votes/s" "$(echo "$out" | sed -n 's/^votes: .* = \([0-9]* votes\/s\).*/\1/p')"
  row "$name: vote answered" "$(echo "$out" | sed -n 's/^vote answered: //p')"
  row "$name: vote to push (estimate)" "$(echo "$out" | sed -n 's/^vote to presenter push: \(.*\) (an estimate.*/\1/p')"
  if echo "$out" | grep -q '^probe vote to presenter push: '; then
    row "$name: probe vote to push (target p99 <= 250 ms)" "$(echo "$out" | sed -n 's/^probe vote to presenter push: //p')"
  fi
  row "$name: pushes" "$(echo "$out" | sed -n 's/^presenter pushes: //p')"
  if echo "$out" | grep -q '^every presenter screen showing the final tally: .* of \([2-9]\|[1-9][0-9]\+\) screens'; then
    row "$name: every screen shows the final tally" "$(echo "$out" | sed -n 's/^every presenter screen showing the final tally: //p')"
  fi
  row "$name: memory" "$(echo "$out" | sed -n 's/^server memory[^:]*: //p')"
  row "$name: errors, tally" "$(echo "$out" | sed -n 's/^errors: //p'), $(echo "$out" | grep -o '^tallies [A-Za-z]*')"
  echo "$out" | grep -q '^tallies match' || WRONG+=("$name: $(echo "$out" | grep '^tallies' || echo 'no tally check')")
}
load "held sockets, memory ($CONNECTIONS voters)" "$MEM_PORT" "$MEM_PID" \
  --voters "$CONNECTIONS" --rate 1000 --duration 10 --leave 0
load "latency, memory (10,000 voters, 5,000 votes/s)" "$MEM_PORT" "$MEM_PID" \
  --voters 10000 --rate 5000 --duration "$LOAD_SECONDS" --sms-voters 100 --sms-interval-ms 1000 --probes "$PROBES"
load "latency, data file (10,000 voters, 5,000 votes/s)" "$DATA_PORT" "$DATA_PID" \
  --voters 10000 --rate 5000 --duration "$LOAD_SECONDS" --sms-voters 100 --sms-interval-ms 1000 --probes "$PROBES"
load "latency, Redis (10,000 voters, 5,000 votes/s)" "$RED_PORT" "$RED_PID" \
  --voters 10000 --rate 5000 --duration "$LOAD_SECONDS" --sms-voters 100 --sms-interval-ms 1000 --probes "$PROBES"
# Flat out: every voter votes as often as the server allows one voter (5
# a second), so FLAT_VOTERS voters offer 5 x FLAT_VOTERS votes a second:
# 60,000 with the default 12,000, above the 50,000 target.
load "socket votes flat out, memory ($FLAT_VOTERS voters)" "$MEM_PORT" "$MEM_PID" \
  --voters "$FLAT_VOTERS" --voter-interval-ms 200 --duration 10 --leave 0 --probes "$PROBES"
MEM_FLAT=$(( ${LOAD_VOTES:-0} / 10 ))
redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
RED_CPU=$(redis_cpu "$REDIS_PORT")
load "socket votes flat out, Redis ($FLAT_VOTERS voters)" "$RED_PORT" "$RED_PID" \
  --voters "$FLAT_VOTERS" --voter-interval-ms 200 --duration 10 --leave 0 --probes "$PROBES"
RED_FLAT=$(( ${LOAD_VOTES:-0} / 10 ))
EVALSHA=$(redis-cli -p "$REDIS_PORT" info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
row "Redis round trips per socket vote (EVALSHA / votes)" "$EVALSHA / ${LOAD_VOTES:-0} = $(awk "BEGIN{printf \"%.3f\", $EVALSHA/(${LOAD_VOTES:-0}+0.000001)}") (the sockets' arrivals, sweeps and pushes' reads included)"
row "Redis CPU per socket vote, one instance flat out" "$(awk -v t0="$RED_CPU" -v t1="$(redis_cpu "$REDIS_PORT")" -v v="${LOAD_VOTES:-0}" \
  'BEGIN { printf "%.1f us (%.2f s for %d votes, connecting included)", 1e6 * (t1 - t0) / (v + 0.000001), t1 - t0, v }')"
# Every load up to flat out: the same voters offering half and nine tenths
# of the rate each store just reached flat out (the rate is each voter's
# pace times the voters, so at these loads a vote is answered before the
# voter's next, and no queue builds up).
for pct in 50 90; do
  rate=$(( MEM_FLAT * pct / 100 ))
  [ "$rate" -gt 0 ] && load "latency, memory ($FLAT_VOTERS voters, $pct% of flat out: $rate votes/s)" "$MEM_PORT" "$MEM_PID" \
    --voters "$FLAT_VOTERS" --rate "$rate" --duration 10 --leave 0 --probes "$PROBES"
  rate=$(( RED_FLAT * pct / 100 ))
  [ "$rate" -gt 0 ] && load "latency, Redis ($FLAT_VOTERS voters, $pct% of flat out: $rate votes/s)" "$RED_PORT" "$RED_PID" \
    --voters "$FLAT_VOTERS" --rate "$rate" --duration 10 --leave 0 --probes "$PROBES"
done

# Store calls per key press: the presenter closes and opens the vote
# PRESSES times (each a state push to every socket), first with no audience
# socket, then with PRESS_SOCKETS held by cyoa-load (its voters hold their
# sockets and do not vote). The calls counted are /metrics'
# cyoa_store_calls_total, less the heartbeat's and the presence sweeper's
# own (beat, verify, rejoin, sweep_turn, withdraw_absent, keep_present, arrive, leave);
# the sweeper's read of the run (`current`, once a second) stays in.
BACKGROUND_OPS=(beat verify rejoin sweep_turn withdraw_absent keep_present arrive leave)
store_calls() { # PORT [OPERATION...]: cyoa_store_calls_total summed over these (all when none)
  local port=$1; shift
  curl -fs "http://127.0.0.1:$port/metrics" | awk -v ops="$*" '
    BEGIN { n = split(ops, o, " "); for (i = 1; i <= n; i++) want["operation=\"" o[i] "\""] = 1 }
    /^cyoa_store_calls_total\{/ {
      match($0, /operation="[^"]*"/); op = substr($0, RSTART, RLENGTH)
      if (n == 0 || op in want) sum += $2
    }
    END { print sum + 0 }'
}
audience_sockets() { # PORT
  curl -fs "http://127.0.0.1:$1/metrics" | sed -n 's/^cyoa_sockets_open{role="audience"} \([0-9]*\).*/\1/p'
}
press_calls() { # PORT: "<calls> (<choices_of> choices_of, <choice_of> choice_of)" per press
  local port=$1 all bg many one sockets before=-1 now
  all=$(store_calls "$port"); bg=$(store_calls "$port" "${BACKGROUND_OPS[@]}")
  many=$(store_calls "$port" choices_of); one=$(store_calls "$port" choice_of)
  sockets=$(audience_sockets "$port")
  for i in $(seq 1 "$PRESSES"); do
    if [ $((i % 2)) = 1 ]; then presenter "$port" close; else presenter "$port" open; fi
  done
  # Every socket has had every push once the calls stop moving (the
  # batched read comes first, at the first socket of each push).
  if [ "${sockets:-0}" -gt 0 ]; then
    for _ in $(seq 1 600); do
      [ $(($(store_calls "$port" choices_of) - many)) -ge "$PRESSES" ] && break
      sleep 0.1
    done
  fi
  for _ in $(seq 1 100); do
    now=$(($(store_calls "$port") - $(store_calls "$port" "${BACKGROUND_OPS[@]}")))
    [ "$now" = "$before" ] && break
    before=$now
    sleep 0.5
  done
  awk -v a="$((now - all + bg))" -v m="$(($(store_calls "$port" choices_of) - many))" \
    -v o="$(($(store_calls "$port" choice_of) - one))" -v p="$PRESSES" \
    'BEGIN { printf "%.1f (%.1f choices_of, %.1f choice_of)", a / p, m / p, o / p }'
}
press_row() { # NAME PORT PID
  local name=$1 port=$2 pid=$3 none at held load_pid mem_before
  open_decision "$port"
  none=$(press_calls "$port")
  mem_before=$(redis_memory)
  "$LOAD" --url "http://127.0.0.1:$port" --presenter-token "$TOKEN" --server-pid "$pid" \
    --voters "$PRESS_SOCKETS" --voter-interval-ms 100000000 --duration "$PRESS_HOLD" --leave 0 \
    >"$WORK/press.out" 2>"$WORK/press.err" &
  load_pid=$!
  until [ "$(audience_sockets "$port")" -ge "$PRESS_SOCKETS" ] || ! kill -0 "$load_pid" 2>/dev/null; do sleep 0.5; done
  held=$(audience_sockets "$port")
  if [ "$port" = "$RED_PORT" ]; then
    row "Redis memory per connected voter (presence, no vote)" "$(awk "BEGIN{printf \"%.0f bytes\", ($(redis_memory)-$mem_before)/$held}") ($held voters)"
  fi
  at=$(press_calls "$port")
  wait "$load_pid" || true
  cat "$WORK/press.out" >&2
  row "$name: store calls per key press" "$at at $held sockets; $none at 0 sockets"
}
echo "== bytes per push" >&2
open_decision "$MEM_PORT"
read -r _ STATE_BYTES _ TALLY_BYTES < <(python3 "$ROOT/scripts/push-bytes.py" "$MEM_PORT")
row "bytes per push to one socket (WebSocket frame)" "state $STATE_BYTES, tally $TALLY_BYTES (the bundled talk's first decision)"

echo "== store calls per key press ($PRESSES presses, $PRESS_SOCKETS sockets)" >&2
press_row "memory" "$MEM_PORT" "$MEM_PID"
press_row "Redis" "$RED_PORT" "$RED_PID"

# Several instances: MULTI_INSTANCES cyoa processes on one Redis of their
# own (nothing else talks to it) share MULTI_VOTERS audience sockets,
# voter i on instance i mod MULTI_INSTANCES; cyoa-load watches every
# instance's presenter screen. Per run: how long after the last vote was
# sent every screen shows the final tally, the probes' vote to push (a
# probe on any instance, seen on the first one's screen), and what a vote
# costs Redis: round trips (every store call of every instance, over the
# votes: the sockets' connecting and leaving, beats, sweeps and pushes'
# reads included, with the largest shares named), the commands Redis
# ran (the scripts' own included) and Redis's CPU time.
if [ "$MULTI_INSTANCES" -gt 0 ]; then
  echo "== $MULTI_INSTANCES instances on one Redis, $MULTI_VOTERS sockets" >&2
  MULTI_REDIS=$((REDIS_PORT + 1))
  mkdir -p "$WORK/multi-redis"
  redis-server --port "$MULTI_REDIS" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK/multi-redis" \
    --logfile "$WORK/multi-redis.log" --maxclients 20000 &
  PIDS+=($!)
  until redis-cli -p "$MULTI_REDIS" ping >/dev/null 2>&1; do sleep 0.05; done
  MULTI_URLS=()
  for i in $(seq 0 $((MULTI_INSTANCES - 1))); do
    serve $((MULTI_BASE_PORT + i)) "multi-$i.log" --redis-url "redis://127.0.0.1:$MULTI_REDIS/0" --redis-prefix multi:
    if [ "$i" = 0 ]; then
      MULTI_PID=${PIDS[-1]}
    else
      MULTI_URLS+=(--url "http://127.0.0.1:$((MULTI_BASE_PORT + i))")
    fi
  done
  redis_commands() { redis-cli -p "$MULTI_REDIS" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'; }
  instance_calls() { # every instance's store calls: "operation count" lines, summed
    for i in $(seq 0 $((MULTI_INSTANCES - 1))); do
      curl -fs "http://127.0.0.1:$((MULTI_BASE_PORT + i))/metrics"
    done | sed -n 's/^cyoa_store_calls_total{operation="\([a-z_]*\)"} \([0-9]*\)$/\1 \2/p' |
      awk '{ n[$1] += $2 } END { for (op in n) print op, n[op] }'
  }
  multi_load() { # NAME [flags...]
    local name=$1 commands cpu; shift
    commands=$(redis_commands); cpu=$(redis_cpu "$MULTI_REDIS"); instance_calls >"$WORK/calls-before"
    load "$name" "$MULTI_BASE_PORT" "$MULTI_PID" "${MULTI_URLS[@]}" --voters "$MULTI_VOTERS" --probes "$PROBES" "$@"
    instance_calls >"$WORK/calls-after"
    row "$name: Redis round trips per vote" "$(awk -v v="${LOAD_VOTES:-0}" '
      FNR == NR { before[$1] = $2; next }
      { d = $2 - before[$1]; total += d; if (d > 0) by[$1] = d }
      END {
        printf "%.2f (%d store calls of every instance for %d votes:", total / (v + 0.000001), total, v
        for (k = 0; k < 5; k++) {
          best = ""; for (op in by) if (best == "" || by[op] > by[best]) best = op
          if (best == "") break
          printf " %s %.2f", best, by[best] / (v + 0.000001); delete by[best]
        }
        printf ")"
      }' "$WORK/calls-before" "$WORK/calls-after")"
    row "$name: Redis commands, CPU per vote" "$(awk -v c="$(($(redis_commands) - commands))" -v t0="$cpu" -v t1="$(redis_cpu "$MULTI_REDIS")" -v v="${LOAD_VOTES:-0}" \
      'BEGIN { printf "%.2f commands (the scripts'"'"' own included), %.1f us of Redis CPU (%d commands, %.2f s for %d votes)", c / (v + 0.000001), 1e6 * (t1 - t0) / (v + 0.000001), c, t1 - t0, v }')"
  }
  multi_load "$MULTI_INSTANCES instances, Redis ($MULTI_VOTERS voters, 5,000 votes/s)" \
    --rate 5000 --duration "$LOAD_SECONDS" --leave 0
  multi_load "$MULTI_INSTANCES instances, Redis flat out ($MULTI_VOTERS voters)" \
    --voter-interval-ms 200 --duration 10 --leave 0
fi

report ""
