"""The course map matches the notebooks on disk and fits a 3-hour workshop."""
import re

import pytest

import helpers as H
from helpers.course.course_map import NOTEBOOK_DIR


def test_map_lists_every_notebook_on_disk_in_order():
    on_disk = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
    listed = [s.notebook for s in H.COURSE_MAP]
    assert listed == sorted(listed)
    assert set(on_disk) <= set(listed), f"notebooks missing from the map: {set(on_disk) - set(listed)}"


def test_agenda_sessions_each_fit_three_hours_and_cover_the_map():
    """docs/INSTRUCTORS.md splits the course into sessions; each ends 20 minutes or more within 3 hours, breaks
    included, as the kit says (the times are a careful learner's at the low end: a class needs the spare minutes)."""
    import re
    text = (NOTEBOOK_DIR.parent / "docs" / "INSTRUCTORS.md").read_text(encoding="utf-8")
    ends = [int(h) * 60 + int(m) for h, m in re.findall(r"^\| (\d+):(\d\d) \| \*end\* \|", text, re.M)]
    assert len(ends) >= 2 and all(end <= 160 for end in ends), f"session lengths in minutes: {ends}"
    listed = re.findall(r"^\| \d+:\d\d \| (\d\d) ", text, re.M)
    assert sorted(listed) == sorted(s.notebook[:2] for s in H.COURSE_MAP), "each notebook once in the agenda"


def test_map_renders_links():
    html = H.course_map()._repr_html_()
    assert "href='03_tracing.ipynb'" in html and "total" in html


def test_mental_model_picture_draws():
    from xml.etree import ElementTree
    picture = H.mental_model_picture()
    svg = ElementTree.fromstring(picture._repr_svg_())
    texts = " ".join("".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "TorchScript program" in texts and "C++ / LibTorch" in texts and "trace" in texts
    assert len(list(svg.iter("{http://www.w3.org/2000/svg}polygon"))) == 5  # an arrow head for each arrow


def test_each_notebook_states_the_time_the_map_gives():
    import re

    import nbformat
    for stop in H.COURSE_MAP:
        path = NOTEBOOK_DIR / stop.notebook
        if path.exists():
            intro = nbformat.read(path, as_version=4).cells[0].source
            stated = re.search(r"\*\*Time:\*\* about (\d+) minutes(?: \(up to (\d+) if you try several wrong "
                               r"answers at each exercise\))?", intro)
            assert stated and int(stated.group(1)) == stop.minutes, f"{stop.notebook} and the course map disagree"
            assert int(stated.group(2) or stated.group(1)) == stop.upper, f"{stop.notebook}: the slower pace's time"


ROOT = NOTEBOOK_DIR.parent


@pytest.mark.parametrize("document, row", [
    ("README.md", r"^\| (\d\d) \|.*\| (\d+)(?:-\d+)? min \|\s*$"),
    ("docs/INSTRUCTORS.md", r"^\| \d+:\d\d \| (\d\d) [^|]*\| (\d+) min \|"),
])
def test_readme_and_instructor_kit_state_the_map_times(document, row):
    stated = {int(m.group(1)): int(m.group(2))
              for m in re.finditer(row, (ROOT / document).read_text(encoding="utf-8"), flags=re.M)}
    expected = {number: stop.minutes for number, stop in enumerate(H.COURSE_MAP)}
    assert stated, f"{document}: no notebook rows with times found"
    wrong = {f"{n:02d}": (stated[n], expected[n]) for n in stated if stated[n] != expected.get(n)}
    assert not wrong, f"{document} states other times than the course map (stated, map): {wrong}"
    assert set(stated) == set(expected), f"{document} lacks rows for {sorted(set(expected) - set(stated))}"


def test_each_notebook_and_the_readme_use_the_map_title():
    """One title per notebook: its heading starts with the map's title, and the README links it under that title."""
    import nbformat
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for number, stop in enumerate(H.COURSE_MAP):
        heading = nbformat.read(NOTEBOOK_DIR / stop.notebook, as_version=4).cells[0].source.splitlines()[0]
        assert heading.startswith(f"# {number:02d} · {stop.title}"), (stop.notebook, heading, stop.title)
        assert f"[{stop.title}](notebooks/{stop.notebook})" in readme, (stop.notebook, stop.title)


def test_the_readme_states_both_paces_as_the_map_does():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for number, stop in enumerate(H.COURSE_MAP):
        assert re.search(rf"^\| {number:02d} \|.*\| {stop.time} \|\s*$", readme, re.M), (stop.notebook, stop.time)
