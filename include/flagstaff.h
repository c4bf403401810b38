/*
 * libflagstaff: Flagstaff's evaluation engine as a C library.
 *
 * Load a snapshot (the canonical JSON that `flagstaff compile` writes and that
 * GET /api/v1/snapshot serves), then evaluate one flag or all flags for a context given
 * as a JSON object. Results are the JSON objects that `flagstaff eval` prints and the
 * OFREP routes answer: {"key","value","variant","reason","metadata":{...}} and, on error,
 * {"key","errorCode","errorDetails",...}.
 *
 * Thread safety: an engine is immutable once made; any number of threads may evaluate
 * on one engine at once. Free it once, after every evaluation on it has returned.
 *
 * Memory: strings the library returns (errors, results from the *_alloc functions) are
 * the library's; release each with flagstaff_string_free. Inputs are borrowed for the
 * duration of the call only and need not be NUL-terminated (a length is passed).
 *
 * The caller needs no Swift: the library links the Swift standard library statically.
 */
#ifndef FLAGSTAFF_H
#define FLAGSTAFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flagstaff_engine flagstaff_engine;

/* The library's version, e.g. "0.1.0". Static; do not free. */
const char *flagstaff_version(void);

/*
 * Makes an engine from snapshot JSON. On failure returns NULL and, when `error` is not
 * NULL, sets *error to a message saying what is wrong (free it with
 * flagstaff_string_free).
 */
flagstaff_engine *flagstaff_engine_new(const char *snapshot_json, size_t length, char **error);

/* Frees an engine (NULL is fine). */
void flagstaff_engine_free(flagstaff_engine *engine);

/* The snapshot's version ("sha256:…"). Owned by the engine; valid until it is freed. */
const char *flagstaff_engine_version(const flagstaff_engine *engine);

/*
 * Evaluates flag `flag_key` (NUL-terminated) for the context `context_json` (a JSON
 * object; length bytes; NULL or length 0 means {}), writing the result JSON and a NUL
 * into `buffer`. Returns the length of the result without the NUL. When `capacity` is too
 * small, writes nothing and returns the negative of the capacity needed (length + 1), so
 * the caller can retry with a larger buffer. A malformed context is not a failure: the
 * result then carries errorCode PARSE_ERROR or INVALID_CONTEXT, as over OFREP.
 */
int64_t flagstaff_evaluate(
    const flagstaff_engine *engine, const char *flag_key, const char *context_json, size_t length,
    char *buffer, size_t capacity);

/* The same, into a string the library allocates (free with flagstaff_string_free). */
char *flagstaff_evaluate_alloc(
    const flagstaff_engine *engine, const char *flag_key, const char *context_json, size_t length);

/*
 * Evaluates every flag: {"flags":[result, ...]} in key order, as the bulk OFREP route
 * answers. Buffer convention as flagstaff_evaluate.
 */
int64_t flagstaff_evaluate_all(
    const flagstaff_engine *engine, const char *context_json, size_t length, char *buffer, size_t capacity);

char *flagstaff_evaluate_all_alloc(const flagstaff_engine *engine, const char *context_json, size_t length);

/* Frees a string the library returned (NULL is fine). */
void flagstaff_string_free(char *string);

#ifdef __cplusplus
}
#endif

#endif /* FLAGSTAFF_H */
