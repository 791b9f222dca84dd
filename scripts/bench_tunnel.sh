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
#
#   scripts/bench_tunnel.sh --rate [CONNECTIONS]   (default 300 per case)
#     connections/s with 1 and with 50 concurrent clients, each connection a short echo:
#     milagro-tunnel full M-Pin (--no-resume: pairings on both ends every time) and resumed
#     M-Pin (session tickets), each with the server on --state memory and on --state redis://
#     (a redis-server the script starts), milagro-tunnel static PSK and stunnel4 PSK, both
#     tunnels of each pair on this machine; then the redis/memory ratios.
#     and the P2P device link (two enrolled devices: WCC with pairings on both ends every time).
#
#   scripts/bench_tunnel.sh --memory [CONNECTIONS] [CYCLES]   (default 10,000 (fewer if the
#     open-files limit is lower), 4 cycles)
#     RSS of a server tunnel (and of its client tunnel) holding CONNECTIONS idle established
#     connections (driver -> client tunnel -> server tunnel -> echo sink, 16 KiB echoed on each
#     first), per connection, over CYCLES fill-and-close cycles, and RSS 2 s and 20 s after each
#     close (jemalloc, the binary's allocator, returns freed pages on a 10 s decay timer); the same
#     for the tunnel built with the system allocator (glibc, `--no-default-features`), again with
#     glibc's per-thread caches and fast bins off (GLIBC_TUNABLES), and for stunnel4 PSK.
#
# MILAGRO_TUNNEL_ALLOC=system runs the default and --rate benches with the tunnel built with the
# system allocator instead of jemalloc (to compare the two).
#
# The server tunnels run with --rate-limit 0 and raised connection caps: every connection comes
# from 127.0.0.1, and the bench measures capacity, not the per-source policy.
# needs: stunnel4, socat, python3 (and redis-server for --rate); builds milagro-tunnel --release
# (MILAGRO_BENCH_PROFILE=debug uses the debug build instead: a smoke check of the script only).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=default
case "${1:-}" in
  --rate) MODE=rate; shift ;;
  --memory) MODE=memory; shift ;;
esac
BYTES=${1:-1073741824}
CONNS=${2:-300}
TARGET=${CARGO_TARGET_DIR:-target}

for tool in stunnel4 socat python3; do
  command -v "$tool" >/dev/null || { echo "bench_tunnel: $tool is required" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/bench-tunnel.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ALLOC=${MILAGRO_TUNNEL_ALLOC:-jemalloc}
case "$ALLOC" in
  jemalloc|system) ;;
  *) echo "bench_tunnel: MILAGRO_TUNNEL_ALLOC must be jemalloc or system" >&2; exit 2 ;;
esac
# the binary with the system allocator (glibc), for comparison: same target dir, copied aside
SYS_BIN="$WORK/milagro-tunnel-system"
if [ "$MODE" = memory ] || [ "$ALLOC" = system ]; then
  cargo build --release -q -p milagro-tunnel -p dta-lite --no-default-features
  cp "$TARGET/release/milagro-tunnel" "$SYS_BIN"
fi
PROFILE=${MILAGRO_BENCH_PROFILE:-release}
if [ "$PROFILE" = debug ]; then
  cargo build -q -p milagro-tunnel -p dta-lite
else
  cargo build --release -q -p milagro-tunnel -p dta-lite
fi
BIN="$TARGET/$PROFILE/milagro-tunnel"
[ "$ALLOC" = jemalloc ] || BIN=$SYS_BIN

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

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def nfds(pid):
    import os
    return len(os.listdir("/proc/%d/fd" % pid))

async def echo_serve(r, w):
    try:
        while True:
            b = await r.read(65536)
            if not b: break
            w.write(b); await w.drain()
    except OSError:
        pass
    finally:
        w.close()

def echo(port):
    """Echoes every connection until EOF (asyncio: holds 10,000 connections cheaply)."""
    import asyncio
    async def main():
        srv = await asyncio.start_server(echo_serve, "127.0.0.1", port, backlog=1024)
        await srv.serve_forever()
    asyncio.run(main())

