"""Careful handling of files from outside: profiles' inputs, uploads and archives.

* :func:`check_file` decides a file's real type from its first bytes, never from
  its name (a renamed program or spreadsheet is refused), and enforces a size limit.
  Archives and compressed files are inspected before any reader (GDAL, pandas) sees
  them: a zip's member paths, links, member count, total unpacked size, compression
  ratio, overlapping members and nested archives (:func:`inspect_zip`, which also
  streams every member with a byte cap), and a gzip file's unpacked size and ratio,
  counted while streaming it (never held in memory).
* :func:`admit` is :func:`check_file` with the limits of :data:`LIMITS`, remembered per
  file version, so every reader of ``geo.readers`` calls it before opening a file.
* :func:`safe_extract_zip` unpacks a zip only when every member stays inside the
  target folder (no ``../``, absolute paths, drive letters or links) and the archive
  is not a "zip bomb": member count, total unpacked size and compression ratio are
  checked from the declared sizes first and again while streaming each member with
  a byte cap, so a header that lies about sizes is caught too.
* :func:`safe_upload` writes uploaded bytes to a fresh temporary folder after the
  same checks.
* :func:`escape_text` makes text from data safe to put in HTML (map tooltips).
"""

from __future__ import annotations

import codecs
import gzip
import html
import itertools
import os
import re
import shutil
import stat
import struct
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from firerisk.errors import Problem, UnsafeFileError

__all__ = [
    "KINDS",
    "LIMITS",
    "Limits",
    "admit",
    "check_file",
    "escape_text",
    "inspect_zip",
    "safe_extract_zip",
    "safe_upload",
    "sniff",
    "text_encoding",
]

#: File kinds the tool can accept.
KINDS = frozenset({"csv", "csv.gz", "geojson", "gpkg", "zip", "shp", "fgb"})

