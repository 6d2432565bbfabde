#ifndef CG_BASE_CLOCK_H
#define CG_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* The monotonic clock, for durations and deadlines (never for timestamps people read). */
static inline int64_t cg_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t cg_mono_ms(void)
{
    return cg_mono_us() / 1000;
}

#endif
