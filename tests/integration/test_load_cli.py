"""``jiaoyan load batch|all|report``: summaries with rows per second, one-line errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from jiaoyan.cli import main
from jiaoyan.load.sample import SampleBatch

pytestmark = pytest.mark.integration


def test_load_batch_all_and_report(warehouse: dict[str, str], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    first = SampleBatch.small(dt.date(2032, 5, 1))
    first.rows["rubric_scores"].append(dict(first.rows["rubric_scores"][0], lesson_id="L404"))
    first.write(landing, lake)
    SampleBatch.small(dt.date(2032, 5, 2)).write(landing, lake)
    assert main(["load", "batch", str(landing), "--batch-id", "2032-05-01", "--lake", str(lake)]) == 0
    out = capsys.readouterr().out
    assert "batch 2032-05-01: succeeded; 138 rows loaded, 1 quarantined, 0 file(s) rejected" in out
    assert "rows/s" in out and "1 × lesson_id: unknown lesson" in out
    assert "(e.g. rubric_scores/scores.csv:5)" in out

    assert main(["load", "all", "--landing", str(landing), "--lake", str(lake)]) == 0
    out = capsys.readouterr().out
    assert "batch 2032-05-02: succeeded" in out and "2032-05-01" not in out
    assert "loaded 1 batch(es)" in out

    assert main(["load", "report", "2032-05-01"]) == 0
    assert "1 × lesson_id: unknown lesson" in capsys.readouterr().out


def test_clear_one_line_errors(warehouse: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = SampleBatch.small(dt.date(2032, 5, 3)).write(tmp_path / "landing")
    (folder / "_batch.json").unlink()
    assert main(["load", "batch", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jiaoyan: error: ") and "no _batch.json here" in err and "\n" not in err
    assert main(["load", "batch", str(tmp_path / "landing"), "--batch-id", "2032-05-03"]) == 2
    assert "refusing to load it" in capsys.readouterr().err
    assert main(["load", "batch", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["load", "report", "1999-01-01"]) == 2
    assert "has never been loaded" in capsys.readouterr().err