def cpu_s(pids):
    """CPU seconds (user + system) the processes `pids` have used so far."""
    import os
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")

def crate(port, n, conc, pids):
    """Connections/s of n short echo connections (1 byte), conc at a time, and the CPU ms per
    connection that the processes `pids` (the two tunnels) used meanwhile."""
    import asyncio
    async def one_echo():
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
        w.write(b"x"); await w.drain(); w.write_eof()
        got = await asyncio.wait_for(r.read(), 30)
        w.close()
        if got != b"x": sys.exit("short connection failed: %r" % got)
    async def main():
        await one_echo()  # warm-up
        left = [n]
        async def worker():
            while left[0] > 0:
                left[0] -= 1
                await one_echo()
        c, t = cpu_s(pids), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        return n / (time.perf_counter() - t), (cpu_s(pids) - c) * 1000 / n
    return asyncio.run(main())

def hold(port, n, cycles, size, procs):
    """Fills n idle connections (each echoes `size` bytes first), reads the RSS of `procs`
    (name=pid), closes them all, waits for the processes to close theirs, reads RSS again;
    `cycles` times. Prints one markdown row per process and cycle."""
    import asyncio, os
    procs = [(a, int(b)) for a, b in (p.rsplit("=", 1) for p in procs)]
    payload = os.urandom(size)
    async def open_one(sem):
        async with sem:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 60)
            w.write(payload); await w.drain()
            got = await asyncio.wait_for(r.readexactly(size), 60)
            if got != payload: sys.exit("echo mismatch")
            return w
    async def main():
        base = {name: (rss_kib(pid), nfds(pid)) for name, pid in procs}
        for name, pid in procs:
            print("| %s | before | %.1f | - | - | - | - |" % (name, base[name][0] / 1024), flush=True)
        sem = asyncio.Semaphore(64)
        for c in range(1, cycles + 1):
            conns = await asyncio.gather(*(open_one(sem) for _ in range(n)))
            await asyncio.sleep(2)
            full = {name: rss_kib(pid) for name, pid in procs}
            for w in conns: w.close()
            await asyncio.gather(*(w.wait_closed() for w in conns), return_exceptions=True)
            end = time.time() + 60
            while time.time() < end and any(nfds(pid) > base[name][1] + 16 for name, pid in procs):
                await asyncio.sleep(0.2)
            await asyncio.sleep(2)
            soon = {name: rss_kib(pid) for name, pid in procs}
            # jemalloc returns freed pages over its dirty_decay_ms (10 s), in steps of its
            # background thread: settled within 20 s of the close (measured), sample again then
            await asyncio.sleep(18)
            for name, pid in procs:
                after = rss_kib(pid)
                print("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |" % (name, c, full[name] / 1024,
                      full[name] / n, (full[name] - base[name][0]) / n, soon[name] / 1024,
                      after / 1024), flush=True)
    asyncio.run(main())

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
elif cmd == "echo": echo(int(sys.argv[2]))
elif cmd == "crate":
    port, n, conc = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    wait_port(port)
    print("%.1f %.2f" % crate(port, n, conc, [int(p) for p in sys.argv[5:]]))
elif cmd == "hold":
    port, n, cycles, size = (int(x) for x in sys.argv[2:6])
    wait_port(port)
    hold(port, n, cycles, size, sys.argv[6:])
PY
py() { python3 "$WORK/bench.py" "$@"; }

KEY=00112233445566778899aabbccddeeff0011223344556677
printf 'bench:%s\n' "$KEY" >"$WORK/psk.txt"
chmod 600 "$WORK/psk.txt"

# --- the setups (each starts its processes in the background; PIDS are stopped at exit) ---
CAPS=(--max-connections 20000 --max-handshakes 4096 --max-handshakes-per-source 4096)

