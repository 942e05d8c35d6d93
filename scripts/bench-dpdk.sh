#!/usr/bin/env bash
# bench-dpdk.sh — slotd on its DPDK data path against redis-server 7.0, one
# server core each, in one run.
#
#   scripts/bench-dpdk.sh               throughput, latency, CPU per request
#   scripts/bench-dpdk.sh --callgrind   instructions per GET by phase (rx,
#                                       stack, parse, ...) under callgrind
#   scripts/bench-dpdk.sh --perf        cycles per GET by the same phases,
#                                       from perf samples of a full-speed run
#
# slotd: --dataplane dpdk on the server side of a net_memif port, one data
# lcore on BENCH_SERVER_CPU (default 1); slotd-load (the same user-space stack,
# active opens) on the client side of that memif, one lcore on
# BENCH_CLIENT_CPU (default 0). memif is a shared-memory point-to-point link:
# no kernel network is involved. Both run inside a network namespace this
# script creates (slotd's exception TAP lives there), addresses 198.18.0.2 and
# .3/24 (slotd runs with protected-mode no: its client is remote), EAL with
# --no-huge unless BENCH_HUGEPAGES=N asks for N 2 MB pages (reserved for the
# run and given back afterwards).
# redis-server: on 127.0.0.1, pinned to the same server CPU, driven by
# redis-benchmark pinned to the client CPU.
# Workloads, 16-byte values, keys from a range of BENCH_RANGE (default
# 100000): -P 16 with 50 connections, and -P 1 with BENCH_CONNS_P1 (default
# 200) connections; each SET then GET, BENCH_N requests each (default
# 2000000). BENCH_ROUNDS rounds (default 3) alternate which server goes first;
# medians are reported. A polling data core burns its CPU whether or not it
# has work, so "requests per server CPU-second" (utime+stime of the whole
# server process during the test, /proc/PID/stat) is the per-core cost
# figure; ops/s is what one server core delivered.
#
# --callgrind: slotd alone (same memif set-up, --no-huge) under valgrind
# --tool=callgrind, one profile per thread; the data core's is read. After
# CALLGRIND_RANGE keys are SET, callgrind_control zeroes the counters and
# dumps three windows: idle (CALLGRIND_IDLE_S seconds, no load), CALLGRIND_GETS
# GETs -c 1 -P 16 (as bench.sh --callgrind), the same number -P 1 over
# CALLGRIND_CONNS_P1 connections. scripts/callgrind-phases.py gives each
# instruction of a window to one phase (its header says how) and subtracts
# the idle window's cost per loop turn times the window's turns: a polling
# core turns empty between packets, more so under valgrind, and that cost is
# the idle row, not the request's. Callgrind counts user-space instructions:
# here that is the whole path, NIC driver and TCP included; on the socket
# transport (bench.sh --callgrind) the kernel's share is missing.
#
# --perf: slotd alone at full speed (same set-up; SLOTD_BIN built with debug
# information, e.g. meson setup build-perf -Ddebug=true). BENCH_N SETs over
# BENCH_RANGE keys, then BENCH_N GETs at -P 16 (50 connections) and at -P 1
# (BENCH_CONNS_P1), each under perf record of the data core's thread
# (cpu-clock at PERF_HZ, default 4000, DWARF call stacks, inlined frames
# included). scripts/perf-phases.py gives each sample to the phase of the
# innermost root on its stack (callgrind-phases.py's map): time per GET by
# phase, in cycles of the CPU clock. The core polls in the turns that find
# no work as well; the loads keep it busy nearly all the time, and what is
# left of that shows in rx and other.
#
# Environment: BENCH_N, BENCH_ROUNDS, BENCH_RANGE, BENCH_CONNS_P1,
# BENCH_HUGEPAGES, BENCH_SERVER_CPU, BENCH_CLIENT_CPU, SLOTD_BIN,
# SLOTD_LOAD_BIN, BENCH_SKIP_BUILD=1 (use the binaries as they are),
# BENCH_SKIP_REDIS=1 / BENCH_SKIP_SLOTD=1 (one side only); CALLGRIND_GETS
# (default 200000), CALLGRIND_RANGE (1000), CALLGRIND_CONNS_P1 (50),
# CALLGRIND_IDLE_S (3), CALLGRIND_KEEP=DIR (copy the profiles there),
# PERF_HZ.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LIB_ROOT"

