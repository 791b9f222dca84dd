#!/usr/bin/env bash
# Tunnel benchmark (informational, DESIGN §9): in one run on one machine, pushes 1 GiB through
# a two-hop loopback relay and opens sequential short connections, for
#   - a direct connection to the sink (baseline),
#   - milagro-tunnel static PSK (client tunnel -> server tunnel),
#   - stunnel4 in PSK mode (stunnel client -> stunnel server, TLS 1.3),
#   - a two-hop socat relay (plain TCP),
#   - milagro-tunnel M-Pin (provisioned from 3 local dta-lite D-TAs): with session-ticket
#     resumption (the default) and with --no-resume (a full M-Pin run, with pairings, per connection),
# and prints a table with ratios to stunnel and to socat.
#
# usage: scripts/bench_tunnel.sh [BYTES] [CONNECTIONS]     (default 1 GiB, 300)
# needs: stunnel4, socat, python3; builds milagro-tunnel --release.
set -euo pipefail
cd "$(dirname "$0")/.."

BYTES=${1:-1073741824}
CONNS=${2:-300}
TARGET=${CARGO_TARGET_DIR:-target}

for tool in stunnel4 socat python3; do
  command -v "$tool" >/dev/null || { echo "bench_tunnel: $tool is required" >&2; exit 2; }
done

cargo build --release -q -p milagro-tunnel -p dta-lite
BIN="$TARGET/release/milagro-tunnel"