start_milagro_psk() { # sink-port; sets M_SRV M_CLI M_SRV_PID M_CLI_PID
  M_SRV=$(py port); M_CLI=$(py port)
  "$BIN" server --accept 127.0.0.1:"$M_SRV" --connect 127.0.0.1:"$1" --psk-secrets "$WORK/psk.txt" \
    --rate-limit 0 "${CAPS[@]}" --log-level warn >/dev/null 2>"$WORK/m-srv.log" & M_SRV_PID=$!; PIDS+=($!)
  "$BIN" client --accept 127.0.0.1:"$M_CLI" --connect 127.0.0.1:"$M_SRV" --psk-secrets "$WORK/psk.txt" \
    "${CAPS[@]}" --log-level warn >/dev/null 2>"$WORK/m-cli.log" & M_CLI_PID=$!; PIDS+=($!)
  py wait "$M_SRV"; py wait "$M_CLI"
}

start_stunnel() { # sink-port; sets S_SRV S_CLI S_SRV_PID S_CLI_PID (PSK, TLS 1.3)
  S_SRV=$(py port); S_CLI=$(py port)
  cat >"$WORK/s-srv.conf" <<EOF
foreground = yes
pid =
output = $WORK/s-srv.log
debug = 3
[srv]
accept = 127.0.0.1:$S_SRV
connect = 127.0.0.1:$1
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
  stunnel4 "$WORK/s-srv.conf" 2>>"$WORK/stunnel.err" & S_SRV_PID=$!; PIDS+=($!)
  stunnel4 "$WORK/s-cli.conf" 2>>"$WORK/stunnel.err" & S_CLI_PID=$!; PIDS+=($!)
  py wait "$S_SRV"; py wait "$S_CLI"
}

start_socat() { # sink-port; sets X_CLI
  X_SRV=$(py port); X_CLI=$(py port)
  socat TCP-LISTEN:"$X_SRV",bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:"$1" & PIDS+=($!)
  socat TCP-LISTEN:"$X_CLI",bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:"$X_SRV" & PIDS+=($!)
  py wait "$X_SRV"; py wait "$X_CLI"
}

# milagro-tunnel M-Pin: provisioned for real — 3 dta-lite D-TAs, an RA, `milagro-tunnel enroll`
# and `server-secret`. The client on P_CLI resumes with session tickets; the one on F_CLI uses
# --no-resume: every connection is a full M-Pin run (pairings on both ends).
start_mpin() { # sink-port [state]; sets P_SRV P_CLI F_CLI P_SRV_PID P_CLI_PID F_CLI_PID
  [ -f "$WORK/server.secret" ] || provision_mpin
  local state=${2:-memory}
  P_SRV=$(py port); P_CLI=$(py port); F_CLI=$(py port)
  "$BIN" server --accept 127.0.0.1:"$P_SRV" --connect 127.0.0.1:"$1" --server-secret "$WORK/server.secret" \
    --require-permits --state "$state" --rate-limit 0 "${CAPS[@]}" --log-level warn >/dev/null 2>>"$WORK/p-srv.log" & P_SRV_PID=$!; PIDS+=($!)
  "$BIN" client --accept 127.0.0.1:"$P_CLI" --connect 127.0.0.1:"$P_SRV" --credential "$WORK/bench.credential" \
    --pin-file "$WORK/pin" "${CAPS[@]}" --log-level warn >/dev/null 2>>"$WORK/p-cli.log" & P_CLI_PID=$!; PIDS+=($!)
  "$BIN" client --accept 127.0.0.1:"$F_CLI" --connect 127.0.0.1:"$P_SRV" --credential "$WORK/bench.credential" \
    --pin-file "$WORK/pin" --no-resume "${CAPS[@]}" --log-level warn >/dev/null 2>>"$WORK/f-cli.log" & F_CLI_PID=$!; PIDS+=($!)
  py wait "$P_SRV"; py wait "$P_CLI"; py wait "$F_CLI"
}

