"""What the benchmark measured: per-variant results, verdicts, the report table and its picture (introduced in 07_optimize_and_debug)."""
import html
import math
import statistics
from dataclasses import dataclass, field

__all__ = ["BENCHMARK_VARIANTS", "FEW_RUNS", "CHANCE_LIMIT", "VariantResult", "BenchmarkReport", "plot_benchmark",
           "ratio_verdict", "sign_test", "rank_test", "fewest_for_a_verdict", "compare_gains"]

# Every variant the benchmark knows, in the order the tables and plots show them.
BENCHMARK_VARIANTS = ("eager", "trace", "script", "script+freeze", "optimize_for_inference", "torch.compile", "C++")

# Quartiles of three or four numbers say little: below this many ratios, a row is judged by its whole range.
FEW_RUNS = 5

# A verdict also needs enough rounds on its side: with two variants of the same speed, a spread on one side of 1
# happens by chance in about a third of 5-round runs, so a split that a fair coin would give this often or more
# is not called.
CHANCE_LIMIT = 0.05


def ratio_verdict(q25: float, q75: float) -> str:
    """'faster' if the ratio's whole interquartile range is below 1, 'slower' if above, else 'no clear difference'.

    A ratio is a variant's time divided by eager's: below 1 means less time per call.
    """
    if q25 is None or q75 is None or any(map(math.isnan, (q25, q75))):
        return "not measured"
    if q25 > q75:
        raise ValueError(f"ratio_verdict needs q25 <= q75, got {q25} and {q75}: pass the lower quartile first")
    if q75 < 1.0:
        return "faster"
    if q25 > 1.0:
        return "slower"
    return "no clear difference"


def sign_test(ratios) -> tuple:
    """(rounds below 1, rounds above 1, p): p is the chance that a fair coin splits that many rounds at least as unevenly.

    Two-sided, ties (a ratio of exactly 1) left out: the chance that a variant no faster or slower than eager gives
    a split like this one.
    """
    below = sum(r < 1 for r in ratios)
    above = sum(r > 1 for r in ratios)
    n, most = below + above, max(below, above)
    if n == 0:
        return below, above, 1.0
    tail = sum(math.comb(n, k) for k in range(most, n + 1)) / 2 ** n
    return below, above, min(1.0, 2 * tail)


def rank_test(first, second) -> float:
    """p: the chance that two sets of rounds from the same distribution are ordered at least as unevenly as these.

    Two-sided Mann-Whitney test: U counts the pairs (one round of each) in which ``first``'s is lower (a tie counts a
    half). Exact for up to 400 pairs (every ordering of the pooled rounds equally likely), a normal approximation
    above. Used before ranking two models' gains: quartiles that do not overlap happen by chance in about 7% of
    runs of 9 and 7 rounds from the same distribution, more often than the course's 5%.
    """
    m, n = len(first), len(second)
    if not m or not n:
        return 1.0
    u = sum((a < b) + 0.5 * (a == b) for a in first for b in second)
    extreme = max(u, m * n - u)  # as far from the middle, on either side
    if m * n <= 400:
        counts = _u_counts(min(m, n), max(m, n))
        tail = sum(counts[k] for k in range(math.ceil(extreme - 1e-9), m * n + 1)) / math.comb(m + n, m)
        return min(1.0, 2 * tail)
    mean, sd = m * n / 2, math.sqrt(m * n * (m + n + 1) / 12)
    z = (extreme - 0.5 - mean) / sd
    return min(1.0, math.erfc(z / math.sqrt(2)))


def _u_counts(m, n) -> list:
    """How many orderings of m and n rounds give each U from 0 to m*n (the Gaussian binomial's coefficients)."""
    counts = [[1] + [0] * (m * n) for _ in range(n + 1)]  # row j: sizes (i, j) as i grows; U = 0 when i or j is 0
    for i in range(1, m + 1):
        previous = [row[:] for row in counts]
        for j in range(1, n + 1):
            # the largest round is first's (U rises by j, every second round below it) or second's (U unchanged)
            counts[j] = [(previous[j][u - j] if u >= j else 0) + counts[j - 1][u] for u in range(m * n + 1)]
    return counts[n]


