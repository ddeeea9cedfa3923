"""The dataset profile loader: the sample loads, and broken profiles list every problem."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from firerisk.errors import ProfileError
from firerisk.geo.profile import load_profile

GOOD = """
name = "Test"
[areas]
path = "a.gpkg"
id = "code"
name = "label"
[areas.provenance]
publisher = "P"
licence = "OGL"
attribution = "A"
[incidents]
path = "i.csv"
x = "east"
y = "north"
crs = "EPSG:27700"
date = "when"
[incidents.provenance]
publisher = "P"
agreement = "DSA-42"
attribution = "A"
[[covariates]]
name = "c"
path = "c.csv"
key = "code"
[covariates.provenance]
publisher = "P"
licence = "OGL"
attribution = "A"
[exposure]
column = "households"
[features.score]
column = "score"
label = "Score"
"""


def _write(tmp: Path, text: str) -> Path:
    for name in ("a.gpkg", "i.csv", "c.csv"):
        (tmp / name).write_text("x", encoding="utf-8")
    path = tmp / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sample_profile_loads(sample_profile: Path) -> None:
    profile = load_profile(sample_profile)
    assert profile.areas.id == "lsoa21_code"
    assert profile.areas.group_columns == {"borough": "ltla24_name"}
    assert profile.study.end == date(2024, 8, 31)
    assert [f.name for f in profile.features] == ["imd_score", "social_rent_share", "flat_share"]
    assert set(profile.input_files()) == {"areas", "incidents", "covariates:imd",
                                          "covariates:census"}


def test_a_minimal_profile_loads_with_defaults(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, GOOD))
    assert profile.areas.path == tmp_path / "a.gpkg"     # relative to the profile
    assert profile.incidents.provenance.agreement == "DSA-42"
    assert profile.bands.k == 5
    assert profile.disclosure.threshold == 5
    assert profile.working_crs is None


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "nope.toml")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(_write(tmp_path, "name = "))


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = (GOOD.replace('id = "code"\n', "")
            .replace('x = "east"\ny = "north"\n', "")
            .replace('path = "c.csv"', 'path = "missing.csv"')
            + '\n[model]\nfamily = "gaussian"\n[study]\nstart = 2020-01-01\nend = 2019-01-01\n'
            + '[bands]\nk = 3\nlabels = ["Low", "High"]\n')
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, text))
    text_err = str(info.value)
    assert "areas.id" in text_err
    assert "needs coordinate columns" in text_err
    assert "missing.csv does not exist" in text_err
    assert "unknown family 'gaussian'" in text_err
    assert "start 2020-01-01 is after end 2019-01-01" in text_err
    assert "2 labels given for k = 3" in text_err
    assert len(info.value.problems) == 6


def test_provenance_needs_a_licence_or_agreement(tmp_path: Path) -> None:
    text = GOOD.replace('agreement = "DSA-42"\n', "")
    with pytest.raises(ProfileError, match="neither a licence nor a data-sharing agreement"):
        load_profile(_write(tmp_path, text))


def test_feature_needs_exactly_one_of_column_or_numerator(tmp_path: Path) -> None:
    text = GOOD + 'numerator = ["a"]\n'
    with pytest.raises(ProfileError, match="numerator needs a denominator") as info:
        load_profile(_write(tmp_path, text))
    assert "give exactly one of column" in str(info.value)


def test_misspelt_keys_are_named_with_the_closest_spelling(tmp_path: Path) -> None:
    text = GOOD.replace('[exposure]\ncolumn = "households"',
                        '[exposure]\ncolumn = "households"\nlable = "homes"')
    text = text.replace('name = "Test"', 'name = "Test"\nworking_cr = "EPSG:27700"')
    text += '[model]\nhistroy = false\n[disclosure]\nthreshold = 5\ncolour = "red"\n'
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, text))
    by_key = {p.message.split("'")[1]: p for p in info.value.problems}
    # every unknown key is listed at once, each with the closest known spelling
    assert set(by_key) == {"working_cr", "exposure.lable", "model.histroy",
                           "disclosure.colour"}
    assert "did you mean 'working_crs'" in by_key["working_cr"].fix
    assert "did you mean 'label'" in by_key["exposure.lable"].fix
    assert "did you mean 'history'" in by_key["model.histroy"].fix
    # nothing close: the fix lists what the table takes
    assert "threshold, mode" in by_key["disclosure.colour"].fix
    assert all(str(tmp_path / "p.toml") == p.file for p in info.value.problems)


def test_switches_must_be_true_or_false(tmp_path: Path) -> None:
    # "false" in quotes is a non-empty string: reading it as truthy would switch history ON.
    text = GOOD + '[model]\nhistory = "false"\nspatial_lag = 1\n'
    text = text.replace('name = "label"\n', 'name = "label"\nrepair_geometry = "yes"\n')
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, text))
    keys = sorted(p.message.split("'")[1] for p in info.value.problems)
    assert keys == ["areas.repair_geometry", "model.history", "model.spatial_lag"]
    assert all("true or false" in p.message for p in info.value.problems)


def test_switches_are_read(tmp_path: Path) -> None:
    text = GOOD + '[model]\nhistory = false\n'
    text = text.replace('name = "label"\n', 'name = "label"\nrepair_geometry = true\n')
    profile = load_profile(_write(tmp_path, text))
    assert profile.model.history is False
    assert profile.areas.repair_geometry is True
    assert load_profile(_write(tmp_path, GOOD)).areas.repair_geometry is False


def test_incident_filters_are_checked_like_any_table(tmp_path: Path) -> None:
    one = GOOD.replace('date = "when"\n', 'date = "when"\nfilters = [{ column = "motive", '
                       'values = "Accidental" }]\n')
    profile = load_profile(_write(tmp_path, one))
    # a single value may be written without brackets; it is one value, not its letters
    assert profile.incidents.filters[0].values == ("Accidental",)
    bad = GOOD.replace('date = "when"\n', 'date = "when"\nfilters = [{ column = "motive", '
                       'values = ["Accidental"], exclude = true }, { column = "x" }]\n')
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, bad))
    text = str(info.value)
    assert "incidents.filters[0].exclude" in text
    assert "incidents.filters[1]" in text


def test_an_empty_features_table_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace('[features.score]\ncolumn = "score"\nlabel = "Score"\n', "[features]\n")
    with pytest.raises(ProfileError, match="holds no feature"):
        load_profile(_write(tmp_path, text))
    with pytest.raises(ProfileError, match=r"the top level takes name, service"):
        load_profile(_write(tmp_path, 'zzzz = 1\n' + GOOD))


def _with(text: str, table: str, lines: str) -> str:
    """*text* with *lines* added right under ``[table]`` (appended when it is absent)."""
    header = f"[{table}]\n"
    if header not in text:
        return text + f"\n{header}{lines}\n"
    return text.replace(header, header + lines + "\n", 1)


def test_the_keys_for_bad_input_are_read(tmp_path: Path) -> None:
    text = _with(GOOD, "incidents", 'delimiter = "tab"\nencoding = "UTF-16"\nskip_rows = 3\n'
                 'id = "IncidentNumber"\nduplicates = "drop"\nmax_dropped_percent = 12.5')
    text = _with(text, "features.score", "scale = 100\nrange = [0, 1]")
    text = _with(text, "exposure", "range = [0, 5000]")
    text = _with(text, "study", "accept_incomplete = [2016, 2018]")
    text = text.replace('key = "code"\n', 'key = "code"\ndelimiter = ";"\n')
    profile = load_profile(_write(tmp_path, text))
    inc = profile.incidents
    assert (inc.delimiter, inc.encoding, inc.skip_rows) == ("\t", "utf-16", 3)
    assert (inc.id, inc.duplicates, inc.max_dropped_percent) == ("IncidentNumber", "drop", 12.5)
    assert (profile.features[0].scale, profile.features[0].range) == (100.0, (0.0, 1.0))
    assert profile.exposure.range == (0.0, 5000.0)
    assert profile.study.accept_incomplete == (2016, 2018)
    assert profile.covariates[0].delimiter == ";"
    defaults = load_profile(_write(tmp_path, GOOD))
    assert (defaults.incidents.delimiter, defaults.incidents.encoding) == (",", "utf-8")
    assert (defaults.incidents.duplicates, defaults.incidents.max_dropped_percent) == ("check", 5.0)


def test_wrong_values_of_those_keys_are_all_named(tmp_path: Path) -> None:
    text = _with(GOOD, "incidents", 'delimiter = ";;"\nencoding = "klingon"\nskip_rows = -1\n'
                 'duplicates = "maybe"\nmax_dropped_percent = 150')
    text = _with(text, "features.score", "range = [5, 1]")
    text = _with(text, "exposure", 'range = "big"')
    text = _with(text, "study", 'accept_incomplete = ["2016"]')
    text = _with(text, "evaluation", "first = 2020\nlast = 2016")
    text += ('\n[features.share]\nnumerator = ["a"]\ndenominator = "households"\nlabel = "S"\n'
             "scale = 100\n")
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, text))
    said = str(info.value)
    for key in ("incidents.delimiter", "incidents.encoding", "incidents.skip_rows",
                "incidents.duplicates", "incidents.max_dropped_percent",
                "features.score.range", "exposure.range", "study.accept_incomplete",
                "features.share.scale"):
        assert f"key '{key}'" in said, key
    assert "first = 2020 is after last = 2016" in said
    assert len(info.value.problems) == 10
