#!/usr/bin/env bash
# Puts a backup.sh archive back as Redis's data, for the restore drill in
# docs/deploy.md. Redis must be stopped first; start it afterwards.
#
#   systemctl stop 'cyoa@*' redis-server
#   restore.sh /srv/restore/cyoa-redis-20260101T030000Z.tar.gz
#   systemctl start redis-server
#
# The archive's .sha256 beside it is checked when present. The data it
# replaces is moved aside to $REDIS_DIR/before-restore-<time>/, not deleted.
#
# Settings (environment):
#   REDIS_DIR   Redis's data directory (default /var/lib/redis).
#   REDIS_CLI   redis-cli and its options, used to make sure Redis is
#               stopped (default: redis-cli).
#   REDIS_USER  owner of the restored files when run as root (default redis).
set -euo pipefail

archive=${1:?usage: restore.sh ARCHIVE.tar.gz}
redis_dir=${REDIS_DIR:-/var/lib/redis}
redis_user=${REDIS_USER:-redis}
read -r -a redis_cli <<<"${REDIS_CLI:-redis-cli}"

if [ ! -f "$archive" ]; then
  echo "restore.sh: no archive at $archive" >&2
  exit 2
fi
if [ -f "$archive.sha256" ]; then
  (cd "$(dirname "$archive")" && sha256sum --check --quiet "$(basename "$archive").sha256")
fi
if "${redis_cli[@]}" PING >/dev/null 2>&1; then
  echo "restore.sh: Redis still answers; stop it first (systemctl stop redis-server)" >&2
  exit 1
fi

name=$(basename "$archive" .tar.gz)
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
tar -C "$unpacked" -xzf "$archive"
if [ ! -f "$unpacked/$name/dump.rdb" ]; then
  echo "restore.sh: $archive holds no $name/dump.rdb" >&2
  exit 1
fi

aside="$redis_dir/before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$aside"
for data in "$redis_dir"/dump.rdb "$redis_dir"/appendonlydir; do
  if [ -e "$data" ]; then
    mv "$data" "$aside/"
  fi
done
cp -rp "$unpacked/$name/." "$redis_dir/"
if [ "$(id -u)" -eq 0 ] && id "$redis_user" >/dev/null 2>&1; then
  chown -R "$redis_user:$redis_user" "$redis_dir/dump.rdb"
  if [ -d "$redis_dir/appendonlydir" ]; then
    chown -R "$redis_user:$redis_user" "$redis_dir/appendonlydir"
  fi
fi
echo "restore.sh: $name restored into $redis_dir; the data it replaced is in $aside"
