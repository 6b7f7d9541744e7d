#!/usr/bin/env bash
# The system programs the stack tests use, from Debian's packages: PostgreSQL (a throwaway server the
# tests start themselves) and Chromium (the UI test, driven by Playwright). Installed with apt when
# missing and running as root; otherwise this says what to install, and those tests are skipped.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "system-deps: installing ${missing[*]} with apt" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
else
  echo "system-deps: ${missing[*]} missing; install with: sudo apt-get install ${missing[*]}" \
    "(the stack tests that need them are skipped until then)" >&2
fi
