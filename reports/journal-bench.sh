#!/usr/bin/env bash
# The cost of the battle journal, measured side by side: the same pk load (900 hosts, 4 viewers
# each, 1,000 gifts a second, 40 s) against a memory-only reference server and one with
# -state-dir, one after the other, on this machine. Run it with `make bench-journal`; figures
# are recorded in reports/journal.md. Loopback only; both servers stop at the end.
set -euo pipefail
BIN=${BIN:-bin}
OUT=${1:-results/bench-journal}
rm -rf "$OUT" && mkdir -p "$OUT"
"$BIN/pkarena-server" -listen 127.0.0.1:7071 -rest-rate-limit 10000 -log-level warn >"$OUT/memory.log" 2>&1 &
mem=$!
"$BIN/pkarena-server" -listen 127.0.0.1:7072 -rest-rate-limit 10000 -log-level warn -state-dir "$OUT/state" >"$OUT/journal.log" 2>&1 &
jrn=$!
trap 'kill $mem $jrn 2>/dev/null || true; wait' EXIT
for port in 7071 7072; do
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.1
  done
done
for run in memory:7071 journal:7072; do
  name=${run%%:*} port=${run##*:}
  echo "== $name server (127.0.0.1:$port)"
  "$BIN/pkarena-load" run -scenario pk -target "ws://127.0.0.1:$port/v1/ws" -set hosts=900 -set audience_per_room=4 \
    -set gift_rate=1000 -set ramp_up=10s -set duration=40s -quiet -no-report -out "$OUT/$name"
done
echo "== journal server metrics"
exec 3<>/dev/tcp/127.0.0.1/7072
printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
grep -E '^pkarena_(journal_|score_update_latency_seconds_(sum|count))' <&3 || true
ls -l "$OUT/state"
