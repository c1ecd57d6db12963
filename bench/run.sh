#!/usr/bin/env bash
# Benchmarks wskit against a bare tokio-tungstenite echo server and two peers on Bun (raw
# Bun.serve, and ws-kit 0.10 on Bun; bench/peers), as in DESIGN.md "Numbers we chase": the
# server pinned to one core, the load generator on another, loopback only.
#
#   bench/run.sh [RUNS]
#
# Each run measures, each on a fresh server: echo round trips per second of every server
# (and of BASELINE_ECHO); RPC round trips per second of wskit and the peers; fan-out
# deliveries per second to FANOUT_SUBS subscribers of wskit and the peers; the server memory
# per idle connection of every server; the open-loop round-trip latency of wskit and raw Bun
# at half of raw Bun's echo maximum of the same run. The servers take turns at going first.
# At the end it prints the medians per figure and server, and each one's ratio to raw Bun.
#
# Settings (environment):
#   RUNS=5            runs (or the first argument)
#   CONNS=32          echo connections       INFLIGHT=16   frames in flight per connection
#   SECS=10           echo measuring window  WARMUP=2      seconds of warm-up, not counted
#   MEASURE_RPC=1     also measure RPC round trips (0 skips it)
#   FANOUT_SUBS=1000  subscribers of the fan-out measurement (0 skips it)
#   FANOUT_INFLIGHT=16  publishes in flight (not yet delivered to every subscriber)
#   IDLE_CONNS=10000  connections of the idle measurement (0 skips it)
#   IDLE_BARE=1       also measure bare_echo's idle memory (0 skips it)
#   LATENCY=1         measure p50/p99 round trips of wskit and raw Bun, open loop, at half of
#                     raw Bun's echo round trips of the same run (0 skips it; needs the peers)
#   PEERS=auto        the Bun peers: measured if bench/peers is installed or npm can install
#                     it (`npm ci`), skipped with a message otherwise; PEERS=1 requires
#                     them, PEERS=0 skips them
#   WORKERS=1         Rust server runtime worker threads (0: current-thread runtime)
#   SERVER_CPU=0      LOADGEN_CPU=1          cores to pin to
#   PORT=9001         the servers' port on 127.0.0.1
#   QUIET_BUSY=15     wait (up to QUIET_WAIT=180 s) until the machine is at most this % busy
#   BASELINE_ECHO=    path of a wskit_echo of another build (e.g. from before a change): its
#                     echo is measured in the same runs, and compared with this build's
#   MIN_SERVER_CPU=90 repeat (up to MAX_TRIES=3 times) a throughput measurement in which the
#                     server had less of its core than this: another process disturbed it
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
LATENCY="${LATENCY:-1}"
export WORKERS="${WORKERS:-1}"
SERVER_CPU="${SERVER_CPU:-0}"
LOADGEN_CPU="${LOADGEN_CPU:-1}"
PORT="${PORT:-9001}"
QUIET_BUSY="${QUIET_BUSY:-15}"
QUIET_WAIT="${QUIET_WAIT:-180}"
MIN_SERVER_CPU="${MIN_SERVER_CPU:-90}"
MAX_TRIES="${MAX_TRIES:-3}"
BASELINE_ECHO="${BASELINE_ECHO:-}"
PEERS="${PEERS:-auto}"
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

# The peers run on the bun binary pinned in bench/peers/package-lock.json (the npm package
# `bun`, whose platform binary comes as an optional dependency), installed with `npm ci`
# when missing or older than the lock file.
PEERS_DIR="$ROOT/bench/peers"
BUN="$PEERS_DIR/node_modules/.bin/bun"
# peers_unavailable REASON: skips the peers, or stops if PEERS=1 requires them.
peers_unavailable() {
    if [[ "$PEERS" == 1 ]]; then
        echo "PEERS=1 but $1" >&2
        exit 1
    fi
    echo "== skipping the Bun peers: $1 (PEERS=1 requires them, PEERS=0 skips this check)"
    PEERS=0
}
if [[ "$PEERS" != 0 ]]; then
    if [[ ! -x "$BUN" || "$PEERS_DIR/package-lock.json" -nt "$PEERS_DIR/node_modules/.package-lock.json" ]]; then
        if ! command -v npm >/dev/null; then
            peers_unavailable "npm is not installed, so bench/peers cannot be installed"
        else
            echo "== installing the Bun peers (npm ci in bench/peers)"
            (cd "$PEERS_DIR" && npm ci --no-audit --no-fund) || peers_unavailable "npm ci failed in bench/peers"
        fi
    fi
    if [[ "$PEERS" != 0 ]] && ! bun_version="$("$BUN" --version 2>&1)"; then
        peers_unavailable "$BUN does not run: $bun_version"
    fi