# A redis-server on a free loopback port without persistence; sets REDIS_URL.
start_redis() {
  command -v redis-server >/dev/null || { echo "bench_tunnel: redis-server is required for --rate" >&2; exit 2; }
  local port; port=$(py port)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no >"$WORK/redis.log" 2>&1 & PIDS+=($!)
  py wait "$port"
  REDIS_URL="redis://127.0.0.1:$port/0"
}

provision_mpin() { # sets DTA_ARGS
  local dta="$TARGET/$PROFILE/dta-lite" i
  DTA_ARGS=()
  export DTA_PASSPHRASE=bench-passphrase-not-secret
  "$dta" ra keygen --out "$WORK/ra.key" >/dev/null
  for i in 1 2 3; do
    "$dta" init --dir "$WORK/dta$i" --name "dta$i" --ra-pubkey "$(cat "$WORK/ra.key.pub")" >/dev/null
    "$dta" serve --dir "$WORK/dta$i" --listen 127.0.0.1:0 >"$WORK/dta$i.out" 2>"$WORK/dta$i.log" & PIDS+=($!)
    for _ in $(seq 100); do grep -q '^dta ' "$WORK/dta$i.out" 2>/dev/null && break; sleep 0.1; done
    DTA_ARGS+=(--dta "$(sed -n 's/^dta //p' "$WORK/dta$i.out")")
  done
  "$dta" ra grant client --key "$WORK/ra.key" --identity bench@example.com --out "$WORK/client.grant" >/dev/null
  "$dta" ra grant server --key "$WORK/ra.key" --name bench-server --out "$WORK/server.grant" >/dev/null
  printf '1234' >"$WORK/pin"; chmod 600 "$WORK/pin"
  "$BIN" enroll --identity bench@example.com "${DTA_ARGS[@]}" --grant "$WORK/client.grant" \
    --out "$WORK/bench.credential" --pin-file "$WORK/pin" --days 2 2>"$WORK/enroll.log"
  "$BIN" server-secret "${DTA_ARGS[@]}" --grant "$WORK/server.grant" --out "$WORK/server.secret" 2>>"$WORK/enroll.log"
}

# milagro-tunnel P2P device link: two devices enrolled at start_mpin's D-TAs (`enroll --device`),
# a device server tunnel and a device client tunnel; every connection runs WCC (no resumption).
start_p2p() { # sink-port; sets D_SRV D_CLI D_SRV_PID D_CLI_PID (after start_mpin)
  local dta="$TARGET/$PROFILE/dta-lite"
  "$dta" ra grant device --key "$WORK/ra.key" --identity device:bench-a --send --out "$WORK/a.dgrant" >/dev/null
  "$dta" ra grant device --key "$WORK/ra.key" --identity device:bench-b --receive --out "$WORK/b.dgrant" >/dev/null
  "$BIN" enroll --device --identity device:bench-a "${DTA_ARGS[@]}" --grant "$WORK/a.dgrant" \
    --out "$WORK/a.device" --days 2 2>>"$WORK/enroll.log"
  "$BIN" enroll --device --identity device:bench-b "${DTA_ARGS[@]}" --grant "$WORK/b.dgrant" \
    --out "$WORK/b.device" --days 2 2>>"$WORK/enroll.log"
  D_SRV=$(py port); D_CLI=$(py port)
  "$BIN" server --accept 127.0.0.1:"$D_SRV" --connect 127.0.0.1:"$1" --device-credential "$WORK/b.device" \
    --rate-limit 0 "${CAPS[@]}" --log-level warn >/dev/null 2>"$WORK/d-srv.log" & D_SRV_PID=$!; PIDS+=($!)
  "$BIN" client --accept 127.0.0.1:"$D_CLI" --connect 127.0.0.1:"$D_SRV" --device-credential "$WORK/a.device" \
    --peer device:bench-b "${CAPS[@]}" --log-level warn >/dev/null 2>"$WORK/d-cli.log" & D_CLI_PID=$!; PIDS+=($!)
  py wait "$D_SRV"; py wait "$D_CLI"
}

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b) if b else '-')" "$1" "$2"; }