MODE=throughput
for a in "$@"; do
    case $a in
        --callgrind) MODE=callgrind ;;
        --perf) MODE=perf ;;
        -h|--help) sed -n '2,61p' "$LIB_ROOT/scripts/bench-dpdk.sh"; exit 0 ;;
        *) lib_die "unknown argument $a (see --help)" ;;
    esac
done

BENCH_N=${BENCH_N:-2000000}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_RANGE=${BENCH_RANGE:-100000}
BENCH_CONNS_P1=${BENCH_CONNS_P1:-200}
BENCH_HUGEPAGES=${BENCH_HUGEPAGES:-0}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
CLIENT_CPU=${BENCH_CLIENT_CPU:-0}
SLOTD_LOAD_BIN=${SLOTD_LOAD_BIN:-$LIB_ROOT/build/slotd-load}
DSIZE=16
CLK_TCK=$(getconf CLK_TCK)
SLOTD_IP=198.18.0.2
LOAD_IP=198.18.0.3
SLOTD_PORT=6379
CALLGRIND_GETS=${CALLGRIND_GETS:-200000}
CALLGRIND_RANGE=${CALLGRIND_RANGE:-1000}
CALLGRIND_CONNS_P1=${CALLGRIND_CONNS_P1:-50}
CALLGRIND_IDLE_S=${CALLGRIND_IDLE_S:-3}

[ "$(id -u)" = 0 ] || lib_die "needs root: a network namespace and DPDK ports"
[ "$(nproc)" -ge 2 ] || lib_die "needs two CPUs: the server and the client each poll one"
[ "$SERVER_CPU" != "$CLIENT_CPU" ] || lib_die "BENCH_SERVER_CPU and BENCH_CLIENT_CPU must differ"

WORK=$(mktemp -d /tmp/slotd-bench-dpdk.XXXXXX)
TAG=sbd$$
NS=$TAG
SOCK=$WORK/memif.sock
LIB_CLEANUP_HOOKS+=("rm -rf '$WORK'")
lib_install_traps

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    bash scripts/setup.sh
fi
if [ "$MODE" = perf ]; then
    command -v perf >/dev/null || lib_die "perf is missing (apt-get install linux-perf)"
    readelf -S "$SLOTD_BIN" 2>/dev/null | grep -q debug_info ||
        lib_die "--perf needs a slotd with debug information (inlined frames): meson setup build-perf -Ddebug=true && ninja -C build-perf, then SLOTD_BIN=build-perf/slotd"
    BENCH_SKIP_REDIS=1 BENCH_SKIP_SLOTD=0
fi
if [ "$MODE" = callgrind ]; then
    command -v valgrind >/dev/null || lib_die "valgrind is missing"
    command -v callgrind_control >/dev/null || lib_die "callgrind_control is missing"
    BENCH_SKIP_REDIS=1 BENCH_SKIP_SLOTD=0 BENCH_HUGEPAGES=0
fi
if [ "${BENCH_SKIP_SLOTD:-0}" != 1 ]; then
    [ -x "$SLOTD_BIN" ] || lib_die "$SLOTD_BIN was not built"
    [ -x "$SLOTD_LOAD_BIN" ] || lib_die "$SLOTD_LOAD_BIN was not built"
fi

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "" || a == "n/a" || b == "n/a") print "n/a"; else printf "%.2f", a / b }'; }
fmt() { awk -v a="$1" 'BEGIN { if (a == "" || a == "n/a") print "n/a"; else if (a >= 100) printf "%.0f", a; else printf "%.2f", a }'; }

# ---- hugepages (only with BENCH_HUGEPAGES=N) and EAL arguments -----------