def _quartiles(values):
    """(q25, median, q75) of a list, with the same interpolation as numpy's default."""
    if not values:
        return (math.nan,) * 3
    if len(values) == 1:
        return (values[0],) * 3
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[1], q[2]


@dataclass
class VariantResult:
    """One row of the report: how one variant did. Times are in seconds per call."""
    name: str
    error: str = None           # why it failed, one line (None if it ran)
    stage: str = None           # where it failed: "prepare", "first call", "measure"; or "skipped"
    prepare_s: float = None     # trace / script / freeze / optimize / compile wrapper / save for C++
    first_call_s: float = None  # the first answer: TorchScript profiles it, torch.compile compiles
    second_call_s: float = None  # TorchScript optimizes its graph during the second call
    times: list = field(default_factory=list)   # one time per call per round
    ratios: list = field(default_factory=list)  # per round: this variant's time / eager's time
    max_abs_diff: float = None  # largest difference from eager's output on the example
    note: str = ""
    wrong: str = None           # why its answers are not eager's (first diverging input), None if they agree
    parity: object = field(default=None, repr=False)  # the H.parity report it was checked with

    def __post_init__(self):
        self.checked_on = []    # labels of the inputs the parity check used

    @property
    def ok(self) -> bool:
        return self.error is None and self.wrong is None and bool(self.times)

    @property
    def median(self) -> float:
        return _quartiles(self.times)[1]

    @property
    def iqr(self) -> float:
        q25, _, q75 = _quartiles(self.times)
        return q75 - q25

    @property
    def ratio(self) -> float:
        """Median over rounds of (this variant's time / eager's time): below 1 is faster than eager."""
        return _quartiles(self.ratios)[1]

    @property
    def ratio_q25(self) -> float:
        return _quartiles(self.ratios)[0]

    @property
    def ratio_q75(self) -> float:
        return _quartiles(self.ratios)[2]

    @property
    def few_runs(self) -> bool:
        """True when there are too few ratios for quartiles (the C++ row in quick mode)."""
        return 0 < len(self.ratios) < FEW_RUNS

    @property
    def spread(self) -> tuple:
        """(low, high) of the ratios: the interquartile range, or the whole range when ``few_runs``."""
        if self.few_runs:
            return min(self.ratios), max(self.ratios)
        return self.ratio_q25, self.ratio_q75

    @property
    def spread_text(self) -> str:
        low, high = self.spread
        if self.few_runs:
            return f"{_x(low)}–{_x(high)} over {len(self.ratios)} run{'s' if len(self.ratios) != 1 else ''}"
        return f"IQR {_x(low)}–{_x(high)}"

    @property
    def verdict(self) -> str:
        """'faster' or 'slower' (the spread on that side of 1, in enough rounds), 'no clear difference' (the spread
        straddles 1), 'too few rounds' (on one side, but a split chance gives too often), 'no eager time to compare
        with' (timed in a run without eager), or why it was not measured."""
        if self.error is not None:
            return "skipped" if self.stage == "skipped" else "failed"
        if self.wrong is not None:
            return "wrong"
        if not self.ratios:
            # timed, but eager was not: "not measured" would deny the times the row shows
            return "no eager time to compare with" if self.times else "not measured"
        if self.too_few_rounds:
            return "too few rounds"  # the spread is on one side of 1, but chance alone does that too often
        return ratio_verdict(*self.spread)

    @property
    def chance(self) -> float:
        """The sign test's p over this row's rounds (see ``sign_test``)."""
        return sign_test(self.ratios)[2]

    @property
    def too_few_rounds(self) -> bool:
        """True when the spread lies on one side of 1 but the rounds are too few, or too mixed, to call it."""
        return bool(self.ratios) and ratio_verdict(*self.spread) in ("faster", "slower") and self.chance >= CHANCE_LIMIT


def fewest_for_a_verdict() -> int:
    """The fewest rounds, all on one side of 1, that the sign test can call (6: a split of 6 to 0 happens 3% of the time)."""
    n = 1
    while sign_test([0.5] * n)[2] >= CHANCE_LIMIT:
        n += 1
    return n


