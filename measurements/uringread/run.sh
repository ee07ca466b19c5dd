#!/bin/bash
# One reader's CPU a frame beside the bare broadcaster's (pkarena-load bare-server, the limit
# of measurements/fanout.md): 450 connections, 1,042-byte frames, both processes' CPU (user and
# system, from /proc) over 13 s after 4 s of warm-up, over the frames due in that time.
#
#   bash measurements/uringread/run.sh READER DELIVERIES_PER_SECOND
#
# READER is one of
#   wsread        pkarena-load bare-client: the pollers of internal/wsread, the load generator's
#   go-epoll      goreader epoll: one locked goroutine, epoll_wait, recvmsg a ready socket
#   go-uring      goreader uring: one locked goroutine, io_uring multishot recvmsg
#   c-epoll, c-uring, c-uring-coop   reader.c, the same in C (c-uring-coop: COOP_TASKRUN)
# Needs bin/pkarena-load (make build); the C readers gcc and liburing-dev (apt-get install
# liburing-dev).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
reader=$1 deliveries=$2
work=$(mktemp -d)
trap 'exec 3>&-; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
case $reader in
wsread) cmd=("$root/bin/pkarena-load" bare-client -target "ws://127.0.0.1:$port/bare" -connections 450 -warmup 3s -duration 16s -out "$work/results") ;;
go-*)
	(cd "$here/goreader" && go build -o "$work/goreader" .)
	cmd=("$work/goreader" "${reader#go-}" "127.0.0.1:$port" /bare 450 19) ;;
c-*)
	gcc -O2 -Wall -o "$work/reader" "$here/reader.c" -luring
	cmd=("$work/reader" "${reader#c-}" 127.0.0.1 "$port" /bare 450 19) ;;
*) echo "run.sh: unknown reader $reader" >&2; exit 2 ;;
esac
rate=$(python3 -c "print($deliveries / 450)")
mkfifo "$work/stdin"
# The broadcaster stops when its stdin closes: fd 3 holds it open until this script exits.
"$root/bin/pkarena-load" bare-server -listen "127.0.0.1:$port" -connections 450 \
	-frame-bytes 1042 -rate "$rate" < "$work/stdin" > "$work/server.log" 2>&1 &
server=$!
exec 3> "$work/stdin"
for _ in $(seq 100); do # at most 10 s
	grep -q listening "$work/server.log" && break
	kill -0 $server 2>/dev/null || break
	sleep 0.1
done
if ! grep -q listening "$work/server.log"; then
	echo "run.sh: the broadcaster did not start:" >&2; cat "$work/server.log" >&2; exit 1
fi
"${cmd[@]}" > "$work/reader.out" 2>&1 &
pid=$!
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sleep 4; ra=$(ticks $pid); sa=$(ticks $server)
sleep 13; rb=$(ticks $pid); sb=$(ticks $server)
status=0; wait $pid || status=$?
if [ $status -ne 0 ]; then echo "run.sh: $reader failed ($status):" >&2; cat "$work/reader.out" >&2; exit 1; fi
python3 -c "
hz, frames = $(getconf CLK_TCK), $deliveries * 13
print('%-12s reader %5.2f  server %5.2f  µs a frame' % ('$reader', ($rb - $ra) * 1e6 / hz / frames, ($sb - $sa) * 1e6 / hz / frames))"
