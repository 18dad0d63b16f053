/* Small helpers shared by the C test programs: a growable string, JSON string escaping, a parser for the flat
 * argument arrays the tests send, and flushed line output for the Python driver. Plain C11 + POSIX. */
#ifndef SIO_TEST_UTIL_H
#define SIO_TEST_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio.h>

/* One line to stdout per call, whole and flushed (the driver reads lines as they come). */
static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;
static inline void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&say_lock);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&say_lock);
    va_end(ap);
}

/* A growable NUL-terminated string. Aborts when out of memory (test code). */
typedef struct {
    char *p;
    size_t len, cap;
} sb_t;

static inline void sb_append(sb_t *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->len + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void sb_puts(sb_t *b, const char *s) { sb_append(b, s, strlen(s)); }

static inline void sb_printf(sb_t *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    if ((size_t)n < sizeof small) {
        sb_append(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) abort();
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_append(b, big, (size_t)n);
    free(big);
}

/* Appends `s` as a JSON string ("null" for NULL). */
static inline void sb_json_string(sb_t *b, const char *s) {
    if (!s) {
        sb_puts(b, "null");
        return;
    }
    sb_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_append(b, esc, 2);
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_append(b, (const char *)&c, 1);
        }
    }
    sb_puts(b, "\"");
}

static inline void sb_free(sb_t *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Reads the leading elements of a JSON array made of simple strings (no escapes), integers and null, as the tests
 * send them: strings[i] gets a malloc'd copy (NULL for null), numbers[i] the integer. Stops at the first element of
 * another kind. Returns how many elements were read. */
#define ARGS_MAX 8
typedef struct {
    size_t count;
    char *strings[ARGS_MAX];
    long numbers[ARGS_MAX];
} flat_args_t;

static inline size_t flat_args_parse(flat_args_t *out, const char *json, size_t len) {
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < len && json[i] != '[') i++;
    i++;
    while (i < len && out->count < ARGS_MAX) {
        while (i < len && (json[i] == ' ' || json[i] == ',')) i++;
        if (i >= len) break;
        size_t k = out->count;
        if (json[i] == '"') {
            size_t start = ++i;
            while (i < len && json[i] != '"' && json[i] != '\\') i++;
            if (i >= len || json[i] != '"') break;
            out->strings[k] = malloc(i - start + 1);
            if (!out->strings[k]) abort();
            memcpy(out->strings[k], json + start, i - start);
            out->strings[k][i - start] = '\0';
            i++;
        } else if (len - i >= 4 && memcmp(json + i, "null", 4) == 0) {
            i += 4;
        } else if (json[i] == '-' || (json[i] >= '0' && json[i] <= '9')) {
            char *end;
            char number[32];
            size_t n = 0;
            while (i < len && n < sizeof number - 1 && (json[i] == '-' || (json[i] >= '0' && json[i] <= '9')))
                number[n++] = json[i++];
            number[n] = '\0';
            out->numbers[k] = strtol(number, &end, 10);
        } else {
            break;
        }
        out->count++;
    }
    return out->count;
}

static inline void flat_args_free(flat_args_t *a) {
    for (size_t k = 0; k < ARGS_MAX; k++) free(a->strings[k]);
}

/* The attachments of `args` as an array of sio_buffer_t (malloc'd; *n gets the count; NULL when none). */
static inline sio_buffer_t *args_buffers(const sio_args_t *args, size_t *n) {
    *n = sio_args_binary_count(args);
    if (*n == 0) return NULL;
    sio_buffer_t *b = calloc(*n, sizeof *b);
    if (!b) abort();
    for (size_t i = 0; i < *n; i++) b[i].data = sio_args_binary(args, i, &b[i].len);
    return b;
}

#endif
