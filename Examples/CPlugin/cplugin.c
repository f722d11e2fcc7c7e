#include "cplugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct cupper_state {
    char *fail;   /* NULL: never fail */
    char *reject; /* NULL: never reject */
    char *prefix; /* never NULL */
} cupper_state;

static char *copy_message(const char *text, size_t *length) {
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    if (copy != NULL) memcpy(copy, text, n + 1);
    if (length != NULL) *length = copy != NULL ? n : 0;
    return copy;
}

static int32_t cupper_create(const char *const *keys, const char *const *values, size_t count,
                             void **state, char **error) {
    cupper_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        *error = copy_message("cupper: out of memory", NULL);
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(keys[i], "fail") == 0) {
            free(s->fail);
            s->fail = strdup(values[i]);
        } else if (strcmp(keys[i], "reject") == 0) {
            free(s->reject);
            s->reject = strdup(values[i]);
        } else if (strcmp(keys[i], "prefix") == 0) {
            free(s->prefix);
            s->prefix = strdup(values[i]);
        } else {
            char message[512];
            snprintf(message, sizeof message,
                     "cupper: unknown option '%s'; it accepts fail=TEXT, reject=TEXT and prefix=TEXT",
                     keys[i]);
            *error = copy_message(message, NULL);
            free(s->fail);
            free(s->reject);
            free(s->prefix);
            free(s);
            return 1;
        }
    }
    if (s->prefix == NULL) s->prefix = strdup("");
    *state = s;
    return 0;
}

static int32_t cupper_handle(void *state, const uint8_t *item, size_t len,
                             const workqueue_plugin_context *context,
                             const volatile int32_t *cancelled, uint8_t **out, size_t *out_len) {
    const cupper_state *s = state;
    if (len == 10 && memcmp(item, "checkpoint", 10) == 0) {
        /* Progress and checkpoints: what an earlier attempt saved, and a save for the next. */
        size_t saved_len = 0;
        const uint8_t *saved = workqueue_plugin_checkpoint(context, &saved_len);
        int32_t status = workqueue_plugin_save_checkpoint(context, (const uint8_t *)"step 2", 6);
        workqueue_plugin_report_progress(context, 0.5, "halfway");
        char message[160];
        snprintf(message, sizeof message, "saved %d after %.*s", (int)status, saved != NULL ? (int)(saved_len > 64 ? 64 : saved_len) : 4,
                 saved != NULL ? (const char *)saved : "none");
        *out = (uint8_t *)copy_message(message, out_len);
        return WORKQUEUE_PLUGIN_OK;
    }
    if (len == 4 && memcmp(item, "wait", 4) == 0) {
        struct timespec pause = {0, 1000000}; /* 1 ms */
        for (int i = 0; i < 10000; i++) {
            if (workqueue_plugin_is_cancelled(cancelled)) {
                *out = (uint8_t *)copy_message("cupper: stopped, as the host asked", out_len);
                return WORKQUEUE_PLUGIN_CANCELLED;
            }
            nanosleep(&pause, NULL);
        }
        *out = (uint8_t *)copy_message("cupper: 'wait' was not cancelled within 10 s", out_len);
        return WORKQUEUE_PLUGIN_FAILED;
    }
    size_t prefix_len = strlen(s->prefix);
    char *text = malloc(prefix_len + len + 1);
    if (text == NULL) {
        *out = (uint8_t *)copy_message("cupper: out of memory", out_len);
        return WORKQUEUE_PLUGIN_FAILED;
    }
    memcpy(text, s->prefix, prefix_len);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = item[i];
        text[prefix_len + i] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    text[prefix_len + len] = '\0';
    if (s->fail != NULL && strstr(text + prefix_len, s->fail) != NULL) {
        char message[256];
        snprintf(message, sizeof message, "cupper: item contains '%s' (option fail)", s->fail);
        free(text);
        *out = (uint8_t *)copy_message(message, out_len);
        return WORKQUEUE_PLUGIN_FAILED;
    }
    if (s->reject != NULL && strstr(text + prefix_len, s->reject) != NULL) {
        char message[256];
        snprintf(message, sizeof message, "cupper: item contains '%s' (option reject)", s->reject);
        free(text);
        *out = (uint8_t *)copy_message(message, out_len);
        return WORKQUEUE_PLUGIN_REJECTED;
    }
    fwrite(text, 1, prefix_len + len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    *out = (uint8_t *)text;
    *out_len = prefix_len + len;
    return WORKQUEUE_PLUGIN_OK;
}

static void cupper_destroy(void *state) {
    cupper_state *s = state;
    if (s == NULL) return;
    free(s->fail);
    free(s->reject);
    free(s->prefix);
    free(s);
}

static void cupper_free(void *buffer) { free(buffer); }

static const workqueue_plugin table = {
    .abi_version = WORKQUEUE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(workqueue_plugin),
    .name = "cupper",
    .summary = "prints each item upper-cased (a plugin in plain C)",
    .create = cupper_create,
    .handle = cupper_handle,
    .destroy = cupper_destroy,
    .free_buffer = cupper_free,
};

const workqueue_plugin *workqueue_plugin_entry(void) { return &table; }