NR_HUGE=/proc/sys/vm/nr_hugepages
# memif copies frames into its own shared memory (memfd), so it works
# without hugepages; the EAL heaps are then plain memory of these sizes (MB).
SLOTD_MEM="--no-huge -m 512"
LOAD_MEM="--no-huge -m 256"
if [ "$BENCH_HUGEPAGES" -gt 0 ]; then
    # A private hugetlbfs mount: nothing of the host's set-up is touched but
    # the page count, which goes back to what it was.
    HUGE_BEFORE=$(cat "$NR_HUGE")
    LIB_CLEANUP_HOOKS=("echo $HUGE_BEFORE > $NR_HUGE" "${LIB_CLEANUP_HOOKS[@]}")
    echo $((HUGE_BEFORE + BENCH_HUGEPAGES)) >"$NR_HUGE"
    got=$(cat "$NR_HUGE")
    [ "$got" -ge $((HUGE_BEFORE + BENCH_HUGEPAGES)) ] || lib_die "asked for $BENCH_HUGEPAGES hugepages, the kernel gave $((got - HUGE_BEFORE))"
    mkdir "$WORK/huge"
    mount -t hugetlbfs -o pagesize=2M nodev "$WORK/huge"
    LIB_CLEANUP_HOOKS=("umount '$WORK/huge'" "${LIB_CLEANUP_HOOKS[@]}")
    SLOTD_MEM="--huge-dir $WORK/huge"
    LOAD_MEM="--huge-dir $WORK/huge"
    lib_log "reserved $BENCH_HUGEPAGES hugepages (given back at exit)"
fi
# memif needs EAL's multi-process channel (no --no-shconf, no --in-memory),
# so each process gets its own --file-prefix, removed at exit. Abstract socket
# names are per network namespace; a path socket is plainer.
MEMIF="socket=$SOCK,socket-abstract=no"
EAL_COMMON="--no-pci --log-level=lib.eal:error"
EAL_SLOTD="--lcores 0@$SERVER_CPU,1@$SERVER_CPU $SLOTD_MEM --file-prefix ${TAG}s $EAL_COMMON --vdev=net_memif0,role=server,$MEMIF"
# slotd's DPDK telemetry socket (EAL's runtime directory for its prefix):
# slotd-load reads the data core's busy time there around each test.
SLOTD_TELEMETRY=/var/run/dpdk/${TAG}s/dpdk_telemetry.v2
EAL_LOAD="--lcores 0@$CLIENT_CPU,1@$CLIENT_CPU $LOAD_MEM --file-prefix ${TAG}l --no-telemetry $EAL_COMMON --vdev=net_memif0,role=client,$MEMIF"
LIB_CLEANUP_HOOKS+=("rm -rf /var/run/dpdk/${TAG}s /var/run/dpdk/${TAG}l")

# ---- the namespace --------------------------------------------------------

ip netns add "$NS"
LIB_CLEANUP_HOOKS+=("ip netns del '$NS' 2>/dev/null")
ip netns exec "$NS" ip link set lo up

# ---- slotd over memif -------------------------------------------------------

