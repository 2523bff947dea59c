/*
 * Exact RobustMPC plan search: a depth-first branch and bound in C.
 *
 * Optional speed-up of abr/policies/mpc_search.py (loaded with ctypes by
 * abr/policies/mpc_kernel.py; the numpy search is used where this file could
 * not be compiled). It returns exactly what mpc_search.brute_force_plan
 * returns, ties included:
 *
 * - every plan's score is computed with brute_force_plan's floating-point
 *   operations in its order (the prefix state of a depth-first walk is the
 *   same sequence of IEEE double operations as a from-scratch loop), so
 *   scores are bit for bit the reference's (compile without -ffast-math and
 *   with -ffp-contract=off: no fused multiply-add);
 * - the best is replaced on a greater score, or on an equal one that comes
 *   first (last, when last_wins) in lexicographic order (chunk 0 most
 *   significant): the reference's tie rule, whatever the visiting order;
 *   the plans that keep one rung throughout are scored first, as the
 *   incumbent;
 * - a subtree is skipped only when an upper bound on every plan in it is
 *   below the best score found by more than a rounding margin, so no plan
 *   that could win or tie is skipped. Bound at a node: the rebuffer so far
 *   plus the least rebuffer any completion can add (each remaining chunk at
 *   its fastest download: rebuffer is non-decreasing in every download
 *   time), the bitrate so far plus, for m remaining chunks, (m - 1) x the top
 *   bitrate + the current one (a completion that peaks at rung p pays at
 *   least p - current in switches), and the switches so far.
 */

#include <limits.h>
#include <math.h>

#define MAX_H 16
#define MAX_N 64

static double score_of(int pensieve, double bsum, double ssum, double reb, double unit,
                       double penalty) {
    if (pensieve) {
        return (bsum / unit - penalty * reb) - ssum / unit;
    }
    return (bsum - ssum) / unit - penalty * reb;
}

/* The reference's choice between two plans: the higher score; on equal scores the
   first (or, last_wins, the last) in lexicographic order. */
static int better(double sc, long long lx, double best, long long best_lex, int last_wins) {
    if (sc > best) return 1;
    if (sc == best && best_lex >= 0) return last_wins ? lx > best_lex : lx < best_lex;
    return sc == best;
}

/* One chunk of the reference's buffer recursion (its operations, in its order): a
   download of d seconds from buffer *buf stalls d - *buf when longer, then the buffer
   (floored at 0) gains one segment. */
static inline void download(double *buf, double *reb, double d, double seg) {
    if (*buf < d) {
        *reb += d - *buf;
        *buf = 0.0;
    } else {
        *buf -= d;
    }
    *buf += seg;
}

/* The least rebuffer chunks k..h-1 can add from buffer `buf`: each at its fastest. */
static double least_rebuffer(int k, int h, const double *fastest, double buf, double seg) {
    double reb = 0.0;
    for (int j = k; j < h; j++) {
        download(&buf, &reb, fastest[j], seg);
    }
    return reb;
}

/* Interface version, checked by the loader (a stale build is not used). */
int abrkit_mpc_kernel_abi(void) { return 2; }

/*
 * dl: h * n download seconds, row-major (dl[k * n + r]); rates: n bitrates.
 * Returns the best plan's score and writes its lexicographic index (chunk 0
 * most significant) to *best_lex_out; -1 there (and NaN returned) when the
 * arguments are out of range or no score is a number.
 */