WORK=$(mktemp -d /tmp/bench-tunnel.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# the sink/driver: one small Python program, so every setup is measured the same way
cat >"$WORK/bench.py" <<'PY'
import socket, sys, threading, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def sink(port):
    """Reads until EOF, answers with the byte count, closes."""
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(128)
    def serve(c):
        buf = bytearray(1 << 20); n = 0
        while True:
            k = c.recv_into(buf)
            if not k: break
            n += k
        c.sendall(b"%d\n" % n); c.close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()

def wait_port(port, limit=20):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close(); return
        except OSError:
            time.sleep(0.05)
    sys.exit("port %d never opened" % port)

def one(port, payload):
    c = socket.create_connection(("127.0.0.1", port), 30)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if payload: c.sendall(payload)
    c.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        k = c.recv(64)
        if not k: break
        reply += k
    c.close()
    return int(reply or b"-1")

def throughput(port, total):
    chunk = memoryview(bytes(1 << 20))
    c = socket.create_connection(("127.0.0.1", port), 30)
    t = time.perf_counter(); left = total
    while left:
        k = min(left, len(chunk)); c.sendall(chunk[:k]); left -= k
    c.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        k = c.recv(64)
        if not k: break
        reply += k
    dt = time.perf_counter() - t
    if int(reply or b"-1") != total: sys.exit("throughput: sink got %r of %d" % (reply, total))
    return total / dt / 1e6

def rate(port, n):
    one(port, b"x")  # warm-up
    t = time.perf_counter()
    for _ in range(n):
        if one(port, b"x") != 1: sys.exit("short connection failed")
    return n / (time.perf_counter() - t)

cmd = sys.argv[1]
if cmd == "port": print(free_port())
elif cmd == "sink": sink(int(sys.argv[2]))
elif cmd == "wait": wait_port(int(sys.argv[2]))
elif cmd == "measure":
    port, total, n = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    wait_port(port)
    print("%.1f %.1f" % (throughput(port, total), rate(port, n)))
PY
py() { python3 "$WORK/bench.py" "$@"; }

KEY=00112233445566778899aabbccddeeff0011223344556677
printf 'bench:%s\n' "$KEY" >"$WORK/psk.txt"
chmod 600 "$WORK/psk.txt"

SINK=$(py port)
python3 "$WORK/bench.py" sink "$SINK" & PIDS+=($!)
py wait "$SINK"

declare -A TPUT RATE
run_case() { # name entry-port
  local name=$1 port=$2 out
  out=$(py measure "$port" "$BYTES" "$CONNS")
  TPUT[$name]=${out% *}
  RATE[$name]=${out#* }
  printf '  %-28s %10s MB/s %10s conn/s\n' "$name" "${TPUT[$name]}" "${RATE[$name]}" >&2
}

echo "bench_tunnel: $BYTES bytes, $CONNS sequential connections, $(nproc) cores" >&2
run_case direct "$SINK"

# milagro-tunnel static PSK
M_SRV=$(py port); M_CLI=$(py port)
"$BIN" server --accept 127.0.0.1:"$M_SRV" --connect 127.0.0.1:"$SINK" --psk-secrets "$WORK/psk.txt" \
  --log-level warn >/dev/null 2>"$WORK/m-srv.log" & PIDS+=($!)
"$BIN" client --accept 127.0.0.1:"$M_CLI" --connect 127.0.0.1:"$M_SRV" --psk-secrets "$WORK/psk.txt" \
  --log-level warn >/dev/null 2>"$WORK/m-cli.log" & PIDS+=($!)
py wait "$M_SRV"; py wait "$M_CLI"
run_case "milagro-tunnel (PSK)" "$M_CLI"

# stunnel4 PSK, TLS 1.3
S_SRV=$(py port); S_CLI=$(py port)
cat >"$WORK/s-srv.conf" <<EOF
foreground = yes
pid =
output = $WORK/s-srv.log
debug = 3
[srv]
accept = 127.0.0.1:$S_SRV
connect = 127.0.0.1:$SINK
PSKsecrets = $WORK/psk.txt
sslVersionMin = TLSv1.3
EOF
cat >"$WORK/s-cli.conf" <<EOF
foreground = yes
pid =
output = $WORK/s-cli.log
debug = 3
[cli]
client = yes
accept = 127.0.0.1:$S_CLI
connect = 127.0.0.1:$S_SRV
PSKsecrets = $WORK/psk.txt
PSKidentity = bench
sslVersionMin = TLSv1.3
EOF
stunnel4 "$WORK/s-srv.conf" 2>>"$WORK/stunnel.err" & PIDS+=($!)
stunnel4 "$WORK/s-cli.conf" 2>>"$WORK/stunnel.err" & PIDS+=($!)
py wait "$S_SRV"; py wait "$S_CLI"
run_case "stunnel4 (PSK)" "$S_CLI"

# two-hop socat relay
X_SRV=$(py port); X_CLI=$(py port)
socat TCP-LISTEN:"$X_SRV",bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:"$SINK" & PIDS+=($!)
socat TCP-LISTEN:"$X_CLI",bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:"$X_SRV" & PIDS+=($!)
py wait "$X_SRV"; py wait "$X_CLI"
run_case "socat two-hop" "$X_CLI"

# milagro-tunnel M-Pin: provisioned for real — 3 dta-lite D-TAs, an RA, `milagro-tunnel enroll`
# and `server-secret`. The first connection runs M-Pin Full + TLS 1.3; later ones resume with the
# session ticket it got (no pairings) unless --no-resume.
DTA="$TARGET/release/dta-lite"
export DTA_PASSPHRASE=bench-passphrase-not-secret
"$DTA" ra keygen --out "$WORK/ra.key" >/dev/null
DTA_ARGS=()
for i in 1 2 3; do
  "$DTA" init --dir "$WORK/dta$i" --name "dta$i" --ra-pubkey "$(cat "$WORK/ra.key.pub")" >/dev/null
  "$DTA" serve --dir "$WORK/dta$i" --listen 127.0.0.1:0 >"$WORK/dta$i.out" 2>"$WORK/dta$i.log" & PIDS+=($!)
  for _ in $(seq 100); do grep -q '^dta ' "$WORK/dta$i.out" 2>/dev/null && break; sleep 0.1; done
  DTA_ARGS+=(--dta "$(sed -n 's/^dta //p' "$WORK/dta$i.out")")
done
"$DTA" ra grant client --key "$WORK/ra.key" --identity bench@example.com --out "$WORK/client.grant" >/dev/null
"$DTA" ra grant server --key "$WORK/ra.key" --name bench-server --out "$WORK/server.grant" >/dev/null
printf '1234' >"$WORK/pin"; chmod 600 "$WORK/pin"
"$BIN" enroll --identity bench@example.com "${DTA_ARGS[@]}" --grant "$WORK/client.grant" \
  --out "$WORK/bench.credential" --pin-file "$WORK/pin" --days 2 2>"$WORK/enroll.log"
"$BIN" server-secret "${DTA_ARGS[@]}" --grant "$WORK/server.grant" --out "$WORK/server.secret" 2>>"$WORK/enroll.log"
P_SRV=$(py port); P_CLI=$(py port)
"$BIN" server --accept 127.0.0.1:"$P_SRV" --connect 127.0.0.1:"$SINK" --server-secret "$WORK/server.secret" \
  --require-permits --log-level warn >/dev/null 2>"$WORK/p-srv.log" & PIDS+=($!)
"$BIN" client --accept 127.0.0.1:"$P_CLI" --connect 127.0.0.1:"$P_SRV" --credential "$WORK/bench.credential" \
  --pin-file "$WORK/pin" --log-level warn >/dev/null 2>"$WORK/p-cli.log" & PIDS+=($!)
py wait "$P_SRV"; py wait "$P_CLI"
run_case "milagro-tunnel (M-Pin)" "$P_CLI"
# the same without session tickets: every connection is a full M-Pin run (pairings on both ends)
F_CLI=$(py port)
"$BIN" client --accept 127.0.0.1:"$F_CLI" --connect 127.0.0.1:"$P_SRV" --credential "$WORK/bench.credential" \
  --pin-file "$WORK/pin" --no-resume --log-level warn >/dev/null 2>"$WORK/f-cli.log" & PIDS+=($!)
py wait "$F_CLI"
run_case "milagro-tunnel (M-Pin, full)" "$F_CLI"

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b) if b else '-')" "$1" "$2"; }
echo
printf '| setup | 1 GiB throughput (MB/s) | vs stunnel | vs socat | sequential connections/s | vs stunnel | vs socat |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for name in direct "milagro-tunnel (PSK)" "milagro-tunnel (M-Pin)" "milagro-tunnel (M-Pin, full)" "stunnel4 (PSK)" "socat two-hop"; do
  [ -n "${TPUT[$name]:-}" ] || continue
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" \
    "${TPUT[$name]}" "$(ratio "${TPUT[$name]}" "${TPUT[stunnel4 (PSK)]}")" "$(ratio "${TPUT[$name]}" "${TPUT[socat two-hop]}")" \
    "${RATE[$name]}" "$(ratio "${RATE[$name]}" "${RATE[stunnel4 (PSK)]}")" "$(ratio "${RATE[$name]}" "${RATE[socat two-hop]}")"
done
