/*
 * LongMPC's throughput predictor in C (abr/policies/longmpc.py, issue 7: cost parity
 * with RobustMPC). Loaded with ctypes by abr/estimators/predict_kernel.py from the same
 * library as the MPC search (hatch_build.py compiles both sources into it); where it is
 * missing or stale, longmpc runs its Python predictor (same numbers, slower).
 *
 * One state machine per policy, in a buffer the policy owns:
 *
 * - the window selector (abr/estimators/selector.py, mode "best", score "log" or
 *   "rel", discount error "abs" or "over"): the harmonic means of K <= 8 windows,
 *   each candidate scored on every sample over the last selection_window samples
 *   (running totals: `-= oldest` then `+= new`), the others must beat the first
 *   candidate's total x margin;
 * - the level-shift estimator (abr/estimators/levelshift.py with longmpc's settings:
 *   confirm 1 both ways, discount "pred", the shift-frequency guard off): the harmonic
 *   mean of the stretch since the last shift (last max_window samples), that stretch's
 *   errors plus a fresh error while it is young, ready after warmup samples;
 * - longmpc's discount (LongMpcPolicy._update_predictor): the source (level shift when
 *   ready, else the selector), the adaptive planning risk flag, the error list (with
 *   the fresh error and the `or [0.0]` rule), 1 + max(max of the last
 *   short_error_window errors, the error_quantile of them by sorted order and linear
 *   interpolation) times the discount weight;
 * - the session's highest stretch level and lowest mature one (a stretch of at least
 *   drop_min samples), updated per sample once the level-shift estimator is ready: the
 *   deep-link risk (risky and highest >= deep_span x lowest: its fresh errors replace
 *   the risky ones) and, for longmpc's drop-aware first chunk, just_dropped and low;
 * - abrkit_longmpc_decide_in: one decision's numbers in one call, the step above and
 *   then the plan search of _mpc_kernel.c (abrkit_mpc_search_args_at, the struct seen
 *   by its tag only) at the discounted prediction, from the buffer minus the reserve of
 *   the current risk, with its rebuffer penalty.
 *
 * Every number is Python's bit for bit: the same IEEE double operations in the same
 * order (harmonic sums oldest first, `log(p / bps)` if p > bps else `log(bps / p)`,
 * `fabs(mean - bps) / bps`, Python's max keeping the first of equal values, a stable
 * sort), the same libm log as Python's math.log, compiled without fast-math and
 * without fused multiply-add (hatch_build.FLAGS). Tests: hypothesis streams and
 * configs against the Python objects, whole sessions (tests/abr).
 *
 * The selector stops being fed once the level-shift estimator is ready unless the
 * planning risk needs its scores; Python decides that once per decision, this code
 * once per sample: after that point the selector is never read again, so the outputs
 * are the same.
 */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LM_ABI 4
#define LM_MAX_K 8
#define LM_MAX_LEN 65536  /* windows, selection_window, max_window */
#define LM_MAX_ERRWIN 1024  /* error_window (the errors are insertion-sorted) */

/* the parameter vector (doubles) built by predict_kernel.py, in this order */
enum {
    P_K,
    P_W0,
    P_SELWIN = P_W0 + LM_MAX_K,
    P_ERRWIN,
    P_MARGIN,
    P_LOG,
    P_OVER,
    P_SHIFT,
    P_THRESHOLD,
    P_MAXWIN,
    P_FRESH_UP,
    P_FRESH_DOWN,
    P_FRESH_N,
    P_WARMUP,
    P_RISK,
    P_RISK_MIN,
    P_RISK_RATIO,
    P_RISK_FRESH,
    P_RISK_UP,
    P_RISK_DOWN,
    P_QUANTILE,
    P_SHORT,
    P_WEIGHT,
    P_MIN_SECONDS,
    P_DEEP_SPAN,
    P_DEEP_FRESH,
    P_DEEP_UP,
    P_DEEP_DOWN,
    P_DROP_MIN,
    P_RESERVE,
    P_RISK_RESERVE,
    P_PENALTY,
    P_RISK_PENALTY,
    P_DEEP_PENALTY,
    LM_NPARAMS
};

/* a ring of doubles: len <= cap values, the oldest at head */
typedef struct {
    int cap, len, head;
} ring;

