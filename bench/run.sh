#!/usr/bin/env bash
# Benchmarks wskit against a bare tokio-tungstenite echo server, as in DESIGN.md "Numbers we
# chase": the server pinned to one core, the load generator on another, loopback only.
#
#   bench/run.sh [RUNS]
#
# Each run measures echo round trips per second of wskit_echo and bare_echo (and
# BASELINE_ECHO; alternating which goes first), then RPC round trips per second of wskit_echo, then fan-out
# deliveries per second of wskit_pubsub to FANOUT_SUBS
# subscribers, then the server memory per idle connection, each on a fresh server.
# At the end it prints the medians and the wskit/bare ratio.
#
# Settings (environment):
#   RUNS=5            runs (or the first argument)
#   CONNS=32          echo connections       INFLIGHT=16   frames in flight per connection
#   SECS=10           echo measuring window  WARMUP=2      seconds of warm-up, not counted
#   MEASURE_RPC=1     also measure RPC round trips of wskit_echo (0 skips it)
#   FANOUT_SUBS=1000  subscribers of the fan-out measurement (0 skips it)
#   FANOUT_INFLIGHT=16  publishes in flight (not yet delivered to every subscriber)
#   IDLE_CONNS=10000  connections of the idle measurement (0 skips it)
#   IDLE_BARE=1       also measure bare_echo's idle memory (0 skips it)
#   WORKERS=1         server runtime worker threads (0: current-thread runtime)
#   SERVER_CPU=0      LOADGEN_CPU=1          cores to pin to
#   PORT=9001         the servers' port on 127.0.0.1
#   QUIET_BUSY=15     wait (up to QUIET_WAIT=180 s) until the machine is at most this % busy
#   BASELINE_ECHO=    path of a wskit_echo of another build (e.g. from before a change): its
#                     echo is measured in the same runs, and compared with this build's
#   MIN_SERVER_CPU=90 repeat (up to MAX_TRIES=3 times) an echo measurement in which the server
#                     had less of its core than this: another process disturbed it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-${RUNS:-5}}"
CONNS="${CONNS:-32}"
INFLIGHT="${INFLIGHT:-16}"
SECS="${SECS:-10}"
WARMUP="${WARMUP:-2}"
MEASURE_RPC="${MEASURE_RPC:-1}"
FANOUT_SUBS="${FANOUT_SUBS:-1000}"
FANOUT_INFLIGHT="${FANOUT_INFLIGHT:-16}"
IDLE_CONNS="${IDLE_CONNS:-10000}"
IDLE_BARE="${IDLE_BARE:-1}"
export WORKERS="${WORKERS:-1}"
SERVER_CPU="${SERVER_CPU:-0}"
LOADGEN_CPU="${LOADGEN_CPU:-1}"
PORT="${PORT:-9001}"
QUIET_BUSY="${QUIET_BUSY:-15}"
QUIET_WAIT="${QUIET_WAIT:-180}"
MIN_SERVER_CPU="${MIN_SERVER_CPU:-90}"
MAX_TRIES="${MAX_TRIES:-3}"
BASELINE_ECHO="${BASELINE_ECHO:-}"
URL="ws://127.0.0.1:${PORT}/ws"
# A server that this script fails to stop stops by itself.
export LIFETIME_SECS=$((SECS + WARMUP + 300))

cd "$ROOT"
echo "== building (release)"
cargo build --release -p wskit-bench --bins
case "${CARGO_TARGET_DIR:-}" in
    "") BIN="$ROOT/target/release" ;;
    /*) BIN="$CARGO_TARGET_DIR/release" ;;
    *) BIN="$ROOT/$CARGO_TARGET_DIR/release" ;;
esac

# Both the load generator and the servers inherit this limit: 10k connections need 10k
# descriptors on each side.
hard="$(ulimit -Hn)"
if [[ "$hard" == unlimited || "$hard" -ge 65536 ]]; then
    ulimit -n 65536
else
    ulimit -n 65536 2>/dev/null || ulimit -Hn 65536 2>/dev/null || ulimit -n "$hard"
fi
for setting in IDLE_CONNS FANOUT_SUBS; do
    if ((${!setting} > 0 && $(ulimit -n) < ${!setting} + 100)); then
        echo "the open files limit $(ulimit -n) is too low for $setting=${!setting}" >&2
        exit 1
    fi
done

LOGDIR="$(mktemp -d /tmp/wskit-bench.XXXXXX)"
SERVER_PID=""
RESULT=""

stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    # wskit shuts down gracefully (up to 5 s); after 8 s, kill.
    for _ in $(seq 80); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# start_server NAME: starts target/release/NAME (or NAME, an absolute path) pinned to
# SERVER_CPU and waits until it listens.
start_server() {
    local bin="$BIN/$1" log="$LOGDIR/$1.log"
    if [[ "$1" == /* ]]; then
        bin="$1" log="$LOGDIR/baseline-${1##*/}.log"
    fi
    : >"$log"
    taskset -c "$SERVER_CPU" "$bin" "127.0.0.1:$PORT" >>"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        grep -q listening "$log" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "$1 did not start:" >&2
    cat "$log" >&2
    exit 1
}