_HEAD = 64 * 1024
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What an input file may be; every default is stated in the README ("Hostile input").

    Attributes
    ----------
    max_bytes : largest file on disk.
    max_unpacked_bytes : largest total once unpacked (a zip's members together, or a gzip
        file's content).
    max_members : most entries in a zip archive.
    max_ratio : highest compression ratio (unpacked / packed size) of a zip member, of a
        whole zip, and of a gzip stream once it has unpacked ``ratio_after`` bytes.
    ratio_after : unpacked bytes after which a gzip stream's ratio is judged (small files
        cannot be bombs, and their ratio says little).
    """

    max_bytes: int = 4 * 1024**3
    max_unpacked_bytes: int = 4 * 1024**3
    max_members: int = 1000
    max_ratio: float = 100.0
    ratio_after: int = 16 * 1024**2


#: The limits every input of a profile is held to.
LIMITS = Limits()
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PAR1", "a Parquet file"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office document (e.g. .xls)"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"MZ", "a Windows program"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ", "an xz archive"),
)
_DESCRIBE = {
    "csv": "a CSV (text) file",
    "csv.gz": "a gzip-compressed CSV file",
    "geojson": "a GeoJSON file",
    "gpkg": "a GeoPackage",
    "zip": "a zip archive",
    "shp": "a Shapefile (.shp)",
    "fgb": "a FlatGeobuf file",
    "xlsx": "an Excel workbook",
    "sqlite": "an SQLite database that is not a GeoPackage",
    "gzip": "a gzip file that does not hold text",
    "html": "an HTML or XML document",
    "empty": "an empty file",
}


def _refuse(file: str | Path, message: str, fix: str) -> UnsafeFileError:
    return UnsafeFileError([Problem(str(file), message, fix)])


_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f]")


def _is_text(data: bytes) -> bool:
    """Whether bytes look like text: UTF-8 (or Windows-1252) with no control characters."""
    if b"\x00" in data:
        return False
    text: str | None
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=False)
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            return False
    return _CONTROL.search(text) is None


def _utf16(data: bytes) -> str | None:
    """``"utf-16"`` for UTF-16 text with a byte-order mark, the byte order without one."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if len(data) >= 8:
        even, odd = data[0::2], data[1::2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "utf-16-be"
    return None


def text_encoding(data: bytes) -> str | None:
    """The text encoding of the first bytes of a file, or None when they are not text.

    Returns ``"utf-8"`` (with or without a byte-order mark), ``"utf-16"`` (or
    ``"utf-16-le"``/``"utf-16-be"`` without a byte-order mark) or ``"cp1252"`` (Windows'
    Western European code page, which Excel's plain "CSV" uses).
    """
    wide = _utf16(data)
    if wide is not None:
        try:
            text = codecs.getincrementaldecoder(wide)().decode(data[: len(data) // 2 * 2])
        except UnicodeDecodeError:
            return None
        return wide if _is_text(text.encode("utf-8")) else None
    if not _is_text(data):
        return None
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _decoded_head(data: bytes) -> bytes:
    """The first bytes as UTF-8 (UTF-16 text transcoded), for the text-kind tests."""
    wide = _utf16(data)
    if wide is None:
        return data
    return codecs.getincrementaldecoder(wide)(errors="replace").decode(
        data[: len(data) // 2 * 2]).encode("utf-8")


def _text_kind(data: bytes) -> str:
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"{"):
        return "geojson"
    if start.startswith(b"<"):
        return "html"
    return "csv"


def sniff(path: str | Path) -> tuple[str, str]:
    """The real type of a file from its content.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    (kind, description)
        ``kind`` is one of :data:`KINDS`, or another label (``"xlsx"``, ``"sqlite"``,
        ``"gzip"``, ``"html"``, ``"empty"``, ``"binary"``) for files the tool refuses.
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(_HEAD)
    if not head:
        return "empty", _DESCRIBE["empty"]
    if head.startswith(b"SQLite format 3\x00"):
        app = head[68:72]
        kind = "gpkg" if app in (b"GPKG", b"GP10", b"GP11") else "sqlite"
        return kind, _DESCRIBE[kind]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            entries = _zip_directory(path)[0]
            if entries > LIMITS.max_members:
                return "zip", _DESCRIBE["zip"]  # too many entries to list: refused later
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, struct.error):
            return "binary", "a damaged zip archive"
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "xlsx", _DESCRIBE["xlsx"]
        return "zip", _DESCRIBE["zip"]
    if head.startswith(b"\x00\x00\x27\x0a") and len(head) >= 100:
        return "shp", _DESCRIBE["shp"]
    if head.startswith(b"fgb") and head[4:8] == b"fgb\x00":
        return "fgb", _DESCRIBE["fgb"]
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as gz:
                inner = gz.read(_HEAD)
        except (OSError, EOFError, zlib.error):
            return "binary", "a damaged gzip file"
        if inner and text_encoding(inner) and _text_kind(_decoded_head(inner)) == "csv":
            return "csv.gz", _DESCRIBE["csv.gz"]
        return "gzip", _DESCRIBE["gzip"]
    for magic, description in _BINARY_MAGIC:
        if head.startswith(magic):
            return "binary", description
    if text_encoding(head):
        kind = _text_kind(_decoded_head(head))
        return kind, _DESCRIBE[kind]
    return "binary", "a binary file (not text)"


_UNPACK_FIX = ("unpack it yourself and give the tool the plain file; if the file is genuine "
               "and that large, give only the years and columns needed.")


def _check_gzip_stream(path: Path, limits: Limits) -> None:
    """Stream the whole gzip file once, counting what it unpacks to (never held in memory)."""
    total = 0
    try:
        with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            while chunk := gz.read(_CHUNK):
                total += len(chunk)
                if total > limits.max_unpacked_bytes:
                    raise _refuse(path, f"unpacks to more than {limits.max_unpacked_bytes:,} "
                                  "bytes, over the limit.", _UNPACK_FIX)
                ratio = total / max(raw.tell(), 1)
                if total >= limits.ratio_after and ratio > limits.max_ratio:
                    raise _refuse(path, f"unpacks {ratio:,.0f} times larger than it is packed "
                                  f"(limit {limits.max_ratio:,.0f}): a 'gzip bomb'.",
                                  _UNPACK_FIX)
    except (OSError, EOFError, zlib.error) as exc:
        raise _refuse(path, f"is a damaged gzip file ({exc}).", "compress the file again.") from exc


def check_file(path: str | Path, *, allowed: Iterable[str], max_bytes: int,
               max_unpacked_bytes: int | None = None, max_members: int = LIMITS.max_members,
               max_ratio: float = LIMITS.max_ratio) -> str:
    """Check a file's real type and size before it is read; inspect archives.

    Parameters
    ----------
    path : str or Path
    allowed : iterable of str
        Kinds accepted here, from :data:`KINDS` (e.g. ``{"csv", "csv.gz"}``).
    max_bytes : int
        Largest size on disk.
    max_unpacked_bytes : int, optional
        Largest unpacked size of a ``csv.gz`` or ``zip`` (default: the smaller of 20 x
        ``max_bytes`` and :data:`LIMITS`); a gzip file is decompressed once, as a stream,
        and every zip member too (:func:`inspect_zip`).
    max_members, max_ratio
        For archives: most zip entries, and the highest compression ratio.

    Returns
    -------
    str
        The kind found.

    Raises
    ------
    UnsafeFileError
        Missing, not a regular file, too large, or of a kind not allowed.
    """
    allowed = set(allowed)
    unknown = allowed - KINDS
    if unknown:
        raise ValueError(f"unknown file kinds {sorted(unknown)}; choose from {sorted(KINDS)}")
    path = Path(path)
    wanted = " or ".join(_DESCRIBE[k] for k in sorted(allowed))
    try:
        info = path.stat()
    except OSError as exc:
        raise _refuse(path, "cannot be found or opened.", "check the path.") from exc
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(path, "is not a regular file.", f"give {wanted}.")
    if info.st_size > max_bytes:
        raise _refuse(path, f"is {info.st_size:,} bytes, over the limit of {max_bytes:,}.",
                      "use a smaller file (e.g. only the years and columns needed).")
    kind, description = sniff(path)
    if kind not in allowed:
        raise _refuse(path, f"is {description}, whatever its name says; expected {wanted}.",
                      f"save or export the data as {wanted}.")
    limits = Limits(max_bytes=max_bytes, max_members=max_members, max_ratio=max_ratio,
                    max_unpacked_bytes=max_unpacked_bytes
                    or min(20 * max_bytes, LIMITS.max_unpacked_bytes))
    if kind == "csv.gz":
        _check_gzip_stream(path, limits)
    elif kind == "zip":
        problems = inspect_zip(path, limits=limits)
        if problems:
            raise UnsafeFileError(problems)
    return kind


_admitted: dict[tuple[object, ...], str] = {}
_admitted_lock = threading.Lock()


def admit(path: str | Path, *, allowed: Iterable[str], limits: Limits = LIMITS) -> str:
    """:func:`check_file` with *limits*, done once per version of a file.

    Every reader in ``geo.readers`` calls this before it opens a file, so no file reaches
    GDAL or pandas unchecked. A file is checked again when its size, modification time
    or inode changes.

    Returns
    -------
    str
        The kind found.

    Raises
    ------
    UnsafeFileError
    """
    path = Path(path)
    allowed = frozenset(allowed)
    try:
        info = path.stat()
        key: tuple[object, ...] = (str(path.resolve()), info.st_size, info.st_mtime_ns,
                                   info.st_ino, allowed, limits)
    except OSError:
        key = ()
    with _admitted_lock:
        if key and key in _admitted:
            return _admitted[key]
    kind = check_file(path, allowed=allowed, max_bytes=limits.max_bytes,
                      max_unpacked_bytes=limits.max_unpacked_bytes,
                      max_members=limits.max_members, max_ratio=limits.max_ratio)
    if key:
        with _admitted_lock:
            _admitted[key] = kind
    return kind


_DRIVE = re.compile(r"^[A-Za-z]:")


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\x00" in name:
        return "has a name containing a NUL character"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "has an absolute path"
    parts = [p for p in re.split(r"[\\/]+", name) if p]
    if any(p == ".." for p in parts):
        return "has a path that climbs out of the folder ('..')"
    if not parts or all(p == "." for p in parts):
        return "has an empty name"
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return "is a symbolic link"
    if mode and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is a special file (device, pipe or socket)"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return None


_NESTED_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst", ".kmz",
                    ".gpkg.zip", ".z", ".lz", ".lzma", ".cab")
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh",
                  b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")
_EOCD = b"PK\x05\x06"
_ZIP_FIX = "unpack the archive yourself, check its contents, and give the tool the data file."


def _zip_directory(path: Path) -> tuple[int, int, int]:
    """Entries, size and offset of a zip's central directory, read from its end record.

    Read before :mod:`zipfile` parses the directory, so an archive claiming millions of
    entries is refused without building millions of objects.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - (65535 + 22)))
        tail = fh.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            raise zipfile.BadZipFile("no end of central directory record")
        _, _, _, _, entries, cd_size, cd_offset, _ = struct.unpack("<4s4H2LH", tail[at:at + 22])
        locator = tail[at - 20:at] if at >= 20 else b""
        if locator.startswith(b"PK\x06\x07"):  # zip64: the real figures are in its own record
            (record_at,) = struct.unpack("<Q", locator[8:16])
            fh.seek(record_at)
            record = fh.read(56)
            if record[:4] == b"PK\x06\x06":
                entries, cd_size, cd_offset = struct.unpack("<3Q", record[32:56])
    return int(entries), int(cd_size), int(cd_offset)


def _nested(name: str) -> bool:
    return name.lower().endswith(_NESTED_SUFFIXES)


def _declared_problems(path: Path, infos: list[zipfile.ZipInfo], *, archive_bytes: int,
                       limits: Limits) -> list[Problem]:
    """Everything wrong with a zip that its directory alone shows (nothing is unpacked)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for info in infos:
        why = _member_problem(info)
        norm = str(PurePosixPath(*[p for p in re.split(r"[\\/]+", info.filename)
                                   if p and p != "."])) if why is None else ""
        if why is None and norm in seen:
            why = "appears twice"
        seen.add(norm)
        if why is None and not info.is_dir() and _nested(info.filename):
            why = "is itself an archive (archives inside archives are not opened)"
        if why is None and not info.is_dir():
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                why = (f"would unpack {ratio:,.0f} times larger than it is packed "
                       f"(limit {limits.max_ratio:,.0f}): a 'zip bomb'")
        if why is not None:
            problems.append(Problem(str(path), f"member {info.filename!r} {why}.", _ZIP_FIX))
    declared = sum(i.file_size for i in infos)
    if declared > limits.max_unpacked_bytes:
        problems.append(Problem(str(path), f"would unpack to {declared:,} bytes, over the "
                                f"limit of {limits.max_unpacked_bytes:,}: a possible 'zip bomb'.",
                                _ZIP_FIX))
    elif not problems and declared / max(archive_bytes, 1) > limits.max_ratio:
        problems.append(Problem(str(path), "unpacks far larger than it is packed "
                                f"({declared / max(archive_bytes, 1):,.0f} times, limit "
                                f"{limits.max_ratio:,.0f}): a 'zip bomb'.", _ZIP_FIX))
    return problems


def _overlap_problems(path: Path, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                      cd_offset: int) -> list[Problem]:
    """Members whose packed data overlap or run past the directory (a reused-data bomb)."""
    fp = zf.fp
    assert fp is not None
    spans = []
    for info in infos:
        fp.seek(info.header_offset)
        header = fp.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            return [Problem(str(path), f"member {info.filename!r} has no local header where "
                            "the directory says: a damaged or hostile archive.", _ZIP_FIX)]
        name_len, extra_len = struct.unpack("<2H", header[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        spans.append((info.header_offset, start + info.compress_size, info.filename))
    spans.sort()
    for (_, end, name), (next_start, _, _) in itertools.pairwise(spans):
        if end > next_start:
            return [Problem(str(path), f"member {name!r} overlaps the next member's data: "
                            "an archive that reuses the same packed bytes (a 'zip bomb').",
                            _ZIP_FIX)]
    directory = int(getattr(zf, "start_dir", cd_offset))  # adjusted for data before the zip
    if spans and spans[-1][1] > directory:
        return [Problem(str(path), f"member {spans[-1][2]!r} runs past the end of the packed "
                        "data: a damaged or hostile archive.", _ZIP_FIX)]
    return []


def _stream_problems(path: Path, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                     limits: Limits) -> list[Problem]:
    """Unpack every member as a stream (nothing kept): true sizes, ratio, nested archives."""
    total = 0
    for info in infos:
        if info.is_dir():
            continue
        count = 0
        with zf.open(info) as src:
            while chunk := src.read(_CHUNK):
                if count == 0 and chunk.startswith(_ARCHIVE_MAGIC):
                    return [Problem(str(path), f"member {info.filename!r} is itself an archive "
                                    "(archives inside archives are not opened).", _ZIP_FIX)]
                count += len(chunk)
                total += len(chunk)
                if count > info.file_size or total > limits.max_unpacked_bytes:
                    return [Problem(str(path), f"member {info.filename!r} unpacks to more bytes "
                                    "than its header declares: a 'zip bomb'.", _ZIP_FIX)]
                if count / max(info.compress_size, 1) > limits.max_ratio:
                    return [Problem(str(path), f"member {info.filename!r} is a 'zip bomb' "
                                    "(compression ratio over the limit).", _ZIP_FIX)]
    return []


def inspect_zip(path: str | Path, *, limits: Limits = LIMITS) -> list[Problem]:
    """Everything that makes a zip archive unsafe to hand to a reader, without unpacking it.

    Checks, in order, stopping at the first stage that finds a problem: the entry count
    (from the end record, before the directory is parsed); every member's path (no
    ``..``, absolute path or drive letter), type (no link, device or encrypted member),
    name (no repeat, no archive inside the archive) and compression ratio; the total
    unpacked size and the whole archive's ratio; members whose packed data overlap;
    then every member is unpacked as a stream, in 1 MiB pieces that are thrown away,
    to check its real size and ratio against the limits and its first bytes for another
    archive.

    Returns
    -------
    list of Problem
        Empty when the archive is safe to read.
    """
    path = Path(path)
    try:
        entries, _, cd_offset = _zip_directory(path)
        if entries > limits.max_members:
            return [Problem(str(path), f"has {entries:,} entries, more than the "
                            f"{limits.max_members:,} allowed.", _ZIP_FIX)]
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_members:
                return [Problem(str(path), f"has {len(infos):,} entries, more than the "
                                f"{limits.max_members:,} allowed.", _ZIP_FIX)]
            problems = _declared_problems(path, infos, archive_bytes=path.stat().st_size,
                                          limits=limits)
            problems = problems or _overlap_problems(path, zf, infos, cd_offset)
            return problems or _stream_problems(path, zf, infos, limits)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError,
            RuntimeError, ValueError, struct.error) as exc:
        return [Problem(str(path), f"is a damaged zip archive ({exc}).", _ZIP_FIX)]


def safe_extract_zip(path: str | Path, dest: str | Path, *, max_members: int = 1000,
                     max_total_bytes: int = 2 * 1024**3, max_ratio: float = 200.0) -> Path:
    """Unpack a zip archive into ``dest``, refusing path tricks and zip bombs.

    Parameters
    ----------
    path : str or Path
        The archive (checked to be a zip by content).
    dest : str or Path
        Folder to unpack into; created if needed. Existing files are never overwritten.
    max_members : int
        Most entries allowed.
    max_total_bytes : int
        Most bytes allowed once unpacked, all members together.
    max_ratio : float
        Highest compression ratio (unpacked / packed size) of any member and of the
        whole archive.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    UnsafeFileError
        Listing every refused member (or the bomb), before anything is written when the
        declared sizes already show it; anything written is removed on failure.
    """
    path = Path(path)
    if sniff(path)[0] != "zip":
        raise _refuse(path, "is not a zip archive.", "give a .zip file.")
    fix = "unpack the archive yourself, check its contents, and give the tool the data file."
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse(path, f"is a damaged zip archive ({exc}).", fix) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > max_members:
            raise _refuse(path, f"has {len(infos):,} entries, more than the {max_members:,} "
                          "allowed.", fix)
        limits = Limits(max_members=max_members, max_unpacked_bytes=max_total_bytes,
                        max_ratio=max_ratio)
        problems = _declared_problems(path, infos, archive_bytes=sum(
            i.compress_size for i in infos), limits=limits)
        if problems:
            raise UnsafeFileError(problems)

        dest = Path(dest)
        created_dest = not dest.exists()
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        written: list[Path] = []
        total = 0
        try:
            for info in infos:
                parts = [p for p in re.split(r"[\\/]+", info.filename) if p and p != "."]
                target = root.joinpath(*parts)
                resolved = target.resolve()
                if resolved != root and root not in resolved.parents:
                    raise _refuse(path, f"member {info.filename!r} would be written outside "
                                  "the folder.", fix)
                if info.is_dir():
                    if not target.exists():
                        target.mkdir(parents=True)
                        written.append(target)
                    continue
                for parent in reversed(target.parents):
                    if root in parent.parents and not parent.exists():
                        parent.mkdir()
                        written.append(parent)
                count = 0
                with zf.open(info) as src, open(target, "xb") as out:
                    written.append(target)
                    while chunk := src.read(_CHUNK):
                        count += len(chunk)
                        total += len(chunk)
                        if count > info.file_size or total > max_total_bytes:
                            raise _refuse(path, f"member {info.filename!r} unpacks to more "
                                          "bytes than its header declares: a 'zip bomb'.", fix)
                        if count / max(info.compress_size, 1) > max_ratio:
                            raise _refuse(path, f"member {info.filename!r} is a 'zip bomb' "
                                          "(compression ratio over the limit).", fix)
                        out.write(chunk)
        except UnsafeFileError:
            _cleanup(written, dest if created_dest else None)
            raise
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError,
                RuntimeError) as exc:
            _cleanup(written, dest if created_dest else None)
            raise _refuse(path, f"could not be unpacked safely ({exc}).", fix) from exc
    return dest


def _cleanup(written: list[Path], created: Path | None) -> None:
    for p in reversed(written):
        try:
            if p.is_dir() and not p.is_symlink():
                p.rmdir()
            else:
                p.unlink()
        except OSError:
            pass
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_upload(data: bytes, name: str, *, max_bytes: int, allowed: Iterable[str]) -> Path:
    """Write uploaded bytes to a new temporary folder after checking them.

    Parameters
    ----------
    data : bytes
        The upload.
    name : str
        The name the browser sent (only its last part, cleaned, is used).
    max_bytes : int
    allowed : iterable of str
        Kinds accepted (see :func:`check_file`).

    Returns
    -------
    Path
        The saved file, in a folder of its own (remove the folder when done).

    Raises
    ------
    UnsafeFileError
    """
    base = re.split(r"[\\/]", str(name))[-1]
    clean = _SAFE_NAME.sub("_", base).strip("._")[:100] or "upload"
    if len(data) > max_bytes:
        raise _refuse(clean, f"is {len(data):,} bytes, over the limit of {max_bytes:,}.",
                      "upload a smaller file.")
    folder = Path(tempfile.mkdtemp(prefix="firerisk-upload-"))
    target = folder / clean
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        check_file(target, allowed=allowed, max_bytes=max_bytes)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target


def escape_text(s: object) -> str:
    """Text from data, made safe for HTML (tooltips, popups, tables).

    Parameters
    ----------
    s : object
        Any value; None becomes an empty string.
    """
    return "" if s is None else html.escape(str(s), quote=True)