def _fewest_of(n: int):
    """The fewest of ``n`` rounds that must lie on one side of 1 for the sign test to call it; None if even all
    ``n`` are too few."""
    for k in range(n // 2 + 1, n + 1):
        if sign_test([0.5] * k + [2.0] * (n - k))[2] < CHANCE_LIMIT:
            return k
    return None


def _more(name, runs) -> str:
    """What gives a row more rounds: the C++ row counts whole runs of its program (``cpp_runs``), the others rounds."""
    if name == "C++":
        # thorough mode makes 7 runs: worth naming only to a run that made fewer than a verdict can need
        thorough = ", or thorough=True" if runs < fewest_for_a_verdict() else ""
        return (f"more runs of the program: a cpp_runs= above the {runs} it made (with more runs, a split a little "
                f"less uneven can be called){thorough}")
    return "more rounds: a larger rounds= and seconds=, or thorough=True"


def _ms(seconds) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _x(ratio) -> str:
    """A ratio with two decimals, or as many more as it takes near 1, so that 0.9996 never prints as 1.00 (or
    1.000) beside the word 'faster'."""
    digits = 3 if abs(ratio - 1) < 0.005 and ratio != 1 else 2
    while ratio != 1 and digits < 9 and f"{ratio:.{digits}f}" == f"{1:.{digits}f}":
        digits += 1
    return f"{ratio:.{digits}f}"


class BenchmarkReport:
    """What :func:`benchmark_model` measured: one :class:`VariantResult` per variant, in one run."""

    def __init__(self, label, rows, *, input_shapes, threads, rounds, block_seconds, budget_note=""):
        self.label, self.rows = label, rows
        self.budget_note = budget_note  # why the rounds took longer than seconds= asked, or ''
        self.input_shapes, self.threads, self.rounds, self.block_seconds = input_shapes, threads, rounds, block_seconds

    def __getitem__(self, name) -> VariantResult:
        if name not in self.rows:
            raise KeyError(f"{name!r} was not benchmarked here; this report has {', '.join(self.rows)}")
        return self.rows[name]

    def __contains__(self, name):
        return name in self.rows

    @property
    def measured(self) -> list:
        """Names of the variants that ran and were timed."""
        return [n for n, r in self.rows.items() if r.ok]

    @property
    def failures(self) -> dict:
        """Variant name -> 'stage: why' for every variant that failed (skipped ones are in ``skipped``)."""
        return {n: f"{r.stage}: {r.error}" for n, r in self.rows.items()
                if r.error is not None and r.stage != "skipped"}

    @property
    def wrong(self) -> dict:
        """Variant name -> how it diverges from eager, for every variant that computes something else."""
        return {n: r.wrong for n, r in self.rows.items() if r.wrong is not None}

    @property
    def skipped(self) -> dict:
        """Variant name -> why it was not attempted (the C++ program when it is not built)."""
        return {n: r.error for n, r in self.rows.items() if r.stage == "skipped"}

    def ratio(self, name) -> float:
        return self[name].ratio

    def verdict(self, name) -> str:
        return self[name].verdict

    def describe(self, name) -> str:
        """One sentence about ``name`` against eager, built only from what was measured."""
        r = self[name]
        if r.stage == "skipped":
            return f"{name} skipped: {r.error}"
        if r.error is not None:
            return f"{name} could not be measured ({r.stage}): {r.error}"
        if r.wrong is not None:
            return (f"{name} computes something else: it {r.wrong}, so its speed is not compared"
                    + (f" ({r.note})" if r.note else ""))
        if name == "eager":
            if len(r.times) < FEW_RUNS:  # no quartiles from a handful of times (as in the table)
                return f"eager takes {_ms(r.median)} per call (the median of {len(r.times)} times)"
            return f"eager takes {_ms(r.median)} per call (IQR {_ms(r.iqr)})"
        if not r.ratios:
            return f"{name} takes {_ms(r.median)} per call; no eager time to compare with"
        spread = f"{_x(r.ratio)}× eager's time ({r.spread_text})"
        side = {"faster": "below", "slower": "above"}.get(r.verdict)
        if r.too_few_rounds:
            below, above, p = sign_test(r.ratios)
            where, count = ("below", below) if ratio_verdict(*r.spread) == "faster" else ("above", above)
            meaning = (f"too few rounds to call: the spread is {where} 1, but two equally fast variants would put "
                       f"{count} of {below + above} rounds {where} 1 (or a split as uneven) {p:.0%} of the time; a "
                       f"verdict needs under {CHANCE_LIMIT:.0%}, so {_more(name, below + above)}")
        else:
            meaning = ("no clear difference from eager: the spread straddles 1" if side is None else
                       f"{r.verdict} than eager: its interquartile range is {side} 1, and so were "
                       f"{sign_test(r.ratios)[0 if side == 'below' else 1]} of {len(r.ratios)} rounds")
        # the C++ row's note ends with how it was timed, which is no news about its answers: only what comes before
        about_answers = "; ".join(part for part in r.note.split("; ") if not part.startswith("1st call = "))
        return f"{name}: {spread}, {meaning}" + (f" ({about_answers})" if about_answers else "")

    def table_rows(self) -> list:
        """The table as rows of strings (header first), used by both the text and the HTML views."""
        rows = [("variant", "prepare", "1st call", "2nd call", "median / call", "IQR", "× eager (IQR or range)", "verdict")]
        for name, r in self.rows.items():
            if r.error is not None:
                why = f"skipped: {r.error}" if r.stage == "skipped" else f"failed at {r.stage}: {r.error}"
                rows.append((name, _ms(r.prepare_s), _ms(r.first_call_s), "–", "–", "–", "–", why))
                continue
            if r.wrong is not None:
                rows.append((name, _ms(r.prepare_s), _ms(r.first_call_s), _ms(r.second_call_s), "–", "–", "–",
                             f"wrong: {r.wrong}" + (f" · {r.note}" if r.note else "")))
                continue
            low, high = r.spread if r.ratios else (None, None)
            ratio = "–" if not r.ratios else (f"{_x(r.ratio)} ({_x(low)}–{_x(high)}, {len(r.ratios)} runs)"
                                              if r.few_runs else f"{_x(r.ratio)} ({_x(low)}–{_x(high)})")
            verdict = "baseline" if name == "eager" else r.verdict
            if r.note:
                verdict += f" · {r.note}"
            iqr = "–" if len(r.times) < FEW_RUNS else _ms(r.iqr)  # no quartiles from a handful of times
            rows.append((name, _ms(r.prepare_s), _ms(r.first_call_s), _ms(r.second_call_s), _ms(r.median),
                         iqr, ratio, verdict))
        return rows

    def _title(self) -> str:
        shapes = ", ".join("×".join(map(str, s)) if len(s) else "0-d (one number)" for s in self.input_shapes)
        return (f"{self.label}: input {shapes}, {self.threads} thread{'s' if self.threads != 1 else ''}, "
                f"{self.rounds} interleaved rounds" + (f" ({self.budget_note})" if self.budget_note else ""))

    def __str__(self):
        rows = self.table_rows()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        lines = [self._title()]
        for row in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
        return "\n".join(lines)

    def __repr__(self):
        return f"<BenchmarkReport {self.label}: measured {', '.join(self.measured) or 'nothing'}>"

    def _repr_html_(self):
        rows = self.table_rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = ""
        for row in rows[1:]:
            colour = " style='color:#b00020'" if row[-1].startswith(("failed", "wrong")) else ""
            body += "<tr>" + "".join(f"<td{colour}>{html.escape(c)}</td>" for c in row) + "</tr>"
        return (f"<div><b>{html.escape(self._title())}</b><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table></div>")


def compare_gains(first, second, variant) -> str:
    """One sentence: does ``variant`` gain more against eager on ``first``'s model or ``second``'s, beyond the spread?"""
    if not isinstance(first, BenchmarkReport) or not isinstance(second, BenchmarkReport):
        raise TypeError("compare_gains takes two reports from H.benchmark_model(...) and a variant name")
    a, b = first[variant], second[variant]
    if not (a.ratios and b.ratios):
        return f"{variant}: not measured against eager on both {first.label} and {second.label}"

    def show(report, row):
        return f"{report.label} {_x(row.ratio)}× eager ({row.spread_text})"

    both = f"{show(first, a)}, {show(second, b)}"
    (a_low, a_high), (b_low, b_high) = a.spread, b.spread
    def ranked(better, worse):
        # The ranking is between the two spreads; what each row is against eager is its own verdict (sign test
        # included). "A bigger gain" only when both rows are faster; a row straddling 1, or with too few rounds to
        # call, is named as such rather than counted as a gain.
        said = {"too few rounds": "too few rounds to call"}
        good, bad = (said.get(r[variant].verdict, r[variant].verdict) for r in (better, worse))
        if good == bad == "faster":
            return f"{variant}: a bigger gain on {better.label} than on {worse.label}, beyond both spreads: {both}"
        if bad == "slower":
            return (f"{variant}: slower than eager on {worse.label} (its whole spread above 1×, in enough rounds), "
                    f"{good} on {better.label}, and lower there beyond both spreads: {both}")
        return (f"{variant}: a lower time ratio on {better.label} than on {worse.label}, beyond both spreads; against "
                f"eager: {good} on {better.label}, {bad} on {worse.label}: {both}")

    if a_high < b_low or b_high < a_low:  # one's worst quarter beats the other's best quarter...
        p = rank_test(a.ratios, b.ratios)
        if p >= CHANCE_LIMIT:  # ...which few rounds give by chance too often to rank on it
            return (f"{variant}: the spreads do not overlap, but {len(a.ratios)} and {len(b.ratios)} rounds this far "
                    f"apart happen by chance {p:.0%} of the time when both gains are the same (a rank test; over "
                    f"{CHANCE_LIMIT:.0%}), so this run cannot rank the two: {both}")
        return ranked(first, second) if a_high < b_low else ranked(second, first)
    return f"{variant}: the spreads overlap, so this run cannot rank the two: {both}"


# ------------------------------------------------------------------ pictures

def plot_benchmark(*reports):
    """A picture (SVG) in two panels: each variant's time per call as a ratio of eager's (median and
    IQR over rounds), and the one-off costs (prepare, 1st call, 2nd call) beside one steady call, on log scales."""
    if not reports or not all(isinstance(r, BenchmarkReport) for r in reports):
        raise TypeError("plot_benchmark takes one or more reports from H.benchmark_model(...)")
    from .svg_picture import PALETTE, Canvas, LogScale, seconds_label

    names = [n for n in BENCHMARK_VARIANTS if any(n in r.rows for r in reports)]
    row_h = max(28.0, 16.0 * len(reports) + 12)
    label_w, panel_w, gap, top = 150.0, 360.0, 40.0, 62.0
    panels = {"ratio": label_w, "cost": label_w + panel_w + gap}
    plot_h = row_h * max(len(names), 1)
    canvas = Canvas(label_w + 2 * panel_w + gap + 20, top + plot_h + 96)
    costs = (("prepare_s", "s", "prepare"), ("first_call_s", "o", "1st call"), ("second_call_s", "^", "2nd call"),
             ("median", "|", "one steady call"))
    def y_of(i, k):  # row i, report k: the reports side by side within a variant's row
        return top + (i + 0.5) * row_h + (k - (len(reports) - 1) / 2) * 16

    # left panel: ratios to eager, log scale, the 1× line dashed
    spread = [v for r in reports for row in r.rows.values() if row.ratios for v in row.spread]
    low, high = min(spread + [1.0]) / 1.25, max(spread + [1.0]) * 1.25
    ratio_x = LogScale(low, high, panels["ratio"], panels["ratio"] + panel_w)
    ticks = [t for t in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50) if low <= t <= high]
    _axis(canvas, ratio_x, ticks, [f"{t:g}×" for t in ticks], top, plot_h)
    canvas.line([(ratio_x(1.0), top), (ratio_x(1.0), top + plot_h)], "#888888", dash="5 4")
    canvas.text(ratio_x.start + panel_w / 2, 10, "time per call ÷ eager's time (left of 1× = faster)\n"
                "dot: median; bar: IQR over rounds, or the range of a few runs", 11, baseline="hanging")

    # right panel: one-off costs and one steady call, in seconds, log scale
    seconds = [value for r in reports for row in r.rows.values() for value, _ in _cost_marks(row, costs)]
    cost_low = 10 ** math.floor(math.log10(min(seconds) / 1.3)) if seconds else 1e-4
    cost_high = 10 ** math.ceil(math.log10(max(seconds) * 1.3)) if seconds else 1.0
    cost_x = LogScale(cost_low, cost_high, panels["cost"], panels["cost"] + panel_w)
    decades = [10.0 ** e for e in range(round(math.log10(cost_low)), round(math.log10(cost_high)) + 1)]
    _axis(canvas, cost_x, decades, [seconds_label(d) for d in decades], top, plot_h)
    canvas.text(cost_x.start + panel_w / 2, top + plot_h + 34, "seconds", 11)
    canvas.text(cost_x.start + panel_w / 2, 10, "one-off costs, then one steady call\n"
                "(prepare: trace, script, freeze, compile or save)", 11, baseline="hanging")

    for i, name in enumerate(names):
        canvas.text(label_w - 10, top + (i + 0.5) * row_h, name, 11, anchor="end")
        for k, report in enumerate(reports):
            row, y, colour = report.rows.get(name), y_of(i, k), PALETTE[k % len(PALETTE)]
            if row is None:
                continue
            if row.error is not None or row.wrong is not None:
                what = ("skipped" if row.stage == "skipped" else f"failed at {row.stage}"
                        if row.error is not None else "wrong: diverges from eager, not timed")
                for start in panels.values():
                    canvas.text(start + 6, y, f"{report.label}: {what}", 9, anchor="start", colour="#b00020")
            if row.ratios:
                (a, b), mid = row.spread, ratio_x(row.ratio)
                canvas.line([(ratio_x(a), y), (ratio_x(b), y)], colour, width=1.4)
                for end in (a, b):
                    canvas.line([(ratio_x(end), y - 4), (ratio_x(end), y + 4)], colour, width=1.4)
                canvas.marker("o", mid, y, colour)
            for value, marker in _cost_marks(row, costs):
                canvas.marker(marker, cost_x(value), y, colour)

    # one legend below both panels: which colour is which model, which mark is which cost
    legend_y = top + plot_h + 62
    x = label_w
    for k, report in enumerate(reports):
        canvas.marker("o", x + 5, legend_y, PALETTE[k % len(PALETTE)])
        canvas.text(x + 14, legend_y, report.label, 10, anchor="start")
        x += 24 + 7 * len(report.label)
    x = max(x + 20, panels["cost"])
    for _, marker, text in costs:
        canvas.marker(marker, x + 5, legend_y, "#777777", size=4.5 if marker == "|" else 7.0)
        canvas.text(x + 14, legend_y, text, 10, anchor="start")
        x += 24 + 6.5 * len(text)
    title = "benchmark: " + ", ".join(r.label for r in reports)
    return canvas.picture(title)


def _cost_marks(row, costs):
    """(seconds, marker) for each cost the row measured; the steady call only if it was timed."""
    for attribute, marker, _ in costs:
        value = getattr(row, attribute)
        if value is not None and value == value and value > 0 and (attribute != "median" or row.times):
            yield value, marker  # value == value: not NaN


def _axis(canvas, scale, ticks, labels, top, plot_h):
    """A panel's frame, its vertical grid lines at the ticks, and the tick labels below it."""
    for tick, label in zip(ticks, labels):
        x = scale(tick)
        canvas.line([(x, top), (x, top + plot_h)], "#e5e7eb")
        canvas.text(x, top + plot_h + 14, label, 10)
    canvas.rect(scale.start, top, scale.end - scale.start, plot_h, "none", "#333333")
