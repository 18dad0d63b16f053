/* Log-linear histogram (HDR-like, no dependency).
 *
 * Values below 128 are counted exactly; above, each power of two is split into 64
 * linear sub-buckets, so a reported percentile is within 1/64 (1.6 %) of the true
 * value. Values up to 2^48 (about 78 hours in nanoseconds) are kept; larger ones
 * land in the last bucket. The unit is the caller's (the load generator uses ns).
 */
#ifndef LOADGEN_HIST_H
#define LOADGEN_HIST_H

#include <stdint.h>
#include <string.h>

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)            /* 64 sub-buckets per power of two */
#define HIST_LIN (2u * HIST_SUB)                  /* 0..127 counted exactly */
#define HIST_MAX_MSB 47
#define HIST_BUCKETS (HIST_LIN + (HIST_MAX_MSB - HIST_SUB_BITS) * HIST_SUB)

typedef struct hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t n;
    uint64_t min, max;
    double sum;
} hist_t;

static inline void hist_reset(hist_t *h) { memset(h, 0, sizeof *h); }

static inline unsigned hist_index(uint64_t v) {
    if (v < HIST_LIN) return (unsigned)v;
    int msb = 63 - __builtin_clzll(v);
    if (msb > HIST_MAX_MSB) return HIST_BUCKETS - 1;
    int shift = msb - (int)HIST_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift); /* 64..127 */
    return HIST_LIN + (unsigned)(msb - (int)HIST_SUB_BITS - 1) * HIST_SUB + (sub - HIST_SUB);
}

/* Midpoint of a bucket. */
static inline uint64_t hist_value(unsigned idx) {
    if (idx < HIST_LIN) return idx;
    unsigned k = idx - HIST_LIN;
    int msb = (int)(k / HIST_SUB) + (int)HIST_SUB_BITS + 1;
    uint64_t sub = (uint64_t)(k % HIST_SUB) + HIST_SUB;
    int shift = msb - (int)HIST_SUB_BITS;
    return (sub << shift) + ((1ull << shift) >> 1);
}

static inline void hist_add(hist_t *h, uint64_t v) {
    h->count[hist_index(v)]++;
    if (h->n == 0 || v < h->min) h->min = v;
    if (v > h->max) h->max = v;
    h->n++;
    h->sum += (double)v;
}

/* p in [0,1]; returns 0 for an empty histogram. */
static inline uint64_t hist_pct(const hist_t *h, double p) {
    if (h->n == 0) return 0;
    uint64_t rank = (uint64_t)(p * (double)h->n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > h->n) rank = h->n;
    uint64_t acc = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        acc += h->count[i];
        if (acc >= rank) {
            uint64_t v = hist_value(i);
            if (v > h->max) v = h->max;
            if (v < h->min) v = h->min;
            return v;
        }
    }
    return h->max;
}

static inline double hist_mean(const hist_t *h) { return h->n ? h->sum / (double)h->n : 0.0; }

#endif
