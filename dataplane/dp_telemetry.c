/* dp_telemetry — /slotd/cores for DPDK telemetry (see dp_telemetry.h).
 *
 * EAL's callbacks take no argument, so the runtime they describe is the one
 * module-static pointer below, set by dp_telemetry_start and cleared by
 * dp_telemetry_stop. The mutex is taken only by the telemetry thread and by
 * main at start and stop, never by a data core: it keeps a core from being
 * destroyed while its counters are read. */
#include "dp_telemetry.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include <rte_telemetry.h>

#include "core.h"
#include "dpdk_transport.h"

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *tel_rt;     /* under tel_lock; NULL when stopped */

enum { COL_TURNS, COL_BUSY_TURNS, COL_BUSY_USEC, NCOLS };

static const char *const COL_NAMES[NCOLS] = { "loop_turns", "busy_turns", "busy_usec" };

/* One array per counter, one element per data core (index = core id). */
static int cores_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
    struct rte_tel_data *col[NCOLS] = { NULL };
    int rc = 0;

    (void)cmd;
    (void)params;
    rte_tel_data_start_dict(d);
    for (int i = 0; i < NCOLS; i++) {
        col[i] = rte_tel_data_alloc();
        if (col[i] == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        rte_tel_data_start_array(col[i], RTE_TEL_U64_VAL);
    }
    pthread_mutex_lock(&tel_lock);
    for (unsigned k = 0; tel_rt && k < tel_rt->ncores; k++) {
        const struct core *core = tel_rt->cores[k];
        struct dpdk_transport_load load = { 0 };

        if (core && core->dpdk)
            dpdk_transport_load(core->dpdk, &load);
        rte_tel_data_add_array_u64(col[COL_TURNS], load.loop_turns);
        rte_tel_data_add_array_u64(col[COL_BUSY_TURNS], load.busy_turns);
        rte_tel_data_add_array_u64(col[COL_BUSY_USEC], load.busy_usec);
    }
    pthread_mutex_unlock(&tel_lock);
    for (int i = 0; i < NCOLS; i++) {
        /* keep = 0: once added, the dictionary frees the array */
        rc = rte_tel_data_add_dict_container(d, COL_NAMES[i], col[i], 0);
        if (rc != 0)
            goto out;
        col[i] = NULL;
    }
out:
    for (int i = 0; i < NCOLS; i++)
        rte_tel_data_free(col[i]);
    return rc;
}

int dp_telemetry_start(struct runtime *rt)
{
    pthread_mutex_lock(&tel_lock);
    tel_rt = rt;
    pthread_mutex_unlock(&tel_lock);
    return rte_telemetry_register_cmd("/slotd/cores", cores_cb,
                                      "Data cores' loop turns, busy turns and busy time (usec). "
                                      "No parameters");
}

void dp_telemetry_stop(void)
{
    pthread_mutex_lock(&tel_lock);
    tel_rt = NULL;
    pthread_mutex_unlock(&tel_lock);
}