typedef struct {
    /* read by Python through a memoryview: first, in this order */
    double prediction; /* undiscounted prediction, -1 before any */
    double max_error;  /* the last discount's (weighted) max error */
    double risky;      /* 1: the adaptive planning risk is on */
    double nerrs;      /* errors the last discount used */
    double weight;     /* discount weight (Python may set it before each call) */
    double deep;       /* 1: the deep-link risk is on (risky and highest >= span x lowest) */
    double low;        /* the session's lowest mature stretch level (INFINITY: none yet) */
    double just_dropped; /* 1: the last sample started a stretch by a downward shift */
    double plan_buffer;  /* abrkit_longmpc_decide_in: the buffer the plan started from */
    double plan_status;  /* abrkit_longmpc_decide_in: 0 planned, -1 rejected, 1 no plan */
    /* abrkit_longmpc_decide_in's arguments, written by Python before the call */
    double in_bytes, in_seconds, in_buffer, in_segment;
    /* settings */
    int k, windows[LM_MAX_K], log_score, over, shift, fresh_n, warmup, risk, risk_min, short_win;
    int risk_fresh, deep_fresh, drop_min;
    double deep_span, deep_up, deep_down, high;
    double reserve[2], penalty[3]; /* [risky], [0 plain, 1 risky, 2 deep]: the plan's */
    double min_seconds; /* shorter downloads are no sample (abr.estimators.ewma.MIN_SECONDS) */
    double margin, threshold, fresh_up, fresh_down, risk_ratio, risk_up, risk_down, quantile;
    /* selector (values, stretch: rings of reciprocals 1.0 / sample) */
    ring values, scores, errors; /* scores and errors: one ring geometry for all candidates */
    int has_preds, selected;
    double totals[LM_MAX_K], preds[LM_MAX_K];
    /* level shift */
    ring stretch, lerrors;
    long long n, stretch_errors;
    int last_up, settled;
    double mean;
    /* offsets (in doubles) of the arrays in data[] */
    size_t o_values, o_scores, o_errors, o_stretch, o_lerrors, o_lsorted, o_errs, o_sorted;
    double data[];
} lm_state;

int abrkit_longmpc_predict_abi(void) { return LM_ABI; }

static int as_int(double v, int lo, int hi, int *out) {
    if (!(v >= lo && v <= hi) || v != (double)(int)v) return 0;
    *out = (int)v;
    return 1;
}

/* Validates the parameters into s (whose data[] is not touched); the number of doubles
   data[] needs, or -1 for parameters this code does not implement. */
static long long configure(lm_state *s, const double *p, int np) {
    int maxw = 0, selwin, errwin, maxwin;
    if (np != LM_NPARAMS) return -1;
    if (!as_int(p[P_K], 1, LM_MAX_K, &s->k)) return -1;
    for (int i = 0; i < s->k; i++) {
        if (!as_int(p[P_W0 + i], 1, LM_MAX_LEN, &s->windows[i])) return -1;
        if (s->windows[i] > maxw) maxw = s->windows[i];
    }
    if (!as_int(p[P_SELWIN], 1, LM_MAX_LEN, &selwin)) return -1;
    if (!as_int(p[P_ERRWIN], 1, LM_MAX_ERRWIN, &errwin)) return -1;
    if (!as_int(p[P_MAXWIN], 1, LM_MAX_LEN, &maxwin)) return -1;
    if (!as_int(p[P_LOG], 0, 1, &s->log_score) || !as_int(p[P_OVER], 0, 1, &s->over) ||
        !as_int(p[P_SHIFT], 0, 1, &s->shift) || !as_int(p[P_RISK], 0, 1, &s->risk) ||
        !as_int(p[P_RISK_FRESH], 0, 1, &s->risk_fresh))
        return -1;
    if (!as_int(p[P_FRESH_N], 0, INT32_MAX, &s->fresh_n) ||
        !as_int(p[P_WARMUP], 0, INT32_MAX, &s->warmup) ||
        !as_int(p[P_RISK_MIN], 0, INT32_MAX, &s->risk_min) ||
        !as_int(p[P_SHORT], 1, INT32_MAX, &s->short_win) ||
        !as_int(p[P_DEEP_FRESH], 0, 1, &s->deep_fresh) ||
        !as_int(p[P_DROP_MIN], 1, INT32_MAX, &s->drop_min))
        return -1;
    if (s->risk && (!s->shift || s->k < 2)) return -1;
    s->margin = p[P_MARGIN];
    s->threshold = p[P_THRESHOLD];
    s->fresh_up = p[P_FRESH_UP];
    s->fresh_down = p[P_FRESH_DOWN];
    s->risk_ratio = p[P_RISK_RATIO];
    s->risk_up = p[P_RISK_UP];
    s->risk_down = p[P_RISK_DOWN];
    s->quantile = p[P_QUANTILE];
    s->weight = p[P_WEIGHT];
    s->min_seconds = p[P_MIN_SECONDS];
    s->deep_span = p[P_DEEP_SPAN];
    s->deep_up = p[P_DEEP_UP];
    s->deep_down = p[P_DEEP_DOWN];
    s->reserve[0] = p[P_RESERVE];
    s->reserve[1] = p[P_RISK_RESERVE];
    s->penalty[0] = p[P_PENALTY];
    s->penalty[1] = p[P_RISK_PENALTY];
    s->penalty[2] = p[P_DEEP_PENALTY];
    if (!(s->deep_span >= 0.0)) return -1;
    if (!(s->quantile >= 0.0 && s->quantile <= 1.0)) return -1;
    s->values = (ring){maxw, 0, 0};
    s->scores = (ring){selwin, 0, 0};
    s->errors = (ring){errwin, 0, 0};
    s->stretch = (ring){maxwin, 0, 0};
    s->lerrors = (ring){errwin, 0, 0};
    s->o_values = 0;
    s->o_scores = s->o_values + (size_t)maxw;
    s->o_errors = s->o_scores + (size_t)s->k * selwin;
    s->o_stretch = s->o_errors + (size_t)s->k * errwin;
    s->o_lerrors = s->o_stretch + (size_t)maxwin;
    s->o_lsorted = s->o_lerrors + (size_t)errwin;
    s->o_errs = s->o_lsorted + (size_t)errwin;
    s->o_sorted = s->o_errs + (size_t)errwin + 1;
    return (long long)(s->o_sorted + (size_t)errwin + 1);
}

