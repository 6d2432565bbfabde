/* The `cellgate` command line: the engine the server runs, without a server.
 *
 *   cellgate policy lint DIR|FILE...   one file:line:col: message per error
 *   cellgate policy test DIR...        run test cases (a directory per case)
 *   cellgate review -f FILE|- --policies DIR [...]   objects or AdmissionReviews, reviewed
 *   cellgate plan --replicas N --policy FILE [--name POLICY]
 *   cellgate response show             an AdmissionReview response, readably
 *   cellgate completion bash|zsh, cellgate version | --version | --help
 *
 * Every command answers --help (its flags come from one table per command, which also
 * drives the completion scripts). The test case format is documented for users in
 * policies/README.md ("Test cases").
 *
 * Exit codes: 0 success (a denial printed by `review` included), 1 a failed lint, test or
 * plan, or an input that got no review, 2 a usage error. */
#ifndef CG_CLI_H
#define CG_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Runs one command line (argv[0] is the program name). Reads stdin from in, writes results
 * to out and diagnostics to err. Returns the exit code. */
int cg_cli_run(int argc, char **argv, FILE *in, FILE *out, FILE *err);

/* Runs the test case in case_dir, writing "PASS name" or "FAIL name: why" (with a JSON
 * diff when an object differs) to report. Returns true when it passed. */
bool cg_cli_case_run(const char *case_dir, FILE *report);

/* Parses an RFC 3339 time ("2026-11-26T10:00:00Z", "...T11:00:00.5+01:00") into unix
 * seconds (fractions dropped). Returns false when s is not one. */
bool cg_cli_time_decode(const char *s, long long *out);

#endif
