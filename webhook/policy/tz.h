/* Time zones for weekly freeze windows, read from TZif files (RFC 8536, version 2 or later).
 *
 * libc's localtime has one process-wide zone, so it cannot answer "what is the offset in
 * Europe/London" from a worker thread. struct cg_tz holds one zone's transitions and the
 * POSIX TZ rule from the file's footer, which decides instants past the last transition.
 * A loaded zone is immutable: any thread may query it. */
#ifndef CG_POLICY_TZ_H
#define CG_POLICY_TZ_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

#define CG_TZ_DEFAULT_DIR "/usr/share/zoneinfo"

struct cg_tz;

/* Is name a plausible IANA zone name: relative, made of [A-Za-z0-9_+-] components separated
 * by '/', no "." or ".." component, at most 128 bytes? Says nothing of whether it exists. */
bool cg_tz_name_valid(const char *name);

/* Loads zone name from dir (NULL: CG_TZ_DEFAULT_DIR). "UTC" and "Etc/UTC" load even when the
 * file is missing (images without tzdata). CG_EINVAL for a bad name, CG_ENOTFOUND for an
 * unknown zone, CG_EPARSE for a file that is not TZif v2+. *out is owned by the caller. */
enum cg_status cg_tz_load(const char *dir, const char *name, struct cg_tz **out,
                          struct cg_err *err);

/* Decodes a TZif v2+ image (tests feed hand-made ones). */
enum cg_status cg_tz_decode(const unsigned char *data, size_t len, struct cg_tz **out,
                            struct cg_err *err);

void cg_tz_destroy(struct cg_tz *tz);

/* Offset from UTC in seconds (east positive) in force at unix time t. */
int32_t cg_tz_offset(const struct cg_tz *tz, int64_t t);

#endif