# start_slotd [WRAPPER...]: slotd in the namespace, pinned to the server CPU,
# under WRAPPER (valgrind) if given; waits for the memif socket (the port is
# up) and a little more for the stack. ip netns exec and taskset exec, so
# SPID is slotd's (or valgrind's) own PID.
start_slotd() {
    local i tries=200 settle=0.5
    if [ $# -gt 0 ]; then tries=1200; settle=3; fi   # EAL under valgrind: ~10 s
    rm -f "$SOCK"
    # slotd-load is a remote peer, never loopback: without a password,
    # protected-mode (on by default, as in Redis) would refuse it.
    lib_server_argv slotd "$SLOTD_PORT" --dataplane dpdk --dpdk-eal-args "$EAL_SLOTD" \
        --dpdk-ip "$SLOTD_IP/24" --protected-mode no
    ip netns exec "$NS" taskset -c "$SERVER_CPU" "$@" "${LIB_ARGV[@]}" >"$WORK/slotd.log" 2>&1 </dev/null &
    SPID=$!
    LIB_PIDS+=("$SPID")
    for ((i = 0; i < tries; i++)); do
        kill -0 "$SPID" 2>/dev/null || { tail -n 20 "$WORK/slotd.log" >&2; lib_die "slotd exited at start-up"; }
        [ -S "$SOCK" ] && break
        sleep 0.1
    done
    [ -S "$SOCK" ] || { tail -n 20 "$WORK/slotd.log" >&2; lib_die "slotd's memif port did not come up"; }
    sleep "$settle"
}

# slotd_alive WHEN: dies when slotd is gone, with the end of its log, where
# valgrind reports a fatal signal and its stack ($WORK, the log with it, is
# removed at exit). A SIGSEGV in the memif PMD as a slotd-load run ends is
# net_memif's disconnect race (close_all in dataplane/load/worker.c).
slotd_alive() {
    local rc=0
    kill -0 "$SPID" 2>/dev/null && return 0
    wait "$SPID" 2>/dev/null || rc=$?
    echo "slotd exited with status $rc $1; the end of its log:" >&2
    tail -n 40 "$WORK/slotd.log" >&2
    lib_die "slotd died $1"
}

# run_load P CONNS ROUND: SET then GET through slotd-load; results into R[].
run_load() {
    local p=$1 c=$2 round=$3 csv name rps errs cpu busy p50 p99 t
    csv=$(ip netns exec "$NS" taskset -c "$CLIENT_CPU" "$SLOTD_LOAD_BIN" --eal "$EAL_LOAD" \
            --ip "$LOAD_IP/24" --server "$SLOTD_IP" --port "$SLOTD_PORT" -c "$c" -P "$p" \
            -n "$BENCH_N" -t set,get -d "$DSIZE" -r "$BENCH_RANGE" --server-pid "$SPID" \
            --server-telemetry "$SLOTD_TELEMETRY" --csv -q 2>"$WORK/load.err") || { slotd_alive "during slotd-load -P $p -c $c"; cat "$WORK/load.err" >&2; echo "$csv" >&2; lib_die "slotd-load failed (-P $p -c $c)"; }
    slotd_alive "after slotd-load -P $p -c $c"
    # only the lines after slotd-load's CSV header
    csv=$(sed -n '/^test,rps,/,$p' <<<"$csv" | tail -n +2)
    [ -n "$csv" ] || { cat "$WORK/load.err" >&2; lib_die "slotd-load printed no results (-P $p -c $c)"; }
    while IFS=, read -r name rps _ errs _ p50 _ p99 _ _ cpu busy; do
        t=${name,,}
        [ "$errs" = 0 ] || lib_die "slotd-load: $errs wrong or missing replies ($name -P $p)"
        R[slotd.$p.$t.rps.$round]=$rps
        R[slotd.$p.$t.rpc.$round]=$(awk -v n="$BENCH_N" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print "n/a" }')
        # Capacity: requests per CPU-second of turns that found work. The busy
        # share is measured on the TSC (wall time), so it is taken as a
        # fraction of the test's duration and applied to the CPU time, which
        # a preempted server does not accrue.
        R[slotd.$p.$t.cap.$round]=$(awk -v n="$BENCH_N" -v c="$cpu" -v b="$busy" -v r="$rps" 'BEGIN {
            f = (r > 0 && b >= 0) ? b / (n / r) : -1; if (f > 1) f = 1
            if (c > 0 && f > 0) printf "%.0f", n / (c * f); else print "n/a" }')
        R[slotd.$p.$t.p50.$round]=$p50
        R[slotd.$p.$t.p99.$round]=$p99
        lib_log "round $round -P $p slotd $name: $rps/s, server CPU ${cpu}s, busy ${busy}s, p50 ${p50}us p99 ${p99}us"
    done <<<"$csv"
}

run_slotd_round() {
    local round=$1
    start_slotd
    run_load 16 50 "$round"
    run_load 1 "$BENCH_CONNS_P1" "$round"
    lib_stop_server "$SPID" || true
    rm -f "$SOCK"
}

# ---- redis-server on loopback ----------------------------------------------

run_redis_round() {
    local round=$1 p c t csv rps p50 p99 t0 t1 cpu
    for p in 16 1; do
        if [ "$p" = 16 ]; then c=50; else c=$BENCH_CONNS_P1; fi
        redis-cli -h 127.0.0.1 -p "$RPORT" FLUSHALL >/dev/null
        for t in set get; do
            t0=$(lib_cpu_ticks "$RPID")
            csv=$(taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$RPORT" -c "$c" -P "$p" \
                  -t "$t" -d "$DSIZE" -r "$BENCH_RANGE" -n "$BENCH_N" --csv 2>/dev/null)
            t1=$(lib_cpu_ticks "$RPID")
            # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
            read -r rps p50 p99 < <(awk -F'","' -v T="${t^^}" '$1 == "\"" T { print $2, $5 * 1000, $7 * 1000 }' <<<"$csv")
            [ -n "${rps:-}" ] || { echo "$csv" >&2; lib_die "redis-benchmark gave no result for $t -P $p"; }
            cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", d / hz }')
            R[redis.$p.$t.rps.$round]=$rps
            R[redis.$p.$t.rpc.$round]=$(awk -v n="$BENCH_N" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print "n/a" }')
            # redis-server sleeps in epoll when idle: its CPU time is its busy time
            R[redis.$p.$t.cap.$round]=${R[redis.$p.$t.rpc.$round]}
            R[redis.$p.$t.p50.$round]=$p50
            R[redis.$p.$t.p99.$round]=$p99
            lib_log "round $round -P $p redis ${t^^}: $rps/s, server CPU ${cpu}s, p50 ${p50}us p99 ${p99}us"
        done
    done
}

# ---- --callgrind ------------------------------------------------------------

# load_once P CONNS N TEST: one slotd-load run over LOAD_RANGE keys (default
# CALLGRIND_RANGE); dies unless every reply checked. With LOAD_TELEMETRY set
# (--perf), LOAD_BUSY is then the data core's busy seconds during the test.
load_once() {
    local out tel=()
    [ -z "${LOAD_TELEMETRY:-}" ] || tel=(--server-telemetry "$LOAD_TELEMETRY")
    out=$(ip netns exec "$NS" taskset -c "$CLIENT_CPU" "$SLOTD_LOAD_BIN" --eal "$EAL_LOAD" \
            --ip "$LOAD_IP/24" --server "$SLOTD_IP" --port "$SLOTD_PORT" -c "$2" -P "$1" \
            -n "$3" -t "$4" -d "$DSIZE" -r "${LOAD_RANGE:-$CALLGRIND_RANGE}" --stall 60 --csv -q \
            "${tel[@]}" 2>"$WORK/load.err") ||
        { slotd_alive "during slotd-load $4 -P $1 -c $2"; cat "$WORK/load.err" >&2; echo "$out" >&2; lib_die "slotd-load failed ($4 -P $1 -c $2)"; }
    slotd_alive "after slotd-load $4 -P $1 -c $2"
    out=$(sed -n '/^test,rps,/,$p' <<<"$out" | tail -n +2)
    IFS=, read -r _ rps _ errs _ _ _ _ _ _ _ LOAD_BUSY <<<"$out"
    [ "${errs:-x}" = 0 ] || { cat "$WORK/load.err" >&2; lib_die "slotd-load: ${errs:-no} errors ($4 -P $1 -c $2)"; }
    lib_log "$MODE: $4 -P $1 -c $2, $3 requests: $rps/s"
}

# cg_dump NAME: dump (and zero) the counters of every thread; profiles land
# in $WORK/cg.out.<dump number>-<thread>.
CG_DUMPS=0
# callgrind_control exits 0 when it finds no such process: a profile missing
# after it is first checked against slotd being gone.
cg_dump() {
    callgrind_control -d "$1" "$SPID" >"$WORK/cgctl.log" 2>&1 ||
        { slotd_alive "before the $1 dump"; cat "$WORK/cgctl.log" >&2; lib_die "callgrind_control -d $1 failed"; }
    CG_DUMPS=$((CG_DUMPS + 1))
    ls "$WORK"/cg.out."$CG_DUMPS"-* >/dev/null 2>&1 ||
        { slotd_alive "before the $1 dump"; cat "$WORK/cgctl.log" >&2; lib_die "callgrind wrote no profile for $1"; }
}

run_callgrind() {
    local n f idle=()
    # --separate-callers=2 keeps a helper's cost apart per caller chain, so
    # fewer instructions need the proportional split (callgrind-phases.py).
    start_slotd valgrind --tool=callgrind --separate-threads=yes --separate-callers=2 \
        --callgrind-out-file="$WORK/cg.out"
    load_once 16 1 $((CALLGRIND_RANGE * 20)) set
    callgrind_control -z "$SPID" >"$WORK/cgctl.log" 2>&1 ||
        { cat "$WORK/cgctl.log" >&2; lib_die "callgrind_control -z failed"; }
    sleep "$CALLGRIND_IDLE_S"
    cg_dump idle
    load_once 16 1 "$CALLGRIND_GETS" get
    cg_dump get-p16
    load_once 1 "$CALLGRIND_CONNS_P1" "$CALLGRIND_GETS" get
    cg_dump get-p1
    lib_stop_server "$SPID" 120 || true
    rm -f "$SOCK"
    for f in "$WORK"/cg.out.1-*; do idle+=(--idle "$f"); done
    for n in 2 3; do
        "$LIB_PY" scripts/callgrind-phases.py --preset dpdk --thread core_turn \
            --idle-per core_turn "${idle[@]}" --requests "$CALLGRIND_GETS" --format kv \
            "$WORK"/cg.out."$n"-* >"$WORK/phases.$n" || lib_die "callgrind-phases.py failed on dump $n"
        while read -r k v; do R[$n.$k]=$v; done <"$WORK/phases.$n"
        # the top functions of each phase, for whoever keeps the profiles
        "$LIB_PY" scripts/callgrind-phases.py --preset dpdk --thread core_turn \
            --idle-per core_turn "${idle[@]}" --requests "$CALLGRIND_GETS" --top 8 \
            "$WORK"/cg.out."$n"-* >"$WORK/phases.$n.txt"
    done
    if [ -n "${CALLGRIND_KEEP:-}" ]; then
        mkdir -p "$CALLGRIND_KEEP"
        cp "$WORK"/cg.out.[123]-* "$WORK"/phases.[23].txt "$CALLGRIND_KEEP"/
    fi
}

# phase_label K: the row label of phase K (callgrind-phases.py's dpdk map),
# in both --callgrind's and --perf's tables.
phase_label() {
    case $1 in
        rx) echo "rx: the PMD's rx burst (memif)" ;;
        stack) echo "stack: eth/ip/tcp input, upcalls, send-ring copy" ;;
        parse) echo "parse: resp_parse" ;;
        dispatch) echo "dispatch: command lookup, routing, core_exec" ;;
        table) echo "table: cmd_get, ks_*, kvt_* (hash, find)" ;;
        reply) echo "reply: resp_add_* into the output buffer" ;;
        tx) echo "tx: client_flush, net_flush, the PMD's tx burst" ;;
        timers) echo "timers: net_timers, cron" ;;
        other) echo "other: the loop, rings, clocks" ;;
    esac
}

