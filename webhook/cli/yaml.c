/* YAML documents (case files) to jansson values. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "cli/cli_internal.h"

/* --- YAML (case files) to jansson --------------------------------------------------------- */

static json_t *yaml_scalar(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (strcmp(s, "true") == 0)
            return json_true();
        if (strcmp(s, "false") == 0)
            return json_false();
        if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || len == 0)
            return json_null();
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (*end == '\0' && errno == 0 && end != s)
            return json_integer(v);
    }
    return json_stringn(s, len);
}

static json_t *yaml_to_json(yaml_document_t *doc, const yaml_node_t *n, int depth)
{
    if (n == NULL || depth > 64)
        return NULL;
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return yaml_scalar(n);
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
             i++) {
            json_t *v = yaml_to_json(doc, yaml_document_get_node(doc, *i), depth + 1);
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
            json_t *v = yaml_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
            if (k == NULL || k->type != YAML_SCALAR_NODE || v == NULL) {
                json_decref(v);
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, (const char *)k->data.scalar.value, v);
        }
        return o;
    }
    default:
        return NULL;
    }
}

json_t *cg__cli_yaml_load_json(const char *path, struct cg_err *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        cg_err_set(err, CG_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    json_t *result = NULL;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        cg_err_set_at(err, CG_EPARSE, path, (int)parser.problem_mark.line + 1,
                      (int)parser.problem_mark.column + 1, "%s",
                      parser.problem ? parser.problem : "malformed YAML");
        goto out_parser;
    }
    result = yaml_to_json(&doc, yaml_document_get_root_node(&doc), 0);
    if (result == NULL || !json_is_object(result)) {
        json_decref(result);
        result = NULL;
        cg_err_set(err, CG_EINVAL, "%s: expected a mapping of plain keys and values", path);
    }
    yaml_document_delete(&doc);
out_parser:
    yaml_parser_delete(&parser);
    fclose(f);
    return result;
}
