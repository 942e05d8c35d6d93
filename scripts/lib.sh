# shellcheck shell=bash
# lib.sh — shell helpers shared by setup.sh, run.sh, test.sh and bench.sh.
# Source it (". scripts/lib.sh"); it defines functions and a few variables only.
#
# Servers started with lib_start_server are recorded by PID and stopped by
# lib_cleanup, which lib_install_traps hooks to EXIT, INT, TERM and HUP, so
# nothing is left running after a failure. Nothing here ever kills a process
# by name.

LIB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB_PY=/usr/bin/python3          # Debian's python: python3-redis lives there
LIB_PIDS=()                      # servers we started
LIB_CLEANUP_HOOKS=()             # extra commands to run at exit

# TARGET=slotd (default) or redis: with redis, a second redis-server stands in
# for slotd, which validates the harnesses before slotd exists.
TARGET="${TARGET:-slotd}"
SLOTD_BIN="${SLOTD_BIN:-$LIB_ROOT/build/slotd}"
REDIS_BIN="${REDIS_BIN:-redis-server}"

lib_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
lib_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# A free TCP port P on 127.0.0.1 with P+10000 free too (a cluster bus port).
lib_free_port() {
    "$LIB_PY" - <<'EOF'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
r = random.Random()
for _ in range(1000):
    p = r.randrange(20000, 50000)
    if free(p) and free(p + 10000):
        print(p); break
else:
    raise SystemExit("no free port")
EOF
}

# lib_server_argv KIND PORT [extra args...]: prints nothing, sets LIB_ARGV to
# the command line that starts KIND (redis|slotd) on PORT with the settings
# every comparison uses. slotd gets --threads ${SLOTD_THREADS:-1}.
lib_server_argv() {
    local kind=$1 port=$2
    shift 2
    if [ "$kind" = redis ]; then
        LIB_ARGV=("$REDIS_BIN" --port "$port" --bind 127.0.0.1 --save '' --appendonly no
                  --daemonize no --logfile '' "$@")
    else
        LIB_ARGV=("$SLOTD_BIN" --port "$port" --bind 127.0.0.1 --threads "${SLOTD_THREADS:-1}"
                  --save '' "$@")
    fi
}

# lib_ping PORT: 0 if the server on PORT answers PONG.
lib_ping() {
    [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = PONG ]
}

# lib_wait_ready PORT PID [SECONDS]: wait until PORT answers PING while PID lives.
lib_wait_ready() {
    local port=$1 pid=$2 secs=${3:-20} i
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        lib_ping "$port" && return 0
        sleep 0.1
    done
    return 1
}

# lib_start_server VAR LOG [CPU] -- ARGV...: start ARGV in the background
# (under taskset -c CPU when CPU is not empty), stdout+stderr to LOG, record its
# PID for cleanup and store it in VAR. The port is read from ARGV's --port.
# Returns non-zero (after stopping it) if it does not answer PING.
lib_start_server() {
    # Locals carry a prefix: VAR is assigned with printf -v, which would hit a
    # local of ours that had the caller's variable name.
    local _ls_var=$1 _ls_log=$2 _ls_cpu=$3 _ls_port="" _ls_a _ls_prev="" _ls_pid
    shift 3
    [ "$1" = -- ] && shift
    for _ls_a in "$@"; do
        [ "$_ls_prev" = --port ] && _ls_port=$_ls_a
        _ls_prev=$_ls_a
    done
    if [ -n "$_ls_cpu" ]; then
        taskset -c "$_ls_cpu" "$@" >"$_ls_log" 2>&1 </dev/null &
    else
        "$@" >"$_ls_log" 2>&1 </dev/null &
    fi
    _ls_pid=$!
    LIB_PIDS+=("$_ls_pid")
    printf -v "$_ls_var" '%s' "$_ls_pid"
    if [ -n "$_ls_port" ] && ! lib_wait_ready "$_ls_port" "$_ls_pid" "${LIB_START_TIMEOUT:-20}"; then
        echo "server '$*' did not come up; last lines of $_ls_log:" >&2
        tail -n 20 "$_ls_log" >&2
        lib_stop_server "$_ls_pid"
        return 1
    fi
    return 0
}

# lib_stop_server PID [SECONDS]: SIGTERM, wait, then SIGKILL. Only PIDs we
# started are passed here. Prints nothing; returns the exit status when known.
lib_stop_server() {
    local pid=$1 secs=${2:-10} i rc=0
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < secs * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "pid $pid ignored SIGTERM for ${secs}s: SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    local keep=() p
    for p in "${LIB_PIDS[@]}"; do
        [ "$p" = "$pid" ] || keep+=("$p")
    done
    LIB_PIDS=("${keep[@]}")
    return $rc
}

lib_cleanup() {
    local p h
    # A server that already died has a non-zero status: keep going under
    # set -e, so the hooks below still run.
    for p in "${LIB_PIDS[@]}"; do
        lib_stop_server "$p" 5 || true
    done
    for h in "${LIB_CLEANUP_HOOKS[@]}"; do
        eval "$h" || true
    done
    LIB_CLEANUP_HOOKS=()
}

lib_install_traps() {
    trap 'lib_cleanup' EXIT
    trap 'lib_cleanup; trap - EXIT; exit 130' INT
    trap 'lib_cleanup; trap - EXIT; exit 143' TERM
    trap 'lib_cleanup; trap - EXIT; exit 129' HUP
}

# lib_cpu_ticks PID: utime+stime of the whole process in clock ticks.
lib_cpu_ticks() {
    # Fields after the ")" that closes comm: utime is field 14, stime 15.
    local stat rest
    stat=$(cat "/proc/$1/stat") || return 1
    rest=${stat##*) }
    set -- $rest
    echo $(( ${12} + ${13} ))
}

# lib_info_field PORT FIELD [SECTION]: one INFO field's value.
lib_info_field() {
    redis-cli -h 127.0.0.1 -p "$1" INFO "${3:-all}" | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2; exit }'
}

# lib_target_kind: redis or slotd, the server standing in for slotd.
lib_target_kind() {
    if [ "$TARGET" = redis ]; then echo redis; else echo slotd; fi
}
