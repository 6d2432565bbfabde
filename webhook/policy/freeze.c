/* Freeze windows: is an instant inside one? */
#include "policy/policy.h"
#include "policy/tz.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Weekly windows are defined on the local wall clock: convert now to local wall seconds and
 * compare there, so an opening at 18:00 is at 18:00 whatever the offset that day, and a
 * window's end is a wall-clock time too. Windows last at most a week, so only openings of
 * the last seven days and today can contain now. */
static bool weekly_contains(const struct cg_freeze_window *w, int64_t now)
{
    int64_t local = now + (w->tz ? cg_tz_offset(w->tz, now) : 0);
    int64_t day = floor_div(local, 86400);
    for (int64_t k = 0; k <= 7; k++) {
        int64_t d = day - k;
        int wday = (int)(((d + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
        if (!(w->days & (1u << wday)))
            continue;
        int64_t open = d * 86400 + (int64_t)w->start_minute * 60;
        if (local >= open && local < open + (int64_t)w->duration_minutes * 60)
            return true;
    }
    return false;
}

bool cg_freeze_window_contains(const struct cg_freeze_window *w, int64_t now)
{
    if (w->kind == CG_FREEZE_ABSOLUTE)
        return now >= w->start && now < w->end;
    return weekly_contains(w, now);
}

const struct cg_freeze_window *cg_emergency_active_freeze(const struct cg_emergency *e, int64_t now)
{
    for (size_t i = 0; i < e->n_freezes; i++)
        if (cg_freeze_window_contains(&e->freezes[i], now))
            return &e->freezes[i];
    return NULL;
}
