#include "base/base64.h"

#include <limits.h>

#include <openssl/evp.h>

enum cg_status cg_base64_encode(const void *src, size_t n, struct cg_buf *out)
{
    if (n > (size_t)INT_MAX / 2)
        return CG_ETOOBIG;
    size_t enc_len = 4 * ((n + 2) / 3);
    enum cg_status st = cg_buf_reserve(out, enc_len);
    if (st != CG_OK)
        return st;
    int w = EVP_EncodeBlock((unsigned char *)out->data + out->len, src, (int)n);
    out->len += (size_t)w;
    out->data[out->len] = '\0';
    return CG_OK;
}

enum cg_status cg_base64_decode(const char *src, size_t n, struct cg_buf *out)
{
    if (n % 4 != 0)
        return CG_EPARSE;
    if (n > (size_t)INT_MAX)
        return CG_ETOOBIG;
    size_t pad = 0;
    if (n >= 1 && src[n - 1] == '=')
        pad++;
    if (n >= 2 && src[n - 2] == '=')
        pad++;
    for (size_t i = 0; i + pad < n; i++) {
        char c = src[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return CG_EPARSE;
    }
    enum cg_status st = cg_buf_reserve(out, n / 4 * 3);
    if (st != CG_OK)
        return st;
    int w =
        EVP_DecodeBlock((unsigned char *)out->data + out->len, (const unsigned char *)src, (int)n);
    if (w < 0)
        return CG_EPARSE;
    /* EVP_DecodeBlock counts the padding bytes as zeros: drop them. */
    out->len += (size_t)w - pad;
    out->data[out->len] = '\0';
    return CG_OK;
}
