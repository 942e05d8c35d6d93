#!/usr/bin/env bash
# bench.sh — slotd against redis-server 7.0 on this machine, same settings.
#
#   scripts/bench.sh              throughput (-P 16 and -P 1) and memory per key
#   scripts/bench.sh --callgrind  instructions per GET under valgrind (callgrind),
#                                 and per phase (scripts/callgrind-phases.py)
#   scripts/bench.sh --cluster    throughput with cluster-enabled yes against
#                                 standalone, for both servers (the cluster
#                                 checks' cost: the ratio should stay above 0.95)
#   scripts/bench.sh --callgrind-cluster
#                                 the same cost as instructions per GET and per
#                                 SET on the serving thread (callgrind
#                                 --separate-threads: the cluster bus thread's
#                                 timed work left out)
#
# Both servers run on the socket transport pinned to one CPU (BENCH_SERVER_CPU,
# default 1), slotd with --threads 1; redis-benchmark is pinned to another
# (BENCH_CLIENT_CPU, default 0). Throughput: redis-benchmark -c 50 -P 16
# -t set,get -r 1000000 -n $BENCH_N, then the same with -P 1, alternating which
# server goes first, BENCH_ROUNDS rounds (default 3), medians reported. CPU cost
# is the server's utime+stime delta over the run (/proc/PID/stat, all threads)
# per request. Memory: FLUSHALL, then BENCH_KEYS (default 1,000,000) keys with
# 16-byte names and 16-byte values loaded with redis-cli --pipe; reported as the
# used_memory (INFO) and RSS increase divided by the number of keys.
#
# Callgrind: each server runs twice under valgrind, idle and with
# CALLGRIND_GETS GETs (-c 1 -P 16), both after the same 1000 keys; busy minus
# idle, over the GETs. The phase rows split that number by where the
# instructions ran (callgrind-phases.py: rx, stack, parse, dispatch, table,
# reply, tx, timers, other), each phase busy minus idle, so they add up to it.
# Callgrind sees user space only: the kernel's TCP/IP and system calls are
# missing here, unlike on slotd's DPDK path (bench-dpdk.sh --callgrind).
#
# Environment: BENCH_N (default 5000000; e.g. 200000 for a quick run),
# BENCH_ROUNDS, BENCH_KEYS, CALLGRIND_GETS (default 200000), TARGET=redis to
# compare redis-server with itself (checks this script), SLOTD_BIN,
# BENCH_SKIP_BUILD=1 (use SLOTD_BIN as it is), CALLGRIND_KEEP=DIR (copy the
# profiles there).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LIB_ROOT"

MODE=throughput
for a in "$@"; do
    case $a in
        --callgrind) MODE=callgrind ;;
        --cluster) MODE=cluster ;;
        --callgrind-cluster) MODE=callgrind-cluster ;;
        -h|--help) sed -n '2,38p' "$LIB_ROOT/scripts/bench.sh"; exit 0 ;;
        *) lib_die "unknown argument $a (see --help)" ;;
    esac
done

BENCH_N=${BENCH_N:-5000000}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_KEYS=${BENCH_KEYS:-1000000}
CALLGRIND_GETS=${CALLGRIND_GETS:-200000}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
CLIENT_CPU=${BENCH_CLIENT_CPU:-0}
if [ "$(nproc)" -lt 2 ]; then
    lib_log "warning: one CPU only: server and client share it"
    SERVER_CPU=0
    CLIENT_CPU=0
fi
CLK_TCK=$(getconf CLK_TCK)
TKIND=$(lib_target_kind)
TNAME=slotd
[ "$TKIND" = redis ] && TNAME="redis(2nd)"
WORK=$(mktemp -d /tmp/slotd-bench.XXXXXX)
LIB_CLEANUP_HOOKS+=("rm -rf '$WORK'")
lib_install_traps

if [ "$TKIND" = slotd ] && [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    bash scripts/setup.sh
    [ -x "$SLOTD_BIN" ] || lib_die "$SLOTD_BIN was not built"
else
    SETUP_SKIP_BUILD=1 bash scripts/setup.sh
fi
export SLOTD_THREADS=1

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "" || a == "n/a") print "n/a"; else printf "%.2f", a / b }'; }
fmt() { awk -v a="$1" 'BEGIN { if (a == "" || a == "n/a") print "n/a"; else if (a >= 100) printf "%.0f", a; else printf "%.2f", a }'; }

