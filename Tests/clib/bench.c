/*
 * How long one evaluation takes through libflagstaff, from the caller's JSON context to the
 * result JSON in the caller's buffer (context parsing and result encoding included).
 *
 *   bench SNAPSHOT_JSON FLAG CONTEXT_JSON [ROUNDS]
 *
 * Prints the median, fastest and slowest of ROUNDS rounds (default 201) of 2,000 evaluations
 * each, in nanoseconds per evaluation, then the same for evaluating every flag.
 */
#include "flagstaff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 2000

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void measure(const char *what, flagstaff_engine *engine, const char *flag, const char *context, int rounds) {
    static char buffer[1 << 16];
    size_t length = strlen(context);
    double *samples = malloc(sizeof(double) * (size_t)rounds);
    for (int i = 0; i < BATCH; i++) /* warm up */
        flag ? flagstaff_evaluate(engine, flag, context, length, buffer, sizeof buffer)
             : flagstaff_evaluate_all(engine, context, length, buffer, sizeof buffer);
    for (int r = 0; r < rounds; r++) {
        double start = now_ns();
        for (int i = 0; i < BATCH; i++) {
            int64_t n = flag ? flagstaff_evaluate(engine, flag, context, length, buffer, sizeof buffer)
                             : flagstaff_evaluate_all(engine, context, length, buffer, sizeof buffer);
            if (n < 0) {
                fprintf(stderr, "buffer too small\n");
                exit(1);
            }
        }
        samples[r] = (now_ns() - start) / BATCH;
    }
    qsort(samples, (size_t)rounds, sizeof(double), compare);
    printf("%-40s median %7.0f ns   min %7.0f   max %7.0f   (%d × %d)\n", what, samples[rounds / 2], samples[0],
        samples[rounds - 1], rounds, BATCH);
    free(samples);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s SNAPSHOT_JSON FLAG CONTEXT_JSON [ROUNDS]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 4 ? atoi(argv[4]) : 201;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *json = malloc((size_t)size);
    if (fread(json, 1, (size_t)size, f) != (size_t)size) return 2;
    fclose(f);
    char *error = NULL;
    flagstaff_engine *engine = flagstaff_engine_new(json, (size_t)size, &error);
    if (!engine) {
        fprintf(stderr, "%s\n", error);
        return 1;
    }
    char *answer = flagstaff_evaluate_alloc(engine, argv[2], argv[3], strlen(argv[3]));
    printf("libflagstaff %s, %s\n%s\n", flagstaff_version(), flagstaff_engine_version(engine), answer);
    flagstaff_string_free(answer);
    char label[256];
    snprintf(label, sizeof label, "flagstaff_evaluate %s", argv[2]);
    measure(label, engine, argv[2], argv[3], rounds);
    measure("flagstaff_evaluate_all", engine, NULL, argv[3], rounds);
    flagstaff_engine_free(engine);
    return 0;
}
