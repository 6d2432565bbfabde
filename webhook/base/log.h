/* One JSON object per line on stderr: {"ts":..., "level":..., "msg":..., fields...}.
 * A line is built in a stack buffer and written with one write(2), so lines from several
 * threads never interleave. A thread that logs a line per request gathers them in a batch
 * instead and writes the batch once per event-loop turn: whole lines, at most PIPE_BUF bytes
 * per write, so batches do not interleave either. The minimum level is set once at startup. */
#ifndef CG_BASE_LOG_H
#define CG_BASE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum cg_log_level { CG_LOG_DEBUG, CG_LOG_INFO, CG_LOG_WARN, CG_LOG_ERROR };

/* Startup only (not thread-safe against concurrent logging). fd defaults to 2. */
void cg_log_setup(enum cg_log_level min_level, int fd);
int cg_log_enabled(enum cg_log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 on anything else. */
int cg_log_level_parse(const char *s);

/* A line longer than this is cut at a character boundary, its open string closed, and
 * "truncated":true added: still one valid JSON object. */
#define CG_LOG_LINE_MAX 2048

struct cg_log_line {
    char buf[CG_LOG_LINE_MAX];
    size_t len;
    int active;    /* 0 when the level is filtered out: the field calls do nothing */
    int truncated; /* a field did not fit: the line is cut there and marked */
    int in_string; /* writing a JSON string's content (to close it if cut) */
};

void cg_log_begin(struct cg_log_line *l, enum cg_log_level level, const char *msg);
void cg_log_str(struct cg_log_line *l, const char *key, const char *value);
void cg_log_strn(struct cg_log_line *l, const char *key, const char *value, size_t n);
void cg_log_int(struct cg_log_line *l, const char *key, int64_t value);
void cg_log_bool(struct cg_log_line *l, const char *key, int value);
void cg_log_end(struct cg_log_line *l);

/* Lines of one thread waiting for one write(2). CG_LOG_BATCH_MAX is Linux's PIPE_BUF: a write
 * of at most that many bytes to a pipe (a container's stderr) is atomic. */
#define CG_LOG_BATCH_MAX 4096

struct cg_log_batch {
    char buf[CG_LOG_BATCH_MAX];
    size_t len;
};

/* Ends the line into the batch, writing the batch first when the line does not fit. */
void cg_log_end_batched(struct cg_log_line *l, struct cg_log_batch *b);
/* Writes what the batch holds (nothing when empty) and empties it. */
void cg_log_batch_flush(struct cg_log_batch *b);

/* A line with only a message and optional key/value string pairs ending in NULL. */
void cg_log(enum cg_log_level level, const char *msg, ...);

#endif
