/*
 * Runs the shared vectors (Tests/Vectors/, see its README.md) through libflagstaff and
 * compares bytes; then the same cases from several threads on shared engines, the buffer
 * convention, the *_alloc functions, malformed contexts and a bad snapshot's error text.
 *
 *   vectors VECTOR_DIR [THREADS]
 *
 * Exits 0 when everything agrees, 1 otherwise (printing the first differences).
 */
#include "flagstaff.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SNAPSHOTS 256
#define BUFFER_SIZE (1 << 20)

static int failures = 0;

static void fail(const char *what, const char *detail) {
    if (failures++ < 10) fprintf(stderr, "FAIL %s\n  %s\n", what, detail ? detail : "");
}

static char *read_file(const char *path, size_t *length) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (fread(data, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(data);
        return NULL;
    }
    fclose(f);
    data[size] = 0;
    if (length) *length = (size_t)size;
    return data;
}

/* MARK: Reading canonical JSON lines, just enough for the vectors */

typedef struct {
    const char *start;
    size_t length;
} span;

static const char *skip_string(const char *p) {
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\') p++;
    return *p ? p + 1 : p;
}

static const char *skip_value(const char *p) {
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (*p) {
            if (*p == '"') {
                p = skip_string(p);
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            if (*p == '}' || *p == ']') {
                if (--depth == 0) return p + 1;
            }
            p++;
        }
        return p;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']' && *p != '\n') p++;
    return p;
}

/* The value of member `key` of the object on this line (raw JSON), or a NULL start. */
static span member(const char *line, const char *key) {
    span none = {NULL, 0};
    size_t key_length = strlen(key);
    const char *p = line + 1;
    while (*p == '"') {
        const char *name = p + 1;
        const char *name_end = skip_string(p) - 1;
        p = name_end + 2; /* past the quote and the colon */
        const char *end = skip_value(p);
        if ((size_t)(name_end - name) == key_length && memcmp(name, key, key_length) == 0) {
            span found = {p, (size_t)(end - p)};
            return found;
        }
        p = end;
        if (*p == ',') p++;
    }
    return none;
}