fi
[[ "$PEERS" == 0 ]] || PEERS=1

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

# SERVERS: every server, by the name it has in the output. `wskit_bun` is ws-kit on Bun.
# server_command SERVER ROLE: sets COMMAND to the command line of SERVER's ROLE server,
# `echo` (ECHO, ECHO_RPC) or `pubsub` (SUBSCRIBE, PUBLISH); the address is appended.
server_command() {
    case "$1:$2" in
        wskit:echo) COMMAND=("$BIN/wskit_echo") ;;
        wskit:pubsub) COMMAND=("$BIN/wskit_pubsub") ;;
        bare:echo) COMMAND=("$BIN/bare_echo") ;;
        baseline:echo) COMMAND=("$BASELINE_ECHO") ;;
        raw_bun:*) COMMAND=("$BUN" "$PEERS_DIR/raw_bun.ts" "$2") ;;
        wskit_bun:*) COMMAND=("$BUN" "$PEERS_DIR/wskit_on_bun.ts" "$2") ;;
        *) echo "no $2 server for $1" >&2 && exit 1 ;;
    esac
}

# start_server SERVER ROLE: starts SERVER's ROLE server pinned to SERVER_CPU and waits until
# it listens. (taskset execs the server, so SERVER_PID is the server's own pid, which the
# load generator reads CPU time and memory from.)
start_server() {
    local log="$LOGDIR/$1-$2.log"
    server_command "$1" "$2"
    : >"$log"
    taskset -c "$SERVER_CPU" "${COMMAND[@]}" "127.0.0.1:$PORT" >>"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
        grep -q listening "$log" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "$1 $2 did not start:" >&2
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

# rate SERVER ROLE FIELD LOADGEN_ARGS...: sets RESULT to the value of FIELD in the line of
# `loadgen LOADGEN_ARGS... --url URL --pid PID` run against a fresh ROLE server of SERVER. A
# measurement in which the server got less than MIN_SERVER_CPU % of its core was disturbed
# (another process on its core) and is repeated, up to MAX_TRIES times; if every try was
# disturbed, the best one is kept and marked with a '*'. (Results go through a variable,
# not $(...), so that the server is this shell's child and the trap stops it.)
rate() {
    local try line value cpu cpu_before cpu_after best="" best_value=0
    for try in $(seq "$MAX_TRIES"); do
        wait_quiet
        start_server "$1" "$2"
        cpu_before="$(grep "^cpu$SERVER_CPU " /proc/stat)"
        line="$(taskset -c "$LOADGEN_CPU" "$BIN/loadgen" "${@:4}" --url "$URL" --pid "$SERVER_PID")"
        cpu_after="$(grep "^cpu$SERVER_CPU " /proc/stat)"
        stop_server
        echo "   $1: $line $(core_use "$cpu_before" "$cpu_after")"
        value="$(field "$3" "$line")"
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

# idle_kib SERVER [--talk]: sets RESULT to the KiB of server RSS per idle connection,
# measured on a fresh echo server.
idle_kib() {
    start_server "$1" echo
    local line
    line="$(taskset -c "$LOADGEN_CPU" "$BIN/loadgen" idle --url "$URL" --conns "$IDLE_CONNS" \
        --pid "$SERVER_PID" "${@:2}")"
    stop_server
    echo "   $1 ${2:-}: $line"
    RESULT="$(field kib_per_conn "$line")"
}

# paced SERVER: sets RESULT to SERVER's median round trip in µs at PACED_RATE requests per
# second, open loop (`loadgen paced`), and RESULT_P99 to its 99th percentile; a run that
# lost replies (the server fell behind the rate) is marked with '*'.
paced() {
    wait_quiet
    start_server "$1" echo
    local line
    line="$(taskset -c "$LOADGEN_CPU" "$BIN/loadgen" paced --url "$URL" --rate "$PACED_RATE" \
        --conns "$CONNS" --secs "$SECS" --warmup "$WARMUP" || true)"
    stop_server
    echo "   $1: $line"
    local mark=""
    [[ "$(field lost "$line")" == 0 ]] || mark="*"
    RESULT="$(field p50_us "$line")$mark" RESULT_P99="$(field p99_us "$line")$mark"
}

# measure FIGURE SERVER: sets RESULT to SERVER's FIGURE (see FIGURES).
measure() {
    local echo_args=(--conns "$CONNS" --inflight "$INFLIGHT" --secs "$SECS" --warmup "$WARMUP")
    case "$1" in
        # Plain messages answered with a reply.
        echo) rate "$2" echo rt_per_sec echo "${echo_args[@]}" ;;
        # RPC requests with a correlation id, answered by the RPC path of each server.
        rpc) rate "$2" echo rt_per_sec rpc "${echo_args[@]}" ;;
        # Deliveries of publishes to FANOUT_SUBS subscribers of one topic (in-memory buses).
        fanout)
            rate "$2" pubsub deliveries_per_sec fanout --subs "$FANOUT_SUBS" --inflight "$FANOUT_INFLIGHT" \
                --secs "$SECS" --warmup "$WARMUP"
            ;;
        # KiB per idle connection, right after the upgrade and after one echo each.
        idle) idle_kib "$2" ;;
        talk) idle_kib "$2" --talk ;;
        # Round-trip latency at a fixed load; p99 comes with it (RESULT_P99).
        p50) paced "$2" ;;
    esac
}

