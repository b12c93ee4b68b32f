"""What the benchmark measured: per-variant results, verdicts, the report table and its picture (introduced in 07_optimize_and_debug)."""
import html
import math
import statistics
from dataclasses import dataclass, field

__all__ = ["BENCHMARK_VARIANTS", "FEW_RUNS", "VariantResult", "BenchmarkReport", "plot_benchmark", "ratio_verdict",
           "compare_gains"]

# Every variant the benchmark knows, in the order the tables and plots show them.
BENCHMARK_VARIANTS = ("eager", "trace", "script", "script+freeze", "optimize_for_inference", "torch.compile", "C++")

# Quartiles of three or four numbers say little: below this many ratios, a row is judged by its whole range.
FEW_RUNS = 5


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
        if self.error is not None:
            return "skipped" if self.stage == "skipped" else "failed"
        if self.wrong is not None:
            return "wrong"
        if not self.ratios:
            return "not measured"
        return ratio_verdict(*self.spread)


def _ms(seconds) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _x(ratio) -> str:
    """A ratio with two decimals, or three near 1, so that 0.998 never prints as 1.00 beside the word 'faster'."""
    return f"{ratio:.3f}" if abs(ratio - 1) < 0.005 and ratio != 1 else f"{ratio:.2f}"


class BenchmarkReport:
    """What :func:`benchmark_model` measured: one :class:`VariantResult` per variant, in one run."""

    def __init__(self, label, rows, *, input_shapes, threads, rounds, block_seconds):
        self.label, self.rows = label, rows
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
            return f"{name} computes something else: it {r.wrong}, so its speed is not compared"
        if name == "eager":
            return f"eager takes {_ms(r.median)} per call (IQR {_ms(r.iqr)})"
        if not r.ratios:
            return f"{name} takes {_ms(r.median)} per call; no eager time to compare with"
        spread = f"{_x(r.ratio)}× eager's time ({r.spread_text})"
        share = "in every run" if r.few_runs else "in at least three rounds out of four"
        meaning = {"faster": f"faster than eager {share}",
                   "slower": f"slower than eager {share}",
                   "no clear difference": "no clear difference from eager: the spread straddles 1"}[r.verdict]
        return f"{name}: {spread}, {meaning}"

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
                             f"wrong: {r.wrong}"))
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
        shapes = ", ".join("×".join(map(str, s)) for s in self.input_shapes)
        return (f"{self.label}: input {shapes}, {self.threads} thread{'s' if self.threads != 1 else ''}, "
                f"{self.rounds} interleaved rounds")

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
    if a_high < b_low:  # even a's worst quarter beats b's best quarter
        return f"{variant}: a bigger gain on {first.label} than on {second.label}, beyond both spreads: {both}"
    if b_high < a_low:
        return f"{variant}: a bigger gain on {second.label} than on {first.label}, beyond both spreads: {both}"
    return f"{variant}: the spreads overlap, so this run cannot rank the two: {both}"


# ------------------------------------------------------------------ pictures

def plot_benchmark(*reports):
    """Two panels: each variant's time per call as a ratio of eager's (median and IQR over rounds),
    and the one-off costs (prepare, 1st call, 2nd call) beside one steady call, on log scales."""
    if not reports or not all(isinstance(r, BenchmarkReport) for r in reports):
        raise TypeError("plot_benchmark takes one or more reports from H.benchmark_model(...)")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter

    names = [n for n in BENCHMARK_VARIANTS if any(n in r.rows for r in reports)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.3 * len(names) * len(reports) + 2.2))
    step = 0.7 / len(reports)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    costs = (("prepare_s", "s", "prepare"), ("first_call_s", "o", "1st call"), ("second_call_s", "^", "2nd call"),
             ("median", "|", "one steady call"))
    for k, report in enumerate(reports):
        colour = colours[k % len(colours)]
        for i, name in enumerate(names):
            y = i + (k - (len(reports) - 1) / 2) * step
            row = report.rows.get(name)
            if row is None:
                continue
            if row.error is not None or row.wrong is not None:
                what = ("skipped" if row.stage == "skipped" else f"failed at {row.stage}"
                        if row.error is not None else "wrong: diverges from eager, not timed")
                for axis in (left, right):
                    axis.annotate(f"{report.label}: {what}", (0.02, y), va="center", fontsize=8,
                                  xycoords=("axes fraction", "data"), color="#b00020")
            if row.ratios:
                low, high = row.spread
                left.errorbar(row.ratio, y, xerr=[[row.ratio - low], [high - row.ratio]],
                              fmt="o", color=colour, capsize=3)
            for attribute, marker, _ in costs:
                value = getattr(row, attribute)
                if value is not None and value == value and value > 0 and (attribute != "median" or row.times):
                    right.plot([value], [y], marker=marker, color=colour, linestyle="none",
                               markersize=12 if marker == "|" else 6)
    left.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    left.set_xscale("log")
    spread = [v for r in reports for row in r.rows.values() if row.ratios for v in row.spread]
    low, high = min(spread + [1.0]) / 1.25, max(spread + [1.0]) * 1.25
    left.set_xlim(low, high)
    ticks = [t for t in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50) if low <= t <= high]
    left.set_xticks(ticks, [f"{t:g}×" for t in ticks])
    left.xaxis.set_minor_formatter(NullFormatter())
    left.set_title("time per call ÷ eager's time (left of 1× = faster)\ndot: median; bar: IQR over rounds, "
                   "or the range of a few runs",
                   fontsize=10)
    right.set_xscale("log")
    right.set_xlabel("seconds")
    right.set_title("one-off costs, then one steady call\n(prepare: trace, script, freeze, compile or save)",
                    fontsize=10)
    model_keys = [Line2D([], [], color=colours[k % len(colours)], marker="o", linestyle="none", label=r.label)
                  for k, r in enumerate(reports)]
    marker_keys = [Line2D([], [], color="grey", marker=m, linestyle="none", label=text,
                          markersize=12 if m == "|" else 6) for _, m, text in costs]
    left.legend(handles=model_keys, fontsize=8, loc="best")
    right.legend(handles=marker_keys + model_keys, fontsize=8, loc="best")
    left.grid(axis="x", alpha=0.3, which="both")
    right.grid(axis="x", alpha=0.3)
    for axis in (left, right):
        axis.set_yticks(range(len(names)), names)
        axis.set_ylim(len(names) - 0.5, -0.5)
    fig.tight_layout()
    plt.close(fig)  # returned, not shown twice: the notebook displays the returned figure
    return fig
