/* Small file helpers. */
#ifndef CG_BASE_FILE_H
#define CG_BASE_FILE_H

#include <stddef.h>
#include <time.h>

#include "base/buf.h"
#include "base/status.h"

/* Reads the whole file into out (appending). CG_ETOOBIG past max_bytes (0: no limit). */
enum cg_status cg_file_read(const char *path, size_t max_bytes, struct cg_buf *out,
                            struct cg_err *err);

/* A cheap fingerprint of a file's current content identity (device, inode, size, mtime),
 * following symlinks, so a Kubernetes Secret or ConfigMap mount that swaps its ..data link
 * shows as a change. Returns 0 when the file cannot be stat'ed. */
unsigned long long cg_file_fingerprint(const char *path);

#endif