# Warn when a server thread may run outside its CPU (a server that pins its
# own threads would skew the comparison).
check_affinity() {      # check_affinity PID NAME
    local t l
    for t in /proc/"$1"/task/*; do
        l=$(awk '/^Cpus_allowed_list/ { print $2 }' "$t/status" 2>/dev/null || true)
        if [ -n "$l" ] && [ "$l" != "$SERVER_CPU" ]; then
            lib_log "warning: $2 thread $(basename "$t") may run on CPUs $l, not only $SERVER_CPU"
        fi
    done
}

# Deterministic load file: N keys "key:%012d" (16 bytes) with 16-byte values,
# the key names redis-benchmark -r uses.
make_load() {           # make_load N FILE
    "$LIB_PY" - "$1" "$2" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "wb") as f:
    chunk = []
    for i in range(n):
        chunk.append(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\nv%015d\r\n" % (i, i))
        if len(chunk) == 10000:
            f.write(b"".join(chunk)); chunk = []
    f.write(b"".join(chunk))
EOF
}

load_keys() {           # load_keys PORT FILE N
    local out
    out=$(redis-cli -h 127.0.0.1 -p "$1" --pipe <"$2" 2>&1)
    if ! grep -q "errors: 0, replies: $3" <<<"$out"; then
        echo "$out" >&2
        lib_die "loading $3 keys on port $1 failed"
    fi
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# start_servers NAME...: start each named server on a free port pinned to
# SERVER_CPU. Names: redis, target (standalone), redis-cluster, target-cluster
# (cluster-enabled yes, a one-node cluster that owns all 16384 slots, so plain
# redis-benchmark keys all land on it and only the cluster checks are added).
start_servers() {
    local name kind port pid extra
    for name in "$@"; do
        kind=${name%-cluster}
        [ "$kind" = target ] && kind=$TKIND
        port=$(lib_free_port)
        extra=()
        if [ "$name" != "${name%-cluster}" ]; then
            extra=(--cluster-enabled yes --cluster-config-file "$WORK/nodes-$port.conf")
        fi
        lib_server_argv "$kind" "$port" "${extra[@]}"
        lib_start_server pid "$WORK/$name.log" "$SERVER_CPU" -- "${LIB_ARGV[@]}" || lib_die "$name did not start"
        if [ ${#extra[@]} -gt 0 ]; then
            redis-cli -h 127.0.0.1 -p "$port" CLUSTER ADDSLOTSRANGE 0 16383 >/dev/null
            local i
            for ((i = 0; i < 100; i++)); do
                redis-cli -h 127.0.0.1 -p "$port" CLUSTER INFO | grep -q '^cluster_state:ok' && break
                sleep 0.1
            done
            ((i < 100)) || lib_die "$name: cluster_state never became ok"
        fi
        PORT[$name]=$port
        PID[$name]=$pid
        check_affinity "$pid" "$name"
    done
}

# ---------------------------------------------------------------------------

run_throughput() {      # run_throughput NAME...: alternating rounds over the servers
    start_servers "$@"
    declare -A R
    local round p i name port pid t0 t1 csv s_rps g_rps cpu order=("$@") names=("$@")
    for ((round = 1; round <= BENCH_ROUNDS; round++)); do
        # Alternate the order each round, so no server always runs first.
        if ((round % 2 == 0)); then
            order=()
            for ((i = ${#names[@]} - 1; i >= 0; i--)); do order+=("${names[i]}"); done
        else
            order=("${names[@]}")
        fi
        for p in 16 1; do
            for name in "${order[@]}"; do
                port=${PORT[$name]} pid=${PID[$name]}
                redis-cli -h 127.0.0.1 -p "$port" FLUSHALL >/dev/null
                t0=$(lib_cpu_ticks "$pid")
                csv=$(taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -P "$p" \
                      -t set,get -r 1000000 -n "$BENCH_N" --csv 2>/dev/null)
                t1=$(lib_cpu_ticks "$pid")
                s_rps=$(awk -F'","' '$1 == "\"SET" { print $2 }' <<<"$csv")
                g_rps=$(awk -F'","' '$1 == "\"GET" { print $2 }' <<<"$csv")
                [ -n "$s_rps" ] && [ -n "$g_rps" ] || { echo "$csv" >&2; lib_die "redis-benchmark gave no result on $name"; }
                cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", d / hz }')
                R[$name.$p.set.$round]=$s_rps
                R[$name.$p.get.$round]=$g_rps
                R[$name.$p.rpc.$round]=$(awk -v n="$BENCH_N" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", 2 * n / c; else print "n/a" }')
                lib_log "round $round -P $p $name: SET $s_rps/s GET $g_rps/s, server CPU ${cpu}s"
            done
        done
    done
    for name in "${names[@]}"; do
        for p in 16 1; do
            for m in set get rpc; do
                local vals=()
                for ((round = 1; round <= BENCH_ROUNDS; round++)); do vals+=("${R[$name.$p.$m.$round]}"); done
                M[$name.$p.$m]=$(median "${vals[@]}")
            done
        done
    done

    if [ "$MODE" = throughput ] && [ "${BENCH_SKIP_MEMORY:-0}" != 1 ]; then
        lib_log "memory: loading $BENCH_KEYS keys into each server"
        make_load "$BENCH_KEYS" "$WORK/load.resp"
        for name in redis target; do
            port=${PORT[$name]} pid=${PID[$name]}
            redis-cli -h 127.0.0.1 -p "$port" FLUSHALL >/dev/null
            sleep 1
            local u0 u1 r0 r1 n
            u0=$(lib_info_field "$port" used_memory memory)
            r0=$(rss_kb "$pid")
            load_keys "$port" "$WORK/load.resp" "$BENCH_KEYS"
            sleep 1
            u1=$(lib_info_field "$port" used_memory memory)
            r1=$(rss_kb "$pid")
            n=$(redis-cli -h 127.0.0.1 -p "$port" DBSIZE)
            [ "$n" = "$BENCH_KEYS" ] || lib_log "warning: $name DBSIZE $n, expected $BENCH_KEYS"
            M[$name.mem]=$(awk -v a="$u0" -v b="$u1" -v n="$BENCH_KEYS" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%.1f", (b - a) / n }')
            M[$name.rss]=$(awk -v a="$r0" -v b="$r1" -v n="$BENCH_KEYS" 'BEGIN { printf "%.1f", (b - a) * 1024 / n }')
            lib_log "memory $name: used_memory $u0 -> $u1, RSS ${r0}kB -> ${r1}kB"
        done
    fi
    for name in "${names[@]}"; do
        lib_stop_server "${PID[$name]}" || true
    done
}

# Total instructions (Ir) of a callgrind profile.
callgrind_ir() {
    awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

run_callgrind() {
    command -v valgrind >/dev/null || lib_die "valgrind is missing"
    make_load 1000 "$WORK/pre.resp"
    local kind port pid phase out ir idle busy
    export LIB_START_TIMEOUT=120
    for kind in redis target; do
        for phase in idle busy; do
            out="$WORK/$kind-$phase.callgrind"
            port=$(lib_free_port)
            if [ "$kind" = redis ]; then lib_server_argv redis "$port"; else lib_server_argv "$TKIND" "$port"; fi
            # --separate-callers=2: helpers apart per caller chain, for the phases
            lib_start_server pid "$WORK/$kind-$phase.log" "$SERVER_CPU" -- \
                valgrind --tool=callgrind --separate-callers=2 --callgrind-out-file="$out" \
                "${LIB_ARGV[@]}" || lib_die "$kind under callgrind did not start"
            load_keys "$port" "$WORK/pre.resp" 1000
            if [ "$phase" = busy ]; then
                taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$port" -c 1 -P 16 -t get \
                    -r 1000 -n "$CALLGRIND_GETS" -q >/dev/null 2>&1 || lib_die "redis-benchmark failed on $kind"
            fi
            lib_stop_server "$pid" 120 || true
            ir=$(callgrind_ir "$out")
            [ -n "$ir" ] || lib_die "no callgrind totals in $out"
            lib_log "callgrind $kind $phase: $ir Ir"
            if [ "$phase" = idle ]; then idle=$ir; else busy=$ir; fi
        done
        M[$kind.ipr]=$(awk -v a="$idle" -v b="$busy" -v n="$CALLGRIND_GETS" 'BEGIN { printf "%.0f", (b - a) / n }')
        local preset=socket k v
        if [ "$kind" = redis ] || [ "$TKIND" = redis ]; then preset=redis; fi
        "$LIB_PY" scripts/callgrind-phases.py --preset "$preset" --idle "$WORK/$kind-idle.callgrind" \
            --requests "$CALLGRIND_GETS" --format kv "$WORK/$kind-busy.callgrind" >"$WORK/$kind.phases" ||
            lib_die "callgrind-phases.py failed on $kind"
        while read -r k v; do M[$kind.ph.$k]=$v; done <"$WORK/$kind.phases"
    done
    if [ -n "${CALLGRIND_KEEP:-}" ]; then
        mkdir -p "$CALLGRIND_KEEP"
        cp "$WORK"/*.callgrind "$CALLGRIND_KEEP"/
    fi
}

# Per-request instructions of the serving thread (slotd's data core,
# redis-server's main thread): of the threads of two --separate-threads
# profiles, the one whose count grew most from the idle run to the busy one.
callgrind_serving_ipr() {   # callgrind_serving_ipr IDLE_PREFIX BUSY_PREFIX REQUESTS
    local f best=0 d
    for f in "$2"-*; do
        [ -f "$f" ] || continue
        d=$(( $(callgrind_ir "$f") - $(callgrind_ir "$1-${f##*-}" 2>/dev/null || echo 0) ))
        ((d > best)) && best=$d
    done
    awk -v d="$best" -v n="$3" 'BEGIN { printf "%.0f", d / n }'
}

run_callgrind_cluster() {
    command -v valgrind >/dev/null || lib_die "valgrind is missing"
    make_load 1000 "$WORK/pre.resp"
    local name kind port pid phase out extra i
    export LIB_START_TIMEOUT=120
    for name in redis redis-cluster target target-cluster; do
        kind=${name%-cluster}
        [ "$kind" = target ] && kind=$TKIND
        for phase in idle get set; do
            out="$WORK/$name-$phase.callgrind"
            port=$(lib_free_port)
            extra=()
            [ "$name" != "${name%-cluster}" ] &&
                extra=(--cluster-enabled yes --cluster-config-file "$WORK/nodes-$name-$phase.conf")
            lib_server_argv "$kind" "$port" "${extra[@]}"
            lib_start_server pid "$WORK/$name-$phase.log" "$SERVER_CPU" -- \
                valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out" \
                "${LIB_ARGV[@]}" || lib_die "$name under callgrind did not start"
            if [ ${#extra[@]} -gt 0 ]; then
                redis-cli -h 127.0.0.1 -p "$port" CLUSTER ADDSLOTSRANGE 0 16383 >/dev/null
                for ((i = 0; i < 200; i++)); do
                    redis-cli -h 127.0.0.1 -p "$port" CLUSTER INFO | grep -q '^cluster_state:ok' && break
                    sleep 0.1
                done
            fi
            load_keys "$port" "$WORK/pre.resp" 1000
            # SET overwrites the 1000 keys loaded first, as GET reads them.
            if [ "$phase" != idle ]; then
                taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$port" -c 1 -P 16 -t "$phase" \
                    -r 1000 -n "$CALLGRIND_GETS" -q >/dev/null 2>&1 || lib_die "redis-benchmark failed on $name"
            fi
            lib_stop_server "$pid" 120 || true
        done
        for phase in get set; do
            M[$name.$phase.ipr]=$(callgrind_serving_ipr "$WORK/$name-idle.callgrind" \
                                  "$WORK/$name-$phase.callgrind" "$CALLGRIND_GETS")
            lib_log "callgrind $name: ${M[$name.$phase.ipr]} instructions per ${phase^^} on the serving thread"
        done
    done
    if [ -n "${CALLGRIND_KEEP:-}" ]; then
        mkdir -p "$CALLGRIND_KEEP"
        cp "$WORK"/*.callgrind* "$CALLGRIND_KEEP"/
    fi
}

# Throughput table rows, one per depth and metric, each pair of servers
# (A B) as "A | B | B/A".
metric_rows() {     # metric_rows A1 B1 [A2 B2 ...]
    local p m label row i a b args=("$@")
    for p in 16 1; do
        for m in set get rpc; do
            case $m in
                set) label="SET ops/s (-P $p)" ;;
                get) label="GET ops/s (-P $p)" ;;
                rpc) label="requests per server CPU-second (-P $p)" ;;
            esac
            row="| $label"
            for ((i = 0; i < ${#args[@]}; i += 2)); do
                a=${args[i]} b=${args[i + 1]}
                row+=" | $(fmt "${M[$a.$p.$m]}") | $(fmt "${M[$b.$p.$m]}") | $(ratio "${M[$b.$p.$m]}" "${M[$a.$p.$m]}")"
            done
            echo "$row |"
        done
    done
}

print_phases() {
    local k label
    echo
    echo "instructions per GET by phase (callgrind-phases.py, busy minus idle per phase; user space only)"
    echo
    echo "| phase | redis-server | $TNAME |"
    echo "|---|---:|---:|"
    for k in rx stack parse dispatch table reply tx timers other work shared; do
        case $k in
            rx) label="rx: read() and the query buffer" ;;
            stack) label="stack: the event loop (epoll); kernel TCP/IP not counted" ;;
            parse) label="parse: RESP into arguments" ;;
            dispatch) label="dispatch: command lookup, checks, call" ;;
            table) label="table: key lookup" ;;
            reply) label="reply: into the output buffer" ;;
            tx) label="tx: write()" ;;
            timers) label="timers: cron" ;;
            other) label="other: the loop, clocks, start-up difference" ;;
            work) label="**per GET** (sum of the above)" ;;
            shared) label="of which shared helpers split by caller weight" ;;
        esac
        echo "| $label | $(fmt "${M[redis.ph.$k]:-n/a}") | $(fmt "${M[target.ph.$k]:-n/a}") |"
    done
}

declare -A M PORT PID
echo "# slotd benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU)"
if [ "$MODE" = callgrind ]; then
    run_callgrind
    echo
    echo "| metric | redis-server | $TNAME | $TNAME/redis |"
    echo "|---|---:|---:|---:|"
    echo "| instructions per GET (callgrind, -c 1 -P 16, $CALLGRIND_GETS GETs, idle run subtracted) | ${M[redis.ipr]} | ${M[target.ipr]} | $(ratio "${M[target.ipr]}" "${M[redis.ipr]}") |"
    print_phases
elif [ "$MODE" = callgrind-cluster ]; then
    run_callgrind_cluster
    echo
    echo "instructions per request on the serving thread (callgrind, -c 1 -P 16, $CALLGRIND_GETS requests"
    echo "over 1000 keys, idle run subtracted); cluster: cluster-enabled yes, one node owning all 16384 slots"
    echo
    echo "| server | request | standalone | cluster | cluster/standalone |"
    echo "|---|---|---:|---:|---:|"
    for srv in redis target; do
        for phase in get set; do
            a=${M[$srv.$phase.ipr]} b=${M[$srv-cluster.$phase.ipr]}
            echo "| $([ $srv = redis ] && echo redis-server || echo "$TNAME") | ${phase^^} | $a | $b | $(ratio "$b" "$a") |"
        done
    done
elif [ "$MODE" = cluster ]; then
    run_throughput redis redis-cluster target target-cluster
    echo
    echo "redis-benchmark -c 50 -t set,get -r 1000000 -n $BENCH_N, median of $BENCH_ROUNDS rounds;"
    echo "cluster: cluster-enabled yes, one node owning all 16384 slots"
    echo
    echo "| metric | redis | redis cluster | cluster/standalone | $TNAME | $TNAME cluster | cluster/standalone |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    metric_rows redis redis-cluster target target-cluster
else
    run_throughput redis target
    echo
    echo "redis-benchmark -c 50 -t set,get -r 1000000 -n $BENCH_N, median of $BENCH_ROUNDS rounds"
    echo
    echo "| metric | redis-server | $TNAME | $TNAME/redis |"
    echo "|---|---:|---:|---:|"
    metric_rows redis target
    if [ "${BENCH_SKIP_MEMORY:-0}" != 1 ]; then
        echo "| bytes per key, used_memory ($BENCH_KEYS keys, 16 B names, 16 B values) | ${M[redis.mem]} | ${M[target.mem]} | $(ratio "${M[target.mem]}" "${M[redis.mem]}") |"
        echo "| bytes per key, RSS | ${M[redis.rss]} | ${M[target.rss]} | $(ratio "${M[target.rss]}" "${M[redis.rss]}") |"
    fi
fi
