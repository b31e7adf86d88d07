#!/usr/bin/env bash
# Make sure a Chromium that Playwright can drive is installed for the portal's browser tests: Debian's
# `chromium` package, per ../shared/recipes/real-components.md (section 3). No `playwright install`
# (a download from outside the package registries): the tests launch /usr/bin/chromium themselves.
# Idempotent and fast when it is there. Prints one line saying what it did.
# Not root and no Chromium: does nothing (the browser tests then skip, saying why).
set -euo pipefail

say() { echo "ensure-chromium: $*" >&2; }
have() { [ -x "${SUANLI_CHROMIUM:-/usr/bin/chromium}" ]; }

if have; then say "Chromium already installed; nothing to do"; exit 0; fi
if [ "$(id -u)" != 0 ]; then
  say "no Chromium at ${SUANLI_CHROMIUM:-/usr/bin/chromium} and I am not root; the portal's browser tests will be skipped"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
out=$( { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } 2>&1) \
  || { echo "$out" >&2; say "could not install Chromium from Debian's packages"; exit 1; }
have || { say "installed chromium, but ${SUANLI_CHROMIUM:-/usr/bin/chromium} is not there"; exit 1; }
say "installed Debian's chromium"