# The figures measured, and what each is called in the output.
FIGURES=(echo)
if ((MEASURE_RPC)); then FIGURES+=(rpc); fi
if ((FANOUT_SUBS > 0)); then FIGURES+=(fanout); fi
if ((IDLE_CONNS > 0)); then FIGURES+=(idle talk); fi
if ((LATENCY && PEERS)); then FIGURES+=(p50); fi
# Rows of the table: the figures, and p99, measured with p50.
ROWS=("${FIGURES[@]}")
if ((LATENCY && PEERS)); then ROWS+=(p99); fi
declare -A NAME=([wskit]=wskit [bare]="bare tokio-tungstenite" [baseline]="baseline wskit"
    [raw_bun]="raw Bun" [wskit_bun]="ws-kit on Bun")
declare -A LABEL=(
    [echo]="echo round trips/s"
    [rpc]="RPC round trips/s"
    [fanout]="fan-out deliveries/s to $FANOUT_SUBS"
    [idle]="KiB per idle conn"
    [talk]="KiB per idle conn after one echo"
    [p50]="p50 µs at half of raw Bun's echo (open loop)"
    [p99]="p99 µs at half of raw Bun's echo (open loop)"
)

# figure_servers FIGURE: sets SERVERS to the servers measured for FIGURE. The bare server
# has no RPC path and no pub/sub; the baseline is compared on echo only.
figure_servers() {
    SERVERS=(wskit)
    case "$1" in
        echo) SERVERS+=(bare ${BASELINE_ECHO:+baseline}) ;;
        idle | talk) if ((IDLE_BARE)); then SERVERS+=(bare); fi ;;
    esac
    if ((PEERS)); then
        case "$1" in
            # ws-kit on Bun serves a twentieth of that rate: it would only queue.
            p50 | p99) SERVERS+=(raw_bun) ;;
            *) SERVERS+=(raw_bun wskit_bun) ;;
        esac
    fi
}

# median: the median of the numbers on stdin ('*' marks dropped), whole above 100, else to
# two decimals; '-' if there are none.
median() {
    tr -d '*' | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf(m >= 100 ? "%.0f\n" : "%.2f\n", m)
    }'
}

