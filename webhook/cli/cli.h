/* The `cellgate` command line: the engine the server runs, without a server.
 *
 *   cellgate policy lint DIR|FILE...      one file:line:col: message per error, exit 1
 *   cellgate policy test DIR              run test cases (a directory per case), exit 1 on
 *                                         any failure
 *   cellgate review --policies DIR [--path /mutate|/validate] [--now RFC3339] [--apply]
 *                   [--pods FILE]         AdmissionReview on stdin -> response on stdout;
 *                                         --pods: the cluster's pods (kubectl get pods -o
 *                                         json) the Pod rules count per cell
 *   cellgate plan --replicas N --policy FILE [--name POLICY]
 *   cellgate response show                AdmissionReview response on stdin, printed readably
 *   cellgate version | --help
 *
 * Exit codes: 0 success (a denial printed by `review` included), 1 a failed lint, test or
 * plan, or a review that produced no response, 2 a usage error.
 *
 * A test case is a directory holding case.yaml:
 *
 *   description: what it shows              # optional
 *   path: /mutate                           # default /validate
 *   now: "2026-12-24T10:00:00+01:00"        # default: the current time
 *   policies: policies                      # file or directory, relative to the case;
 *                                           # default: the case's policies/
 *   review: review.json                     # an AdmissionReview (default review.json), or
 *   resource: deployment.json               # an object, wrapped in a CREATE review
 *   oldResource: old.json                   # with resource: makes it an UPDATE
 *   userInfo: {username: alice, groups: [sre-oncall]}   # replaces request.userInfo
 *   dryRun: true                            # replaces request.dryRun
 *   (pods.json beside case.yaml, when there: the cluster's pods, as --pods reads them)
 *   expect:
 *     decision: patched                     # allowed|patched|denied|warned|audited
 *     allowed: true
 *     code: 403
 *     message: [Recreate, RollingUpdate]    # substrings of status.message
 *     warnings: [readinessProbe]            # substrings, one warning each, in order
 *     warningCount: 1
 *     auditAnnotations: {break-glass-user: alice}   # keys present with these values
 *     patched: expected.json                # the object after applying the patch
 *     patch: patch.json                     # the patch itself (compared as JSON)
 *     noPatch: true
 */
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
