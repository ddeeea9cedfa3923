"""Tests for geo.safefiles: hostile files, archives and uploads."""

from __future__ import annotations

import gzip
import os
import sqlite3
import stat
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest

from firerisk.errors import UnsafeFileError
from firerisk.geo.safefiles import (
    admit,
    check_file,
    escape_text,
    inspect_zip,
    safe_extract_zip,
    safe_upload,
    sniff,
    text_encoding,
)

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
MB = 1024 * 1024


def make_zip(path: Path, members: dict[str, bytes], *, symlinks: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            else:
                info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, data)
    return path


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")) if folder.exists() else []


# -- real type by content ------------------------------------------------------------------


def test_real_sample_files_are_recognised():
    assert check_file(SAMPLE / "imd2025_london.csv", allowed={"csv"}, max_bytes=50 * MB) == "csv"
    assert check_file(SAMPLE / "london_lsoa21.geojson", allowed={"geojson"},
                      max_bytes=50 * MB) == "geojson"
    assert check_file(SAMPLE / "lfb_dwelling_fires_2009_2024.csv.gz", allowed={"csv.gz"},
                      max_bytes=50 * MB) == "csv.gz"


def test_geopackage_by_sqlite_header_and_application_id(tmp_path):
    gpkg = tmp_path / "areas.dat"  # the name says nothing
    con = sqlite3.connect(gpkg)
    con.execute("PRAGMA application_id = 1196444487")  # 0x47504B47, 'GPKG'
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    assert check_file(gpkg, allowed={"gpkg"}, max_bytes=MB) == "gpkg"
    plain = tmp_path / "other.gpkg"
    con = sqlite3.connect(plain)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(UnsafeFileError, match="not a GeoPackage"):
        check_file(plain, allowed={"gpkg"}, max_bytes=MB)


@pytest.mark.parametrize(("head", "described"), [
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\x7fELF\x02\x01\x01", "program"),
    (b"MZ\x90\x00", "Windows program"),
    (b"%PDF-1.7\n", "PDF"),
    (b"\x00\x00\x27\x0a\x00\x00", "Shapefile"),  # a .shp renamed .csv
    (b"\x00\x01\x02\x03\x04\x05", "binary"),
])
def test_renamed_binary_is_refused(tmp_path, head, described):
    fake = tmp_path / "incidents.csv"
    fake.write_bytes(head + os.urandom(2000))
    with pytest.raises(UnsafeFileError) as info:
        check_file(fake, allowed={"csv", "csv.gz", "geojson", "gpkg", "zip", "fgb"}, max_bytes=MB)
    assert described in str(info.value)
    assert "incidents.csv" in str(info.value)


def test_zip_named_csv_is_a_zip(tmp_path):
    z = make_zip(tmp_path / "data.csv", {"a.csv": b"x,y\n1,2\n"})
    assert check_file(z, allowed={"zip", "csv"}, max_bytes=MB) == "zip"
    with pytest.raises(UnsafeFileError, match="zip archive"):
        check_file(z, allowed={"csv"}, max_bytes=MB)