ratio() {
    awk -v a="${1%\*}" -v b="${2%\*}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

echo "== $RUNS runs: server on CPU $SERVER_CPU (WORKERS=$WORKERS), loadgen on CPU $LOADGEN_CPU;" \
    "echo $CONNS conns x $INFLIGHT in flight, ${WARMUP}+${SECS} s; fan-out $FANOUT_SUBS subs;" \
    "idle $IDLE_CONNS conns; Bun peers: $( ((PEERS)) && echo "bun $("$BUN" --version)" || echo no); logs in $LOGDIR"
# RESULTS["FIGURE SERVER"]: the values of every run; RATIOS["FIGURE SERVER"]: each run's
# ratio to raw Bun (or, for bare and the baseline, echo's ratios of wskit to them).
declare -A RESULTS=() RATIOS=()
for run in $(seq "$RUNS"); do
    echo "-- run $run/$RUNS ($(cut -d' ' -f1-3 /proc/loadavg) load)"
    summary=""
    for figure in "${FIGURES[@]}"; do
        figure_servers "$figure"
        # The servers take turns at going first, so that no one always gets the freshest
        # machine.
        if ! ((run % 2)); then
            mapfile -t SERVERS < <(printf '%s\n' "${SERVERS[@]}" | tac)
        fi
        declare -A this_run=() this_run_p99=()
        for server in "${SERVERS[@]}"; do
            measure "$figure" "$server"
            this_run[$server]="$RESULT"
            RESULTS["$figure $server"]+="$RESULT "
            if [[ "$figure" == p50 ]]; then
                this_run_p99[$server]="$RESULT_P99"
                RESULTS["p99 $server"]+="$RESULT_P99 "
            fi
        done
        summary+="; ${LABEL[$figure]}:"
        figure_servers "$figure"
        for server in "${SERVERS[@]}"; do
            summary+=" $server ${this_run[$server]}"
            if [[ -n "${this_run[raw_bun]:-}" ]]; then
                RATIOS["$figure $server"]+="$(ratio "${this_run[$server]}" "${this_run[raw_bun]}") "
            fi
            if [[ "$figure" == p50 ]]; then
                summary+=" (p99 ${this_run_p99[$server]})"
                RATIOS["p99 $server"]+="$(ratio "${this_run_p99[$server]}" "${this_run_p99[raw_bun]}") "
            fi
        done
        if [[ "$figure" == echo && -n "${this_run[raw_bun]:-}" ]]; then
            # The latency figures' load: half of what raw Bun served in this run.
            PACED_RATE="$(awk -v r="${this_run[raw_bun]%\*}" 'BEGIN { printf "%.0f", r / 2 }')"
        fi
        if [[ "$figure" == echo ]]; then
            RATIOS["wskit/bare"]+="$(ratio "${this_run[wskit]}" "${this_run[bare]}") "
            if [[ -n "$BASELINE_ECHO" ]]; then
                RATIOS["wskit/baseline"]+="$(ratio "${this_run[wskit]}" "${this_run[baseline]}") "
            fi
        fi
        unset this_run this_run_p99
    done
    echo "run $run:${summary#;}"
done

# values STORE KEY: the values stored under KEY in STORE (RESULTS or RATIOS), one a line.
values() {
    local -n store="$1"
    local stored="${store["$2"]:-}"
    [[ -z "$stored" ]] || printf '%s\n' $stored
}

echo "== medians of $RUNS runs$( ((PEERS)) && echo "; in parentheses the median of the per-run ratios to raw Bun")"
figure_servers echo
header="| figure |" rule="|---|"
for server in "${SERVERS[@]}"; do
    header+=" ${NAME[$server]} |" rule+="---|"
done
echo "$header"
echo "$rule"
for figure in "${ROWS[@]}"; do
    row="| ${LABEL[$figure]} |"
    figure_servers echo
    for server in "${SERVERS[@]}"; do
        m="$(values RESULTS "$figure $server" | median)"
        if [[ "$m" == - ]]; then
            row+=" — |"
        elif ((PEERS)); then
            row+=" $m ($(values RATIOS "$figure $server" | median)) |"
        else
            row+=" $m |"
        fi
    done
    echo "$row"
done
mw="$(values RESULTS "echo wskit" | median)"
mb="$(values RESULTS "echo bare" | median)"
echo "echo round trips/s   wskit/bare $(ratio "$mw" "$mb")" \
    "(median of per-run ratios $(values RATIOS wskit/bare | median))"
if [[ -n "$BASELINE_ECHO" ]]; then
    mbl="$(values RESULTS "echo baseline" | median)"
    echo "echo round trips/s   baseline wskit ($BASELINE_ECHO) $mbl   this build/baseline $(ratio "$mw" "$mbl")" \
        "(median of per-run ratios $(values RATIOS wskit/baseline | median))"
fi
if ((MEASURE_RPC)); then
    echo "RPC round trips/s    wskit rpc/echo $(ratio "$(values RESULTS "rpc wskit" | median)" "$mw")"
fi