print_callgrind() {
    local k label
    echo
    echo "slotd, DPDK memif, 1 data lcore, under callgrind; $CALLGRIND_GETS GETs of $DSIZE-byte values"
    echo "(-r $CALLGRIND_RANGE, all keys present) per column; instructions (Ir) per GET on the data core"
    echo
    echo "| phase | -P 16, 1 conn | -P 1, $CALLGRIND_CONNS_P1 conns |"
    echo "|---|---:|---:|"
    for k in rx stack parse dispatch table reply tx timers other work idle total turns idle_turn shared; do
        case $k in
            work) label="**per GET** (sum of the above)" ;;
            idle) label="empty loop turns (idle cost per turn x turns, not counted)" ;;
            total) label="everything in the window" ;;
            turns) label="loop turns per GET (in the window)" ;;
            idle_turn) label="instructions per empty loop turn (idle window)" ;;
            shared) label="of which shared helpers split by caller weight" ;;
            *) label=$(phase_label "$k") ;;
        esac
        echo "| $label | $(fmt "${R[2.$k]:-n/a}") | $(fmt "${R[3.$k]:-n/a}") |"
    done
}

# ---- --perf ----------------------------------------------------------------

# perf_record NAME CMD...: CMD (a load, or sleep) while perf records slotd's
# data core (DWARF call stacks, PERF_HZ samples a second) into
# $WORK/perf.NAME.txt (perf script's text).
perf_record() {
    local name=$1 ppid
    shift
    perf record -q --call-graph dwarf,16384 -e cpu-clock -F "$PERF_HZ" -t "$CORE_TID" \
        -o "$WORK/perf.$name.data" >"$WORK/perf.log" 2>&1 &
    ppid=$!
    LIB_PIDS+=("$ppid")
    sleep 0.3              # perf attached
    "$@"
    kill -INT "$ppid"
    wait "$ppid" 2>/dev/null || true
    perf script -i "$WORK/perf.$name.data" -F comm,ip,sym,dso 2>/dev/null >"$WORK/perf.$name.txt"
    [ -s "$WORK/perf.$name.txt" ] || { cat "$WORK/perf.log" >&2; lib_die "perf recorded nothing ($name)"; }
}

