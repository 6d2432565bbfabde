/* Documents in and out: YAML or JSON files (several documents, as kubectl reads them) to
 * jansson values with the line of every key, libyaml's errors in words a person can act on,
 * and jansson values back out as YAML. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/mem.h"
#include "cli/cli_internal.h"

#define MAX_DEPTH 64
/* Values one document may expand to: aliases can make a small file huge ("billion laughs"). */
#define MAX_NODES 1000000

/* --- YAML to jansson ---------------------------------------------------------------------- */

static bool is_float(const char *s)
{
    /* YAML 1.2 core schema: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    bool digits = false;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

static json_t *yaml_scalar(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
            return json_true();
        if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
            return json_false();
        if (strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0 ||
            strcmp(s, "~") == 0 || len == 0)
            return json_null();
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (*end == '\0' && errno == 0 && end != s)
            return json_integer(v);
        if (is_float(s)) {
            double d = strtod(s, NULL);
            if (isfinite(d))
                return json_real(d);
        }
    }
    return json_stringn(s, len);
}

/* Escapes a key for a JSON pointer (RFC 6901). */
static void pointer_append(char *path, size_t cap, const char *key)
{
    size_t n = strlen(path);
    if (n + 1 < cap)
        path[n++] = '/';
    for (const char *k = key; *k && n + 2 < cap; k++) {
        if (*k == '~' || *k == '/') {
            path[n++] = '~';
            path[n++] = *k == '~' ? '0' : '1';
        } else {
            path[n++] = *k;
        }
    }
    path[n] = '\0';
}

/* lines (may be NULL) gets "pointer" -> line of the node, for every node. */
static json_t *yaml_to_json(yaml_document_t *doc, const yaml_node_t *n, int depth, char *path,
                            json_t *lines, size_t *budget)
{
    if (n == NULL || depth > MAX_DEPTH || *budget == 0)
        return NULL;
    (*budget)--;
    if (lines != NULL)
        json_object_set_new(lines, path, json_integer((json_int_t)n->start_mark.line + 1));
    size_t plen = strlen(path);
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return yaml_scalar(n);
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        size_t idx = 0;
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
             i++, idx++) {
            char key[32];
            snprintf(key, sizeof(key), "%zu", idx);
            pointer_append(path, CG_CLI_PATH_LEN, key);
            json_t *v =
                yaml_to_json(doc, yaml_document_get_node(doc, *i), depth + 1, path, lines, budget);
            path[plen] = '\0';
            if (v == NULL) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            const yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k == NULL || k->type != YAML_SCALAR_NODE) {
                json_decref(o);
                return NULL;
            }
            const char *key = (const char *)k->data.scalar.value;
            pointer_append(path, CG_CLI_PATH_LEN, key);
            json_t *v = yaml_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1, path,
                                     lines, budget);
            if (lines != NULL) /* a key's line is where the key is written */
                json_object_set_new(lines, path, json_integer((json_int_t)k->start_mark.line + 1));
            path[plen] = '\0';
            if (v == NULL) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, key, v);
        }
        return o;
    }
    default:
        return NULL;
    }
}

/* libyaml's problem, said so that a person knows what to change. */
static void yaml_problem(const yaml_parser_t *parser, const char *data, size_t len, char *out,
                         size_t cap)
{
    const char *problem = parser->problem ? parser->problem : "malformed YAML";
    size_t at = parser->problem_mark.index;
    char c = at < len ? data[at] : '\0';
    if (c == '\t' || (strstr(problem, "tab") != NULL)) {
        snprintf(out, cap,
                 "a tab character: YAML indents with spaces only; replace the tab with "
                 "spaces");
    } else if (strcmp(problem, "mapping values are not allowed in this context") == 0) {
        snprintf(out, cap,
                 "unexpected ':' (a key indented deeper than the keys around it, or a value "
                 "holding \": \" that needs quotes)");
    } else if (strcmp(problem, "did not find expected key") == 0) {
        snprintf(out, cap,
                 "this line is not indented like the keys before it: the keys of one mapping "
                 "start in the same column");
    } else if (strcmp(problem, "did not find expected '-' indicator") == 0) {
        snprintf(out, cap,
                 "this line is not indented like the list items before it: the items of one "
                 "list start with '-' in the same column");
    } else if (strcmp(problem, "found character that cannot start any token") == 0) {
        snprintf(out, cap, "'%c' cannot start a value here: quote the value", c ? c : '?');
    } else if (parser->context != NULL) {
        snprintf(out, cap, "%s %s", parser->context, problem);
    } else {
        snprintf(out, cap, "%s", problem);
    }
}

