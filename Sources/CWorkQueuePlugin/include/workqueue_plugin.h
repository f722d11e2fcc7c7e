/*
 * workqueue_plugin.h: the C ABI between the `workqueue` worker (the host) and a handler built
 * as a shared object (the plugin). Version 1.
 *
 * Swift has no stable ABI for its own types between separately built images on Linux, so the
 * boundary is plain C: a plugin written in C, Rust, Zig or Swift (through WorkQueuePluginKit)
 * exports one function,
 *
 *     const workqueue_plugin *workqueue_plugin_entry(void);
 *
 * returning a pointer to a table that lives as long as the process (a static object). The host
 * loads the file with dlopen(RTLD_NOW | RTLD_LOCAL), calls the entry once, checks
 * `abi_version == WORKQUEUE_PLUGIN_ABI_VERSION` and `struct_size`, calls `create` once with the
 * handler's KEY=VALUE options, then `handle` once per item (possibly from several threads at
 * once, with the same state: `handle` must be thread-safe), and `destroy` when it is done.
 * The host never unloads a plugin.
 *
 * Memory: each side frees what it allocated. Buffers a plugin returns through `out`, `error`
 * are released by the host with the plugin's own `free_buffer`. Pointers the host passes in
 * (item, keys, values, context) are only valid during the call.
 *
 * Threads: `handle` runs on a dedicated host thread, never on Swift's cooperative pool, so it
 * may block. It should poll `*cancelled` (with workqueue_plugin_is_cancelled) in long work and
 * return soon after it becomes non-zero: the item's lease was lost or the worker is shutting
 * down, and the result will not be used.
 *
 * Statuses: `handle` returns one of the WORKQUEUE_PLUGIN_* statuses below. A host treats a
 * status it does not know (a newer plugin's) as WORKQUEUE_PLUGIN_FAILED: the item is retried.
 *
 * Progress and checkpoints: a host that has them passes a context with the fields `checkpoint`
 * ... `report_progress` (added within version 1, by the rule below); use them through
 * workqueue_plugin_checkpoint, workqueue_plugin_save_checkpoint and
 * workqueue_plugin_report_progress, which check `struct_size` and do nothing under an older
 * host. A plugin that uses them still declares version 1 and loads in every host.
 *
 * Forward compatibility: both structs start with their size. A newer host may pass a larger
 * context (read only the fields you know); a plugin's table may be larger than the host knows
 * (the host ignores the tail) but never smaller than version 1's. Fields are only ever added
 * at the end; an incompatible change bumps WORKQUEUE_PLUGIN_ABI_VERSION.
 */
#ifndef WORKQUEUE_PLUGIN_H
#define WORKQUEUE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version of this header. The host refuses a table with any other `abi_version`. */
#define WORKQUEUE_PLUGIN_ABI_VERSION 1

/** The name of the symbol the host looks up. */
#define WORKQUEUE_PLUGIN_ENTRY_SYMBOL "workqueue_plugin_entry"

/** `handle` and `create` status: success. */
#define WORKQUEUE_PLUGIN_OK 0
/** `handle` status: the item failed (it is retried, then dead-lettered); `out` is the message. */
#define WORKQUEUE_PLUGIN_FAILED 1
/** `handle` status: the plugin stopped because `*cancelled` was set. */
#define WORKQUEUE_PLUGIN_CANCELLED 2
/**
 * `handle` status: the item can never succeed (it does not parse, it names something that does
 * not exist): dead-letter it now, on this attempt, without retrying; `out` is the message.
 * Added within version 1: a host that predates it treats it as any status it does not know,
 * as WORKQUEUE_PLUGIN_FAILED (the item is retried, then dead-lettered), so returning it is
 * always safe.
 */
#define WORKQUEUE_PLUGIN_REJECTED 3

/** What the host knows about the item being handled. */
typedef struct workqueue_plugin_context {
    /** sizeof(workqueue_plugin_context) as the host was built; read no field past it. */
    uint32_t struct_size;
    /** 1 for the first delivery of the item, 2 for the first retry, and so on. */
    uint32_t attempt;
    /** The attempt after which a failing item is dead-lettered. */
    uint32_t max_attempts;
    /** Reserved, zero. */
    uint32_t reserved;
    /** The worker's session id, NUL-terminated UTF-8. */
    const char *session;

    /* Added within version 1: present when `struct_size` covers them (use the helpers below). */

    /**
     * The checkpoint an earlier attempt of the item saved (`checkpoint_len` bytes), or NULL when
     * there is none (a first attempt). Valid during the call only.
     */
    const uint8_t *checkpoint;
    /** The length of `checkpoint` in bytes (0 when it is NULL). */
    size_t checkpoint_len;
    /** The host's state for the two functions below; pass it as their first argument. */
    void *host;
    /**
     * Keeps `len` bytes (copied; at most 65536) as the item's checkpoint, stored with the lease's
     * next renewal and handed to a later attempt as `checkpoint` (after a crash, a lost lease,
     * a failure or a shutdown). Returns 0, or 1 when `len` is over the limit (the previous
     * checkpoint stays). Cheap (no I/O) and thread-safe; only during the call.
     */
    int32_t (*save_checkpoint)(void *host, const uint8_t *bytes, size_t len);
    /**
     * Reports progress: `fraction` from 0 to 1 and a short NUL-terminated UTF-8 `note` (may be
     * NULL; cut to 200 characters), shown by `workqueue workers`. Cheap and thread-safe; only
     * during the call.
     */
    void (*report_progress)(void *host, double fraction, const char *note);
} workqueue_plugin_context;