# wait_quiet: waits (bounded) until the machine's CPUs are mostly idle, so that another
# build does not skew the numbers.
wait_quiet() {
    local waited=0 busy
    while :; do
        busy="$(
            read -r _ a1 b1 c1 d1 e1 f1 g1 h1 _ </proc/stat
            sleep 1
            read -r _ a2 b2 c2 d2 e2 f2 g2 h2 _ </proc/stat
            total=$(((a2 + b2 + c2 + d2 + e2 + f2 + g2 + h2) - (a1 + b1 + c1 + d1 + e1 + f1 + g1 + h1)))
            idle=$(((d2 + e2) - (d1 + e1)))
            echo $((total > 0 ? 100 * (total - idle) / total : 0))
        )"
        if ((busy <= QUIET_BUSY)); then
            return 0
        fi
        if ((waited >= QUIET_WAIT)); then
            echo "   (machine still ${busy}% busy after ${waited} s: measuring anyway, numbers may be low)"
            return 0
        fi
        echo "   machine ${busy}% busy; waiting for a quiet moment"
        sleep 4
        waited=$((waited + 5))
    done
}

# field NAME LINE: the value of NAME=VALUE in LINE.
field() {
    sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

# core_use BEFORE AFTER: how the server's core was used between two of its /proc/stat
# lines: idle, and stolen by the hypervisor for other machines (on a VM, a disturbance
# that no process list shows).
core_use() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        split(a, x); split(b, y); total = 0
        for (i = 2; i <= 9; i++) total += y[i] - x[i]
        if (total > 0) printf "core%s_idle_pct=%.0f core%s_steal_pct=%.0f", substr(x[1], 4), 100 * (y[5] - x[5] + y[6] - x[6]) / total, substr(x[1], 4), 100 * (y[9] - x[9]) / total
    }'
}

# rate SERVER FIELD LOADGEN_ARGS...: sets RESULT to the value of FIELD in the line of
# `loadgen LOADGEN_ARGS... --url URL --pid PID` run against a fresh SERVER. A measurement in
# which the server got less than MIN_SERVER_CPU % of its core was disturbed (another process
# on its core) and is repeated, up to MAX_TRIES times; if every try was disturbed, the best
# one is kept and marked with a '*'. (Results go through a variable, not $(...), so that the
# server is this shell's child and the trap stops it.)
rate() {
    local try line value cpu cpu_before cpu_after best="" best_value=0
    for try in $(seq "$MAX_TRIES"); do
        wait_quiet
        start_server "$1"
        cpu_before="$(grep "^cpu$SERVER_CPU " /proc/stat)"
        line="$(taskset -c "$LOADGEN_CPU" "$BIN/loadgen" "${@:3}" --url "$URL" --pid "$SERVER_PID")"
        cpu_after="$(grep "^cpu$SERVER_CPU " /proc/stat)"
        stop_server
        echo "   $1: $line $(core_use "$cpu_before" "$cpu_after")"
        value="$(field "$2" "$line")"
        cpu="$(field server_cpu_pct "$line")"
        if [[ "$cpu" =~ ^[0-9]+$ ]] && ((cpu >= MIN_SERVER_CPU)); then
            RESULT="$value"
            return 0
        fi
        echo "   (the server had ${cpu}% of its core: disturbed; try $try of $MAX_TRIES)"
        if ((value > best_value)); then
            best_value="$value" best="$value*"
        fi
    done
    RESULT="$best"
}

# echo_rate SERVER: sets RESULT to the echo round trips per second of SERVER.
echo_rate() {
    rate "$1" rt_per_sec echo --conns "$CONNS" --inflight "$INFLIGHT" --secs "$SECS" --warmup "$WARMUP"
}

# rpc_rate: sets RESULT to the RPC round trips per second of wskit_echo (#[rpc] handler,
# requests with a correlation id), with the echo settings.
rpc_rate() {
    rate wskit_echo rt_per_sec rpc --conns "$CONNS" --inflight "$INFLIGHT" --secs "$SECS" --warmup "$WARMUP"
}

# fanout_rate: sets RESULT to the deliveries per second of wskit_pubsub to FANOUT_SUBS
# subscribers of one topic (in-memory bus).
fanout_rate() {
    rate wskit_pubsub deliveries_per_sec fanout --subs "$FANOUT_SUBS" --inflight "$FANOUT_INFLIGHT" \
        --secs "$SECS" --warmup "$WARMUP"
}

