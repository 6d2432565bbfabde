/* Helpers shared by the test binaries: fixture paths, whole-file reads, jansson's
 * allocator routed through cmocka's so a missed json_decref fails the test by name. */
#ifndef CG_TEST_SUPPORT_H
#define CG_TEST_SUPPORT_H

#include <stddef.h>

/* Reads the file at path (aborts the test if it cannot). Caller frees. *len may be NULL. */
char *cg_test_read_file(const char *path, size_t *len);
/* Reads CG_FIXTURES "/" rel. */
char *cg_test_read_fixture(const char *rel, size_t *len);
/* "CG_FIXTURES/rel" in a static buffer (valid until the next call). */
const char *cg_test_fixture_path(const char *rel);
/* Makes jansson allocate with cmocka's test_malloc/test_free for the rest of the binary. */
void cg_test_jansson_use_cmocka(void);

#endif
