#!/usr/bin/env bash
# Installs Debian's Chromium (plus a small CJK font, so the Chinese labels render in screenshots) for the
# dashboard browser test (test/core/dashboard-browser.test.ts). Idempotent: installs only what is missing.
# Non-interactive. Needs root (or password-less sudo) and the Debian mirror; exits non-zero with a reason
# otherwise, which the test reports as a skip.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
FONT_PACKAGE=fonts-wqy-microhei

missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
dpkg-query -W -f='${Status}' "$FONT_PACKAGE" 2>/dev/null | grep -q "install ok installed" || missing+=("$FONT_PACKAGE")

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-chromium: $CHROMIUM and $FONT_PACKAGE already present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown')); nothing to do"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-chromium: not root and no password-less sudo; cannot install ${missing[*]}" >&2
    exit 2
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: apt-get not found (not a Debian/Ubuntu system); cannot install ${missing[*]}" >&2
  exit 3
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-chromium: apt-get update"
$SUDO apt-get update -qq
echo "install-chromium: apt-get install -y ${missing[*]}"
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if [ ! -x "$CHROMIUM" ]; then
  echo "install-chromium: apt-get finished but $CHROMIUM is missing" >&2
  exit 4
fi
echo "install-chromium: installed ${missing[*]} ($("$CHROMIUM" --version 2>/dev/null || echo chromium))"