# perf_window P CONNS N: N GETs under perf, then time per GET by phase, the
# idle profile's rate taken out for the window's empty turns.
perf_window() {
    perf_record "$1" load_once "$1" "$2" "$3" get
    "$LIB_PY" scripts/perf-phases.py --thread slotd-core0 --requests "$3" --hz "$PERF_HZ" \
        --ghz "$TSC_GHZ" --idle "$WORK/perf.idle.txt" --idle-seconds "$PERF_IDLE_S" \
        --busy "$LOAD_BUSY" --format kv "$WORK/perf.$1.txt" >"$WORK/perfph.$1" ||
        lib_die "perf-phases.py failed (-P $1)"
    while read -r k v; do R[$1.$k]=$v; done <"$WORK/perfph.$1"
}

run_perf() {
    local k label
    LOAD_RANGE=$BENCH_RANGE
    LOAD_TELEMETRY=$SLOTD_TELEMETRY
    start_slotd
    CORE_TID=$(ps -T -p "$SPID" -o tid=,comm= | awk '$2 == "slotd-core0" { print $1 }')
    [ -n "$CORE_TID" ] || lib_die "no slotd-core0 thread in slotd $SPID"
    load_once 16 50 "$BENCH_N" set
    perf_record idle sleep "$PERF_IDLE_S"
    perf_window 16 50 "$BENCH_N"
    perf_window 1 "$BENCH_CONNS_P1" "$BENCH_N"
    lib_stop_server "$SPID" 30 || true
    echo
    echo "slotd, DPDK memif, 1 data lcore; $BENCH_N GETs of $DSIZE-byte values over $BENCH_RANGE keys"
    echo "per column, recorded by perf (cpu-clock, $PERF_HZ Hz, DWARF stacks); cycles per GET"
    echo "at the CPU clock ($TSC_GHZ GHz), by the phase of the innermost root on the stack; empty turns taken out"
    echo
    echo "| phase | -P 16, 50 conns | -P 1, $BENCH_CONNS_P1 conns |"
    echo "|---|---:|---:|"
    for k in rx stack parse dispatch table reply tx timers other total samples idle_s; do
        case $k in
            total) label="**per GET**" ;;
            samples) label="samples (after the empty turns)" ;;
            idle_s) label="seconds of empty turns taken out (idle profile's rate)" ;;
            *) label=$(phase_label "$k") ;;
        esac
        echo "| $label | $(fmt "${R[16.$k]:-n/a}") | $(fmt "${R[1.$k]:-n/a}") |"
    done
}

