#include "base/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum cg_status cg_file_read(const char *path, size_t max_bytes, struct cg_buf *out,
                            struct cg_err *err)
{
    enum cg_status st = CG_OK;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cg_err_set(err, CG_EIO, "%s: %s", path, strerror(errno));
    char chunk[16384];
    size_t total = 0;
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        if (n == 0)
            break;
        total += n;
        if (max_bytes != 0 && total > max_bytes) {
            st = cg_err_set(err, CG_ETOOBIG, "%s: larger than %zu bytes", path, max_bytes);
            goto out;
        }
        st = cg_buf_append(out, chunk, n);
        if (st != CG_OK) {
            cg_err_set(err, st, "%s: too large", path);
            goto out;
        }
    }
    if (ferror(f))
        st = cg_err_set(err, CG_EIO, "%s: read error", path);
    else if (out->data == NULL)
        st = cg_buf_append(out, "", 0); /* an empty file still gives a valid string */
out:
    fclose(f);
    return st;
}

unsigned long long cg_file_fingerprint(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return 0;
    unsigned long long h = 1469598103934665603ULL;
    unsigned long long parts[5] = {(unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino,
                                   (unsigned long long)sb.st_size,
                                   (unsigned long long)sb.st_mtim.tv_sec,
                                   (unsigned long long)sb.st_mtim.tv_nsec};
    for (int i = 0; i < 5; i++) {
        h ^= parts[i];
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}