static bool is_empty_document(yaml_document_t *doc)
{
    const yaml_node_t *root = yaml_document_get_root_node(doc);
    return root == NULL || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0 &&
                            root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
}

static enum cg_status yaml_documents(const char *name, const char *data, size_t len,
                                     struct cg__cli_docs *out, json_t *lines, struct cg_err *err)
{
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    enum cg_status st = CG_OK;
    char path[CG_CLI_PATH_LEN];
    for (size_t index = 1;; index++) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            char what[256];
            yaml_problem(&parser, data, len, what, sizeof(what));
            st = cg_err_set(err, CG_EPARSE, "%s: document %zu: line %d column %d: %s", name, index,
                            (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                            what);
            break;
        }
        if (yaml_document_get_root_node(&doc) == NULL) { /* the end of the stream */
            yaml_document_delete(&doc);
            break;
        }
        if (is_empty_document(&doc)) {
            yaml_document_delete(&doc);
            continue;
        }
        path[0] = '\0';
        const yaml_node_t *root = yaml_document_get_root_node(&doc);
        size_t budget = MAX_NODES;
        json_t *v = yaml_to_json(&doc, root, 0, path, lines, &budget);
        int line = (int)root->start_mark.line + 1;
        yaml_document_delete(&doc);
        if (v == NULL) {
            st = cg_err_set(err, CG_EINVAL,
                            "%s: document %zu (line %d): keys must be plain strings, nesting at "
                            "most %d deep and the document at most %d values (aliases included)",
                            name, index, line, MAX_DEPTH, MAX_NODES);
            break;
        }
        cg__cli_docs_add(out, v, index, line);
        if (lines != NULL) /* positions only for a one-document file */
            lines = NULL;
    }
    yaml_parser_delete(&parser);
    return st;
}

/* JSON: one value or several in a row (`kubectl get -o json` writes one). */
static enum cg_status json_documents(const char *name, const char *data, size_t len,
                                     struct cg__cli_docs *out, struct cg_err *err)
{
    size_t off = 0;
    for (size_t index = 1;; index++) {
        while (off < len && isspace((unsigned char)data[off]))
            off++;
        if (off == len)
            return CG_OK;
        json_error_t jerr;
        json_t *v = json_loadb(data + off, len - off,
                               JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
        if (v == NULL) {
            /* jansson counts lines within the slice it was given */
            int line = jerr.line;
            for (size_t i = 0; i < off; i++)
                line += data[i] == '\n';
            return cg_err_set(err, CG_EPARSE, "%s: document %zu: invalid JSON at line %d: %s", name,
                              index, line, jerr.text);
        }
        int line = 1;
        for (size_t i = 0; i < off; i++)
            line += data[i] == '\n';
        cg__cli_docs_add(out, v, index, line);
        off += (size_t)jerr.position;
    }
}

void cg__cli_docs_add(struct cg__cli_docs *d, json_t *v, size_t index, int line)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->items = cg_xrealloc(d->items, d->cap * sizeof(*d->items));
    }
    d->items[d->n++] = (struct cg__cli_doc){v, index, line};
}

void cg__cli_docs_dispose(struct cg__cli_docs *d)
{
    for (size_t i = 0; i < d->n; i++)
        json_decref(d->items[i].value);
    free(d->items);
    memset(d, 0, sizeof(*d));
}

enum cg_status cg__cli_docs_decode(const char *name, const char *data, size_t len,
                                   struct cg__cli_docs *out, json_t *lines, struct cg_err *err)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)data[i]))
        i++;
    out->yaml = !(i < len && (data[i] == '{' || data[i] == '['));
    if (!out->yaml)
        return json_documents(name, data, len, out, err);
    return yaml_documents(name, data, len, out, lines, err);
}

