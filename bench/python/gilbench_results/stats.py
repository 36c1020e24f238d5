"""The statistics of the gate and the reports: medians, the U test, BH, the bootstrap.

median() is the true median of the repetitions (Google Benchmark 1.7.1's
`_median` row is wrong for an even count, so no reader uses it). scipy and
numpy are imported where a test needs them, so that the loader and the
fidelity report run on the standard library alone.
"""

import math

BOOTSTRAP = 4000  # resamples per file and benchmark


def median(values):
    s = sorted(values)
    n = len(s)
    if n == 0:
        return math.nan
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def geomean(values):
    """The geometric mean of the positive values (None when there is none)."""
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def relative_iqr(values):
    """Interquartile range / median of 4 or more values (None for fewer)."""
    t = sorted(values)
    if len(t) < 4:
        return None
    return (t[(3 * len(t)) // 4] - t[len(t) // 4]) / median(t)


def u_test(a, b):
    """Two-sided Mann-Whitney U p-value of samples a and b (nan if either has < 2)."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    from scipy.stats import mannwhitneyu
    if len(set(a) | set(b)) == 1:
        return 1.0
    ties = len(set(a) | set(b)) < len(a) + len(b)
    method = "exact" if not ties and max(len(a), len(b)) <= 50 else "asymptotic"
    return float(mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue)


def min_u_pvalue(n1, n2):
    """The smallest two-sided p-value an exact U test can give for n1 vs n2 samples."""
    if n1 < 2 or n2 < 2:
        return 1.0
    ways = math.comb(n1 + n2, n1)
    return min(1.0, 2.0 / ways) if ways < 1e300 else 0.0


def u_test_repetitions(alpha):
    """The fewest repetitions per side whose smallest U-test p is below alpha (None: none)."""
    return next((n for n in range(2, 1000) if min_u_pvalue(n, n) < alpha), None)


def bh_adjust(pvalues):
    """Benjamini-Hochberg q-values (nan stays nan and is not counted)."""
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m = len(indexed)
    q = [math.nan] * len(pvalues)
    running = 1.0
    for rank in range(m, 0, -1):
        p, i = indexed[rank - 1]
        running = min(running, p * m / rank)
        q[i] = running
    return q


def bootstrap_speedup_test(base, new, seed):
    """Change of the in-run speedup median(ref)/median(run) between two files.

    base, new: (reference times, run times) of each file. Returns (speedup in
    base, speedup in new, two-sided p). The p-value comes from a bootstrap of
    each file's two samples (resampled independently, BOOTSTRAP times): the
    spread of the log-speedup difference gives a z score. Both medians vary,
    so the reference's own noise is in the test; repetitions are not paired
    by index, because with interleaving repetition i of two benchmarks did not
    run at the same moment and pairing would only add the reference's noise
    to every sample.
    """
    import numpy as np
    from scipy.stats import norm
    rng = np.random.default_rng(seed)

    def boot(ref, run):
        ref, run = np.asarray(ref), np.asarray(run)
        r = np.median(ref[rng.integers(0, len(ref), (BOOTSTRAP, len(ref)))], axis=1)
        s = np.median(run[rng.integers(0, len(run), (BOOTSTRAP, len(run)))], axis=1)
        return np.log(r) - np.log(s)

    sa = median(base[0]) / median(base[1])
    sb = median(new[0]) / median(new[1])
    if min(len(x) for x in (*base, *new)) < 2:
        return sa, sb, math.nan
    se = float(np.std(boot(*new) - boot(*base)))
    diff = math.log(sb) - math.log(sa)
    if se == 0:
        return sa, sb, 1.0 if diff == 0 else 0.0
    return sa, sb, float(2 * norm.sf(abs(diff) / se))


# Change points (plot.py history) -------------------------------------------------------
#
# A series of one headline metric against commit order is modelled as piecewise constant
# plus noise of one constant scale (as asv's step detection assumes). The fit minimises
#
#     sum over segments of sum (y_i - segment mean)^2  +  beta * (number of segments)
#
# exactly, by dynamic programming over every segmentation (optimal partitioning, O(n^2):
# a history holds hundreds of commits at most), with beta = PENALTY * sigma^2 * ln(n): a
# step is kept when it explains more squared deviation than PENALTY * ln(n) noise
# variances (a BIC-like price per change point, as asv's information criterion prices its
# L1 fit).
#
# sigma, the noise scale, comes from the series itself, robustly: 1.4826 * median
# |y[i+1] - y[i]| / sqrt(2), the median absolute successive difference (a step or a blip
# moves one or two differences, never their median), floored at noise_floor * median |y|
# so that a deterministic series (instruction counts) does not turn a one-instruction
# change into a step. The fit runs on the series through a median filter of width 3 (each
# value but the first and the newest becomes the median of it and its neighbours): a
# one-commit blip in the middle of a history is noise, not a change, and the filter
# removes it while a step stays where it is. Segments are two commits long or more,
# except the newest, which may be one: a regression of the latest commit shows at once.
# The levels reported are the medians of the raw values between the steps. Last, steps
# whose relative size is below min_change (the metric's threshold, as Bencher's
# thresholds and asv's regression threshold) are merged away, the smallest first.
#
# PENALTY = 6, measured on 300 series of 25 points with Gaussian noise of 1%: a step
# found in 1 flat series (none with a 2% threshold; PENALTY 4 found 14 and 2), a 5% step
# in the middle found at its exact commit in 289, a 3% one in 213, a 10% step at the
# newest commit in 300, a 50% one-commit blip reported in none.

PENALTY = 6.0


def noise_sigma(values):
    """The noise scale of a series: 1.4826 * median |successive difference| / sqrt(2)."""
    if len(values) < 2:
        return 0.0
    diffs = [abs(b - a) for a, b in zip(values, values[1:])]
    return 1.4826 * median(diffs) / math.sqrt(2)


def segment_starts(values, beta, min_size=2):
    """The exact penalised least-squares segmentation: the start index of each segment
    (the first is 0). Segments are min_size or longer, except the last (1 or longer)."""
    n = len(values)
    s1, s2 = [0.0], [0.0]
    for v in values:
        s1.append(s1[-1] + v)
        s2.append(s2[-1] + v * v)

    def cost(i, j):  # squared deviations of values[i:j] from their mean
        return max(0.0, s2[j] - s2[i] - (s1[j] - s1[i]) ** 2 / (j - i))

    best = [0.0] + [math.inf] * n
    start = [0] * (n + 1)
    for j in range(1, n + 1):
        last = j - 1 if j == n else j - min_size
        for i in range(0, last + 1):
            if i and best[i] == math.inf:
                continue
            c = best[i] + cost(i, j) + beta
            if c < best[j]:
                best[j], start[j] = c, i
    if best[n] == math.inf:  # too short to split at all
        return [0]
    starts, j = [], n
    while j > 0:
        starts.append(start[j])
        j = start[j]
    return sorted(starts)


def median_of_three(values):
    """Each value but the first and the last replaced by the median of it and its two
    neighbours: a one-value blip goes, a step stays where it is."""
    if len(values) < 3:
        return list(values)
    return [values[0]] + [median(values[i - 1:i + 2]) for i in range(1, len(values) - 1)] \
        + [values[-1]]


def change_points(values, min_change=0.0, noise_floor=0.0, penalty=PENALTY):
    """The steps of a series: [(index, level before, level after)], index the first
    value of the new level, the levels the medians of the values between the steps. See
    the comment above for the method. Fewer than 3 values have none."""
    n = len(values)
    if n < 3:
        return []
    smooth = median_of_three(values)
    level = median([abs(v) for v in values])
    sigma = max(noise_sigma(values), noise_floor * level, 1e-12 * max(abs(v) for v in values),
                1e-300)
    starts = segment_starts(smooth, penalty * sigma * sigma * math.log(n))

    def steps(starts):
        bounds = starts + [n]
        levels = [median(values[a:b]) for a, b in zip(bounds, bounds[1:])]
        return [(bounds[k + 1], levels[k], levels[k + 1]) for k in range(len(levels) - 1)]

    def relative(step):
        _, before, after = step
        return abs(after - before) / abs(before) if before else math.inf

    while True:
        found = steps(starts)
        small = [s for s in found if relative(s) < min_change]
        if not small:
            return found
        starts.remove(min(small, key=relative)[0])