/** The table a plugin exports. Keep it in static storage. */
typedef struct workqueue_plugin {
    /** Must be WORKQUEUE_PLUGIN_ABI_VERSION. */
    uint32_t abi_version;
    /** sizeof(workqueue_plugin) as the plugin was built. */
    uint32_t struct_size;
    /** The handler's name (e.g. "printer"), NUL-terminated, static. */
    const char *name;
    /** One line saying what the handler does, NUL-terminated, static; may be NULL. */
    const char *summary;

    /**
     * Builds the handler from `count` options (`keys[i]=values[i]`, NUL-terminated UTF-8).
     * On success stores the handler's state in `*state` (may be NULL) and returns 0. On failure
     * returns non-zero and may store a NUL-terminated message in `*error` (allocated by the
     * plugin, released by the host with `free_buffer`) naming the bad option.
     */
    int32_t (*create)(const char *const *keys, const char *const *values, size_t count,
                      void **state, char **error);

    /**
     * Handles one item: `len` bytes at `item` (not NUL-terminated; any bytes; `item` may be
     * NULL when `len` is 0).
     * Returns WORKQUEUE_PLUGIN_OK with an optional result in `*out`/`*out_len` (leave `*out`
     * NULL for no result; a result must be valid UTF-8: other bytes fail the attempt, and
     * `*out_len` above 256 MiB, e.g. SIZE_MAX, fails it unread), or non-zero (WORKQUEUE_PLUGIN_FAILED to have the item retried,
     * WORKQUEUE_PLUGIN_REJECTED to have it dead-lettered at once) with an optional error
     * message (UTF-8) in `*out`/`*out_len`. Both buffers are allocated by the plugin and
     * released by the host with `free_buffer`. `*cancelled` becomes non-zero when the host
     * asks the plugin to stop. Never call exit(): in `workqueue work` that is a crash
     * (status 70; the items come back through recovery), not a way to end the job.
     */
    int32_t (*handle)(void *state, const uint8_t *item, size_t len,
                      const workqueue_plugin_context *context,
                      const volatile int32_t *cancelled, uint8_t **out, size_t *out_len);

    /** Releases the state `create` made. Called once, after the last `handle` returned. */
    void (*destroy)(void *state);

    /** Releases a buffer the plugin returned through `out` or `error`. */
    void (*free_buffer)(void *buffer);
} workqueue_plugin;

/** The type of the entry symbol. */
typedef const workqueue_plugin *(*workqueue_plugin_entry_fn)(void);

/** Reads the cancellation flag (an atomic acquire load). */
static inline int workqueue_plugin_is_cancelled(const volatile int32_t *cancelled) {
    return __atomic_load_n(cancelled, __ATOMIC_ACQUIRE) != 0;
}

/** Host side: sets the cancellation flag (an atomic release store). */
static inline void workqueue_plugin_set_cancelled(volatile int32_t *cancelled) {
    __atomic_store_n(cancelled, 1, __ATOMIC_RELEASE);
}

/** Whether the host passed the progress and checkpoint fields (a host that predates them did not). */
static inline int workqueue_plugin_has_progress(const workqueue_plugin_context *context) {
    return context != NULL
        && context->struct_size >= offsetof(workqueue_plugin_context, report_progress) + sizeof(context->report_progress)
        && context->save_checkpoint != NULL && context->report_progress != NULL;
}

/** The checkpoint an earlier attempt saved (its length in `*len`), or NULL (none, or an older host). */
static inline const uint8_t *workqueue_plugin_checkpoint(const workqueue_plugin_context *context, size_t *len) {
    if (!workqueue_plugin_has_progress(context) || context->checkpoint == NULL) {
        if (len != NULL) *len = 0;
        return NULL;
    }
    if (len != NULL) *len = context->checkpoint_len;
    return context->checkpoint;
}

/** Saves a checkpoint: 0 saved, 1 over 65536 bytes (the previous one stays), -1 the host has none. */
static inline int32_t workqueue_plugin_save_checkpoint(const workqueue_plugin_context *context, const uint8_t *bytes,
                                                       size_t len) {
    if (!workqueue_plugin_has_progress(context)) return -1;
    return context->save_checkpoint(context->host, bytes, len);
}

/** Reports progress (`note` may be NULL); does nothing under a host that predates it. */
static inline void workqueue_plugin_report_progress(const workqueue_plugin_context *context, double fraction,
                                                    const char *note) {
    if (workqueue_plugin_has_progress(context)) context->report_progress(context->host, fraction, note);
}

/** Calls an entry function pointer found with dlsym (for hosts that cannot call C pointers). */
static inline const workqueue_plugin *workqueue_plugin_call_entry(void *entry) {
    return ((workqueue_plugin_entry_fn)entry)();
}

#ifdef __cplusplus
}
#endif

#endif /* WORKQUEUE_PLUGIN_H */
