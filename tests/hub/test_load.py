"""The classroom load test: at least six learners run notebooks on one hub at once (`make test-hub`)."""
import json

import pytest

import loadtest
from hubdriver import heavy, why_no_hub

pytestmark = heavy


@pytest.fixture(scope="module")
def report():
    if why_no_hub():
        pytest.skip(why_no_hub())
    result = loadtest.run()
    print(loadtest.table(result))
    return result


def test_at_least_six_learners_ran_at_the_same_time(report):
    learners = report["summary"]["learners"]
    assert learners >= 6, f"LOAD_LEARNERS={learners}: the classroom test needs at least 6"
    assert report["summary"]["learners_finished"] == learners, [l["errors"] for l in report["learners"]]
    assert report["summary"]["max_concurrent_learners"] >= 6, (
        "the learners did not run their notebooks together (see loadtest.Gate)")


def test_no_learner_saw_an_error(report):
    assert report["checks"]["errors"] == []
    assert all(n["runs"] == report["summary"]["learners"] for n in report["notebooks"].values())


def test_nothing_a_learner_wrote_is_lost_or_written_into_the_shared_notebooks(report):
    assert report["checks"]["lost"] == []
    assert report["checks"]["shared_notebooks_unchanged"]


def test_no_learner_can_read_another_or_write_the_repo(report):
    if not report["checks"]["isolation"]:
        pytest.skip(f"learners share one account here, so there is nothing to check: {report['checks']['isolation_skipped']}")
    assert report["checks"]["isolation_checked"] == report["summary"]["learners"]
    assert report["checks"]["readable_by_others"] == []
    assert report["checks"]["repo_writable"] == []


def test_everything_it_started_has_stopped(report):
    assert report["checks"]["left_running"] == 0
    assert report["checks"]["stop_notes"] == []


def test_the_report_and_plot_are_written_with_measurements(report):
    saved = json.loads(loadtest.REPORT.read_text())
    assert saved["schema"] == loadtest.SCHEMA and saved["created"] == report["created"]
    assert loadtest.PLOT.stat().st_size > 0
    summary = saved["summary"]
    assert summary["cells_run"] > 0 and summary["cell_latency_s"]["p95"] >= summary["cell_latency_s"]["p50"] > 0
    assert summary["peak_kernel_mb_max"] > 0 and summary["peak_learner_total_mb_max"] >= summary["peak_kernel_mb_max"]
    for notebook in saved["notebooks"].values():
        assert notebook["cpu_s_median"] > 0