/* Bytes of state for these parameters, or -1 when this code does not implement them. */
long long abrkit_longmpc_state_size(const double *params, int nparams) {
    lm_state s;
    long long nd = configure(&s, params, nparams);
    return nd < 0 ? -1 : (long long)sizeof(lm_state) + nd * (long long)sizeof(double);
}

/* Sets up a fresh predictor in st (size bytes, 8-byte aligned); 0, or -1 on bad input. */
int abrkit_longmpc_init(void *st, long long size, const double *params, int nparams) {
    lm_state *s = (lm_state *)st;
    long long need = abrkit_longmpc_state_size(params, nparams);
    if (need < 0 || size < need || ((uintptr_t)st % sizeof(double)) != 0) return -1;
    memset(st, 0, (size_t)need);
    configure(s, params, nparams);
    s->prediction = -1.0;
    s->last_up = 1; /* the start counts as an upward shift */
    s->low = INFINITY;
    return 0;
}

/* the slot the next value goes to (the oldest once full); advances the ring */
static inline int ring_push(ring *r) {
    int slot;
    if (r->len < r->cap) {
        slot = r->head + r->len;
        if (slot >= r->cap) slot -= r->cap;
        r->len++;
    } else {
        slot = r->head;
        if (++r->head == r->cap) r->head = 0;
    }
    return slot;
}

/* index of the i-th oldest value */
static inline int ring_at(const ring *r, int i) {
    int j = r->head + i;
    return j >= r->cap ? j - r->cap : j;
}

/* harmonic mean of the last w samples of a ring of reciprocals 1.0 / sample (all when
   fewer): Python's `inv += 1.0 / v` oldest first, then `m / inv` */
static double harmonic(const ring *r, const double *recip, int w) {
    int n = r->len, m = n > w ? w : n;
    double inv = 0.0;
    int j = ring_at(r, n - m);
    for (int i = 0; i < m; i++) {
        inv += recip[j];
        if (++j == r->cap) j = 0;
    }
    return (double)m / inv;
}

static void selector_add(lm_state *s, double bps) {
    double *scores = s->data + s->o_scores, *errors = s->data + s->o_errors;
    double *values = s->data + s->o_values;
    int k = s->k, selwin = s->scores.cap, errwin = s->errors.cap;
    if (!s->has_preds) {
        int sl = ring_push(&s->scores), el = ring_push(&s->errors);
        for (int i = 0; i < k; i++) {
            scores[i * selwin + sl] = 0.0;
            errors[i * errwin + el] = 0.0;
        }
    } else {
        int full = s->scores.len == selwin;
        int sl = ring_push(&s->scores), el = ring_push(&s->errors);
        for (int i = 0; i < k; i++) {
            double p = s->preds[i], rel = (p - bps) / bps, sc;
            if (s->log_score)
                sc = p > bps ? log(p / bps) : log(bps / p);
            else
                sc = rel > 0.0 ? rel : -rel;
            if (full) s->totals[i] -= scores[i * selwin + sl]; /* the oldest, replaced */
            scores[i * selwin + sl] = sc;
            s->totals[i] += sc;
            errors[i * errwin + el] = s->over ? (rel > 0.0 ? rel : 0.0) : fabs(rel);
        }
    }
    values[ring_push(&s->values)] = 1.0 / bps;
    for (int i = 0; i < k; i++) s->preds[i] = harmonic(&s->values, values, s->windows[i]);
    s->has_preds = 1;
    int best = 0;
    if (k > 1) {
        double best_score = s->totals[0] * s->margin;
        for (int i = 1; i < k; i++) {
            if (s->totals[i] < best_score) {
                best = i;
                best_score = s->totals[i];
            }
        }
    }
    s->selected = best;
}

