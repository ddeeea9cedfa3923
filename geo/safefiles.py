"""Careful handling of files from outside: profiles' inputs, uploads and archives.

* :func:`check_file` decides a file's real type from its first bytes, never from
  its name (a renamed program or spreadsheet is refused), and enforces a size limit.
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
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from firerisk.errors import Problem, UnsafeFileError

__all__ = [
    "KINDS",
    "check_file",
    "escape_text",
    "safe_extract_zip",
    "safe_upload",
    "sniff",
]

#: File kinds the tool can accept.
KINDS = frozenset({"csv", "csv.gz", "geojson", "gpkg", "zip", "shp", "fgb"})

_HEAD = 64 * 1024
_CHUNK = 1 << 20
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
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return controls == 0


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
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
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
        if inner and _is_text(inner) and _text_kind(inner) == "csv":
            return "csv.gz", _DESCRIBE["csv.gz"]
        return "gzip", _DESCRIBE["gzip"]
    for magic, description in _BINARY_MAGIC:
        if head.startswith(magic):
            return "binary", description
    if _is_text(head):
        kind = _text_kind(head)
        return kind, _DESCRIBE[kind]
    return "binary", "a binary file (not text)"


def _check_gzip_size(path: Path, limit: int) -> None:
    total = 0
    try:
        with gzip.open(path, "rb") as gz:
            while chunk := gz.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise _refuse(path, f"unpacks to more than {limit:,} bytes.",
                                  "split the file or raise the limit if it is genuine.")
    except (OSError, EOFError, zlib.error) as exc:
        raise _refuse(path, f"is a damaged gzip file ({exc}).", "compress the file again.") from exc


def check_file(path: str | Path, *, allowed: Iterable[str], max_bytes: int,
               max_unpacked_bytes: int | None = None) -> str:
    """Check a file's real type and size before it is read.

    Parameters
    ----------
    path : str or Path
    allowed : iterable of str
        Kinds accepted here, from :data:`KINDS` (e.g. ``{"csv", "csv.gz"}``).
    max_bytes : int
        Largest size on disk.
    max_unpacked_bytes : int, optional
        For ``csv.gz``: largest unpacked size (default 20 x ``max_bytes``); the file is
        decompressed once, as a stream, to check it.

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
    if kind == "csv.gz":
        _check_gzip_size(path, max_unpacked_bytes or 20 * max_bytes)
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
        problems = []
        seen: set[str] = set()
        for info in infos:
            why = _member_problem(info)
            norm = str(PurePosixPath(*[p for p in re.split(r"[\\/]+", info.filename)
                                       if p and p != "."])) if why is None else ""
            if why is None and norm in seen:
                why = "appears twice"
            seen.add(norm)
            if why is None and not info.is_dir():
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > max_ratio:
                    why = (f"would unpack {ratio:,.0f} times larger than it is packed "
                           f"(limit {max_ratio:,.0f}): a 'zip bomb'")
            if why is not None:
                problems.append(Problem(str(path), f"member {info.filename!r} {why}.", fix))
        declared = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos)
        if declared > max_total_bytes:
            problems.append(Problem(str(path), f"would unpack to {declared:,} bytes, over the "
                                    f"limit of {max_total_bytes:,}: a possible 'zip bomb'.", fix))
        elif not problems and declared / max(packed, 1) > max_ratio:
            problems.append(Problem(str(path), "unpacks far larger than it is packed "
                                    f"({declared / max(packed, 1):,.0f} times): a 'zip bomb'.", fix))
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
