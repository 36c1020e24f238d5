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
