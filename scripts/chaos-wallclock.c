/*
 * The chaos suite's wall-clock shift (scripts/chaos, fault 10), an LD_PRELOAD library built
 * by the suite with `cc -shared -fPIC`: clock_gettime(CLOCK_REALTIME[_COARSE]),
 * gettimeofday() and time() return the real time plus WALLSHIFT_SECONDS (a signed integer);
 * every other clock (monotonic, boottime) and every wait is left alone, so the process sees
 * a wall clock that is wrong the way a host's clock is wrong: consistently.
 *
 * The suite uses it for the worker whose clock is behind. libfaketime (used for the worker
 * whose clock is ahead) also converts the deadlines of timed waits by its offset, and with a
 * negative offset a Swift process's sleeps then last that much longer (a 1 s sleep under
 * `faketime -f -60` arms a CLOCK_MONOTONIC timer 61 s ahead): an artifact of the library that
 * no real host has.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long shift_seconds(void) {
    const char *text = getenv("WALLSHIFT_SECONDS");
    return text != NULL ? strtol(text, NULL, 10) : 0;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *);
    if (real == NULL) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int status = real(id, ts);
    if (status == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) ts->tv_sec += shift_seconds();
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
