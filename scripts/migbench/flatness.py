"""How flat is a measured time across a grid of cells (RAM size x dirty
rate)?  Pure functions over {(ram_mib, rate): [values of the runs]}.

- ratio: max/min of the cell medians (the issue's "within 20 %" reads as
  max/min <= 1.2), overall, per RAM size (across rates) and per rate
  (across RAM sizes), with a bootstrap interval (runs resampled within
  each cell);
- trend: least-squares slope of log2(value) on log2(RAM) (factor per RAM
  doubling) and on the rate (factor per 10,000 pages/s), with bootstrap
  intervals: flat means ~1.0x;
- noise: the same max/min when the runs are shuffled across cells (no
  cell effect at all): what the spread of the medians would be from
  run-to-run noise alone; and whether the cells differ at all: the share
  of the variance of log(value) between cells (one-way ANOVA) and the
  share of shuffles with at least as much (permutation p-value).
Seeded RNG: the same records give the same figures.
"""
import math
import random
import statistics


def _medians(cells):
    return {k: statistics.median(v) for k, v in cells.items() if v}


def max_over_min(meds):
    v = [x for x in meds if x is not None]
    if not v or min(v) <= 0:
        return None
    return max(v) / min(v)


def _quantiles(v, lo=0.05, hi=0.95):
    v = sorted(v)
    if not v:
        return None, None
    pick = lambda q: v[min(len(v) - 1, max(0, int(round(q * (len(v) - 1)))))]
    return pick(lo), pick(hi)


def _resample(cells, rng):
    return {k: [rng.choice(v) for _ in v] for k, v in cells.items() if v}


def _slope(xs, ys):
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def _between_share(groups):
    """Share of the total variance of log2(values) between the groups
    (one-way ANOVA's between / total sum of squares)."""
    ls = [[math.log2(x) for x in g if x > 0] for g in groups]
    ls = [g for g in ls if g]
    allv = [x for g in ls for x in g]
    if len(allv) < 2:
        return None
    m = sum(allv) / len(allv)
    tot = sum((x - m) ** 2 for x in allv)
    if tot == 0:
        return None
    return sum(len(g) * (sum(g) / len(g) - m) ** 2 for g in ls) / tot


def trends(cells):
    """(factor per RAM doubling, factor per 10,000 pages/s) from a log-linear
    fit of all runs: log2(value) = a + b*log2(ram) + c*rate/10000 (the two
    regressors are orthogonal on a full grid, so two simple fits are the
    multiple fit there)."""
    pts = [(ram, rate, v) for (ram, rate), vs in cells.items() for v in vs if v and v > 0]
    if len(pts) < 3:
        return None, None
    ly = [math.log2(p[2]) for p in pts]
    b = _slope([math.log2(p[0]) for p in pts], ly)
    c = _slope([p[1] / 10000.0 for p in pts], ly)
    return (None if b is None else 2 ** b), (None if c is None else 2 ** c)


def analyse(cells, boot=2000, seed=1):
    """The figures above for one strategy and one metric."""
    cells = {k: [x for x in v if x is not None] for k, v in cells.items()}
    cells = {k: v for k, v in cells.items() if v}
    if not cells:
        return None
    rng = random.Random(seed)
    meds = _medians(cells)
    rams = sorted({k[0] for k in cells})
    rates = sorted({k[1] for k in cells})

    def ratios(m):
        out = {"all": max_over_min(m.values())}
        for ram in rams:
            out["ram=%d" % ram] = max_over_min([m[k] for k in m if k[0] == ram])
        for rate in rates:
            out["rate=%d" % rate] = max_over_min([m[k] for k in m if k[1] == rate])
        return out

    obs = ratios(meds)
    boots = {k: [] for k in obs}
    tr_b = ([], [])
    for _ in range(boot):
        rs = _resample(cells, rng)
        for k, v in ratios(_medians(rs)).items():
            if v is not None:
                boots[k].append(v)
        t = trends(rs)
        for i in (0, 1):
            if t[i] is not None:
                tr_b[i].append(t[i])
    # permutation: shuffle all runs across cells, keep each cell's size
    flat = [x for v in cells.values() for x in v]
    keys = list(cells)
    sizes = [len(cells[k]) for k in keys]
    f_obs = _between_share([cells[k] for k in keys])
    null, f_null = [], []
    for _ in range(boot):
        rng.shuffle(flat)
        m, groups, i = {}, [], 0
        for k, n in zip(keys, sizes):
            groups.append(flat[i:i + n])
            m[k] = statistics.median(groups[-1])
            i += n
        null.append(max_over_min(m.values()))
        f_null.append(_between_share(groups))
    r = lambda x: None if x is None else round(x, 3)
    tr = trends(cells)
    all_v = sorted(flat)
    spread = [(max(v) - min(v)) / statistics.median(v) for v in cells.values()
              if len(v) > 1 and statistics.median(v) > 0]
    return {
        "cells": len(cells), "runs": len(flat),
        "runs_per_cell": [min(sizes), max(sizes)],
        "median_of_cell_medians": r(statistics.median(meds.values())),
        "cell_median_min": r(min(meds.values())), "cell_median_max": r(max(meds.values())),
        "max_over_min": {k: {"observed": r(v), "ci90": [r(x) for x in _quantiles(boots[k])]}
                         for k, v in obs.items()},
        "factor_per_ram_doubling": {"fit": r(tr[0]), "ci90": [r(x) for x in _quantiles(tr_b[0])]},
        "factor_per_10000_pages_s": {"fit": r(tr[1]), "ci90": [r(x) for x in _quantiles(tr_b[1])]},
        "noise_only_max_over_min": {"median": r(statistics.median(null)),
                                    "ci90": [r(x) for x in _quantiles(null)]},
        "between_cell_share_of_variance": r(f_obs),
        "p_cells_differ": (round(sum(x >= f_obs for x in f_null) / len(f_null), 3)
                           if f_obs is not None else None),
        "within_cell_range_over_median": r(statistics.median(spread)) if spread else None,
        "all_runs_p10_p90": [r(x) for x in _quantiles(all_v, 0.1, 0.9)],
    }
