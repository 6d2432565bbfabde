/* Standard base64 (RFC 4648, with padding) on top of OpenSSL's EVP block coder. */
#ifndef CG_BASE_BASE64_H
#define CG_BASE_BASE64_H

#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

/* Appends the encoding of src to out. */
enum cg_status cg_base64_encode(const void *src, size_t n, struct cg_buf *out);
/* Appends the decoded bytes to out; CG_EPARSE on characters outside the alphabet or bad
 * padding. Whitespace is not accepted. */
enum cg_status cg_base64_decode(const char *src, size_t n, struct cg_buf *out);

#endif