if [ "$MODE" = rate ]; then
  N=${1:-300}
  ECHO=$(py port)
  python3 "$WORK/bench.py" echo "$ECHO" & PIDS+=($!)
  py wait "$ECHO"
  start_stunnel "$ECHO"; start_milagro_psk "$ECHO"
  start_mpin "$ECHO" memory; start_p2p "$ECHO"
  MEM=("$P_SRV_PID" "$P_CLI" "$P_CLI_PID" "$F_CLI" "$F_CLI_PID")
  start_redis
  start_mpin "$ECHO" "$REDIS_URL"
  RED=("$P_SRV_PID" "$P_CLI" "$P_CLI_PID" "$F_CLI" "$F_CLI_PID")
  echo "bench_tunnel --rate: $N connections per case, $(nproc) cores; state memory and $REDIS_URL" >&2
  declare -A R1 R50 CPU
  CASES=("milagro-tunnel (M-Pin, full, memory)" "milagro-tunnel (M-Pin, full, redis)"
         "milagro-tunnel (P2P device link)"
         "milagro-tunnel (M-Pin, resumed, memory)" "milagro-tunnel (M-Pin, resumed, redis)"
         "milagro-tunnel (PSK)" "stunnel4 (PSK)")
  for c in "stunnel4 (PSK):$S_CLI:$S_SRV_PID $S_CLI_PID" "milagro-tunnel (PSK):$M_CLI:$M_SRV_PID $M_CLI_PID" \
           "milagro-tunnel (M-Pin, full, memory):${MEM[3]}:${MEM[0]} ${MEM[4]}" \
           "milagro-tunnel (P2P device link):$D_CLI:$D_SRV_PID $D_CLI_PID" \
           "milagro-tunnel (M-Pin, full, redis):${RED[3]}:${RED[0]} ${RED[4]}" \
           "milagro-tunnel (M-Pin, resumed, memory):${MEM[1]}:${MEM[0]} ${MEM[2]}" \
           "milagro-tunnel (M-Pin, resumed, redis):${RED[1]}:${RED[0]} ${RED[2]}"; do
    name=${c%%:*}; rest=${c#*:}; port=${rest%%:*}; pids=${rest#*:}
    out=$(py crate "$port" "$N" 1 $pids); R1[$name]=${out% *}
    out=$(py crate "$port" "$N" 50 $pids); R50[$name]=${out% *}; CPU[$name]=${out#* }
    printf '  %-33s %8s conn/s (1 client) %8s conn/s (50 clients, %s CPU ms each in the two tunnels)\n' \
      "$name" "${R1[$name]}" "${R50[$name]}" "${CPU[$name]}" >&2
  done
  echo
  printf '| setup | connections/s, 1 client | vs stunnel | connections/s, 50 clients | vs stunnel | CPU ms per connection, both tunnels (50 clients) |\n'
  printf '|---|---:|---:|---:|---:|---:|\n'
  for name in "${CASES[@]}"; do
    printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "${R1[$name]}" "$(ratio "${R1[$name]}" "${R1[stunnel4 (PSK)]}")" \
      "${R50[$name]}" "$(ratio "${R50[$name]}" "${R50[stunnel4 (PSK)]}")" "${CPU[$name]}"
  done
  echo
  printf '| M-Pin, redis vs memory | 1 client | 50 clients |\n|---|---:|---:|\n'
  for kind in full resumed; do
    m="milagro-tunnel (M-Pin, $kind, memory)"; r="milagro-tunnel (M-Pin, $kind, redis)"
    printf '| %s | %s | %s |\n' "$kind" "$(ratio "${R1[$r]}" "${R1[$m]}")" "$(ratio "${R50[$r]}" "${R50[$m]}")"
  done
  exit 0
fi

if [ "$MODE" = memory ]; then
  # each relayed connection takes 2 descriptors in a tunnel process, and stunnel serves at most
  # 125/256 of its open-files limit; raise the limit if allowed
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  MAXN=$(( $(ulimit -n) * 125 / 256 - 64 ))
  N=${1:-10000}; CYCLES=${2:-4}
  if [ "$N" -gt "$MAXN" ]; then
    echo "bench_tunnel --memory: open-files limit $(ulimit -n): $MAXN connections instead of $N" >&2
    N=$MAXN
  fi
  ECHO=$(py port)
  python3 "$WORK/bench.py" echo "$ECHO" & PIDS+=($!)
  py wait "$ECHO"
  echo "bench_tunnel --memory: $N idle connections, $CYCLES cycles, $(nproc) cores" >&2
  printf '| process | cycle | RSS with %d connections (MiB) | KiB per connection (RSS / N) | KiB per connection above the idle process | RSS 2 s after close (MiB) | RSS 20 s after close (MiB) |\n' "$N"
  printf '|---|---:|---:|---:|---:|---:|---:|\n'
  start_milagro_psk "$ECHO"
  py hold "$M_CLI" "$N" "$CYCLES" 16384 "milagro-tunnel server=$M_SRV_PID" "milagro-tunnel client=$M_CLI_PID"
  kill "$M_SRV_PID" "$M_CLI_PID" 2>/dev/null || true
  JEMALLOC_BIN=$BIN; BIN=$SYS_BIN
  start_milagro_psk "$ECHO"
  py hold "$M_CLI" "$N" "$CYCLES" 16384 "milagro-tunnel server, glibc=$M_SRV_PID" \
    "milagro-tunnel client, glibc=$M_CLI_PID"
  kill "$M_SRV_PID" "$M_CLI_PID" 2>/dev/null || true
  # glibc keeps freed small chunks in its per-thread caches and fast bins, which pins the heap:
  # without them, memory freed after a burst goes back to the system
  export GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0
  start_milagro_psk "$ECHO"
  unset GLIBC_TUNABLES
  py hold "$M_CLI" "$N" "$CYCLES" 16384 "milagro-tunnel server, glibc caches off=$M_SRV_PID" \
    "milagro-tunnel client, glibc caches off=$M_CLI_PID"
  kill "$M_SRV_PID" "$M_CLI_PID" 2>/dev/null || true
  BIN=$JEMALLOC_BIN
  start_stunnel "$ECHO"
  py hold "$S_CLI" "$N" "$CYCLES" 16384 "stunnel4 server=$S_SRV_PID" "stunnel4 client=$S_CLI_PID"
  exit 0
fi

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
start_milagro_psk "$SINK"; run_case "milagro-tunnel (PSK)" "$M_CLI"
start_stunnel "$SINK"; run_case "stunnel4 (PSK)" "$S_CLI"
start_socat "$SINK"; run_case "socat two-hop" "$X_CLI"
start_mpin "$SINK"
run_case "milagro-tunnel (M-Pin)" "$P_CLI"
run_case "milagro-tunnel (M-Pin, full)" "$F_CLI"

echo
printf '| setup | 1 GiB throughput (MB/s) | vs stunnel | vs socat | sequential connections/s | vs stunnel | vs socat |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for name in direct "milagro-tunnel (PSK)" "milagro-tunnel (M-Pin)" "milagro-tunnel (M-Pin, full)" "stunnel4 (PSK)" "socat two-hop"; do
  [ -n "${TPUT[$name]:-}" ] || continue
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" \
    "${TPUT[$name]}" "$(ratio "${TPUT[$name]}" "${TPUT[stunnel4 (PSK)]}")" "$(ratio "${TPUT[$name]}" "${TPUT[socat two-hop]}")" \
    "${RATE[$name]}" "$(ratio "${RATE[$name]}" "${RATE[stunnel4 (PSK)]}")" "$(ratio "${RATE[$name]}" "${RATE[socat two-hop]}")"
done
