"""The choice rows of a string reader (choose_reader.py): the rule a candidate must pass to be shipped."""

from __future__ import annotations

import re

import choose_reader
from recognizer.strings import STRING_MODEL_PATH


def figures(table: str) -> dict[str, list[str]]:
    """Row name -> the figures of each reader's column."""
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_a_candidate_is_read_side_by_side_with_the_shipped_reader_on_the_same_draws(capsys):
    # The shipped reader given again as the candidate: every row must read the same in both columns, or the rule
    # would compare readers on different lines.
    code = choose_reader.main(
        [str(STRING_MODEL_PATH), "--draw", "16", "--guardrail", "12", "--holdout", "10", "--cells", "60", "--ink"]
        + ["--signed", "8"]
    )
    assert code == 0
    rows = figures(capsys.readouterr().out)
    assert {"held-out real amounts, exact", "their AURC (lower is better)", "guardrail: canvas numbers, exact"} <= set(
        rows
    )
    assert any(name.startswith("validation draw (16 synthetic numbers") for name in rows)
    assert any(name.startswith('signed numbers (8: "-15"') for name in rows)
    assert any("read from the written ink alone" in name for name in rows)
    assert any(name.startswith("`sudoku_cells_train` digit cells read exactly and alone") for name in rows)
    assert any(name.startswith('`sudoku_cells_train` blank cells answered "no digit"') for name in rows)
    for name, values in rows.items():
        assert len(values) == 2, (name, values)
        # Counted rows give the candidate's changes against the shipped reader: none, when it is the shipped reader.
        shipped, candidate = values[0], values[1].removesuffix(" (+0 -0)")
        assert candidate == shipped, (name, values)
        assert re.fullmatch(r"\d+\.\d+%", shipped), (name, values)
    assert rows["held-out real amounts, exact"][1].endswith(" (+0 -0)")
    # The shipped reader reads most canvas numbers (92.2% of 500 when measured in full).
    assert float(rows["guardrail: canvas numbers, exact"][0].rstrip("%")) >= 60


def test_a_missing_candidate_is_one_line_of_error_not_a_traceback(tmp_path, capsys):
    code = choose_reader.main([str(tmp_path / "nothing.tflite"), "--draw", "1", "--guardrail", "1", "--holdout", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("Error:") and "Traceback" not in err