double abrkit_mpc_search(int h, int n, const double *dl, const double *rates, double buffer_s,
                         double segment_s, int last_rung, int pensieve, int last_wins,
                         double penalty, double unit, long long *best_lex_out) {
    *best_lex_out = -1;
    if (h < 1 || h > MAX_H || n < 1 || n > MAX_N || last_rung < 0 || last_rung >= n) {
        return NAN;
    }
    long long plans = 1; /* lexicographic indices must fit */
    for (int k = 0; k < h; k++) {
        if (plans > LLONG_MAX / n) return NAN;
        plans *= n;
    }
    double fastest[MAX_H];
    double top_rate = rates[0];
    double magnitude = fabs(buffer_s) + 1.0;
    for (int r = 1; r < n; r++) {
        if (rates[r] > top_rate) top_rate = rates[r];
    }
    for (int k = 0; k < h; k++) {
        double f = dl[k * n];
        double s = dl[k * n];
        for (int r = 1; r < n; r++) {
            double d = dl[k * n + r];
            if (d < f) f = d;
            if (d > s) s = d;
        }
        fastest[k] = f;
        magnitude += fabs(s) + segment_s;
    }
    double rate_scale = 0.0;
    for (int r = 0; r < n; r++) rate_scale += fabs(rates[r]);
    /* far above the rounding of any score or bound here (a few ulps of these sizes) */
    double margin = 1e-9 * (3.0 * h * rate_scale / unit + penalty * magnitude + 1.0);

    /* depth-first state per depth: the brute-force loop's variables before chunk k */
    double buf[MAX_H + 1], reb[MAX_H + 1], bsum[MAX_H + 1], ssum[MAX_H + 1];
    int last[MAX_H + 1], choice[MAX_H];
    long long lex[MAX_H + 1];
    buf[0] = buffer_s;
    reb[0] = 0.0;
    bsum[0] = 0.0;
    ssum[0] = 0.0;
    last[0] = last_rung;
    lex[0] = 0;

    /* incumbent: the best plan that keeps one rung throughout (the same exact scores
       as when the walk meets them again; the tie rule below is order-independent) */
    double best = -INFINITY;
    long long best_lex = -1;
    for (int r = 0; r < n; r++) {
        double b = buffer_s, rb = 0.0, bs = 0.0, ss = 0.0;
        int prev = last_rung;
        long long lx = 0;
        for (int j = 0; j < h; j++) {
            download(&b, &rb, dl[j * n + r], segment_s);
            bs += rates[r];
            ss += fabs(rates[r] - rates[prev]);
            prev = r;
            lx = lx * n + r;
        }
        double sc = score_of(pensieve, bs, ss, rb, unit, penalty);
        if (better(sc, lx, best, best_lex, last_wins)) {
            best = sc;
            best_lex = lx;
        }
    }
    int k = 0;
    choice[0] = -1;
    while (k >= 0) {
        int c = ++choice[k];
        if (c >= n) {
            k--;
            continue;
        }
        double b = buf[k], rb = reb[k];
        download(&b, &rb, dl[k * n + c], segment_s);
        double bs = bsum[k] + rates[c];
        double ss = ssum[k] + fabs(rates[c] - rates[last[k]]);
        long long lx = lex[k] * n + c;
        if (k == h - 1) {
            double sc = score_of(pensieve, bs, ss, rb, unit, penalty);
            if (better(sc, lx, best, best_lex, last_wins)) {
                best = sc;
                best_lex = lx;
            }
            continue;
        }
        {
            /* the completion's bitrate minus its switches is at most (rest - 1) * top +
               rate[c]: it has to climb from rate[c] to its highest rung */
            int rest = h - 1 - k;
            double up = (rest - 1) * top_rate + rates[c];
            double bound_reb = rb + least_rebuffer(k + 1, h, fastest, b, segment_s);
            double bound = ((bs + up) - ss) / unit - penalty * bound_reb;
            if (bound + margin < best) continue;
        }
        k++;
        buf[k] = b;
        reb[k] = rb;
        bsum[k] = bs;
        ssum[k] = ss;
        last[k] = c;
        lex[k] = lx;
        choice[k] = -1;
    }
    *best_lex_out = best_lex;
    return best_lex >= 0 ? best : NAN;
}

/*
 * The same search with the download table computed here, exactly as numpy's
 * ``table[rows, :n] / bytes_per_s`` does (one IEEE division per entry): row k
 * of the plan is row first + k of the size table (rows x cols, row-major),
 * clamped to the table (Pensieve's quirk reads one row past the end).
 */
double abrkit_mpc_search_sizes(int h, int n, const double *sizes, int rows, int cols, int first,
                               double bytes_per_s, const double *rates, double buffer_s,
                               double segment_s, int last_rung, int pensieve, int last_wins,
                               double penalty, double unit, long long *best_lex_out) {
    *best_lex_out = -1;
    if (h < 1 || h > MAX_H || n < 1 || n > MAX_N || n > cols || rows < 1) {
        return NAN;
    }
    double dl[MAX_H * MAX_N];
    for (int k = 0; k < h; k++) {
        int row = first + k;
        if (row < 0) row = 0;
        if (row > rows - 1) row = rows - 1;
        const double *src = sizes + (long long)row * cols;
        for (int r = 0; r < n; r++) dl[k * n + r] = src[r] / bytes_per_s;
    }
    return abrkit_mpc_search(h, n, dl, rates, buffer_s, segment_s, last_rung, pensieve, last_wins,
                             penalty, unit, best_lex_out);
}