/* v into the sorted array srt[0:m] (after the values <= v); srt has room */
static inline void sorted_insert(double *srt, int m, double v) {
    int j = m;
    while (j > 0 && srt[j - 1] > v) {
        srt[j] = srt[j - 1];
        j--;
    }
    srt[j] = v;
}

/* a level-shift error into its ring and into the ring's sorted copy (whose order among
   equal values does not matter: the ring holds no -0.0, so equal errors are the same
   double) */
static void lerror_push(lm_state *s, double v) {
    double *buf = s->data + s->o_lerrors, *srt = s->data + s->o_lsorted;
    int m = s->lerrors.len, full = m == s->lerrors.cap;
    int slot = ring_push(&s->lerrors);
    if (full) { /* the oldest leaves the sorted copy */
        double old = buf[slot];
        int i = 0;
        while (srt[i] != old) i++;
        memmove(srt + i, srt + i + 1, (size_t)(m - 1 - i) * sizeof(double));
        m--;
    }
    buf[slot] = v;
    sorted_insert(srt, m, v);
}

static void shift_add(lm_state *s, double bps) {
    double *stretch = s->data + s->o_stretch;
    s->n++;
    if (s->stretch.len > 0) {
        double mean = s->mean;
        double err = fabs(mean - bps) / bps;
        double d = log(bps / mean);
        if (d > s->threshold || d < -s->threshold) { /* a shift (confirm 1) */
            s->last_up = d > 0.0;
            s->stretch.len = s->stretch.head = 0;
            stretch[ring_push(&s->stretch)] = 1.0 / bps;
            s->lerrors.len = s->lerrors.head = 0;
            s->stretch_errors = 0;
            s->mean = harmonic(&s->stretch, stretch, s->stretch.cap);
            return;
        }
        stretch[ring_push(&s->stretch)] = 1.0 / bps;
        lerror_push(s, err);
        s->stretch_errors++;
    } else {
        stretch[ring_push(&s->stretch)] = 1.0 / bps;
        lerror_push(s, 0.0);
        s->stretch_errors = 1;
    }
    s->mean = harmonic(&s->stretch, stretch, s->stretch.cap);
}

/* Python's max over errs[lo:n]: the first of equal maxima */
static double py_max(const double *errs, int lo, int n) {
    double m = errs[lo];
    for (int i = lo + 1; i < n; i++)
        if (errs[i] > m) m = errs[i];
    return m;
}

/* Feeds one download (longmpc's rule: a sample of 8 x bytes / seconds bits per second
   when bytes > 0 and seconds >= min_seconds; otherwise none, and only the discount is
   recomputed) and returns the discounted prediction (discount weight: the state's), or
   -1 before any prediction. */
