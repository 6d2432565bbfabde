/* podcache_bench: what a LIST sync of the pod cache costs.
 *
 *   podcache_bench [PODS]      (default 100,000)
 *
 * Builds PODS realistic Pod objects (compact JSON of ~3.6 KB each, shaped like what a 1.26
 * apiserver returns for a running ReplicaSet pod the webhook placed: the controller-manager's
 * managedFields, a container with probes and a projected token volume, status with conditions and
 * a container status), all in one buffer as a LIST body would be. Then times
 * replace_begin + apply(ADDED) of each + replace_end, as the informer feeds a relist, and
 * prints seconds, pods/s, the cache's own byte count and the process RSS growth per pod.
 * Finally times the request path's view (counts of one owner) and a second relist over the
 * same pods (every record updated in place). Single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/podcache.h"

#define PODS_PER_OWNER 10
#define NAMESPACES 50
#define CELLS 3

static const char *const cell_names[CELLS] = {"cell-a", "cell-b", "cell-c"};

/* One pod; %s/%d fields are filled per pod. */
static const char pod_fmt[] =
    "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web-%08x-%05d\","
    "\"generateName\":\"web-%08x-\",\"namespace\":\"team-%02d\",\"uid\":\"%08x-%04x-4e7e-a2ab-"
    "%012x\",\"resourceVersion\":\"%d\",\"creationTimestamp\":\"2026-11-26T08:29:55Z\","
    "\"labels\":{\"app\":\"web\",\"cellgate.io/cell\":\"%s\",\"pod-template-hash\":\"%08x\"},"
    "\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":\"2026-11-26T08:00:00Z\"},"
    "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-"
    "%08x\",\"uid\":\"%08x-0d92-40ca-90a5-6656aa3abb59\",\"controller\":true,"
    "\"blockOwnerDeletion\":true}],\"finalizers\":[\"cellgate.io/drain-service\"],"
    "\"managedFields\":[{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\","
    "\"apiVersion\":\"v1\",\"time\":\"2026-11-26T08:29:55Z\",\"fieldsType\":\"FieldsV1\","
    "\"fieldsV1\":{\"f:metadata\":{\"f:generateName\":{},\"f:labels\":{\".\":{},\"f:app\":{},"
    "\"f:pod-template-hash\":{}},\"f:ownerReferences\":{\".\":{},\"k:{\\\"uid\\\":\\\"%08x-0d92-"
    "40ca-90a5-6656aa3abb59\\\"}\":{}}},\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\"
    "\"}\":{\".\":{},\"f:image\":{},\"f:imagePullPolicy\":{},\"f:name\":{},\"f:ports\":{},"
    "\"f:readinessProbe\":{},\"f:resources\":{},\"f:terminationMessagePath\":{}}},"
    "\"f:dnsPolicy\":{},\"f:restartPolicy\":{},\"f:schedulerName\":{},\"f:securityContext\":{},"
    "\"f:terminationGracePeriodSeconds\":{}}}}]},\"spec\":{\"volumes\":[{\"name\":\"kube-api-"
    "access-x%04x\","
    "\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":"
    "\"token\"}},{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":[{\"key\":\"ca.crt\","
    "\"path\":\"ca.crt\"}]}},{\"downwardAPI\":{\"items\":[{\"path\":\"namespace\",\"fieldRef\":{"
    "\"apiVersion\":\"v1\",\"fieldPath\":\"metadata.namespace\"}}]}}],\"defaultMode\":420}}],"
    "\"containers\":[{\"name\":\"web\",\"image\":\"registry.example.com/web:1.%d.0\",\"ports\":[{"
    "\"containerPort\":8080,\"protocol\":\"TCP\"}],\"resources\":{\"limits\":{\"memory\":"
    "\"256Mi\"},\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}},\"volumeMounts\":[{\"name\":"
    "\"kube-api-access-x%04x\",\"readOnly\":true,\"mountPath\":\"/var/run/secrets/kubernetes.io/"
    "serviceaccount\"}],\"readinessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":8080,"
    "\"scheme\":\"HTTP\"},\"timeoutSeconds\":1,\"periodSeconds\":5,\"successThreshold\":1,"
    "\"failureThreshold\":3},\"terminationMessagePath\":\"/dev/termination-log\","
    "\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":\"IfNotPresent\"}],"
    "\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":"
    "\"ClusterFirst\",\"serviceAccountName\":\"default\",\"nodeName\":\"node-%03d\","
    "\"securityContext\":{},\"schedulerName\":\"default-scheduler\",\"readinessGates\":[{"
    "\"conditionType\":\"cellgate.io/traffic-ready\"}]},\"status\":{\"phase\":\"Running\","
    "\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\",\"lastProbeTime\":null,"
    "\"lastTransitionTime\":\"2026-11-26T08:29:55Z\"},{\"type\":\"Ready\",\"status\":\"True\","
    "\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-11-26T08:30:02Z\"},{\"type\":"
    "\"ContainersReady\",\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":"
    "\"2026-11-26T08:30:01Z\"},{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastProbeTime\":"
    "null,\"lastTransitionTime\":\"2026-11-26T08:29:55Z\"},{\"type\":\"cellgate.io/traffic-ready\""
    ",\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-11-26T08:30:10Z\"}]"
    ",\"hostIP\":\"172.18.0.%d\",\"podIP\":\"10.244.%d.%d\",\"podIPs\":[{\"ip\":\"10.244.%d.%d\"}"
    "],\"startTime\":\"2026-11-26T08:29:55Z\",\"containerStatuses\":[{\"name\":\"web\",\"state\":"
    "{\"running\":{\"startedAt\":\"2026-11-26T08:29:58Z\"}},\"lastState\":{},\"ready\":true,"
    "\"restartCount\":0,\"image\":\"registry.example.com/web:1.%d.0\",\"imageID\":"
    "\"registry.example.com/web@sha256:%016x%016x%016x%016x\",\"containerID\":"
    "\"containerd://%016x%016x%016x%016x\",\"started\":true}],\"qosClass\":\"Burstable\"}}";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size in bytes (from /proc/self/statm). */
static size_t rss_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static uint32_t mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352d;
    x ^= x >> 15;
    x *= 0x846ca68b;
    x ^= x >> 16;
    return x;
}

static int pod_json(char *out, size_t cap, int i)
{
    uint32_t owner = mix((uint32_t)(i / PODS_PER_OWNER) + 1);
    uint32_t u = mix((uint32_t)i * 2 + 7), v = mix((uint32_t)i * 3 + 11);
    int ns = (i / PODS_PER_OWNER) % NAMESPACES, a = (i >> 8) & 255, b = i & 255;
    return snprintf(out, cap, pod_fmt, owner, i, owner, ns, u, v & 0xffff, v, 1000 + i,
                    cell_names[i % CELLS], owner, owner, owner, owner, u & 0xffff, i % 7,
                    u & 0xffff, i % 300, i % 250, a, b, a, b, i % 7, u, v, mix(u), mix(v), v, u,
                    mix(v), mix(u));
}

int main(int argc, char **argv)
{
    int pods = argc > 1 ? atoi(argv[1]) : 100000;
    if (pods <= 0) {
        fprintf(stderr, "usage: podcache_bench [PODS]\n");
        return 2;
    }
    /* The LIST body: every pod, back to back, offsets kept aside. */
    size_t cap = (size_t)pods * 4096, used = 0;
    char *body = malloc(cap);
    size_t *off = malloc(((size_t)pods + 1) * sizeof(*off));
    if (body == NULL || off == NULL)
        return 1;
    for (int i = 0; i < pods; i++) {
        int n = pod_json(body + used, cap - used, i);
        if (n < 0 || (size_t)n >= cap - used) {
            fprintf(stderr, "pod %d does not fit (%d bytes)\n", i, n);
            return 1;
        }
        off[i] = used;
        used += (size_t)n;
    }
    off[pods] = used;
    printf("pods: %d, JSON %.1f MB, %.0f bytes per pod\n", pods, (double)used / 1e6,
           (double)used / pods);

    size_t rss0 = rss_bytes();
    struct cg_podcache *pc = cg_podcache_create(NULL);
    double t0 = now_s();
    cg_podcache_replace_begin(pc);
    for (int i = 0; i < pods; i++)
        cg_podcache_apply(pc, CG_PODCACHE_ADDED, body + off[i], off[i + 1] - off[i]);
    cg_podcache_replace_end(pc);
    cg_podcache_set_synced(pc, true);
    double t1 = now_s();
    size_t rss1 = rss_bytes();

    struct cg_podcache_stats st;
    cg_podcache_stats(pc, &st);
    printf("sync (decode + insert): %.3f s, %.0f pods/s, %.0f MB/s\n", t1 - t0, pods / (t1 - t0),
           (double)used / 1e6 / (t1 - t0));
    printf("cache: %zu pods (%zu live, %zu owners, %llu ignored), %.1f MiB asked, %.0f bytes "
           "per pod\n",
           st.pods, st.live_pods, st.owners,
           (unsigned long long)(st.ignored_bad + st.ignored_unlabelled),
           (double)st.bytes / (1024.0 * 1024.0), (double)st.bytes / pods);
    printf("RSS growth: %.1f MiB, %.0f bytes per pod\n", (double)(rss1 - rss0) / (1024.0 * 1024.0),
           (double)(rss1 - rss0) / pods);

    /* The request path: one owner's counts. */
    struct cg_podcache_view view;
    char owner[64];
    long q = 1000000;
    uint64_t sink = 0;
    double t2 = now_s();
    for (long k = 0; k < q; k++) {
        snprintf(owner, sizeof(owner), "%08x-0d92-40ca-90a5-6656aa3abb59",
                 mix((uint32_t)(k % (pods / PODS_PER_OWNER + 1)) + 1));
        cg_podcache_view(pc, CG_STR_NULL, cg_str_from(owner), 0, &view);
        sink += view.n_cells;
    }
    double t3 = now_s();
    printf("view (one owner's counts, incl. snprintf of the key): %.0f ns each (%llu cells)\n",
           (t3 - t2) / (double)q * 1e9, (unsigned long long)sink);

    /* A relist over the same pods: every record is found and updated in place. */
    double t4 = now_s();
    cg_podcache_replace_begin(pc);
    for (int i = 0; i < pods; i++)
        cg_podcache_apply(pc, CG_PODCACHE_ADDED, body + off[i], off[i + 1] - off[i]);
    cg_podcache_replace_end(pc);
    double t5 = now_s();
    printf("relist of the same pods: %.3f s\n", t5 - t4);

    cg_podcache_destroy(pc);
    free(off);
    free(body);
    return st.pods == (size_t)pods ? 0 : 1;
}