def test_excel_workbook_is_named(tmp_path):
    x = make_zip(tmp_path / "covariates.csv",
                 {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
    with pytest.raises(UnsafeFileError, match="Excel workbook"):
        check_file(x, allowed={"csv", "zip"}, max_bytes=MB)


def test_text_kinds(tmp_path):
    j = tmp_path / "areas.csv"
    j.write_text('\ufeff  {"type": "FeatureCollection", "features": []}', encoding="utf-8")
    assert sniff(j)[0] == "geojson"
    latin = tmp_path / "names.csv"
    latin.write_bytes("code,name\nE01,Caf\xe9\n".encode("cp1252"))
    assert check_file(latin, allowed={"csv"}, max_bytes=MB) == "csv"
    page = tmp_path / "page.csv"
    page.write_text("<html><script>x</script></html>")
    with pytest.raises(UnsafeFileError, match="HTML"):
        check_file(page, allowed={"csv"}, max_bytes=MB)


def test_oversized_empty_missing_and_non_regular_files(tmp_path):
    f = tmp_path / "big.csv"
    f.write_bytes(b"a,b\n" * 1000)  # 4,000 bytes
    assert check_file(f, allowed={"csv"}, max_bytes=4000) == "csv"
    with pytest.raises(UnsafeFileError, match="over the limit of 3,999"):
        check_file(f, allowed={"csv"}, max_bytes=3999)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(UnsafeFileError, match="empty"):
        check_file(empty, allowed={"csv"}, max_bytes=MB)
    with pytest.raises(UnsafeFileError, match="cannot be found"):
        check_file(tmp_path / "nope.csv", allowed={"csv"}, max_bytes=MB)
    with pytest.raises(UnsafeFileError, match="not a regular file"):
        check_file(tmp_path, allowed={"csv"}, max_bytes=MB)
    with pytest.raises(ValueError, match="unknown file kinds"):
        check_file(f, allowed={"exe"}, max_bytes=MB)


def test_gzip_bomb_is_refused(tmp_path):
    g = tmp_path / "incidents.csv.gz"
    with gzip.open(g, "wb", compresslevel=1) as fh:
        fh.write(b"date,x,y\n")
        line = b"2020-01-01,530000,180000\n" * 40000  # 1 MB
        for _ in range(30):
            fh.write(line)
    assert g.stat().st_size < MB
    # by size (the ratio limit set out of the way), counted while streaming
    with pytest.raises(UnsafeFileError, match="unpacks to more than"):
        check_file(g, allowed={"csv.gz"}, max_bytes=MB, max_unpacked_bytes=10 * MB,
                   max_ratio=10_000)
    assert check_file(g, allowed={"csv.gz"}, max_bytes=MB, max_unpacked_bytes=40 * MB,
                      max_ratio=10_000) == "csv.gz"
    # by ratio: 30 MB from under 1 MB is over the default limit of 100
    with pytest.raises(UnsafeFileError, match="gzip bomb"):
        check_file(g, allowed={"csv.gz"}, max_bytes=MB, max_unpacked_bytes=40 * MB)


# -- zip archives ------------------------------------------------------------------------


def test_safe_zip_is_extracted(tmp_path):
    z = make_zip(tmp_path / "areas.zip", {"shp/areas.dbf": b"x" * 100, "shp/areas.prj": b"GEOG",
                                          "README.txt": b"hello"})
    out = safe_extract_zip(z, tmp_path / "out", max_members=10, max_total_bytes=MB,
                           max_ratio=100)
    assert (out / "shp" / "areas.prj").read_bytes() == b"GEOG"
    assert (out / "README.txt").read_bytes() == b"hello"


@pytest.mark.parametrize(("member", "reason"), [
    ("../evil.txt", "climbs out"),
    ("shp/../../evil.txt", "climbs out"),
    ("..\\evil.txt", "climbs out"),
    ("/tmp/evil.txt", "absolute path"),
    ("C:/evil.txt", "absolute path"),
])
def test_zip_path_escape_is_refused(tmp_path, member, reason):
    z = make_zip(tmp_path / "x.zip", {"ok.txt": b"fine", member: b"owned"})
    dest = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeFileError, match=reason):
        safe_extract_zip(z, dest, max_members=10, max_total_bytes=MB, max_ratio=100)
    assert not dest.exists()  # nothing written, not even the harmless member
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "deep" / "evil.txt").exists()


def test_zip_symlink_is_refused(tmp_path):
    z = make_zip(tmp_path / "x.zip", {"link": b"/etc/passwd", "data.csv": b"a\n"},
                 symlinks=("link",))
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        safe_extract_zip(z, tmp_path / "out", max_members=10, max_total_bytes=MB, max_ratio=100)
    assert not (tmp_path / "out").exists()


