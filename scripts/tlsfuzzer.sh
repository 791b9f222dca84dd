#!/usr/bin/env bash
# RFC 8446 conformance check with tlsfuzzer against the `psk_server` example (not run by CI).
#
#   scripts/tlsfuzzer.sh TLSFUZZER_DIR [SCRIPT_MODULE ...]
#
# TLSFUZZER_DIR is a tlsfuzzer checkout; its Python needs tlslite-ng (a version matching the
# checkout: for a current master, tlslite-ng >= 0.9.0b2) and ecdsa. PYTHON selects the
# interpreter (default python3). The server listens on a free 127.0.0.1 port and is stopped at
# the end. Logs go to target/tlsfuzzer/.
#
# test-tls13-psk_dhe_ke runs as is (--psk/--psk-iden). Every other script builds certificate
# handshakes, so it runs through scripts/tlsfuzzer_psk_shim.py, which gives its ClientHellos a
# valid PSK offer. Probes that cannot pass against this engine by design (see the report in
# issue 8): FFDHE groups, psk_ke, TLS 1.2 fallback or negotiation, SHA-384 suites with the
# SHA-256 PSK used here, session tickets (psk_server issues none), handshake messages larger
# than 64 KiB. A known PSK identity whose hash no offered suite uses gets `decrypt_error`, like
# an unknown identity; no suite in common at all is `handshake_failure`.
set -euo pipefail
cd "$(dirname "$0")/.."

TLSF=${1:?usage: scripts/tlsfuzzer.sh TLSFUZZER_DIR [SCRIPT_MODULE ...]}
TLSF=$(cd "$TLSF" && pwd)
shift
PY=${PYTHON:-python3}
DEFAULT=(test_tls13_0rtt_garbage test_tls13_ccs test_tls13_empty_alert test_tls13_finished
  test_tls13_finished_plaintext test_tls13_hrr test_tls13_keyupdate test_tls13_legacy_version
  test_tls13_multiple_ccs_messages test_tls13_unencrypted_alert test_tls13_zero_length_data
  test_tls13_record_padding test_tls13_keyshare_omitted test_tls13_large_number_of_extensions
  test_tls13_lengths test_tls13_record_layer_limits test_tls13_conversation)
if [ $# -gt 0 ]; then SCRIPTS=("$@"); else SCRIPTS=("${DEFAULT[@]}"); fi

cargo build -q -p examples --example psk_server
OUT=target/tlsfuzzer
mkdir -p "$OUT"
KEY=$("$PY" -c 'import os; print(os.urandom(32).hex())')
SECRETS=$(mktemp)
trap 'rm -f "$SECRETS"' EXIT
chmod 600 "$SECRETS"
echo "test:$KEY" >"$SECRETS"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/debug/examples/psk_server --listen "127.0.0.1:$PORT" --psk-secrets "$SECRETS" \
  --handshake-timeout 5 >"$OUT/psk_server.out" 2>"$OUT/psk_server.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; rm -f "$SECRETS"' EXIT
for _ in $(seq 50); do
  grep -q "listening on" "$OUT/psk_server.out" && break
  sleep 0.1
done

summary() { grep -E '^(TOTAL|PASS|FAIL):' "$1" | tr '\n' ' '; }

(cd "$TLSF" && PYTHONPATH=. timeout 600 "$PY" scripts/test-tls13-psk_dhe_ke.py -h 127.0.0.1 \
  -p "$PORT" --psk "$KEY" --psk-iden test) >"$OUT/test_tls13_psk_dhe_ke.log" 2>&1 || true
echo "test_tls13_psk_dhe_ke $(summary "$OUT/test_tls13_psk_dhe_ke.log")"
for m in "${SCRIPTS[@]}"; do
  TLSFUZZER_DIR="$TLSF" PSK_HEX="$KEY" timeout 600 "$PY" scripts/tlsfuzzer_psk_shim.py "$m" \
    -h 127.0.0.1 -p "$PORT" -n 0 >"$OUT/$m.log" 2>&1 || true
  echo "$m $(summary "$OUT/$m.log")"
done