# ---- the run ---------------------------------------------------------------

if [ "$MODE" = perf ]; then
    declare -A R
    PERF_HZ=${PERF_HZ:-4000}
    PERF_IDLE_S=${PERF_IDLE_S:-2}
    # the CPU's clock as the kernel reports it: the unit of the cycles
    TSC_GHZ=$(awk '/^cpu MHz/ { printf "%.2f", $4 / 1000; exit }' /proc/cpuinfo)
    echo "# slotd DPDK perf ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU)"
    run_perf
    exit 0
fi

if [ "$MODE" = callgrind ]; then
    declare -A R
    echo "# slotd DPDK callgrind ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU)"
    run_callgrind
    print_callgrind
    exit 0
fi

declare -A R M
KINDS=()
[ "${BENCH_SKIP_REDIS:-0}" = 1 ] || KINDS+=(redis)
[ "${BENCH_SKIP_SLOTD:-0}" = 1 ] || KINDS+=(slotd)
[ ${#KINDS[@]} -gt 0 ] || lib_die "nothing to run"

if [[ " ${KINDS[*]} " == *" redis "* ]]; then
    RPORT=$(lib_free_port)
    lib_server_argv redis "$RPORT"
    lib_start_server RPID "$WORK/redis.log" "$SERVER_CPU" -- "${LIB_ARGV[@]}" || lib_die "redis-server did not start"
fi

echo "# slotd DPDK benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU)"
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
    order=("${KINDS[@]}")
    if ((round % 2 == 0)) && [ ${#KINDS[@]} = 2 ]; then order=(slotd redis); fi
    for kind in "${order[@]}"; do
        if [ "$kind" = redis ]; then run_redis_round "$round"; else run_slotd_round "$round"; fi
    done
done
[ -n "${RPID:-}" ] && { lib_stop_server "$RPID" || true; }

for kind in redis slotd; do
    for p in 16 1; do
        for t in set get; do
            for m in rps rpc cap p50 p99; do
                vals=()
                for ((round = 1; round <= BENCH_ROUNDS; round++)); do
                    vals+=("${R[$kind.$p.$t.$m.$round]:-n/a}")
                done
                if [ "${vals[0]}" = n/a ]; then M[$kind.$p.$t.$m]=n/a; else M[$kind.$p.$t.$m]=$(median "${vals[@]}"); fi
            done
        done
    done
done

echo
echo "one server core each; $DSIZE-byte values, -r $BENCH_RANGE, -n $BENCH_N per test, median of $BENCH_ROUNDS rounds"
echo "slotd: DPDK memif, driven by slotd-load; redis-server: loopback, driven by redis-benchmark"
echo
echo "| metric | redis-server | slotd | slotd/redis |"
echo "|---|---:|---:|---:|"
for p in 16 1; do
    if [ "$p" = 16 ]; then c=50; else c=$BENCH_CONNS_P1; fi
    for t in get set; do
        for m in rps rpc cap p50 p99; do
            case $m in
                rps) label="${t^^} ops/s per server core (-P $p, -c $c)" ;;
                rpc) label="${t^^} requests per server CPU-second (-P $p)" ;;
                cap) label="${t^^} requests per busy server second: per-core capacity (-P $p)" ;;
                p50) label="${t^^} p50 latency, us (-P $p)" ;;
                p99) label="${t^^} p99 latency, us (-P $p)" ;;
            esac
            echo "| $label | $(fmt "${M[redis.$p.$t.$m]}") | $(fmt "${M[slotd.$p.$t.$m]}") | $(ratio "${M[slotd.$p.$t.$m]}" "${M[redis.$p.$t.$m]}") |"
        done
    done
done
echo
echo "targets (issue 3, per data core): -P 16 GET >= 10,000,000 ops/s; -P 1 >= 3,000,000 ops/s"