# idle_kib SERVER [--talk]: sets RESULT to the KiB of server RSS per idle connection,
# measured on a fresh server.
idle_kib() {
    start_server "$1"
    local line
    line="$(taskset -c "$LOADGEN_CPU" "$BIN/loadgen" idle --url "$URL" --conns "$IDLE_CONNS" \
        --pid "$SERVER_PID" "${@:2}")"
    stop_server
    echo "   $1 ${2:-}: $line"
    RESULT="$(field kib_per_conn "$line")"
}

median() {
    tr -d '*' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
    awk -v a="${1%\*}" -v b="${2%\*}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

echo "== $RUNS runs: server on CPU $SERVER_CPU (WORKERS=$WORKERS), loadgen on CPU $LOADGEN_CPU;" \
    "echo $CONNS conns x $INFLIGHT in flight, ${WARMUP}+${SECS} s; fan-out $FANOUT_SUBS subs;" \
    "idle $IDLE_CONNS conns; logs in $LOGDIR"
baseline_rates=() wskit_rates=() bare_rates=() ratios=() rpc_rates=() fanout_rates=() wskit_idle=() wskit_talk=() bare_idle=() bare_talk=()
for run in $(seq "$RUNS"); do
    echo "-- run $run/$RUNS ($(cut -d' ' -f1-3 /proc/loadavg) load)"
    # The servers take turns at going first, so that no one always gets the freshest machine.
    servers=(wskit_echo bare_echo ${BASELINE_ECHO:+"$BASELINE_ECHO"})
    if ! ((run % 2)); then
        mapfile -t servers < <(printf '%s\n' "${servers[@]}" | tac)
    fi
    for server in "${servers[@]}"; do
        echo_rate "$server"
        case "$server" in
            wskit_echo) w="$RESULT" ;;
            bare_echo) b="$RESULT" ;;
            *) baseline_rates+=("$RESULT") ;;
        esac
    done
    wskit_rates+=("$w") bare_rates+=("$b") ratios+=("$(ratio "$w" "$b")")
    summary="echo rt/s: wskit $w, bare $b, wskit/bare ${ratios[-1]}"
    if [[ -n "$BASELINE_ECHO" ]]; then
        summary+=", baseline wskit ${baseline_rates[-1]}"
    fi
    if ((MEASURE_RPC)); then
        rpc_rate && rpc_rates+=("$RESULT")
        summary+="; rpc rt/s: wskit ${rpc_rates[-1]}"
    fi
    if ((FANOUT_SUBS > 0)); then
        fanout_rate && fanout_rates+=("$RESULT")
        summary+="; fan-out deliveries/s to $FANOUT_SUBS: ${fanout_rates[-1]}"
    fi
    if ((IDLE_CONNS > 0)); then
        idle_kib wskit_echo && wskit_idle+=("$RESULT")
        idle_kib wskit_echo --talk && wskit_talk+=("$RESULT")
        summary+="; KiB/idle conn: wskit ${wskit_idle[-1]} (after one echo ${wskit_talk[-1]})"
        if ((IDLE_BARE)); then
            idle_kib bare_echo && bare_idle+=("$RESULT")
            idle_kib bare_echo --talk && bare_talk+=("$RESULT")
            summary+=", bare ${bare_idle[-1]} (after one echo ${bare_talk[-1]})"
        fi
    fi
    echo "run $run: $summary"
done

mw="$(printf '%s\n' "${wskit_rates[@]}" | median)"
mb="$(printf '%s\n' "${bare_rates[@]}" | median)"
echo "== medians of $RUNS runs"
echo "echo round trips/s   wskit $mw   bare $mb   wskit/bare $(ratio "$mw" "$mb")" \
    "(median of per-run ratios $(printf '%s\n' "${ratios[@]}" | median))"
if [[ -n "$BASELINE_ECHO" ]]; then
    mbl="$(printf '%s\n' "${baseline_rates[@]}" | median)"
    echo "echo round trips/s   baseline wskit ($BASELINE_ECHO) $mbl   this build/baseline $(ratio "$mw" "$mbl")"
fi
if ((MEASURE_RPC)); then
    mr="$(printf '%s\n' "${rpc_rates[@]}" | median)"
    echo "rpc round trips/s    wskit $mr   rpc/echo $(ratio "$mr" "$mw")"
fi
if ((FANOUT_SUBS > 0)); then
    echo "fan-out deliveries/s to $FANOUT_SUBS subscribers ($FANOUT_INFLIGHT publishes in flight)" \
        "wskit $(printf '%s\n' "${fanout_rates[@]}" | median)"
fi
if ((IDLE_CONNS > 0)); then
    line="KiB per idle conn    wskit $(printf '%s\n' "${wskit_idle[@]}" | median)"
    line+=" (after one echo $(printf '%s\n' "${wskit_talk[@]}" | median))"
    if ((IDLE_BARE)); then
        line+="   bare $(printf '%s\n' "${bare_idle[@]}" | median)"
        line+=" (after one echo $(printf '%s\n' "${bare_talk[@]}" | median))"
    fi
    echo "$line"
fi
