"""The priority list as Excel and CSV files open with the table first.

Independent truth: the files are read back with readers that know nothing of the writer —
openpyxl (the XLSX is written by XlsxWriter), pandas, and Python's csv module read the way a
spreadsheet does (rows until the first empty one) — and compared with the list the app shows
(``targets_table``) and the results' own provenance and disclosure report.
"""

from __future__ import annotations

import csv
import io
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from firerisk.geo.results import Results, read_results
from firerisk.ui.exports import CHANCE, RATE, targets_csv, targets_table, targets_xlsx
from tests.conftest import firerisk_command


@pytest.fixture(scope="module")
def results(sample_results: Path) -> Results:
    return read_results(sample_results)


def _poisoned(results: Results) -> tuple[Results, str]:
    """The results with the first area named like a formula and a ``#`` inside text."""
    first = str(results.targets.sort_values("rank")["area_id"].iloc[0])
    targets = results.targets.copy()
    hit = targets["area_id"] == first
    targets.loc[hit, "area_name"] = "=HYPERLINK(\"http://example.org\",\"x\")"
    targets.loc[hit, "reason_1"] = "Flat #2, block 3; @SUM(A1)"
    return replace(results, targets=targets), first


def _spreadsheet_rows(data: bytes) -> tuple[list[list[str]], list[list[str]]]:
    """Rows as a spreadsheet reads a CSV: the block from line 1 to the first empty row, and
    what follows it."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    end = rows.index([])
    return rows[:end], rows[end + 1:]


def test_csv_table_comes_first_and_its_notes_after(results: Results) -> None:
    column = results.group_columns[0]
    value = str(results.targets.sort_values("rank")[column].iloc[0])
    shown = targets_table(results, group=column, value=value)
    data = targets_csv(results, group=column, value=value)
    assert data.startswith(b"\xef\xbb\xbf\"Rank\"")  # BOM, then the header on line 1
    table, after = _spreadsheet_rows(data)
    assert table[0] == list(shown.columns)
    assert [r[shown.columns.get_loc("Code")] for r in table[1:]] == list(shown["Code"])
    notes = [r[0] for r in after]
    assert all(n.startswith("# ") for n in notes)
    text = " ".join(notes)
    assert " ".join(results.attribution().split()) in text
    assert f"Output mode: {results.mode}" in text
    # pandas: the table, with or without skipping the notes
    back = pd.read_csv(io.BytesIO(data), comment="#", encoding="utf-8-sig")
    assert list(back.columns) == list(shown.columns)
    assert len(back) == len(shown)
    assert np.allclose(back[RATE], shown[RATE])
    first = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", nrows=len(shown))
    assert list(first["Code"]) == list(shown["Code"])


def test_csv_and_xlsx_keep_formulas_defused_and_hashes_inside_cells(results: Results,
                                                                      tmp_path: Path) -> None:
    poisoned, first = _poisoned(results)
    back = pd.read_csv(io.BytesIO(targets_csv(poisoned)), comment="#", encoding="utf-8-sig")
    row = back.loc[back["Code"] == first].iloc[0]
    assert row["Area"] == "'=HYPERLINK(\"http://example.org\",\"x\")"
    assert row["Reasons"].startswith("Flat #2, block 3; @SUM(A1)")  # "#" is not a comment
    assert len(back) == len(results.targets)

    path = tmp_path / "list.xlsx"
    path.write_bytes(targets_xlsx(poisoned))
    book = openpyxl.load_workbook(path)
    cells = [c for ws in book.worksheets for r in ws.iter_rows() for c in r]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # no formula anywhere
    sheet = book["Priority list"]
    header = [c.value for c in sheet[1]]
    (hit,) = [r for r in sheet.iter_rows(min_row=2, values_only=True)
              if r[header.index("Code")] == first]
    assert hit[header.index("Area")] == "'=HYPERLINK(\"http://example.org\",\"x\")"


def test_xlsx_has_the_list_first_with_filters_and_a_frozen_header(results: Results,
                                                                    tmp_path: Path) -> None:
    column = results.group_columns[0]
    value = str(results.targets.sort_values("rank")[column].iloc[0])
    shown = targets_table(results, group=column, value=value)
    path = tmp_path / "list.xlsx"
    path.write_bytes(targets_xlsx(results, group=column, value=value))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Priority list", "About this list"]
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == list(shown.columns)
    assert sheet.freeze_panes == "A2"
    last = openpyxl.utils.get_column_letter(len(shown.columns))
    assert sheet.auto_filter.ref == f"A1:{last}{len(shown) + 1}"
    assert sheet.max_row == len(shown) + 1
    # numbers are numbers (the chance a fraction shown as a percentage), text is text
    got = pd.read_excel(path, sheet_name=0, engine="openpyxl", dtype={"Code": str})
    assert list(got["Code"]) == list(shown["Code"])
    assert np.allclose(got[RATE], shown[RATE])
    assert list(got["Households"]) == list(shown["Households"].astype(int))
    assert np.allclose(got[CHANCE], shown[CHANCE].astype(float) / 100)
    chance = sheet.cell(row=2, column=header_index(sheet, CHANCE))
    assert chance.number_format == "0%"
    assert chance.data_type == "n"


def header_index(sheet, name: str) -> int:
    return [c.value for c in sheet[1]].index(name) + 1


def test_xlsx_second_sheet_holds_sources_licences_and_the_disclosure_statement(
        results: Results, tmp_path: Path) -> None:
    path = tmp_path / "list.xlsx"
    path.write_bytes(targets_xlsx(results))
    about = openpyxl.load_workbook(path)["About this list"]
    text = "\n".join(str(v) for row in about.iter_rows(values_only=True) for v in row
                     if v is not None)
    assert " ".join(results.attribution().split()) in " ".join(text.split())
    assert results.run["disclosure"]["text"].strip() in text
    assert f"Output mode: {results.mode}" in text
    for rec in results.provenance.to_dict("records"):
        assert str(rec["file"]) in text
        assert str(rec["licence"]) in text
        assert str(rec["sha256"]) in text


def test_cli_exports_both_formats_and_refuses_an_unknown_group(results: Results,
                                                               sample_results: Path,
                                                               tmp_path: Path) -> None:
    column = results.group_columns[0]
    value = str(results.targets.sort_values("rank")[column].iloc[0])
    for fmt in ("csv", "xlsx"):
        out = tmp_path / f"list.{fmt}"
        proc = subprocess.run([firerisk_command(), "export", "--results", str(sample_results),
                               "--format", fmt, "--group", column, "--value", value,
                               "--out", str(out)], capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "list.csv").read_bytes() == targets_csv(results, group=column,
                                                               value=value)
    got = pd.read_excel(tmp_path / "list.xlsx", engine="openpyxl", dtype={"Code": str})
    assert list(got["Code"]) == list(targets_table(results, group=column,
                                                   value=value)["Code"])
    bad = subprocess.run([firerisk_command(), "export", "--results", str(sample_results),
                          "--group", column, "--value", "Atlantis", "--out",
                          str(tmp_path / "x.xlsx")], capture_output=True, text=True,
                         timeout=300, check=False)
    assert bad.returncode == 2
    assert "Atlantis" in bad.stderr
    assert not (tmp_path / "x.xlsx").exists()
