/*
 * The chaos suite's wrong wall clock (scripts/chaos, fault 10), an LD_PRELOAD library built by
 * the suite with `cc -shared -fPIC`: clock_gettime(CLOCK_REALTIME[_COARSE]), gettimeofday()
 * and time() return the real time plus WALLSHIFT_SECONDS (a signed integer, read once at
 * load). Every other clock (monotonic, boottime) and every wait is left alone, so the process
 * sees a wall clock that is wrong the way a host's clock is wrong: consistently.
 *
 * Why not libfaketime: it also converts the deadlines of timed waits by its offset, and a
 * Swift process then misbehaves in ways no host with a wrong clock does: with a negative
 * offset its sleeps last the offset longer (a 1 s sleep under `faketime -f -60` arms a
 * CLOCK_MONOTONIC timer 61 s ahead), with a positive one its idle threads spin (1.3 s of system
 * CPU in 5 s of an idle worker under `faketime -f +3600`). docs/chaos.md.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long shift_seconds;
static int (*real_clock_gettime)(clockid_t, struct timespec *);

__attribute__((constructor)) static void wallshift_init(void) {
    const char *text = getenv("WALLSHIFT_SECONDS");
    shift_seconds = text != NULL ? strtol(text, NULL, 10) : 0;
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    if (real_clock_gettime == NULL) wallshift_init();
    int status = real_clock_gettime(id, ts);
    if (status == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) ts->tv_sec += shift_seconds;
    return status;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    int status = clock_gettime(CLOCK_REALTIME, &ts);
    (void)tz;
    if (status == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return status;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != NULL) *out = ts.tv_sec;
    return ts.tv_sec;
}