def test_too_many_members_is_refused(tmp_path):
    z = make_zip(tmp_path / "x.zip", {f"f{i}.txt": b"x" for i in range(30)})
    with pytest.raises(UnsafeFileError, match="30 entries"):
        safe_extract_zip(z, tmp_path / "out", max_members=20, max_total_bytes=MB, max_ratio=100)


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """200 MB of zeros, deflated to about 200 KB."""
    path = tmp_path_factory.mktemp("bomb") / "areas.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, \
            zf.open("areas.csv", "w", force_zip64=True) as fh:
        chunk = b"\0" * MB
        for _ in range(200):
            fh.write(chunk)
    return path


def test_zip_bomb_refused_by_ratio(zip_bomb, tmp_path):
    assert zip_bomb.stat().st_size < MB
    with pytest.raises(UnsafeFileError, match="zip bomb"):
        safe_extract_zip(zip_bomb, tmp_path / "out", max_members=10, max_total_bytes=10**10,
                         max_ratio=100)
    assert files_under(tmp_path / "out") == []


def test_zip_bomb_refused_by_total_size(zip_bomb, tmp_path):
    with pytest.raises(UnsafeFileError, match="over the limit"):
        safe_extract_zip(zip_bomb, tmp_path / "out", max_members=10, max_total_bytes=100 * MB,
                         max_ratio=10**6)
    assert not (tmp_path / "out").exists()


def test_zip_with_lying_sizes_is_caught_while_streaming(tmp_path):
    # Declare 1,000 bytes for a member that really unpacks to 4 MB, in both headers, so
    # the declared-size checks pass; the streamed extraction must still stop it.
    path = make_zip(tmp_path / "liar.zip", {"data.csv": b"\0" * (4 * MB)})
    raw = bytearray(path.read_bytes())
    assert raw[:4] == b"PK\x03\x04"
    struct.pack_into("<I", raw, 22, 1000)  # local header: uncompressed size
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 1000)  # central directory: uncompressed size
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("data.csv").file_size == 1000
    dest = tmp_path / "out"
    with pytest.raises(UnsafeFileError, match=r"data\.csv|could not be unpacked safely"):
        safe_extract_zip(path, dest, max_members=10, max_total_bytes=MB, max_ratio=1000)
    assert not dest.exists()


def test_existing_files_are_not_overwritten(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "a.txt").write_text("mine")
    z = make_zip(tmp_path / "x.zip", {"a.txt": b"theirs"})
    with pytest.raises(UnsafeFileError):
        safe_extract_zip(z, dest, max_members=10, max_total_bytes=MB, max_ratio=100)
    assert (dest / "a.txt").read_text() == "mine"


# -- uploads and HTML --------------------------------------------------------------------


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_safe_upload_writes_a_clean_name(private_tmp):
    path = safe_upload(b"code,households\nE01000001,10\n", "../../etc/pass wd.csv",
                       max_bytes=MB, allowed={"csv"})
    assert path.name == "pass_wd.csv"
    assert path.parent.parent == private_tmp
    assert path.read_bytes().startswith(b"code,households")


def test_safe_upload_refuses_and_leaves_nothing(private_tmp):
    with pytest.raises(UnsafeFileError, match="over the limit"):
        safe_upload(b"x" * 2000, "big.csv", max_bytes=1000, allowed={"csv"})
    with pytest.raises(UnsafeFileError, match="PNG"):
        safe_upload(b"\x89PNG\r\n\x1a\n" + bytes(500), "photo.csv", max_bytes=MB,
                    allowed={"csv"})
    assert list(private_tmp.iterdir()) == []


def test_escape_text():
    name = '<script>alert("x")</script> & Sons'
    assert escape_text(name) == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Sons"
    assert escape_text(None) == ""
    assert escape_text(42) == "42"


# -- archives inspected before any reader opens them -----------------------------------------


