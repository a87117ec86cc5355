#!/usr/bin/env bash
# Takes the README's screenshots (docs/img/presenter.png at 1280x720,
# docs/img/audience-phone.png at 360x740) in headless Chromium, from a cyoa
# server started by the browser tests, at a decision with some votes.
#   CYOA_STORY=path               story to show (default: the bundled talk)
#   CYOA_SCREENSHOT_DECISION=id   decision to show (default: the story's first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --test browser --locked -- --ignored --exact readme_screenshots
ls -l docs/img/presenter.png docs/img/audience-phone.png
