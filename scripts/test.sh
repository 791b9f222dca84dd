#!/usr/bin/env bash
# Runs every test of the workspace, as CI does: installs the Debian packages the interop and
# Redis tests need when they are missing, then rustfmt, clippy (warnings are errors) and cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v gnutls-serv >/dev/null 2>&1 || need+=(gnutls-bin)
command -v stunnel4 >/dev/null 2>&1 || need+=(stunnel4)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== milagro-tls without tokio"; cargo test -p milagro-tls --no-default-features --lib
echo "== cargo build -p milagro-tunnel --no-default-features (no D-TA server linked)"
cargo build -p milagro-tunnel --no-default-features
echo "== cargo test"
cargo test --workspace
