/*
 * The handler of the chaos suite (scripts/chaos), a plugin in plain C built by the suite with
 * `cc -shared -fPIC` into its temp dir. It makes every fault observable:
 *
 * - prints `Working on <item>` (flushed at once) when it starts an item, so the driver sees
 *   every start, by which process and when;
 * - returns the item itself as the result, so `NAME:results` holds a completion record (the
 *   item, and the item again as its result) for every completion recorded in Redis.
 *
 * Options (`--option KEY=VALUE`):
 *   delay_ms=N       every item takes N ms (default 0), polling the cancellation flag each ms
 *   slow=PREFIX      items starting with PREFIX take slow_ms instead
 *   slow_ms=N        (default 0)
 *   ignore_cancel=1  sleep without ever looking at the cancellation flag (a handler that
 *                    ignores cancellation: the worker must still exit within its grace period)
 *   poison=ITEM      an item equal to ITEM calls abort(): the whole process dies (SIGABRT)
 */
#include "workqueue_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct chaos_state {
    long delay_ms;
    long slow_ms;
    int ignore_cancel;
    char *slow;
    char *poison;
} chaos_state;

static char *copy_text(const char *text, size_t *length) {
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    if (copy != NULL) memcpy(copy, text, n + 1);
    if (length != NULL) *length = copy != NULL ? n : 0;
    return copy;
}

static void release(chaos_state *s) {
    if (s == NULL) return;
    free(s->slow);
    free(s->poison);
    free(s);
}

static int32_t chaos_create(const char *const *keys, const char *const *values, size_t count,
                            void **state, char **error) {
    chaos_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        *error = copy_text("chaos: out of memory", NULL);
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(keys[i], "delay_ms") == 0) {
            s->delay_ms = strtol(values[i], NULL, 10);
        } else if (strcmp(keys[i], "slow_ms") == 0) {
            s->slow_ms = strtol(values[i], NULL, 10);
        } else if (strcmp(keys[i], "ignore_cancel") == 0) {
            s->ignore_cancel = strcmp(values[i], "1") == 0;
        } else if (strcmp(keys[i], "slow") == 0) {
            free(s->slow);
            s->slow = strdup(values[i]);
        } else if (strcmp(keys[i], "poison") == 0) {
            free(s->poison);
            s->poison = strdup(values[i]);
        } else {
            char message[256];
            snprintf(message, sizeof message,
                     "chaos: unknown option '%s'; it accepts delay_ms, slow, slow_ms, ignore_cancel, poison",
                     keys[i]);
            *error = copy_text(message, NULL);
            release(s);
            return 1;
        }
    }
    *state = s;
    return 0;
}

static int32_t chaos_handle(void *state, const uint8_t *item, size_t len,
                            const workqueue_plugin_context *context,
                            const volatile int32_t *cancelled, uint8_t **out, size_t *out_len) {
    const chaos_state *s = state;
    (void)context;
    /* One write per line: lines of concurrent slots never interleave. */
    char *line = malloc(len + 13);
    if (line == NULL) {
        *out = (uint8_t *)copy_text("chaos: out of memory", out_len);
        return WORKQUEUE_PLUGIN_FAILED;
    }
    memcpy(line, "Working on ", 11);
    if (len > 0) memcpy(line + 11, item, len);
    line[11 + len] = '\n';
    fwrite(line, 1, len + 12, stdout);
    fflush(stdout);
    free(line);

    if (s->poison != NULL && strlen(s->poison) == len && memcmp(item, s->poison, len) == 0) {
        abort();
    }
    long ms = s->delay_ms;
    if (s->slow != NULL && len >= strlen(s->slow) && memcmp(item, s->slow, strlen(s->slow)) == 0) {
        ms = s->slow_ms;
    }
    struct timespec tick = {0, 1000000}; /* 1 ms */
    for (long i = 0; i < ms; i++) {
        if (!s->ignore_cancel && workqueue_plugin_is_cancelled(cancelled)) {
            *out = (uint8_t *)copy_text("chaos: cancelled", out_len);
            return WORKQUEUE_PLUGIN_CANCELLED;
        }
        nanosleep(&tick, NULL);
    }
    uint8_t *result = malloc(len > 0 ? len : 1);
    if (result == NULL) {
        *out = (uint8_t *)copy_text("chaos: out of memory", out_len);
        return WORKQUEUE_PLUGIN_FAILED;
    }
    if (len > 0) memcpy(result, item, len);
    *out = result;
    *out_len = len;
    return WORKQUEUE_PLUGIN_OK;
}

static void chaos_destroy(void *state) { release(state); }

static void chaos_free(void *buffer) { free(buffer); }

static const workqueue_plugin table = {
    .abi_version = WORKQUEUE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(workqueue_plugin),
    .name = "chaos",
    .summary = "the chaos suite's handler: prints each item, sleeps, returns it (scripts/chaos)",
    .create = chaos_create,
    .handle = chaos_handle,
    .destroy = chaos_destroy,
    .free_buffer = chaos_free,
};

const workqueue_plugin *workqueue_plugin_entry(void) { return &table; }
