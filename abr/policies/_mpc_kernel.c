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
 * - a subtree is skipped only when an upper bound on every plan in it is
 *   below the best score found by more than a rounding margin, so no plan
 *   that could win or tie is skipped.
 *
 * Bound. At a node (chunks 0..k chosen, chunk k at rung c; buffer b, rebuffer
 * rb, bitrate sum bs and switch sum ss so far; m = h - 1 - k chunks remain)
 * a completion adds bitrates B, switches S (the first from c) and rebuffer R,
 * and the plan scores (bs + B - ss - S) / unit - penalty (rb + R) (both score
 * orders: the same real number, up to rounding). The buffer recursion is a
 * Lindley recursion: each stall refills the buffer by what it lacked, so after
 * the m downloads (D seconds in all) the buffer is b - D + m seg + R, and it
 * is at least one segment (every download adds one). Hence
 * R >= D - b - (m - 1) seg, and R >= 0; and for any lam in [0, penalty],
 * penalty R >= lam R >= lam (D - b - (m - 1) seg). So the completion's
 * B / unit - S / unit - penalty R is at most
 *   free[k][c] = max over completions of (B - S) / unit                 (R >= 0)
 *   debt_lam[k][c] + lam b, debt_lam[k][c] = max over completions of
 *     ((B - S) / unit - lam D) + lam (m - 1) seg                         (lam bound)
 * both computed exactly (real numbers) once per search by a backward pass over
 * the chunks (a max over the next chunk's rung, switch from the current one;
 * O(n) per chunk and table, see completion_tables), and the bound is
 * (bs - ss) / unit - penalty rb plus the least of free and the debt terms.
 * lam = penalty would charge every download second as a stall (a loose bound:
 * it credits the plan for the buffer it builds); a lam near what the ladder
 * gets per download second makes the bound tight where the buffer limits the
 * plan (the best plans dip a rung somewhere to avoid a stall): the tables use
 * 1.25 and 0.75 x price, price = (sum of bitrates / unit) / (sum of chunk 0's
 * download seconds) (the throughput in score per second), each capped at
 * penalty. Any lam in [0, penalty] is valid; the choice only decides how much
 * is pruned. Nodes bounded or scored per decision, h = 5: ~55 of 9,330 on
 * pensieve_train (6 rungs), ~210 of 111,110 on sabre_3glogs (10 rungs), where
 * the previous bound (the rebuffer of each chunk's fastest download) needed
 * ~320 and ~2,700.
 *
 * Rounding: every score and bound here is a sum of at most ~5 h + 10
 * rounded terms, each at most 3 h sum|rates| / unit + penalty (|buffer| + 1 +
 * sum over chunks of (largest |download| + |segment|)) (buffers, stalls and
 * download sums are bounded by the latter sum), so its rounding error is
 * below 1e-13 times that; the margin is 1e-9 times it. Non-finite inputs (or
 * sizes where that could overflow): no subtree is skipped (every plan is
 * scored, in lexicographic order).
 *
 * Order: a node's children are bounded together and visited best bound first
 * (so the first leaves scored are the greedy plan's, the incumbent); once the
 * next child's bound is below the best score by more than the margin, so are
 * its remaining siblings'.
 */

#include <limits.h>
#include <math.h>

#define MAX_H 16
#define MAX_N 64
/* h x n never exceeds this when the n^h lexicographic indices fit a long long (most at
   n = 64, h = 10); the per-chunk-and-rung arrays have this size (a frame of ~25 kB) */
#define MAX_CELLS 640
/* multipliers of the download-time bound (header), as multiples of the ladder's price
   of a download second (tuned on pensieve_train for the fewest nodes; any is exact) */
#define N_LAM 2
static const double lam_factor[N_LAM] = {1.25, 0.75};

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

/* The shapes the search takes: h chunks, n rungs, n^h plans indexable. */
static int shape_ok(int h, int n) {
    if (h < 1 || h > MAX_H || n < 1 || n > MAX_N) return 0;
    long long plans = 1;
    for (int k = 0; k < h; k++) {
        if (plans > LLONG_MAX / n) return 0;
        plans *= n;
    }
    return h * n <= MAX_CELLS;
}

/* The bound's tables (header): for chunk k < h - 1 at rung c, free_[k * n + c] and, per
   multiplier lam[i], debt[i][k * n + c]; w[r] = rates[r] / unit. A step's max over the
   next rung r of value[r] - |w[r] - w[c]| is, with the rungs sorted by w, the larger of
   (max over w[r] <= w[c] of value[r] + w[r]) - w[c] and (max over w[r] >= w[c] of
   value[r] - w[r]) + w[c]: a prefix and a suffix maximum, O(n) per step. */
static void completion_tables(int h, int n, const double *dl, const double *w, double seg,
                              const double *lam, double *free_, double (*debt)[MAX_CELLS]) {
    int by_w[MAX_N]; /* rungs by w ascending */
    for (int r = 0; r < n; r++) {
        int i = r;
        while (i > 0 && w[by_w[i - 1]] > w[r]) {
            by_w[i] = by_w[i - 1];
            i--;
        }
        by_w[i] = r;
    }
    /* per table (0: free, 1 + i: lam[i]) the completions' values from chunk k + 2 on */
    double next[1 + N_LAM][MAX_N];
    for (int t = 0; t <= N_LAM; t++) {
        for (int r = 0; r < n; r++) next[t][r] = 0.0;
    }
    for (int k = h - 2; k >= 0; k--) {
        const double *row = dl + (k + 1) * n;
        double offset = (h - 2 - k) * seg;
        for (int t = 0; t <= N_LAM; t++) {
            double l = t ? lam[t - 1] : 0.0;
            double value[MAX_N], below[MAX_N], run = -INFINITY;
            for (int i = 0; i < n; i++) { /* value of chunk k + 1 at rung by_w[i] and on */
                int r = by_w[i];
                value[i] = (w[r] - l * row[r]) + next[t][r];
                double v = value[i] + w[r];
                run = v > run ? v : run;
                below[i] = run;
            }
            run = -INFINITY;
            for (int i = n - 1; i >= 0; i--) {
                int c = by_w[i];
                double v = value[i] - w[c];
                run = v > run ? v : run;
                double lo = below[i] - w[c], hi = run + w[c];
                double best = lo > hi ? lo : hi;
                next[t][c] = best;
                if (t == 0) {
                    free_[k * n + c] = best;
                } else {
                    debt[t - 1][k * n + c] = best + l * offset;
                }
            }
        }
    }
}

/* Interface version, checked by the loader (a stale build is not used). */
int abrkit_mpc_kernel_abi(void) { return 3; }

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
    if (!shape_ok(h, n) || last_rung < 0 || last_rung >= n) return NAN;
    /* the size of the score terms, for the rounding margin; any NaN or infinity
       turns pruning off */
    double magnitude = fabs(buffer_s) + 1.0, rate_scale = 0.0, all = buffer_s + segment_s;
    for (int k = 0; k < h; k++) {
        double s = 0.0;
        for (int r = 0; r < n; r++) {
            double d = fabs(dl[k * n + r]);
            s = d > s ? d : s;
            all += d;
        }
        magnitude += s + fabs(segment_s);
    }
    for (int r = 0; r < n; r++) rate_scale += fabs(rates[r]);
    double margin = 1e-9 * (3.0 * h * rate_scale / unit + penalty * magnitude + 1.0);
    int prune = h > 1 && isfinite(all) && isfinite(rate_scale) && penalty >= 0.0 &&
                unit > 0.0 && isfinite(unit) && margin < 1e280;

    double inv_unit = 1.0 / unit;
    double w[MAX_N], lam[N_LAM] = {0.0}, free_[MAX_CELLS], debt[N_LAM][MAX_CELLS];
    if (prune) {
        double ws = 0.0, ds = 0.0;
        for (int r = 0; r < n; r++) {
            w[r] = rates[r] * inv_unit;
            ws += w[r];
            ds += dl[r];
        }
        /* what a download second is worth: the ladder's score per second at chunk 0 */
        double price = ws / ds;
        for (int i = 0; i < N_LAM; i++) {
            double l = price * lam_factor[i];
            lam[i] = l >= 0.0 && l < penalty ? l : penalty; /* NaN, inf: penalty */
        }
        completion_tables(h, n, dl, w, segment_s, lam, free_, debt);
    }

    /* the walk: the node being expanded (state after chunk k - 1: the brute-force
       loop's variables before chunk k), and per depth the children's bounds and the
       order they are visited in */
    double best = -INFINITY;
    long long best_lex = -1;
    double buf[MAX_H], reb[MAX_H], bsum[MAX_H], ssum[MAX_H];
    int last[MAX_H], next[MAX_H], order[MAX_CELLS]; /* [k * n + i] */
    double bound[MAX_CELLS];                       /* [k * n + c] */
    long long lex[MAX_H];
    int k = 0;
    buf[0] = buffer_s;
    reb[0] = 0.0;
    bsum[0] = 0.0;
    ssum[0] = 0.0;
    last[0] = last_rung;
    lex[0] = 0;
    for (;;) {
        const double *row = dl + k * n;
        double pb = buf[k], prb = reb[k], pbs = bsum[k], pss = ssum[k];
        double pr = rates[last[k]];
        if (k == h - 1) { /* leaves: score them */
            for (int c = 0; c < n; c++) {
                double b = pb, rb = prb;
                download(&b, &rb, row[c], segment_s);
                double sc = score_of(pensieve, pbs + rates[c], pss + fabs(rates[c] - pr), rb,
                                     unit, penalty);
                long long lx = lex[k] * n + c;
                if (better(sc, lx, best, best_lex, last_wins)) {
                    best = sc;
                    best_lex = lx;
                }
            }
            k--;
        } else { /* bound the children, order them best first */
            double *bd = bound + k * n;
            int *ord = order + k * n;
            for (int c = 0; c < n; c++) {
                double bc = INFINITY;
                if (prune) {
                    double b = pb, rb = prb;
                    download(&b, &rb, row[c], segment_s);
                    double rest = free_[k * n + c];
                    for (int i = 0; i < N_LAM; i++) {
                        double t = debt[i][k * n + c] + lam[i] * b;
                        rest = t < rest ? t : rest;
                    }
                    double bs = pbs + rates[c], ss = pss + fabs(rates[c] - pr);
                    bc = ((bs - ss) * inv_unit - penalty * rb) + rest;
                }
                bd[c] = bc;
                int i = c;
                while (i > 0 && bd[ord[i - 1]] < bc) {
                    ord[i] = ord[i - 1];
                    i--;
                }
                ord[i] = c;
            }
            next[k] = 0;
        }
        /* descend into the next child worth visiting, backtracking as needed */
        for (;;) {
            if (k < 0) {
                *best_lex_out = best_lex;
                return best_lex >= 0 ? best : NAN;
            }
            if (next[k] < n) {
                int c = order[k * n + next[k]++];
                if (bound[k * n + c] + margin < best) {
                    next[k] = n; /* its later siblings' bounds are no higher */
                    continue;
                }
                /* the child's state, by the same operations as the brute-force loop */
                double b = buf[k], rb = reb[k];
                download(&b, &rb, dl[k * n + c], segment_s);
                buf[k + 1] = b;
                reb[k + 1] = rb;
                bsum[k + 1] = bsum[k] + rates[c];
                ssum[k + 1] = ssum[k] + fabs(rates[c] - rates[last[k]]);
                last[k + 1] = c;
                lex[k + 1] = lex[k] * n + c;
                k++;
                break;
            }
            k--;
        }
    }
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
    if (!shape_ok(h, n) || n > cols || rows < 1) return NAN;
    double dl[MAX_CELLS];
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

/*
 * The same search with its arguments in one struct (Python keeps one per
 * policy and sets only what changed: a call with sixteen converted arguments
 * costs ~6 us through ctypes, this one ~1 us). Fields as in
 * abrkit_mpc_search_sizes; the answer goes to score and best_lex (-1 and NaN
 * when rejected). Keep in step with _SearchArgs in mpc_kernel.py.
 */
typedef struct abrkit_mpc_args {
    const double *sizes;
    const double *rates;
    double bytes_per_s;
    double buffer_s;
    double segment_s;
    double penalty;
    double unit;
    double score;
    long long best_lex;
    int h;
    int n;
    int rows;
    int cols;
    int first;
    int last_rung;
    int pensieve;
    int last_wins;
} abrkit_mpc_args;

int abrkit_mpc_search_args(abrkit_mpc_args *a) {
    a->score = abrkit_mpc_search_sizes(a->h, a->n, a->sizes, a->rows, a->cols, a->first,
                                       a->bytes_per_s, a->rates, a->buffer_s, a->segment_s,
                                       a->last_rung, a->pensieve, a->last_wins, a->penalty,
                                       a->unit, &a->best_lex);
    return a->best_lex >= 0 && !isnan(a->score) ? 0 : -1;
}

/* abrkit_mpc_search_args with the three fields a caller in C sets per plan (longmpc's
   compiled predictor, abr/estimators/_longmpc_predict.c, which sees the struct only by
   its tag) */
int abrkit_mpc_search_args_at(abrkit_mpc_args *a, double bytes_per_s, double buffer_s,
                              double penalty) {
    a->bytes_per_s = bytes_per_s;
    a->buffer_s = buffer_s;
    a->penalty = penalty;
    return abrkit_mpc_search_args(a);
}
