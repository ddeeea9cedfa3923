"""The personal-data guard, run on every table as it is read.

The tool works with counts per area. It must never read information about
identifiable people, so every input table is checked before use, by column name and
by content, and refused with one :class:`~geo.errors.PersonalDataError` that lists
every suspect column. A column that is not needed can be listed in the profile's
``drop_columns``: it is discarded when the file is read and is not checked.

By name (words in the header, so ``lsoa21_name`` or ``total_residents`` are fine):

* people's names: first/last/full/given/family name, surname, forename, or a name
  of an occupier, resident, tenant, owner, caller, victim, patient... (area, ward or
  borough *names* are fine); a header that
  is just ``occupier``, ``occupant``, ``resident``, ``tenant``, ``householder``,
  ``caller``, ``victim`` or ``casualty``;
* addresses: address, address line, street, house/flat/building/door number, UPRN
  or UDPRN (a property reference identifies a household). Categorical companions
  such as ``AddressQualifier`` or ``address_type`` are allowed;
* full postcodes: postcode, post code, postal code, zip, pcd/pcds/pcd7/pcd8.
  Postcode *district*, *sector*, *area* and *outcode* columns are allowed by name
  (they cover thousands of households); their content is still checked for full
  postcodes;
* dates of birth: dob, date of birth, birth date, birthday, year of birth
  (``country of birth`` shares are fine);
* phone numbers: phone, telephone, tel, fax, mobile number (not ``mobile homes``);
* email addresses;
* NHS numbers; National Insurance numbers (ni_number, nino);
* free text: notes, comments, narrative, description, remarks, free text
  (``StopCodeDescription``-style code/type/category columns are allowed).

By content (up to 1,000 non-empty values per text column, spread over the file; a
column is refused when at least 1 % of them match): full UK postcode units
(``SW1A 1AA``, ``L1 8JQ``; not districts like ``SW1A``), email addresses, UK phone
numbers (0 or +44 followed by 9-10 digits starting 1-3, 5, 7, 8 or 9), NHS numbers
(10 digits, optionally 3-3-4, refused only when at least 90 % pass the modulus-11
check digit, so other 10-digit codes do not trip it), National Insurance numbers
(two letters under the official prefix rules, six digits, a suffix A-D). Columns of
whole numbers are checked for NHS numbers too. Area codes (E01000001), ward and
borough codes and names, dates, property types, grid coordinates and index scores
do not match any of these.

Messages name the file, the column, the reason and example row numbers, never the
values found.

:func:`check_profile_inputs` runs all of this, plus the file-type, size and archive checks
of :mod:`geo.safefiles`, on every input of a dataset profile before the build reads them.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from firerisk.errors import InputFileError, PersonalDataError, Problem, UnsafeFileError

if TYPE_CHECKING:
    from firerisk.geo.readers import CsvLayout
    from firerisk.specs import Profile

__all__ = [
    "GUARD_ROWS",
    "INPUT_KINDS",
    "MAX_INPUT_BYTES",
    "SAMPLE_SIZE",
    "SHARE",
    "check_one_row_per_area",
    "check_personal_data",
    "check_profile_inputs",
    "header_reason",
    "is_valid_nhs_number",
]

SAMPLE_SIZE = 1000
SHARE = 0.01  # a column is refused when this share of sampled values match a pattern
NHS_VALID_SHARE = 0.9
#: Rows read from the top of each input for the content checks.
GUARD_ROWS = 50_000
#: Largest input file accepted (bytes on disk; geo.safefiles.LIMITS holds every limit).
MAX_INPUT_BYTES = 4 * 1024**3
#: The real file types accepted for each role of a profile.
INPUT_KINDS = {
    "areas": frozenset({"geojson", "gpkg", "zip", "shp", "fgb"}),
    "incidents": frozenset({"csv", "csv.gz", "geojson", "gpkg", "zip", "shp", "fgb"}),
    "covariates": frozenset({"csv", "csv.gz"}),
    "stations": frozenset({"csv", "csv.gz"}),
}

_FIX = ("remove the column from the file, or, if the tool does not need it, list it in the "
        "profile's drop_columns for this file so it is discarded when the file is read.")

# -- headers ----------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NAME_PARTS = {"first", "last", "full", "given", "family", "middle", "maiden", "christian",
               "sur", "fore"}
_NAME_ROLES = {"person", "persons", "contact", "owner", "occupier", "occupant", "resident",
               "tenant", "householder", "caller", "victim", "casualty", "patient", "client",
               "customer"}
_NAME_WORDS = {"surname", "surnames", "forename", "forenames", "firstname", "lastname",
               "fullname", "givenname", "familyname", "middlename", "maidenname"}
_PERSON_HEADERS = {"occupier", "occupant", "resident", "tenant", "householder", "caller",
                   "victim", "casualty"}
_CATEGORY_WORDS = {"qualifier", "type", "types", "category", "categories", "code", "codes",
                   "group", "class", "flag", "indicator", "yn", "status", "kind", "level"}
_NUMBER_WORDS = {"number", "no", "num", "nbr", "nos"}
_POSTCODE_COARSE = {"district", "sector", "area", "outcode", "outward", "region", "prefix"}


def _words(header: object) -> list[str]:
    text = _CAMEL.sub(" ", str(header))
    return [w for w in re.split(r"[^A-Za-z0-9]+", text.lower()) if w]


def _adjacent(words: list[str], first: set[str], second: set[str]) -> bool:
    """Whether a word from *first* sits next to a word from *second* (either order)."""
    return any((a in first and b in second) or (a in second and b in first)
               for a, b in itertools.pairwise(words))


def header_reason(header: object) -> str | None:
    """Why a column name suggests personal data, or None.

    Parameters
    ----------
    header : object
        A column name.

    Returns
    -------
    str or None
        A short reason such as ``"a person's name"``.
    """
    words = _words(header)
    w, squashed = set(words), "".join(words)
    names = {"name", "names"}
    if (w & _NAME_WORDS or squashed in _NAME_WORDS
            or _adjacent(words, _NAME_PARTS, names) or (w & names and w & _NAME_ROLES)
            or squashed in _PERSON_HEADERS):
        return "a person's name"
    if (w & {"dob", "birthdate", "birthday", "dateofbirth"}
            or ("birth" in w and w & {"date", "year", "day", "dt"})):
        return "a date of birth"
    if "email" in w or "emails" in w or squashed in {"email", "emailaddress", "mail"} or (
            {"e", "mail"} <= w):
        return "an email address"
    if w & {"phone", "phones", "telephone", "tel", "telno", "phoneno", "phonenumber", "fax",
            "landline"} or squashed in {"mobile", "mobileno", "mobilenumber", "mob"} or (
            _adjacent(words, {"mobile"}, _NUMBER_WORDS | {"phone"})):
        return "a phone number"
    if ("nhs" in w and w & (_NUMBER_WORDS | {"id"})) or squashed in {"nhsnumber", "nhsno",
                                                                      "nhsnum"}:
        return "an NHS number"
    if ("nino" in w or squashed in {"nino", "ninumber", "nationalinsurance",
                                    "nationalinsurancenumber", "nationalinsuranceno"}
            or {"national", "insurance"} <= w or ("ni" in w and w & _NUMBER_WORDS)):
        return "a National Insurance number"
    postcode = ("postcode" in w or {"post", "code"} <= w or {"postal", "code"} <= w
                or "postalcode" in w or "zipcode" in w or "zip" in w
                or squashed in {"pcd", "pcds", "pcd2", "pcd7", "pcd8", "postcodeunit", "pcunit"})
    if postcode and not (w & _POSTCODE_COARSE):
        return "a full postcode"
    categorical = bool(w & _CATEGORY_WORDS)
    if not categorical and (
            w & {"address", "addresses", "addr", "street", "streetname", "uprn", "udprn"}
            or "addressline" in squashed
            or (w & {"house", "flat", "building", "door", "apartment"} and w & _NUMBER_WORDS)
            or squashed in {"housenumber", "houseno", "flatnumber", "flatno", "buildingnumber",
                            "buildingname", "doornumber"}):
        return "an address or property reference"
    if not categorical and (
            w & {"note", "notes", "comment", "comments", "narrative", "narratives", "description",
                 "descriptions", "remark", "remarks", "freetext"}
            or {"free", "text"} <= w):
        return "free text, which can name or describe people"
    return None


# -- content ----------------------------------------------------------------------------

_POSTCODE = re.compile(
    r"(?<![A-Z0-9])[A-PR-UWYZ][A-HK-Y]?[0-9][A-HJKPSTUW0-9]?\s?[0-9][ABD-HJLNP-UW-Z]{2}(?![A-Z0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\d+])(?:\+44|0044|0)[\s().-]{0,3}(?:\d[\s().-]{0,2}){9,10}(?!\d)")
_NHS = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
_NINO = re.compile(
    r"(?<![A-Z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r"\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D](?![A-Z0-9])")


def is_valid_nhs_number(digits: str) -> bool:
    """Whether ten digits pass the NHS number modulus-11 check.

    Parameters
    ----------
    digits : str
        The number, spaces and hyphens allowed.
    """
    d = re.sub(r"[ -]", "", digits)
    if not re.fullmatch(r"\d{10}", d):
        return False
    total = sum(int(x) * w for x, w in zip(d[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(d[9])


def _phone_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    if digits.startswith("0044"):
        national = digits[4:]
    elif digits.startswith("44") and match.lstrip().startswith("+"):
        national = digits[2:]
    else:
        national = digits[1:]
    if len(national) not in (9, 10) or national[0] not in "1235789":
        return False
    return not (national[0] == "7" and len(national) != 10)


def _has_postcode(v: str) -> bool:
    return _POSTCODE.search(v.upper()) is not None


def _has_email(v: str) -> bool:
    return _EMAIL.search(v) is not None


def _has_phone(v: str) -> bool:
    return any(_phone_ok(m.group(0)) for m in _PHONE.finditer(v))


def _has_nino(v: str) -> bool:
    return _NINO.search(v.upper()) is not None


_TEXT_PATTERNS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("full postcodes", _has_postcode),
    ("email addresses", _has_email),
    ("phone numbers", _has_phone),
    ("National Insurance numbers", _has_nino),
)


def _sample(s: pd.Series) -> tuple[list[str], list[int]]:
    """Up to SAMPLE_SIZE non-empty values spread over the column, with 1-based rows."""
    positions = np.flatnonzero(s.notna().to_numpy())
    if positions.size > SAMPLE_SIZE:
        positions = positions[np.linspace(0, positions.size - 1, SAMPLE_SIZE).astype(int)]
    values = [str(v) for v in s.iloc[positions]]
    keep = [i for i, v in enumerate(values) if v.strip()]
    return [values[i] for i in keep], [int(positions[i]) + 1 for i in keep]


def _content_reasons(s: pd.Series) -> list[tuple[str, list[int]]]:
    out: list[tuple[str, list[int]]] = []
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_float_dtype(s):
        return out
    is_int = pd.api.types.is_integer_dtype(s)
    texty = pd.api.types.is_string_dtype(s) or s.dtype == object
    if not (is_int or texty):
        return out
    values, rows = _sample(s)
    if not values:
        return out
    need = max(1, math.ceil(SHARE * len(values)))
    if texty:
        for label, test in _TEXT_PATTERNS:
            hits = [r for v, r in zip(values, rows, strict=True) if test(v)]
            if len(hits) >= need:
                out.append((label, hits))
    # NHS numbers: 10-digit tokens, refused only if nearly all pass the check digit
    shaped: list[int] = []
    valid: list[int] = []
    for v, r in zip(values, rows, strict=True):
        found = _NHS.findall(v) if texty else ([v] if re.fullmatch(r"\d{10}", v) else [])
        if found:
            shaped.append(r)
            if all(is_valid_nhs_number("".join(f) if isinstance(f, tuple) else f) for f in found):
                valid.append(r)
    if len(shaped) >= need and len(valid) >= NHS_VALID_SHARE * len(shaped):
        out.append(("NHS numbers", valid))
    return out


def check_personal_data(df: pd.DataFrame, *, file: str, drop_columns: Sequence[str] = ()
                        ) -> None:
    """Refuse a table that holds, or looks like it holds, personal data.

    Parameters
    ----------
    df : DataFrame
        The table as read (before any column is dropped is fine: columns listed in
        ``drop_columns`` are skipped).
    file : str
        The file name, for the message.
    drop_columns : sequence of str
        Columns the profile discards at read time.

    Raises
    ------
    PersonalDataError
        Once, listing every suspect column with the reason and the fix.
    """
    skip = {str(c) for c in drop_columns}
    problems: list[Problem] = []
    for col in df.columns:
        if str(col) in skip:
            continue
        reason = header_reason(col)
        if reason is not None:
            problems.append(Problem(
                file, f"the column name suggests {reason}; this tool must not read "
                "information about identifiable people.", _FIX, column=str(col)))
            continue
        series = df[col]
        if isinstance(series, pd.DataFrame):  # duplicated header: check each copy
            parts: Iterable[pd.Series] = (series.iloc[:, k] for k in range(series.shape[1]))
        else:
            parts = (series,)
        for part in parts:
            for label, hits in _content_reasons(part):
                problems.append(Problem(
                    file, f"values look like {label} ({len(hits):,} of the values checked); "
                    "this tool must not read information about identifiable people.",
                    _FIX, column=str(col), rows=tuple(hits[:50])))
    if problems:
        raise PersonalDataError(problems)


def check_one_row_per_area(df: pd.DataFrame, *, key: str, file: str) -> None:
    """Refuse an area table that has more than one row for an area.

    Covariate tables from partner agencies must hold one row per area; repeated
    keys mean the table is person- or household-level, which the tool must not read.

    Parameters
    ----------
    df : DataFrame
    key : str
        The area code column.
    file : str

    Raises
    ------
    PersonalDataError
        Naming the repeated area codes and their rows.
    InputFileError
        If the key column is missing.
    """
    if key not in df.columns:
        raise InputFileError([Problem(file, f"has no column {key!r} to join areas on.",
                                      "check the key in the profile.", column=key)])
    keys = df[key].astype(str).str.strip()
    # Blank keys (empty lines, footers) belong to no area: they are dropped and counted as
    # "no key" when the table is read, not mistaken for a repeated area.
    present = (keys.notna() & (keys != "") & df[key].notna()).to_numpy()
    dup = keys.duplicated(keep=False).to_numpy() & present
    if not dup.any():
        return
    repeated = pd.unique(keys[dup]).tolist()
    shown = ", ".join(repeated[:5]) + (f", ... ({len(repeated):,} areas in all)"
                                       if len(repeated) > 5 else "")
    rows = tuple(int(i) + 1 for i in np.flatnonzero(dup))
    raise PersonalDataError([Problem(
        file, f"has more than one row for some areas ({shown}). An area table must have "
        "exactly one row per area; repeated rows suggest records about people or households, "
        "which this tool must not read.",
        "give the tool one row per area with counts or shares already aggregated (for example "
        "with a pivot table), or remove the repeated rows if they are mistakes.",
        column=key, rows=rows)])


def _read_sample(path: Path, *, layer: str | None, drop: set[str],
                 layout: CsvLayout | None = None) -> pd.DataFrame:
    """The first GUARD_ROWS rows of a file, every column but *drop*, as text.

    Read through ``geo.readers`` (so the file has passed ``geo.safefiles.admit``) with the
    profile's CSV layout, so the columns checked are the columns the build reads.
    """
    from firerisk.geo import readers

    if readers.is_csv(path):
        cols = [c for c in readers.list_columns(path, layout=layout) if c not in drop]
        return readers.read_csv_text(path, columns=cols, layout=layout, nrows=GUARD_ROWS)
    cols = [c for c in readers.list_columns(path, layer=layer) if c not in drop]
    return readers.read_attributes(path, layer=layer, columns=cols, max_features=GUARD_ROWS)


def check_profile_inputs(profile: Profile, *, max_bytes: int = MAX_INPUT_BYTES) -> None:
    """Check every input file of a profile before anything is read from it.

    For each file: its real type (by content) must suit its role and its size must be
    under ``max_bytes`` (:func:`geo.safefiles.check_file`); every column not listed in
    the profile's ``drop_columns`` is checked by :func:`check_personal_data` (names,
    and the content of the first :data:`GUARD_ROWS` rows); covariate and station tables
    must have one row per area (:func:`check_one_row_per_area`). Files that cannot be
    opened are left to the readers, which report them.

    Parameters
    ----------
    profile : Profile
    max_bytes : int
        Largest file accepted.

    Raises
    ------
    PersonalDataError
        Listing every suspect column (and any refused file) in all the inputs.
    UnsafeFileError
        When files are refused for their type or size and no personal data was found.
    """
    from dataclasses import replace

    from firerisk.geo.readers import covariate_section, layout_of, read_csv_text
    from firerisk.geo.safefiles import LIMITS, admit

    entries: list[tuple[str, Path, str | None, tuple[str, ...], str | None,
                        CsvLayout | None]] = [
        ("areas", profile.areas.path, profile.areas.layer, (), None, None),
        ("incidents", profile.incidents.path, profile.incidents.layer,
         profile.incidents.drop_columns, None, layout_of(profile.incidents, "[incidents]")),
    ]
    entries += [("covariates", c.path, None, c.drop_columns, c.key,
                 layout_of(c, covariate_section(c))) for c in profile.covariates]
    if profile.stations is not None:
        entries.append(("stations", profile.stations.path, None, (), profile.stations.key,
                        layout_of(profile.stations, "[stations]")))

    limits = replace(LIMITS, max_bytes=max_bytes)
    file_problems: list[Problem] = []
    personal: list[Problem] = []
    for role, path, layer, drop, key, layout in entries:
        try:
            admit(path, allowed=INPUT_KINDS[role], limits=limits)
        except UnsafeFileError as exc:
            file_problems += exc.problems
            continue
        try:
            sample = _read_sample(Path(path), layer=layer, drop=set(drop), layout=layout)
        except (InputFileError, ValueError, OSError, UnicodeDecodeError, EOFError):
            continue  # unreadable: the readers report it with the fix
        try:
            check_personal_data(sample, file=str(path), drop_columns=drop)
        except PersonalDataError as exc:
            personal += exc.problems
        if key is not None and key not in drop:
            try:
                keys = read_csv_text(path, columns=[key], layout=layout)
                check_one_row_per_area(keys, key=key, file=str(path))
            except PersonalDataError as exc:
                personal += exc.problems
            except (InputFileError, ValueError, OSError, UnicodeDecodeError, EOFError):
                pass  # a missing key column is reported by the readers
    if personal:
        raise PersonalDataError(file_problems + personal)
    if file_problems:
        raise UnsafeFileError(file_problems)
