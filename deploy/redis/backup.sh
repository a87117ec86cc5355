#!/usr/bin/env bash
# Backs up cyoa's Redis off the machine: a fresh RDB snapshot and the
# append-only files, packed into one timestamped archive, shipped with
# rsync (over ssh for a remote target), and archives older than the
# retention removed from the target.
#
#   backup.sh                      # settings from the environment
#   BACKUP_TARGET=backup@vault.example.org:/srv/backups/cyoa backup.sh
#
# Settings (environment):
#   BACKUP_TARGET     where archives go: user@host:/path, or a local
#                     directory (for a mounted disk, or a test). Required.
#   BACKUP_KEEP_DAYS  archives older than this many days are deleted from
#                     the target (default 14).
#   BACKUP_SSH        the ssh command rsync uses (default: ssh with batch
#                     mode; add `-i /root/.ssh/cyoa-backup` for a key).
#   REDIS_DIR         Redis's data directory (default /var/lib/redis).
#   REDIS_CLI         redis-cli and its options, e.g. `redis-cli -p 6380`
#                     or with `--user`/`--pass`; it must reach the Redis
#                     whose REDIS_DIR this is (default: redis-cli).
#   BACKUP_TIMEOUT    seconds to wait for Redis to finish a save (default 300).
#
# Exits non-zero, saying why, when any step fails: run it from cron or a
# systemd timer whose failures someone sees. Restore: docs/deploy.md,
# "Restore drill".
set -euo pipefail

target=${BACKUP_TARGET:?set BACKUP_TARGET to user@host:/path or a directory}
keep_days=${BACKUP_KEEP_DAYS:-14}
ssh_cmd=${BACKUP_SSH:-ssh -o BatchMode=yes}
redis_dir=${REDIS_DIR:-/var/lib/redis}
timeout=${BACKUP_TIMEOUT:-300}
read -r -a redis_cli <<<"${REDIS_CLI:-redis-cli}"

case $keep_days in
  '' | *[!0-9]*) echo "backup.sh: BACKUP_KEEP_DAYS must be a number of days, not '$keep_days'" >&2; exit 2 ;;
esac

read -r -a ssh_argv <<<"$ssh_cmd"

# One reply of redis-cli, as plain text (the last line: CONFIG GET answers
# the name, then the value).
redis() {
  "${redis_cli[@]}" "$@" | tr -d '\r' | tail -n 1
}

# The value of one field of INFO persistence.
persistence() {
  "${redis_cli[@]}" INFO persistence | tr -d '\r' | sed -n "s/^$1://p"
}

# Waits until INFO persistence says $1 is $2.
wait_for() {
  local waited=0
  until [ "$(persistence "$1")" = "$2" ]; do
    if [ "$waited" -ge "$((timeout * 10))" ]; then
      echo "backup.sh: Redis still has $1 != $2 after ${timeout}s" >&2
      exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
name="cyoa-redis-$stamp"
staging=$(mktemp -d)
aof_rewrite=""
cleanup() {
  rm -rf "$staging"
  # Give Redis back its automatic AOF rewrites if they were paused.
  if [ -n "$aof_rewrite" ]; then
    "${redis_cli[@]}" CONFIG SET auto-aof-rewrite-percentage "$aof_rewrite" >/dev/null || true
  fi
}
trap cleanup EXIT

# 1. A fresh snapshot: BGSAVE, once no other save or rewrite runs, then
#    wait until it has finished.
wait_for rdb_bgsave_in_progress 0
wait_for aof_rewrite_in_progress 0
reply=$(redis BGSAVE)
if [ "$reply" != "Background saving started" ]; then
  echo "backup.sh: BGSAVE answered: $reply" >&2
  exit 1
fi
wait_for rdb_bgsave_in_progress 0
if [ "$(persistence rdb_last_bgsave_status)" != ok ]; then
  echo "backup.sh: BGSAVE failed; see Redis's log" >&2
  exit 1
fi
mkdir -p "$staging/$name"
cp -p "$redis_dir/dump.rdb" "$staging/$name/"

# 2. The append-only files, copied while no rewrite can replace them
#    (Redis 7 keeps them in appendonlydir/ with a manifest).
if [ "$(redis CONFIG GET appendonly)" = yes ]; then
  aof_rewrite=$(redis CONFIG GET auto-aof-rewrite-percentage)
  "${redis_cli[@]}" CONFIG SET auto-aof-rewrite-percentage 0 >/dev/null
  wait_for aof_rewrite_in_progress 0
  aof_dir=$(redis CONFIG GET appenddirname)
  cp -rp "$redis_dir/$aof_dir" "$staging/$name/"
  "${redis_cli[@]}" CONFIG SET auto-aof-rewrite-percentage "$aof_rewrite" >/dev/null
  aof_rewrite=""
fi

# 3. One archive and its checksum.
tar -C "$staging" -czf "$staging/$name.tar.gz" "$name"
(cd "$staging" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")

# 4. Off the box.
case $target in
  *:*)
    host=${target%%:*}
    path=${target#*:}
    rsync -a -e "$ssh_cmd" "$staging/$name.tar.gz" "$staging/$name.tar.gz.sha256" "$host:$path/"
    # 5. Retention, on the target.
    # shellcheck disable=SC2029 # $path and $keep_days are meant to expand here.
    "${ssh_argv[@]}" "$host" "find '$path' -maxdepth 1 -name 'cyoa-redis-*.tar.gz*' -mtime +$keep_days -delete"
    ;;
  *)
    mkdir -p "$target"
    rsync -a "$staging/$name.tar.gz" "$staging/$name.tar.gz.sha256" "$target/"
    find "$target" -maxdepth 1 -name 'cyoa-redis-*.tar.gz*' -mtime "+$keep_days" -delete
    ;;
esac

echo "backup.sh: $name.tar.gz -> $target (keeping $keep_days days)"
