#!/usr/bin/env bash
# Takes the README's screenshots (docs/img/presenter.png at 1280x720,
# docs/img/audience-phone.png at 360x740, docs/img/story-map.png: the
# bundled talk's map a few decisions in) and docs/authoring.md's
# (docs/img/deck-*.png: a deck imported and made to branch) in headless
# Chromium, from cyoa servers started by the browser tests, at a decision
# with some votes (the browser suite takes them in every run, into
# target/screenshots/).
#   CYOA_STORY=path               story to show (default: the bundled talk)
#   CYOA_SCREENSHOT_DECISION=id   decision to show (default: the story's first)
set -euo pipefail
cd "$(dirname "$0")/.."
CYOA_SCREENSHOT_DIR="$PWD/docs/img" cargo test --test browser --locked
ls -l docs/img/presenter.png docs/img/audience-phone.png docs/img/story-map.png docs/img/deck-*.png
