"""The course benchmark (scripts/course_bench.py): what it runs, what it reports, and that it never fails on time."""
import importlib.util
import json
import subprocess
import sys

import nbformat
import pytest

from helpers.course.workdir import REPO_ROOT

_spec = importlib.util.spec_from_file_location("course_bench", REPO_ROOT / "scripts" / "course_bench.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

ALL = sorted(p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb"))


def fake(wall, cpu=None, ok=True, error=None):
    return bench.Measurement(wall_s=wall, start_s=1.0, cpu_s=wall if cpu is None else cpu, peak_rss_mb=500.0,
                             peak_tree_rss_mb=600.0, ok=ok, error=error, cells=3)


# ---------------------------------------------------------------- choosing and planning

def test_notebooks_are_chosen_by_number_stem_or_file_name():
    assert [p.name for p in bench.select_notebooks()] == ALL
    first, second = ALL[0], ALL[1]
    assert [p.name for p in bench.select_notebooks(first[:2])] == [first]
    assert [p.name for p in bench.select_notebooks(f"{second[:-6]}, {first}")] == [second, first]
    assert [p.name for p in bench.select_notebooks([first, first[:2]])] == [first]  # once each
    with pytest.raises(ValueError, match="no single notebook matches '99'"):
        bench.select_notebooks("99")


def test_floors_sit_between_the_notebooks_and_torch_only_at_both_ends():
    steps = bench.plan(["a", "b"], warmup=True, imports=False)
    assert steps == [("warmup", None), ("torch", None), ("floor", None), ("notebook", "a"), ("floor", None),
                     ("notebook", "b"), ("floor", None), ("torch", None)]
    assert bench.plan([], warmup=False)[0] == ("torch", None)
    # by default each notebook's imports kernel follows it, before the next floor
    assert bench.plan(["a"], warmup=False) == [("torch", None), ("floor", None), ("notebook", "a"), ("imports", "a"),
                                               ("floor", None), ("torch", None)]


# ---------------------------------------------------------------- the summary

def test_ratios_sums_and_targets_are_computed_from_the_same_runs_floor():
    results = [("00_a.ipynb", fake(6.0)), ("07_b.ipynb", fake(16.0)), ("10_new.ipynb", fake(9.0, ok=False, error="x"))]
    report = bench.summarise(results, floors=[fake(3.0), fake(4.0), fake(5.0)], torches=[fake(3.6), fake(4.4)])
    assert report["schema"] == bench.SCHEMA and report["floor"]["wall_s"] == 4.0  # the median floor
    assert report["floor_over_torch"] == pytest.approx(1.0) and report["verdicts"]["floor_over_torch_within"]
    rows = {r["key"]: r for r in report["notebooks"]}
    assert rows["00"]["ratio"] == 1.5 and rows["00"]["target_ratio"] == 3.0 and rows["00"]["within_target"]
    assert rows["07"]["ratio"] == 4.0 and rows["07"]["target_ratio"] == 5.0 and rows["07"]["within_target"]
    assert rows["10"]["target_ratio"] == 2.0 and not rows["10"]["within_target"]  # a new notebook: 2.25 > 2
    course = report["course"]
    assert course["work_beyond_floor"] == pytest.approx(0.5 + 3.0 + 1.25)
    assert course["work_beyond_floor_today"] == pytest.approx(3.5)
    assert course["cpu_s_per_learner"] == pytest.approx(31.0) and not course["all_ok"] and not course["complete"]
    # the whole-course target only judges a run of all ten notebooks of today
    assert report["verdicts"]["work_beyond_floor_today_within"] is None
    assert not report["verdicts"]["notebooks_within_target"]


def test_the_course_target_is_judged_when_all_ten_ran():
    results = [(f"{i:02d}_x.ipynb", fake(8.0)) for i in range(10)]
    report = bench.summarise(results, floors=[fake(4.0)], torches=[fake(4.0)], all_names=[n for n, _ in results])
    assert report["course"]["complete"] and report["course"]["work_beyond_floor_today"] == pytest.approx(10.0)
    assert report["verdicts"]["work_beyond_floor_today_within"] is True


def test_the_schema_at_the_top_of_the_script_names_every_field():
    report = bench.summarise([("00_a.ipynb", fake(6.0))], floors=[fake(4.0)], torches=[fake(4.0)])
    doc = bench.__doc__
    fields = (list(report) + list(report["machine"]) + list(report["settings"] or {}) + list(report["floor"])
              + list(report["notebooks"][0]) + list(report["course"]) + list(report["verdicts"])
              + list(report["floor"]["runs"][0]))
    missing = [f for f in fields if f'"{f}"' not in doc and f"{f} " not in doc]
    assert not missing, f"document these fields in course_bench.py's docstring: {missing}"


# ---------------------------------------------------------------- a whole run, with fake kernels

def fake_runner(nb, timeout):
    code = nb.cells[0].source
    if code == bench.FLOOR_CODE:
        return fake(4.0)
    if code == bench.TORCH_CODE:
        return fake(3.8)
    return fake(10.0) if "fail" not in code else fake(5.0, ok=False, error="cell 0: ValueError: fail")


def test_main_writes_json_and_plot_prints_a_table_and_never_fails_on_time(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NOTEBOOKS", ALL[0][:2])
    monkeypatch.setattr(bench, "OUT_DIR", tmp_path)
    assert bench.main([], runner=fake_runner, out_dir=tmp_path) == 0  # 2.5× floor: reported, not failed
    out = capsys.readouterr().out
    assert ALL[0] in out and "2.50" in out and "Σ(ratio − 1) = 1.5" in out and "CPU-seconds per learner" in out
    report = json.loads((tmp_path / "course_bench.json").read_text())
    assert report["notebooks"][0]["name"] == ALL[0] and len(report["floor"]["runs"]) == 2
    assert len(report["torch_only"]["runs"]) == 2  # the warm-up kernel is not counted
    assert (tmp_path / "course_bench.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course_bench.json", "course_bench.png"]  # no temp files


def test_main_exits_1_only_when_a_notebook_raised(tmp_path, monkeypatch):
    broken = tmp_path / "nbs"
    broken.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("fail"))
    nbformat.write(nb, broken / "10_broken.ipynb")
    monkeypatch.setattr(bench, "NOTEBOOK_DIR", broken)
    monkeypatch.setattr(bench, "select_notebooks", lambda wanted: sorted(broken.glob("*.ipynb")))
    assert bench.main(["10"], runner=fake_runner, out_dir=tmp_path / "out") == 1
    row = json.loads((tmp_path / "out" / "course_bench.json").read_text())["notebooks"][0]
    assert not row["ok"] and "ValueError: fail" in row["error"]


def test_a_written_report_is_shown_again_as_a_markdown_table(tmp_path, capsys):
    assert bench.main(["00"], runner=fake_runner, out_dir=tmp_path) == 0
    capsys.readouterr()
    assert bench.main(["--show", str(tmp_path / "course_bench.json"), "--markdown"]) == 0
    table = capsys.readouterr().out
    assert f"| {ALL[0][:-6]} | 2.5 | 2.5–2.5 | ≤3 ✔ | – | 10.0 | 10.0 | 500 |" in table and "floor (kernel start + `H.start`) 4.0 s" in table
    (tmp_path / "other.json").write_text('{"schema": "something else"}')
    assert bench.main(["--show", str(tmp_path / "other.json")]) == 2


def test_a_wrong_notebook_name_is_a_usage_error(capsys):
    assert bench.main(["nope"], runner=fake_runner) == 2
    assert "no single notebook matches 'nope'" in capsys.readouterr().err


# ---------------------------------------------------------------- one real kernel

CHILD = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\nprint(time.process_time())"


def test_a_real_kernel_counts_its_childrens_cpu_and_reports_a_failed_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells += [nbformat.v4.new_markdown_cell("# a title"),
                 nbformat.v4.new_code_cell(f"import subprocess, sys\nchild_cpu = float(subprocess.run("
                                           f"[sys.executable, '-c', {CHILD!r}], capture_output=True, text=True).stdout)"),
                 nbformat.v4.new_code_cell("raise ValueError('stop here')"),
                 nbformat.v4.new_code_cell("never = 1")]
    m = bench.run_kernel(nb, timeout=300)
    assert not m.ok and m.cells == 1 and "ValueError: stop here" in m.error and m.error.startswith("cell 2")
    # the kernel's count includes what its finished child burnt (0.5 CPU-s at least): a sum, not a speed
    assert m.cpu_s >= 0.5
    assert m.peak_rss_mb > 0 and m.peak_tree_rss_mb >= m.peak_rss_mb and 0 < m.start_s <= m.wall_s
    # each code cell that ran is timed, by its index among all the notebook's cells, with its first line
    ((index, took, line),) = m.cell_s
    assert index == 1 and line == "import subprocess, sys" and 0 < took <= m.wall_s - m.start_s


def test_the_script_runs_from_any_folder_without_pythonpath(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "course_bench.py"), "--help"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "ratio to the floor" in done.stdout


def test_a_ratio_comes_with_the_range_the_floors_spread_gives_and_a_call_that_says_when_it_is_too_close():
    floors = [fake(w) for w in (3.6, 3.8, 4.0, 4.2, 4.4)]  # quartiles 3.7 and 4.3
    report = bench.summarise([("07_a.ipynb", fake(20.0)), ("00_b.ipynb", fake(8.0)), ("09_c.ipynb", fake(16.0))],
                             floors=floors, torches=[fake(4.0)])
    rows = {r["key"]: r for r in report["notebooks"]}
    assert report["floor"]["wall_s_q1"] == pytest.approx(3.7) and report["floor"]["wall_s_q3"] == pytest.approx(4.3)
    assert rows["07"]["ratio_low"] == pytest.approx(20 / 4.3) and rows["07"]["ratio_high"] == pytest.approx(20 / 3.7)
    assert rows["07"]["ratio"] == 5.0 and rows["07"]["call"] == "too close to call"  # 4.65-5.41 around the target 5
    assert rows["00"]["call"] == "within" and rows["09"]["call"] == "over"              # 1.86-2.16 ≤ 3; 3.72-4.32 > 3
    assert bench.target_call(2.0, 2.9, 3.0) == "within" and bench.target_call(3.01, 4, 3.0) == "over"
    table = bench.format_table(report)
    assert "≤5≈" in table and "≤3✔" in table and "≤3✘" in table and "too close to call" in table


def test_show_makes_the_summary_again_from_an_older_report(tmp_path):
    report = bench.summarise([("00_a.ipynb", fake(6.0))], floors=[fake(w) for w in (3.8, 4.0, 4.2, 4.4)],
                             torches=[fake(4.0)])
    for row in report["notebooks"]:  # as written before the ranges existed
        for key in ("ratio_low", "ratio_high", "call"):
            del row[key]
    report["created"] = "2026-01-01T00:00:00+00:00"
    old = tmp_path / "old.json"
    old.write_text(json.dumps(report))
    again = bench.resummarise(json.loads(old.read_text()))
    assert again["created"] == "2026-01-01T00:00:00+00:00" and again["notebooks"][0]["call"] == "within"
    done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "course_bench.py"), "--show", str(old),
                           "--markdown"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "| 00_a | 1.5 | 1.4–1.6 | ≤3 ✔ |" in done.stdout


def test_a_long_run_has_torch_only_kernels_after_every_fourth_notebook_too():
    steps = bench.plan([f"n{i}" for i in range(9)], warmup=False, imports=False)
    torch_at = [i for i, step in enumerate(steps) if step == ("torch", None)]
    assert len(torch_at) == 4 and steps[torch_at[1] - 2] == ("notebook", "n3")  # after n3's floor, after n7's, and the ends
    assert steps.count(("floor", None)) == 10


def test_a_repeated_run_reports_each_notebooks_median_and_the_spread_of_its_runs():
    floors = [fake(w) for w in (4.0, 4.0, 4.0, 4.0)]
    runs = [("05_a.ipynb", fake(12.0)), ("05_a.ipynb", fake(16.0)), ("05_a.ipynb", fake(13.0, ok=False, error="E: x"))]
    report = bench.summarise(runs, floors=floors, torches=[fake(4.0)], settings={"repeat": 3})
    (row,) = report["notebooks"]
    assert row["runs"] == 3 and row["wall_s_runs"] == [12.0, 16.0, 13.0] and row["wall_s"] == 13.0
    assert row["ratio"] == 3.25 and row["ratio_low"] == 3.0 and row["ratio_high"] == 4.0
    assert row["call"] == "too close to call" and not row["ok"] and row["error"] == "E: x"


def test_repeat_runs_the_whole_plan_again_without_a_second_warmup(tmp_path):
    seen = []

    def runner(nb, timeout):
        seen.append(nb.cells[0].source.splitlines()[0][:30] if nb.cells else "")
        return fake(4.0)

    def before_pass():  # each pass is one learner's: the waiting torch process is stopped before it
        seen.append("-- pass --")

    report = bench.run_course(bench.select_notebooks(ALL[0][:2]), runner=runner, repeat=2, log=lambda *a, **k: None,
                              before_pass=before_pass)
    # the fake notebook lists no modules, so no imports kernel runs after it
    first, second = len(bench.plan(["x"], True, imports=False)), len(bench.plan(["x"], False, imports=False))
    assert len(seen) == 2 + first + second
    assert seen[0] == seen[1 + first] == "-- pass --" and seen.count("-- pass --") == 2
    assert report["notebooks"][0]["runs"] == 2 and report["settings"]["repeat"] == 2
    assert bench.main(["--repeat", "0", "00"], runner=runner, out_dir=tmp_path) == 2


def test_show_keeps_the_spread_of_a_repeated_run():
    runs = [("05_a.ipynb", fake(12.0)), ("05_a.ipynb", fake(16.0)), ("05_a.ipynb", fake(13.0))]
    report = bench.summarise(runs, floors=[fake(4.0)] * 4, torches=[fake(4.0)], settings={"repeat": 3})
    again = bench.resummarise(json.loads(json.dumps(report)))
    assert again["notebooks"][0]["wall_s"] == 13.0 and again["notebooks"][0]["ratio_high"] == 4.0


def test_a_kernel_that_leaves_a_request_unread_is_run_again_once_and_said_so(tmp_path):
    runs = []

    def runner(nb, timeout):
        code = nb.cells[0].source
        if code in (bench.FLOOR_CODE, bench.TORCH_CODE):
            return fake(4.0)
        runs.append(code)
        if len(runs) == 1:  # the first run of the notebook: the kernel stood idle with the request unread
            return fake(timeout, ok=False, error=f"cell 3: {bench.LOST} within {timeout:g} s")
        return fake(8.0)

    logged = []
    report = bench.run_course(bench.select_notebooks(ALL[0][:2]), runner=runner, warmup=False,
                              log=lambda *a, **k: logged.append(a[0]))
    assert len(runs) == 2 and report["notebooks"][0]["wall_s"] == 8.0
    assert report["settings"]["reruns"] == [f"{ALL[0]}: cell 3: {bench.LOST} within 600 s"]
    assert any("running it again" in line for line in logged)


# ---------------------------------------------------------------- what the libraries alone cost

def test_the_imports_kernel_imports_the_notebooks_modules_in_order_and_times_each_library():
    code = bench.imports_code(["__main__", "json", "json.decoder", "no_such_module_here", "colorsys"])
    assert code.startswith(bench.FLOOR_CODE) and "'__main__'" not in code
    # run it without the floor's line: every importable name ends in sys.modules, the unknown one is skipped
    body = code[len(bench.FLOOR_CODE):] + "\nimport json\nprint(json.dumps([sorted({'json', 'colorsys'} & set(_sys.modules)), _import_seconds]))"
    done = subprocess.run([sys.executable, "-c", body], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found, seconds = json.loads(done.stdout)
    assert found == ["colorsys", "json"] and set(seconds) <= {"json", "no_such_module_here", "colorsys"}
    assert "colorsys" in seconds and all(value >= 0 for value in seconds.values())


def test_modules_belong_to_their_library_torch_by_subpackage_and_the_slowest_are_kept():
    assert [bench.library_of(n) for n in ("torch._dynamo.utils", "torch", "onnx.helper", "sympy")] == \
        ["torch._dynamo", "torch", "onnx", "sympy"]
    assert bench.largest_libraries({"a": 0.001, "b": 0.5, "c": 1.234, "d": 0.2}, top=2) == {"c": 1.23, "b": 0.5}
    assert bench.largest_libraries({"a": 0.001}) == {} and bench.largest_libraries(None) == {}


def test_the_report_says_when_a_target_lies_below_the_imports_alone(tmp_path, capsys):
    results = [("10_new.ipynb", fake(12.0)), ("00_a.ipynb", fake(5.0))]
    imports = [("10_new.ipynb", fake(9.0)), ("10_new.ipynb", fake(10.0)), ("00_a.ipynb", fake(4.4))]
    report = bench.summarise(results, floors=[fake(4.0)] * 4, torches=[fake(4.0)], imports=imports,
                             libraries={"10_new.ipynb": {"torch._dynamo": 0.92, "onnx": 0.31}})
    rows = {r["key"]: r for r in report["notebooks"]}
    assert rows["10"]["imports_s"] == 9.5 and rows["10"]["imports_ratio"] == pytest.approx(2.375)
    assert rows["10"]["imports_over_target"] is True  # 9.0 / 4.0 = 2.25 > 2: no cut-free way under the target
    assert rows["00"]["imports_over_target"] is False and rows["00"]["imports_ratio"] == pytest.approx(1.1)
    table = bench.format_table(report)
    assert "2.38!" in table and "10 (2.25 > 2; torch._dynamo 0.9 s, onnx 0.3 s)" in table
    markdown = bench.markdown_table(report)
    assert "| 2.4 (over the target) |" in markdown and "| 1.1 |" in markdown
    # --show makes the same figures again from the written report
    again = bench.resummarise(json.loads(json.dumps(report)))
    assert {r["key"]: r["imports_ratio"] for r in again["notebooks"]} == {r["key"]: r["imports_ratio"]
                                                                         for r in report["notebooks"]}
    assert again["notebooks"][0]["libraries"] == {"torch._dynamo": 0.92, "onnx": 0.31}


def test_a_run_times_each_notebooks_imports_kernel_from_the_modules_its_kernel_listed():
    seen = []

    def runner(nb, timeout):
        code = nb.cells[0].source
        seen.append(code)
        if code in (bench.FLOOR_CODE, bench.TORCH_CODE):
            return fake(4.0)
        if code.startswith(bench.FLOOR_CODE):  # the imports kernel
            m = fake(5.0)
            m.import_seconds = {"colorsys": 0.04, "json": 0.0001}
            return m
        m = fake(8.0)
        m.modules = ["sys", "json", "colorsys"]
        return m

    report = bench.run_course(bench.select_notebooks(ALL[0][:2]), runner=runner, warmup=False, log=lambda *a, **k: None)
    imports_kernels = [c for c in seen if c.startswith(bench.FLOOR_CODE) and c != bench.FLOOR_CODE]
    assert len(imports_kernels) == 1 and "'colorsys'" in imports_kernels[0]
    row = report["notebooks"][0]
    assert row["imports_s"] == 5.0 and row["imports_ratio"] == 1.25 and row["libraries"] == {"colorsys": 0.04}
    assert "modules" not in json.dumps(report)  # the module lists stay out of the report


def test_a_real_kernel_lists_the_modules_it_imported_after_its_figures():
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import colorsys"))
    m = bench.run_kernel(nb, timeout=300)
    assert m.ok and m.cells == 1 and "colorsys" in m.modules and m.modules.index("sys") < m.modules.index("colorsys")
    assert m.import_seconds is None  # only an imports kernel times its libraries
    assert len(nb.cells) == 1  # the listing request left the notebook as it was


def with_cells(wall, cells):
    m = fake(wall)
    m.cell_s = cells
    return m


def test_the_heaviest_cells_are_the_median_runs_counted_beyond_the_floor_and_shown_for_notebooks_over_target(
        tmp_path, capsys):
    floor = fake(4.0)  # its one cell: 4.0 s of wall less 1.0 s of kernel start
    runs = [("05_a.ipynb", with_cells(16.0, [[1, 5.0, "import helpers as H"], [3, 2.0, "x = 1"], [4, 8.0, "slow()"]])),
            ("05_a.ipynb", with_cells(18.0, [[1, 5.4, "import helpers as H"], [3, 4.0, "x = 1"], [4, 8.0, "slow()"]])),
            ("05_a.ipynb", with_cells(14.0, [[1, 4.6, "import helpers as H"], [3, 1.0, "x = 1"]])),  # stopped early
            ("00_b.ipynb", with_cells(5.0, [[1, 4.5, "import helpers as H"]]))]
    report = bench.summarise(runs, floors=[floor], torches=[fake(4.0)], settings={"repeat": 3})
    rows = {r["key"]: r for r in report["notebooks"]}
    assert rows["05"]["cell_s"] == [[1, 5.0, "import helpers as H"], [3, 2.0, "x = 1"], [4, 8.0, "slow()"]]
    # the first cell is counted beyond the floor's cell (5.0 - 3.0 = 2.0 s, tied with cell 3), heaviest first
    assert bench.heaviest_cells(rows["05"], report["floor"]) == [(4, 2.0, 8.0, "slow()"),
                                                                (1, 0.5, 2.0, "import helpers as H"),
                                                                (3, 0.5, 2.0, "x = 1")]
    assert bench.heaviest_cells(rows["00"], report["floor"]) == [(1, 0.375, 1.5, "import helpers as H")]
    table = bench.format_table(report)
    assert "  05: [4] 2.00: slow() · [1] 0.50" in table and "  00:" not in table  # 00 is within its target
    markdown = bench.markdown_table(report)
    assert "| 05 | 4 | 2.00 | 8.00 | `slow()` |" in markdown and "| 00 |" not in markdown
    # kept in the JSON, and shown again from it
    bench.write_report(report, tmp_path)
    assert bench.main(["--show", str(tmp_path / "course_bench.json"), "--markdown"]) == 0
    assert "| 05 | 4 | 2.00 | 8.00 | `slow()` |" in capsys.readouterr().out


def test_a_cells_first_line_is_its_first_non_empty_line_shortened():
    assert bench.first_line("\n  \n# Runs the probe\nx = 1") == "# Runs the probe"
    assert bench.first_line("") == ""
    long = bench.first_line("y = " + "a" * 200)
    assert len(long) == 70 and long.endswith("…")