enum cg_status cg__cli_docs_load(const char *path, FILE *in, struct cg__cli_docs *out,
                                 json_t *lines, struct cg_err *err)
{
    const char *name = path;
    struct cg_buf data;
    cg_buf_init(&data, CG_CLI_INPUT_MAX);
    enum cg_status st;
    FILE *f = in;
    if (strcmp(path, "-") == 0) {
        name = "(stdin)";
    } else if ((f = fopen(path, "rb")) == NULL) {
        st = cg_err_set(err, CG_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    st = cg__cli_read_stream(f, &data);
    if (st == CG_ETOOBIG)
        cg_err_set(err, st, "%s: larger than %u MiB", name, CG_CLI_INPUT_MAX >> 20);
    else if (st != CG_OK)
        cg_err_set(err, st, "%s: cannot read: %s", name, strerror(errno));
    else
        st = cg__cli_docs_decode(name, data.data ? data.data : "", data.len, out, lines, err);
out:
    if (f != NULL && f != in)
        fclose(f);
    cg_buf_dispose(&data);
    return st;
}

json_t *cg__cli_yaml_load_json(const char *path, json_t *lines, struct cg_err *err)
{
    struct cg__cli_docs docs = {0};
    json_t *result = NULL;
    if (cg__cli_docs_load(path, NULL, &docs, lines, err) != CG_OK)
        goto out;
    if (docs.n != 1 || !json_is_object(docs.items[0].value)) {
        cg_err_set(err, CG_EINVAL, "%s: expected one mapping of keys and values", path);
        goto out;
    }
    result = json_incref(docs.items[0].value);
out:
    cg__cli_docs_dispose(&docs);
    return result;
}

/* --- jansson to YAML ---------------------------------------------------------------------- */

/* Can s be written plain and read back as the same string? */
static bool plain_ok(const char *s)
{
    static const char *const reserved[] = {
        "true", "false", "True", "False", "TRUE", "FALSE", "null", "Null", "NULL",
        "~",    "yes",   "no",   "Yes",   "No",   "YES",   "NO",   "on",   "off",
        "On",   "Off",   "ON",   "OFF",   "y",    "n",     "Y",    "N",    NULL};
    if (*s == '\0' || isspace((unsigned char)*s) || isspace((unsigned char)s[strlen(s) - 1]))
        return false;
    for (const char *const *r = reserved; *r; r++)
        if (strcmp(s, *r) == 0)
            return false;
    /* an indicator, or a start that may read as a number, a date or a time: quote */
    if (*s != '/' && strchr("-?:,[]{}#&*!|>'\"%@`.+0123456789", *s) != NULL)
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            return false;
        if ((c == ':' && (p[1] == ' ' || p[1] == '\0')) || (c == ' ' && p[1] == '#'))
            return false;
    }
    return true;
}

static void emit_string(const char *s, FILE *out)
{
    if (plain_ok(s)) {
        fputs(s, out);
        return;
    }
    /* A JSON string is a valid YAML double-quoted scalar. */
    json_t *v = json_string(s);
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    fputs(text ? text : "\"\"", out);
    cg__cli_jfree(text);
    json_decref(v);
}

static void emit_scalar(const json_t *v, FILE *out)
{
    if (json_is_string(v)) {
        emit_string(json_string_value(v), out);
    } else {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        fputs(text ? text : "null", out);
        cg__cli_jfree(text);
    }
}

static bool is_empty_container(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

static void emit_node(const json_t *v, int indent, FILE *out);

/* After "key:" or "- ": a scalar or an empty container on the same line, else a new line. */
static void emit_value(const json_t *v, int indent, FILE *out)
{
    if (is_empty_container(v)) {
        fputs(json_is_object(v) ? " {}\n" : " []\n", out);
    } else if (json_is_object(v)) {
        fputc('\n', out);
        emit_node(v, indent + 2, out);
    } else if (json_is_array(v)) {
        fputc('\n', out);
        emit_node(v, indent, out); /* list items under a key at the key's column (kubectl) */
    } else {
        fputc(' ', out);
        emit_scalar(v, out);
        fputc('\n', out);
    }
}

static void emit_node(const json_t *v, int indent, FILE *out)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            fprintf(out, "%*s", indent, "");
            emit_string(k, out);
            fputc(':', out);
            emit_value(x, indent, out);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            fprintf(out, "%*s-", indent, "");
            if (json_is_object(x) && json_object_size(x) > 0) {
                /* the first key on the dash's line, the others below it */
                bool first = true;
                const char *k;
                json_t *y;
                json_object_foreach(x, k, y)
                {
                    fprintf(out, "%*s", first ? 1 : indent + 2, "");
                    first = false;
                    emit_string(k, out);
                    fputc(':', out);
                    emit_value(y, indent + 2, out);
                }
            } else if (json_is_array(x) && json_array_size(x) > 0) {
                fputc('\n', out);
                emit_node(x, indent + 2, out);
            } else {
                emit_value(x, indent, out);
            }
        }
    } else {
        fprintf(out, "%*s", indent, "");
        emit_scalar(v, out);
        fputc('\n', out);
    }
}

void cg__cli_yaml_emit(const json_t *v, FILE *out)
{
    if (is_empty_container(v))
        fputs(json_is_object(v) ? "{}\n" : "[]\n", out);
    else
        emit_node(v, 0, out);
}
