#!/usr/bin/env bash
# Runs every test suite of cyoa. Installs what the tests need when it is
# missing (redis-server, redis-sentinel, chromium, chromium-driver and npm
# from Debian's packages; axe-core, pinned in tests/browser/package-lock.json,
# from npm).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
# The Sentinel failover test runs redis-server in Sentinel mode, as Debian's
# redis-sentinel does.
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# npm installs axe-core, which the browser tests run on every page.
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]} (Debian packages)"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
  echo "test.sh: installing axe-core into tests/browser/node_modules (npm ci)"
  npm ci --prefix tests/browser --no-audit --no-fund --silent
fi

# --workspace: the server (cyoa) and the load generator (load/, cyoa-load).
# The server's tests that run the load generator (tests/load.rs, the soak in
# tests/multi) find it built next to the server by the same `cargo test`.
echo "test.sh: formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --workspace --all-targets --features sms-outbound --locked -- -D warnings

scripts/lint-deploy.sh
echo "test.sh: tests"
cargo test --workspace --all-targets --locked
cargo test --features sms-outbound --test sms_outbound --locked
cargo test --doc --locked
