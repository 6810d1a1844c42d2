#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium for the page tests (tests/e2e/test_pages.py):
# $CHROMIUM if set, else one on PATH; where there is none and we are root with apt-get (CI's
# machine), installs Debian's chromium package first.
set -euo pipefail
find_browser() {
  if [[ -n "${CHROMIUM:-}" ]]; then command -v "$CHROMIUM" && return 0; fi
  for name in chromium chromium-browser google-chrome; do
    command -v "$name" && return 0
  done
  return 1
}
if find_browser; then exit 0; fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the page tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
  find_browser && exit 0
fi
echo "no Chromium for the page tests: install one (Debian: apt-get install chromium) or set CHROMIUM=/path/to/chrome" >&2
exit 1
