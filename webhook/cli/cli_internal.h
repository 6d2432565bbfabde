/* What the files of webhook/cli/ share; not an API. One file per concern:
 *
 *   cli.c       dispatch, help, version, `policy lint`, the helpers below
 *   args.c      argument values (RFC 3339 times)
 *   review.c    `cellgate review`
 *   cases.c     `cellgate policy test`: the case runner
 *   plan_cmd.c  `cellgate plan`
 *   output.c    `cellgate response show`, the JSON diff
 *   yaml.c      YAML documents to jansson values
 *   pods.c      the --pods cluster source
 *
 * Ownership follows jansson: json_t results are new references the caller releases. */
#ifndef CG_CLI_INTERNAL_H
#define CG_CLI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/status.h"
#include "cli/cli.h"
#include "policy/policy.h"
#include "review/review.h"

#define CG_CLI_INPUT_MAX (64u * 1024 * 1024)
#define CG_CLI_RESPONSE_MAX (16u * 1024 * 1024)
#define CG_CLI_PATH_LEN 4096

struct cg_cli_pods;

/* Frees what jansson allocated (json_dumps), with whatever allocator jansson was given. */
void cg__cli_jfree(void *p);
/* Appends everything in to out (capped by out's cap). */
enum cg_status cg__cli_read_stream(FILE *in, struct cg_buf *out);
/* A cg_err_cb that prints file:line:col: message to the FILE * ud. */
void cg__cli_print_err(const struct cg_err *e, void *ud);
enum cg_status cg__cli_load_policies(const char *path, FILE *err, struct cg_policy_set **out);
bool cg__cli_is_file(const char *path);

/* Runs one review through the pipeline, with the pods' cluster source when pods is not NULL.
 * outcome's borrowed strings are cleared (they pointed into a scratch that is gone). */
enum cg_status cg__cli_review_once(const struct cg_policy_set *set, enum cg_review_path path,
                                   int64_t now, const char *body, size_t len,
                                   struct cg_cli_pods *pods, struct cg_buf *out,
                                   struct cg_review_outcome *outcome);
/* The response's patch applied to a copy of review's request.object (*patched: new
 * reference). err says why on failure. */
enum cg_status cg__cli_apply_response(const json_t *review, const json_t *response,
                                      json_t **patched, struct cg_err *err);

/* The YAML file at path as one JSON object (NULL with err set otherwise). */
json_t *cg__cli_yaml_load_json(const char *path, struct cg_err *err);

/* Prints up to *budget lines saying where got differs from want, below path. */
void cg__cli_diff_json(const char *path, const json_t *want, const json_t *got, FILE *report,
                       int *budget);

int cg__cli_review(int argc, char **argv, FILE *in, FILE *out, FILE *err);
int cg__cli_plan(int argc, char **argv, FILE *out, FILE *err);
int cg__cli_policy_test(const char *dir, FILE *out, FILE *err);
/* `cellgate response show`: an AdmissionReview response on in, printed readably to out. */
int cg__cli_response_show(FILE *in, FILE *out, FILE *err);

#endif