double abrkit_longmpc_add(void *st, double bytes, double seconds) {
    lm_state *s = (lm_state *)st;
    double w = s->weight;
    if (bytes > 0.0 && seconds >= s->min_seconds) {
        double bps = 8.0 * bytes / seconds;
        if (!s->shift || !s->settled || s->risk) selector_add(s, bps);
        if (s->shift) shift_add(s, bps);
    }
    int ready = s->shift && s->n >= s->warmup;
    if (ready) s->settled = 1;
    int has = ready ? s->stretch.len > 0 : s->has_preds;
    if (ready && s->stretch.len > 0) {
        /* the session's highest stretch level and lowest mature one (repeating this
           without a new sample changes nothing) */
        if (s->mean > s->high) s->high = s->mean;
        if (s->stretch.len >= s->drop_min && s->mean < s->low) s->low = s->mean;
    }
    s->just_dropped = (ready && !s->last_up && s->stretch_errors == 0) ? 1.0 : 0.0;
    if (s->risk) {
        double t0 = s->totals[0];
        double ratio = t0 > 0.0 ? s->totals[1] / t0 : INFINITY;
        s->risky = (s->scores.len >= s->risk_min && ratio < s->risk_ratio) ? 1.0 : 0.0;
        s->deep = (s->risky != 0.0 && s->deep_span > 0.0 && s->high >= s->deep_span * s->low)
                      ? 1.0
                      : 0.0;
    }
    if (!has) {
        s->prediction = -1.0;
        return -1.0;
    }
    double *errs = s->data + s->o_errs, *srt = s->data + s->o_sorted;
    int n = 0, sorted = 0;
    double pred;
    if (ready) {
        /* the stretch's errors, the fresh error, `or [0.0]`; sorted: the maintained copy
           with the fresh error after the equal ones (Python's sort is stable) */
        const double *lerrors = s->data + s->o_lerrors;
        pred = s->mean;
        for (int i = 0; i < s->lerrors.len; i++) errs[n++] = lerrors[ring_at(&s->lerrors, i)];
        memcpy(srt, s->data + s->o_lsorted, (size_t)n * sizeof(double));
        if (s->stretch_errors < s->fresh_n) {
            double f;
            if (s->deep != 0.0 && s->deep_fresh)
                f = s->last_up ? s->deep_up : s->deep_down;
            else if (s->risky != 0.0 && s->risk_fresh)
                f = s->last_up ? s->risk_up : s->risk_down;
            else
                f = s->last_up ? s->fresh_up : s->fresh_down;
            sorted_insert(srt, n, f);
            errs[n++] = f;
        }
        if (n == 0) errs[n++] = srt[0] = 0.0;
        sorted = 1;
    } else {
        const double *cand = s->data + s->o_errors + (size_t)s->selected * s->errors.cap;
        pred = s->preds[s->selected];
        for (int i = 0; i < s->errors.len; i++) errs[n++] = cand[ring_at(&s->errors, i)];
    }
    s->prediction = pred;
    s->nerrs = n;
    double me;
    if (s->quantile < 1.0) {
        if (!sorted) /* sorted(errs): a stable insertion sort */
            for (int i = 0; i < n; i++) sorted_insert(srt, i, errs[i]);
        double pos = s->quantile * (double)(n - 1);
        int lo = (int)pos;
        int hi = lo + 1 < n - 1 ? lo + 1 : n - 1;
        double q = srt[lo] + (srt[hi] - srt[lo]) * (pos - (double)lo);
        double recent = py_max(errs, n > s->short_win ? n - s->short_win : 0, n);
        me = q > recent ? q : recent;
    } else {
        me = py_max(errs, 0, n);
    }
    if (w != 1.0) me *= w;
    s->max_error = me;
    return pred / (1.0 + me);
}

/* Copies the errors of the last discount (oldest first) to dst (cap doubles); their
   number. */
int abrkit_longmpc_errors(const void *st, double *dst, int cap) {
    const lm_state *s = (const lm_state *)st;
    int n = (int)s->nerrs;
    if (n > cap) n = cap;
    memcpy(dst, s->data + s->o_errs, (size_t)n * sizeof(double));
    return n;
}

/* the MPC search of abr/policies/_mpc_kernel.c, through its argument struct */
typedef struct abrkit_mpc_args abrkit_mpc_args;
int abrkit_mpc_search_args_at(abrkit_mpc_args *a, double bytes_per_s, double buffer_s,
                              double penalty);

/* One longmpc decision's numbers in one call, its inputs read from the state (in_bytes,
   in_seconds, in_buffer, in_segment, written by the caller: two pointer arguments, which
   ctypes passes without per-call conversion, ~0.3 us instead of ~2 us for six doubles):
   abrkit_longmpc_add, then (when there is a positive prediction) the plan search in args
   (whose ladder, table, first row, segment duration and last rung the caller has set) at
   the discounted prediction / 8 bytes per second, from in_buffer minus the reserve of
   the current risk (floored at 0, as LongMpcPolicy._plan_buffer_s) with the rebuffer
   penalty of the current risk. plan_status: 0 planned (answer in args), -1 the search
   rejected its arguments, 1 no plan (no prediction). Returns the discounted prediction
   (-1: none). */
double abrkit_longmpc_decide_in(void *st, abrkit_mpc_args *args) {
    lm_state *s = (lm_state *)st;
    double pred = abrkit_longmpc_add(st, s->in_bytes, s->in_seconds);
    if (!(pred > 0.0)) {
        s->plan_status = 1.0;
        return pred;
    }
    int risky = s->risky != 0.0;
    int mode = risky ? (s->deep != 0.0 ? 2 : 1) : 0;
    double b = s->in_buffer - s->reserve[risky] * s->in_segment;
    if (!(b > 0.0)) b = 0.0;
    s->plan_buffer = b;
    s->plan_status = abrkit_mpc_search_args_at(args, pred / 8.0, b, s->penalty[mode]) ? -1.0 : 0.0;
    return pred;
}