def test_members_sharing_packed_data_are_refused(tmp_path):
    # Two directory entries pointing at the same local header: the "overlapping files" bomb.
    path = make_zip(tmp_path / "x.zip", {"a.csv": os.urandom(3000).hex().encode()})
    raw = bytearray(path.read_bytes())
    central = raw.index(b"PK\x01\x02")
    end = raw.index(b"PK\x05\x06")
    entry = raw[central:end]
    copy = entry.replace(b"a.csv", b"b.csv")
    directory = bytes(entry + copy)
    eocd = bytearray(raw[end:])
    struct.pack_into("<HHLL", eocd, 8, 2, 2, len(directory), central)
    path.write_bytes(bytes(raw[:central]) + directory + bytes(eocd))
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["a.csv", "b.csv"]
    problems = inspect_zip(path)
    assert len(problems) == 1
    assert "overlaps" in problems[0].message


def test_an_archive_claiming_too_many_entries_is_refused_from_its_end_record(tmp_path):
    path = make_zip(tmp_path / "x.zip", {"a.csv": b"1\n"})
    raw = bytearray(path.read_bytes())
    end = raw.index(b"PK\x05\x06")
    struct.pack_into("<HH", raw, end + 8, 65000, 65000)  # a lie zipfile would try to parse
    path.write_bytes(bytes(raw))
    (problem,) = inspect_zip(path)
    assert "65,000 entries" in problem.message


def test_an_archive_inside_an_archive_is_refused_by_name_and_by_content(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"a.geojson": b"{}"}).read_bytes()
    by_name = make_zip(tmp_path / "n.zip", {"data/inner.zip": inner})
    by_bytes = make_zip(tmp_path / "b.zip", {"data.bin": inner})
    assert "is itself an archive" in inspect_zip(by_name)[0].message
    assert "is itself an archive" in inspect_zip(by_bytes)[0].message
    gz = make_zip(tmp_path / "g.zip", {"areas.json": gzip.compress(b"{}" * 100)})
    assert "is itself an archive" in inspect_zip(gz)[0].message
    clean = make_zip(tmp_path / "c.zip", {"areas.geojson": b'{"type": "FeatureCollection"}'})
    assert inspect_zip(clean) == []
    assert check_file(by_name.parent / "c.zip", allowed={"zip"}, max_bytes=MB) == "zip"
    with pytest.raises(UnsafeFileError, match="is itself an archive"):
        check_file(by_name, allowed={"zip"}, max_bytes=MB)


def test_a_small_gzip_is_never_judged_by_its_ratio(tmp_path):
    g = tmp_path / "i.csv.gz"
    g.write_bytes(gzip.compress(b"date,x,y\n" + b"2020-01-01,1,2\n" * 500_000))  # 7.5 MB, x500
    assert check_file(g, allowed={"csv.gz"}, max_bytes=MB) == "csv.gz"


def test_utf16_text_is_text(tmp_path):
    f = tmp_path / "t.csv"
    f.write_bytes("code,name\nE01,Café\n".encode("utf-16"))
    assert sniff(f)[0] == "csv"
    assert text_encoding(f.read_bytes()) == "utf-16"
    assert text_encoding("code,name\n".encode("utf-16-le")) == "utf-16-le"
    assert text_encoding("Caf\xe9,1\n".encode("cp1252")) == "cp1252"
    assert text_encoding(b"\xef\xbb\xbfcode\n") == "utf-8"
    assert text_encoding(bytes(range(256))) is None


def test_admit_checks_a_file_again_when_it_changes(tmp_path):
    f = tmp_path / "t.csv"
    f.write_bytes(b"a,b\n1,2\n")
    assert admit(f, allowed={"csv"}) == "csv"
    assert admit(f, allowed={"csv"}) == "csv"  # remembered
    f.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(600))
    with pytest.raises(UnsafeFileError, match="PNG"):
        admit(f, allowed={"csv"})
