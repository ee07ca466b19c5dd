#!/usr/bin/env bash
# What the firewall's connection tracking costs the fan-out: the 9×50 fan-out at RATE score
# changes a second (22.222: 10,000 deliveries a second) against two reference servers, one on
# a port exempted from connection tracking (raw-table NOTRACK, both directions) and one not,
# PAIRS times in turn, 20 s measured each. Prints the generator's CPU a frame for each run;
# findings in measurements/fanout.md ("Connection tracking, measured").
#
# Needs root (iptables) and bin/ built (make build). The rules are for the two test ports on
# loopback only and are taken out when the script ends, however it ends.
#
#   bash measurements/conntrack/run.sh [RATE] [PAIRS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:-22.222}
pairs=${2:-3}
exempt=7110 tracked=7111
out=$(mktemp -d)

rules() { # rules -A|-D: add or delete the NOTRACK rules of the exempted port
	for chain in PREROUTING:-i OUTPUT:-o; do
		for dir in --dport --sport; do
			iptables -t raw "$1" "${chain%%:*}" "${chain##*:}" lo -p tcp "$dir" "$exempt" -j NOTRACK
		done
	done
}
trap 'rules -D 2>/dev/null || true; rm -rf "$out"' EXIT
rules -A

run() { # run PORT TAG
	bin/pkarena-server -listen "127.0.0.1:$1" -rest-rate-limit 1000000 -log-level warn >"$out/server-$2.log" 2>&1 &
	local server=$!
	sleep 1
	bin/pkarena-load run -scenario fanout -target "ws://127.0.0.1:$1/v1/ws" -quiet -no-report \
		-out "$out/$2" -set hosts=9 -set group_size=9 -set audience_per_room=49 \
		-set gift_rate="$rate" -set ramp_up=1s -set duration=20s -set battle_stagger=0s \
		-set score_pipeline=8 -set battle_duration=150s >"$out/load-$2.log" 2>&1 || true
	kill "$server"
	wait "$server" 2>/dev/null || true
	echo "$2: $(grep -o '[0-9.]* µs a frame received ([0-9]* frames; of it [0-9.]* µs in the kernel)' "$out/load-$2.log" || echo 'no figure: see the run log')"
}

for i in $(seq "$pairs"); do
	run "$exempt" "exempted-$i"
	run "$tracked" "tracked-$i"
done
