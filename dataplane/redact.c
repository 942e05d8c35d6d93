/* redact — the arguments Redis 7.0 replaces with shared.redacted before a
 * command is logged (its redactClientCommandArgument call sites: AUTH,
 * HELLO, MIGRATE, CONFIG SET of a sensitive directive). */
#include "redact.h"

#include "config.h"

#define MIGRATE_FIXED_ARGS 6   /* MIGRATE host port key|"" db timeout */

static int hello_secret(const struct slice *argv, int argc, int i)
{
    for (int j = 2; j + 2 < argc; j++) {
        if (slice_eq_nocase(&argv[j], "auth")) {
            if (i == j + 1 || i == j + 2)
                return 1;
            j += 2;
        } else if (slice_eq_nocase(&argv[j], "setname")) {
            j++;
        }
    }
    return 0;
}

static int migrate_secret(const struct slice *argv, int argc, int i)
{
    for (int j = MIGRATE_FIXED_ARGS; j < argc; j++) {
        if (slice_eq_nocase(&argv[j], "auth") && j + 1 < argc) {
            if (i == j + 1)
                return 1;
            j++;
        } else if (slice_eq_nocase(&argv[j], "auth2") && j + 2 < argc) {
            if (i == j + 1 || i == j + 2)
                return 1;
            j += 2;
        } else if (slice_eq_nocase(&argv[j], "keys")) {
            return 0;   /* the rest are key names */
        }
    }
    return 0;
}

static int config_set_secret(const struct slice *argv, int argc, int i)
{
    if (argc < 4 || !slice_eq_nocase(&argv[1], "set") || i < 3 || (i - 3) % 2)
        return 0;
    return config_is_sensitive(&argv[i - 1]);
}

int redact_arg(const struct slice *argv, int argc, int i)
{
    if (i <= 0 || i >= argc)
        return 0;
    if (slice_eq_nocase(&argv[0], "auth"))
        return 1;
    if (slice_eq_nocase(&argv[0], "hello"))
        return hello_secret(argv, argc, i);
    if (slice_eq_nocase(&argv[0], "migrate"))
        return migrate_secret(argv, argc, i);
    if (slice_eq_nocase(&argv[0], "config"))
        return config_set_secret(argv, argc, i);
    return 0;
}