static void put_utf8(char **out, unsigned code) {
    char *o = *out;
    if (code < 0x80) {
        *o++ = (char)code;
    } else if (code < 0x800) {
        *o++ = (char)(0xC0 | (code >> 6));
        *o++ = (char)(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        *o++ = (char)(0xE0 | (code >> 12));
        *o++ = (char)(0x80 | ((code >> 6) & 0x3F));
        *o++ = (char)(0x80 | (code & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (code >> 18));
        *o++ = (char)(0x80 | ((code >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((code >> 6) & 0x3F));
        *o++ = (char)(0x80 | (code & 0x3F));
    }
    *out = o;
}

/* A JSON string's contents, unescaped, NUL-terminated, malloc'ed. */
static char *unescape(span s) {
    char *result = malloc(s.length + 1);
    char *o = result;
    const char *p = s.start + 1, *end = s.start + s.length - 1;
    while (p < end) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        p++;
        switch (*p) {
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned code = (unsigned)strtoul((char[]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
            p += 4;
            if (code >= 0xD800 && code < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
                unsigned low = (unsigned)strtoul((char[]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                p += 6;
            }
            put_utf8(&o, code);
            break;
        }
        default: *o++ = *p; /* \" \\ \/ */
        }
        p++;
    }
    *o = 0;
    return result;
}

/* MARK: Cases */

typedef struct {
    int snapshot; /* index into engines */
    char *flag;   /* NULL: all flags */
    span context;
    char *expected;
    size_t expected_length;
} vector;

static const char *directory;
static char *snapshot_ids[MAX_SNAPSHOTS];
static flagstaff_engine *engines[MAX_SNAPSHOTS];
static int snapshot_count = 0;

static int engine_for(span id_json) {
    char *id = unescape(id_json);
    for (int i = 0; i < snapshot_count; i++) {
        if (strcmp(snapshot_ids[i], id) == 0) {
            free(id);
            return i;
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/snapshots/%s.json", directory, id);
    size_t length;
    char *json = read_file(path, &length);
    if (!json) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    char *error = NULL;
    flagstaff_engine *engine = flagstaff_engine_new(json, length, &error);
    free(json);
    if (!engine) {
        fprintf(stderr, "%s: %s\n", path, error);
        exit(2);
    }
    if (strncmp(flagstaff_engine_version(engine), "sha256:", 7) != 0) fail("engine version", flagstaff_engine_version(engine));
    snapshot_ids[snapshot_count] = id;
    engines[snapshot_count] = engine;
    return snapshot_count++;
}

static vector *vectors = NULL;
static size_t vector_count = 0, vector_capacity = 0;

static void load(const char *name, int all) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    char *text = read_file(path, NULL);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    for (char *line = text; *line; ) {
        char *newline = strchr(line, '\n');
        if (newline) *newline = 0;
        if (*line == '{') {
            if (vector_count == vector_capacity) {
                vector_capacity = vector_capacity ? 2 * vector_capacity : 1024;
                vectors = realloc(vectors, vector_capacity * sizeof *vectors);
            }
            vector *v = &vectors[vector_count++];
            v->snapshot = engine_for(member(line, "snapshot"));
            v->flag = all ? NULL : unescape(member(line, "flag"));
            v->context = member(line, "context");
            v->expected = unescape(member(line, "expected"));
            v->expected_length = strlen(v->expected);
        }
        if (!newline) break;
        line = newline + 1;
    }
    /* `text` stays: the contexts point into it. */
}

static int64_t run(const vector *v, char *buffer, size_t capacity) {
    flagstaff_engine *engine = engines[v->snapshot];
    if (v->flag) return flagstaff_evaluate(engine, v->flag, v->context.start, v->context.length, buffer, capacity);
    return flagstaff_evaluate_all(engine, v->context.start, v->context.length, buffer, capacity);
}

static int agrees(const vector *v, const char *got, int64_t length) {
    return length == (int64_t)v->expected_length && memcmp(got, v->expected, v->expected_length) == 0 && got[length] == 0;
}

/* MARK: Threads */

static atomic_long thread_mismatches;

static void *evaluate_everything(void *argument) {
    long offset = (long)(size_t)argument;
    char *buffer = malloc(BUFFER_SIZE);
    for (size_t k = 0; k < vector_count; k++) {
        const vector *v = &vectors[(k + (size_t)offset * 997) % vector_count];
        int64_t length = run(v, buffer, BUFFER_SIZE);
        if (!agrees(v, buffer, length)) atomic_fetch_add(&thread_mismatches, 1);
    }
    free(buffer);
    return NULL;
}

/* MARK: Main */

static void expect_contains(const char *what, const char *text, const char *needle) {
    if (!text || !strstr(text, needle)) {
        char detail[1024];
        snprintf(detail, sizeof detail, "expected \"%s\" in: %s", needle, text ? text : "(NULL)");
        fail(what, detail);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s VECTOR_DIR [THREADS]\n", argv[0]);
        return 2;
    }
    directory = argv[1];
    int threads = argc > 2 ? atoi(argv[2]) : 8;
    printf("libflagstaff %s\n", flagstaff_version());

    load("cases.jsonl", 0);
    size_t single = vector_count;
    load("unleash.jsonl", 0);
    size_t unleash = vector_count - single;
    load("all.jsonl", 1);
    size_t all = vector_count - single - unleash;

    /* Every vector, byte for byte, into a buffer and allocated. */
    char *buffer = malloc(BUFFER_SIZE);
    size_t agreed = 0;
    for (size_t i = 0; i < vector_count; i++) {
        const vector *v = &vectors[i];
        int64_t length = run(v, buffer, BUFFER_SIZE);
        if (agrees(v, buffer, length)) {
            agreed++;
        } else {
            char detail[8192];
            snprintf(detail, sizeof detail, "flag %s context %.*s\n  expected %s\n  got      %s",
                v->flag ? v->flag : "(all)", (int)v->context.length, v->context.start, v->expected,
                length >= 0 ? buffer : "(buffer too small)");
            fail("vector", detail);
        }
        char *allocated = v->flag ? flagstaff_evaluate_alloc(engines[v->snapshot], v->flag, v->context.start, v->context.length)
                                  : flagstaff_evaluate_all_alloc(engines[v->snapshot], v->context.start, v->context.length);
        if (!allocated || strcmp(allocated, v->expected) != 0) fail("alloc", v->expected);
        flagstaff_string_free(allocated);
    }
    printf("vectors: %zu of %zu agree (%zu single, %zu Unleash, %zu all-flags)\n", agreed, vector_count, single, unleash, all);

    /* The buffer convention: one byte short writes nothing and asks for length + 1. */
    const vector *v = &vectors[0];
    size_t need = v->expected_length + 1;
    memset(buffer, 'Z', need);
    int64_t asked = run(v, buffer, need - 1);
    if (asked != -(int64_t)need) fail("a buffer one byte short answers -(length + 1)", v->expected);
    for (size_t i = 0; i < need; i++)
        if (buffer[i] != 'Z') {
            fail("a buffer too small is left alone", NULL);
            break;
        }
    if (run(v, NULL, 0) != -(int64_t)need) fail("NULL and 0 answer the size needed", NULL);
    if (run(v, buffer, need) != (int64_t)v->expected_length) fail("exactly length + 1 fits", NULL);

    /* Contexts: NULL and length 0 are {}; malformed ones are results, not failures. */
    flagstaff_engine *engine = engines[v->snapshot];
    char *empty = flagstaff_evaluate_alloc(engine, v->flag, NULL, 0);
    char *braces = flagstaff_evaluate_alloc(engine, v->flag, "{}", 2);
    if (!empty || !braces || strcmp(empty, braces) != 0) fail("NULL context is {}", empty);
    flagstaff_string_free(empty);
    flagstaff_string_free(braces);
    struct {
        const char *context, *code;
    } malformed[] = {
        {"{\"targetingKey\":", "\"errorCode\":\"PARSE_ERROR\""},
        {"not json", "\"errorCode\":\"PARSE_ERROR\""},
        {"[1,2]", "\"errorCode\":\"INVALID_CONTEXT\""},
        {"{\"targetingKey\":[\"a\"]}", "\"errorCode\":\"INVALID_CONTEXT\""},
    };
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        char *one = flagstaff_evaluate_alloc(engine, "any-flag", malformed[i].context, strlen(malformed[i].context));
        expect_contains("a malformed context's result", one, malformed[i].code);
        expect_contains("a malformed context's result names the key", one, "\"key\":\"any-flag\"");
        flagstaff_string_free(one);
        char *bulk = flagstaff_evaluate_all_alloc(engine, malformed[i].context, strlen(malformed[i].context));
        expect_contains("a malformed context's bulk answer", bulk, malformed[i].code);
        flagstaff_string_free(bulk);
    }
    /* Not NUL-terminated: only `length` bytes are read. */
    char *prefix = flagstaff_evaluate_alloc(engine, v->flag, "{}garbage", 2);
    if (!prefix || strstr(prefix, "PARSE_ERROR")) fail("only length bytes of the context are read", prefix);
    flagstaff_string_free(prefix);

    /* A bad snapshot: NULL, and a message saying what is wrong. */
    char *error = NULL;
    if (flagstaff_engine_new("{\"format\":", 10, &error) != NULL) fail("truncated snapshot loads", NULL);
    expect_contains("truncated snapshot's error", error, "the snapshot is not valid JSON");
    flagstaff_string_free(error);
    error = NULL;
    if (flagstaff_engine_new("{\"format\":1}", 12, &error) != NULL) fail("incomplete snapshot loads", NULL);
    expect_contains("incomplete snapshot's error", error, "not a Flagstaff snapshot");
    flagstaff_string_free(error);
    if (flagstaff_engine_new("[]", 2, NULL) != NULL) fail("a NULL error pointer is fine", NULL);
    flagstaff_engine_free(NULL);
    flagstaff_string_free(NULL);

    /* Every vector from several threads at once, on the same engines. */
    pthread_t ids[64];
    if (threads > 64) threads = 64;
    for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, evaluate_everything, (void *)(size_t)t);
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    long mismatches = atomic_load(&thread_mismatches);
    printf("threads: %d × %zu evaluations, %ld disagree\n", threads, vector_count, mismatches);
    if (mismatches) fail("concurrent evaluation", NULL);

    for (int i = 0; i < snapshot_count; i++) flagstaff_engine_free(engines[i]);
    free(buffer);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
