#!/usr/bin/env bash
# test.sh — everything CI runs: set-up and release build, unit tests, the
# end-to-end suites against release slotd, an ASan+UBSan build with unit and
# end-to-end tests against the sanitized slotd, and each libFuzzer target for a
# bounded time. Ends with the line "N passed, N failed" and exits non-zero on
# any failure.
#
# Environment:
#   TARGET=redis       validate the end-to-end harnesses against a second
#                      redis-server instead of slotd (no build, no unit/fuzz)
#   TEST_PHASES        subset of "unit e2e asan fuzz" (default: all four)
#   FUZZ_SECONDS       per fuzz target (default 30, under CI=true too)
#   TEST_LOGDIR        where step logs go (default a fresh dir under /tmp)
#
# Counting: a step whose output ends with "N passed, N failed" (the e2e
# suites) or a meson test summary adds those numbers; any other step counts as
# one test. A step that exits non-zero counts at least one failure.
# Every server is started by the step's own harness, which stops it by PID;
# if this script is interrupted it stops the running step (SIGTERM), whose
# harness then stops its servers.
set -uo pipefail

# The whole script is one compound command, so bash reads all of it before
# running any: editing this file while a run is in progress cannot derail it.
{
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LIB_ROOT" || exit 1

if [ "${CI:-}" = true ]; then
    FUZZ_SECONDS=${FUZZ_SECONDS:-30}
else
    FUZZ_SECONDS=${FUZZ_SECONDS:-30}
fi
TEST_PHASES=${TEST_PHASES:-unit e2e asan fuzz}
LOGDIR=${TEST_LOGDIR:-$(mktemp -d /tmp/slotd-test.XXXXXX)}
mkdir -p "$LOGDIR"
JOBS=${MESON_JOBS:-2}

PASS=0
FAIL=0
FAILED_STEPS=()
SKIPPED=()
STEP_PID=""
T0=$(date +%s)

stop_step() {
    if [ -n "$STEP_PID" ] && kill -0 "$STEP_PID" 2>/dev/null; then
        kill -TERM "$STEP_PID" 2>/dev/null
        wait "$STEP_PID" 2>/dev/null
    fi
    STEP_PID=""
}
LIB_CLEANUP_HOOKS+=("stop_step")
lib_install_traps

phase() { [[ " $TEST_PHASES " == *" $1 "* ]]; }

# step NAME CMD...: run CMD (output to its log, then shown), tally its result.
step() {
    local name=$1 log rc p f line t0
    shift
    log="$LOGDIR/$(echo "$name" | tr -c 'A-Za-z0-9_.-' '_').log"
    t0=$(date +%s)
    lib_log "=== $name"
    "$@" >"$log" 2>&1 </dev/null &
    STEP_PID=$!
    wait "$STEP_PID"
    rc=$?
    STEP_PID=""
    cat "$log"
    p=""
    f=""
    line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(sed -E 's/^([A-Za-z]+: )?([0-9]+) passed.*/\2/' <<<"$line")
        f=$(sed -E 's/^([A-Za-z]+: )?[0-9]+ passed, ([0-9]+) failed.*/\2/' <<<"$line")
    elif grep -qE '^Ok: +[0-9]+' "$log"; then
        p=$(awk '/^Ok:/ {print $2}' "$log" | tail -n 1)
        f=0
        for k in 'Fail:' 'Unexpected Pass:' 'Timeout:'; do
            f=$(( f + $(awk -v k="$k" 'index($0, k) == 1 {print $NF}' "$log" | tail -n 1 | grep -E '^[0-9]+$' || echo 0) ))
        done
    fi
    if [ -z "$p" ]; then
        if [ $rc = 0 ]; then p=1; f=0; else p=0; f=1; fi
    fi
    if [ $rc != 0 ] && [ "$f" = 0 ]; then
        f=1
    fi
    PASS=$((PASS + p))
    FAIL=$((FAIL + f))
    if [ "$f" != 0 ]; then
        FAILED_STEPS+=("$name")
    fi
    lib_log "--- $name: $p passed, $f failed (exit $rc, $(( $(date +%s) - t0 ))s)"
    return $rc
}

skip() {
    SKIPPED+=("$1")
    lib_log "--- skipped: $1"
}

e2e_suite() {        # e2e_suite LABEL SLOTD_BIN
    local label=$1 bin=$2 t
    for t in diff_test test_pipeline test_client test_watch test_badinput test_protected test_cluster \
             test_migrate test_cluster_fix; do
        step "e2e $t [$label]" env SLOTD_BIN="$bin" TARGET="$TARGET" \
            /usr/bin/python3 "tests/e2e/$t.py"
    done
    # Resharding and rebalancing under a live writer; the sanitizer build runs
    # the quick variant (same steps, fewer keys and slots).
    local quick=()
    [ "$label" = asan ] && quick=(--quick)
    step "e2e test_reshard [$label]" env SLOTD_BIN="$bin" TARGET="$TARGET" \
        /usr/bin/python3 tests/e2e/test_reshard.py "${quick[@]}" ${quick[@]:+--threads 1,2}
    # The DPDK data path on a net_tap port driven from a network namespace
    # (smaller sizes under the sanitizers).
    step "e2e test_dpdk [$label]" env SLOTD_BIN="$bin" TARGET="$TARGET" \
        /usr/bin/python3 tests/e2e/test_dpdk.py "${quick[@]}"
    # The differential scripts once more with two data cores, so that
    # multi-key and all-shard commands cross cores.
    if [ "$TARGET" != redis ]; then
        step "e2e diff_test threads=2 [$label]" env SLOTD_BIN="$bin" SLOTD_THREADS=2 \
            /usr/bin/python3 tests/e2e/diff_test.py
    fi
}

# A smoke test of lib.sh's start/stop: the binary starts, answers PING,
# and exits by itself on SIGTERM (status 0).
smoke() {            # smoke SLOTD_BIN (runs in a background subshell: own traps)
    local port pid log
    LIB_CLEANUP_HOOKS=()
    lib_install_traps
    log=$(mktemp "$LOGDIR/smoke.XXXXXX")
    port=$(lib_free_port)
    lib_server_argv slotd "$port"
    LIB_ARGV[0]=$1
    lib_start_server pid "$log" "" -- "${LIB_ARGV[@]}" || return 1
    lib_ping "$port" || return 1
    lib_stop_server "$pid" 10
    local rc=$?
    echo "exit status after SIGTERM: $rc"
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
        cat "$log"
        return 1
    fi
    [ $rc = 0 ]
}

# ---------------------------------------------------------------------------

if [ "$TARGET" = redis ]; then
    step "setup (packages)" env SETUP_SKIP_BUILD=1 bash scripts/setup.sh
    e2e_suite redis-vs-redis "$SLOTD_BIN"
else
    # build_and_test LABEL DIR BUILD-CMD...: build; if the whole tree does not
    # build, still try the slotd target alone so the end-to-end tests can run.
    build_and_test() {
        local label=$1 dir=$2 full=0 bin=0
        shift 2
        if step "build ($label)" "$@"; then
            full=1
            bin=1
        elif [ -f "$dir/build.ninja" ] && step "build slotd only ($label)" meson compile -C "$dir" -j "$JOBS" slotd:executable; then
            bin=1
        fi
        if [ $full = 1 ] && phase unit; then
            step "unit [$label]" meson test -C "$dir" --num-processes "$JOBS" --print-errorlogs
        elif phase unit; then
            skip "unit [$label] (build failed)"
        fi
        if [ $bin = 1 ] && phase e2e; then
            step "smoke start/stop [$label]" smoke "$dir/slotd"
            e2e_suite "$label" "$LIB_ROOT/$dir/slotd"
        elif phase e2e; then
            skip "e2e [$label] (no $dir/slotd)"
        fi
    }

    if [ ! -f meson.build ]; then
        step "build (release)" sh -c 'echo "meson.build is missing"; exit 1'
    else
        build_and_test release build bash scripts/setup.sh
    fi

    if phase asan && [ -f meson.build ]; then
        asan_setup() {
            if [ -f build-asan/build.ninja ]; then
                :
            elif [ -f build-asan/meson-private/coredata.dat ]; then
                meson setup --wipe build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
            else
                meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
            fi && meson compile -C build-asan -j "$JOBS"
        }
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        export E2E_START_TIMEOUT=60
        build_and_test asan build-asan asan_setup
        unset ASAN_OPTIONS UBSAN_OPTIONS E2E_START_TIMEOUT
    fi

    shopt -s nullglob
    fuzz_src=(tests/fuzz/fuzz_*.c)
    shopt -u nullglob
    if phase fuzz && [ -f meson.build ] && [ ${#fuzz_src[@]} -gt 0 ]; then
        fuzz_setup() {
            if [ -f build-fuzz/build.ninja ]; then
                :
            else
                [ -f build-fuzz/meson-private/coredata.dat ] && wipe=--wipe || wipe=
                CC=clang meson setup $wipe build-fuzz -Dfuzz=true --buildtype=debug \
                    -Db_sanitize=address,undefined -Db_lundef=false
            fi
        }
        step "configure (fuzz, clang)" fuzz_setup
        # Each target is built on its own too, so one broken file elsewhere in
        # the tree does not stop the fuzzers that do build.
        fuzz_one() {        # fuzz_one NAME: build, then run for FUZZ_SECONDS
            local name=$1 short=${1#fuzz_} exe="" cand
            meson compile -C build-fuzz -j "$JOBS" "$name" >/dev/null || {
                meson compile -C build-fuzz -j "$JOBS" "$name"
                echo "tests/fuzz/$name.c did not build as meson target $name (with -Dfuzz=true;"
                echo "is it in the fuzz list of tests/meson.build?)"
                return 1
            }
            for cand in "build-fuzz/$name" "build-fuzz/tests/$name" "build-fuzz/tests/fuzz/$name"; do
                [ -x "$cand" ] && exe=$cand && break
            done
            [ -n "$exe" ] || { echo "no executable $name under build-fuzz/"; return 1; }
            mkdir -p "build-fuzz/corpus/$short" build-fuzz/artifacts
            local args=(-max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
                        -artifact_prefix="build-fuzz/artifacts/$short-")
            [ -f "tests/fuzz/$short.dict" ] && args+=(-dict="tests/fuzz/$short.dict")
            local dirs=("build-fuzz/corpus/$short")
            [ -d "tests/fuzz/corpus/$short" ] && dirs+=("tests/fuzz/corpus/$short")
            ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                "$exe" "${args[@]}" "${dirs[@]}"
        }
        if [ -f build-fuzz/build.ninja ]; then
            for src in "${fuzz_src[@]}"; do
                name=$(basename "$src" .c)
                step "fuzz ${name#fuzz_} (${FUZZ_SECONDS}s)" fuzz_one "$name"
            done
        fi
    elif phase fuzz; then
        skip "fuzz (no tests/fuzz/fuzz_*.c)"
    fi
fi

echo
lib_log "logs in $LOGDIR; total $(( $(date +%s) - T0 ))s"
[ ${#SKIPPED[@]} -gt 0 ] && echo "skipped: ${SKIPPED[*]}"
[ ${#FAILED_STEPS[@]} -gt 0 ] && printf 'failed step: %s\n' "${FAILED_STEPS[@]}"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ] && [ "$PASS" -gt 0 ]
exit
}
