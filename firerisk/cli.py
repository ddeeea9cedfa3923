"""The ``firerisk`` command line.

Commands::

    firerisk init     --areas FILE --incidents FILE --covariates FILE [FILE ...] --out PROFILE.toml
    firerisk check    --config PROFILE.toml [--json]
    firerisk build    --config PROFILE.toml --out RESULTS.gpkg [--no-evaluate] [--mode public]
    firerisk evaluate --config PROFILE.toml [--json] [--origins 2015-2023]
    firerisk report   --results RESULTS.gpkg --out map.pdf [--group COLUMN --value VALUE]
    firerisk atlas    --results RESULTS.gpkg --by COLUMN --out atlas.pdf
    firerisk explainer --results RESULTS.gpkg --area AREA_ID --out leaflet.pdf
    firerisk export   --results RESULTS.gpkg --format xlsx|csv --out FILE [--group COLUMN --value VALUE]
    firerisk app      [--results RESULTS.gpkg] [--port 8501] [--public] [--cache-dir DIR]
    firerisk sample   --out DIR

Bad input exits with status 2 and a short, plain message; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main"]


class _Progress:
    """Print progress lines to stderr with elapsed time; quiet with ``--quiet``."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.start = time.perf_counter()

    def pages(self, done: int, total: int, message: str) -> None:
        """Progress callback for the PDF renderers."""
        self(f"{message} ({done}/{total})", done / total if total else None)

    def __call__(self, message: str, fraction: float | None = None) -> None:
        if message.startswith("Warning: "):  # printed even with --quiet
            print(f"firerisk: warning: {message.removeprefix('Warning: ')}", file=sys.stderr,
                  flush=True)
            return
        if self.quiet:
            return
        pct = f"{fraction * 100:5.1f}% " if fraction is not None else ""
        elapsed = time.perf_counter() - self.start
        print(f"[{elapsed:6.1f}s] {pct}{message}", file=sys.stderr, flush=True)


def _parse_origins(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    first, _, last = text.partition("-")
    return int(first), int(last or first)


def _cmd_init(args: argparse.Namespace, progress: _Progress) -> int:
    from firerisk.errors import InputFileError, Problem
    from firerisk.geo.scaffold import draft_profile

    out = Path(args.out)
    if out.exists() and not args.force:
        raise InputFileError([Problem(str(out), "already exists; init never overwrites a "
                                      "profile.", "choose another --out, or add --force.")])
    progress("Reading the column names and a sample of each file")
    draft = draft_profile(areas=args.areas, incidents=args.incidents,
                          covariates=args.covariates, relative_to=out.parent.resolve(),
                          name=args.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(draft.text, encoding="utf-8")
    print(f"Wrote {out}")
    todo = ["fill in each [*.provenance] table (publisher, licence, attribution)",
            *(f"set {key} (not guessed)" for key in draft.unresolved),
            "check every line marked 'guessed'",
            f"run: firerisk check --config {out}"]
    print("Next:\n" + "\n".join(f"  {n}. {t}" for n, t in enumerate(todo, start=1)))
    return 0


def _cmd_check(args: argparse.Namespace, progress: _Progress) -> int:
    from firerisk.pipeline import check

    report = check(args.config, progress=progress)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0


def _cmd_build(args: argparse.Namespace, progress: _Progress) -> int:
    from firerisk.pipeline import build

    out = build(args.config, args.out, progress=progress, evaluate=not args.no_evaluate,
                mode=args.mode)
    print(f"Wrote {out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace, progress: _Progress) -> int:
    from firerisk.pipeline import evaluate
    from firerisk.risk.evaluate import format_table

    result = evaluate(args.config, progress=progress, origins=_parse_origins(args.origins),
                      bootstrap=args.bootstrap)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=float))
    else:
        print(format_table(result))
    return 0


def _write(out: str, data: bytes) -> int:
    """Write a PDF atomically and say where it went."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data)
    tmp.replace(path)
    from pypdf import PdfReader

    print(f"Wrote {path} ({len(PdfReader(path).pages)} pages)")
    return 0


def _cmd_report(args: argparse.Namespace, progress: _Progress) -> int:
    from firerisk.geo.results import read_results
    from firerisk.report import map_pdf_bytes

    if (args.group is None) != (args.value is None):
        from firerisk.errors import ReportRequestError

        raise ReportRequestError("give --group and --value together, e.g. --group borough --value Camden")
    data = map_pdf_bytes(read_results(args.results), group_column=args.group,
                         group_value=args.value, paper=args.paper,
                         orientation=args.orientation, label_top=args.label_top,
                         progress=progress.pages)
    return _write(args.out, data)


def _cmd_atlas(args: argparse.Namespace, progress: _Progress) -> int:
    from firerisk.geo.results import read_results
    from firerisk.report import atlas_pdf_bytes

    data = atlas_pdf_bytes(read_results(args.results), by=args.by, paper=args.paper,
                           orientation=args.orientation, label_top=args.label_top,
                           progress=progress.pages)
    return _write(args.out, data)


def _cmd_explainer(args: argparse.Namespace, progress: _Progress) -> int:
    from firerisk.geo.results import read_results
    from firerisk.report import explainer_pdf_bytes

    results = read_results(args.results)
    contact = args.contact or str(results.run.get("profile", {}).get("contact", ""))
    return _write(args.out, explainer_pdf_bytes(results, area_id=args.area, contact=contact))


def _cmd_export(args: argparse.Namespace, progress: _Progress) -> int:
    from firerisk.errors import Problem, ReportRequestError
    from firerisk.geo.results import read_results
    from firerisk.ui.bands import AS_PUBLISHED, classify_rates
    from firerisk.ui.exports import targets_csv, targets_xlsx

    if (args.group is None) != (args.value is None):
        raise ReportRequestError("give --group and --value together, e.g. --group borough "
                                 "--value Camden")
    results = read_results(args.results)
    if args.group is not None:
        values = set(results.targets[args.group].astype(str)) \
            if args.group in results.targets.columns else set()
        if args.group not in results.group_columns or args.value not in values:
            known = ", ".join(results.group_columns) or "none"
            raise ReportRequestError([Problem(
                str(args.results), f"no areas with {args.group} = {args.value!r} (group "
                f"columns: {known}).", "give a group column and one of its values, as the "
                "app's sidebar lists them.", column=args.group)])
    banding = None
    if args.scheme != AS_PUBLISHED:
        rates = results.areas.get("risk_per_1000")
        if rates is None or not rates.notna().any():
            raise ReportRequestError([Problem(
                str(args.results), "these results hold no rates (public output), so they "
                "cannot be banded again.", "leave out --scheme.", column="risk_per_1000")])
        banding = classify_rates(results.areas["area_id"].astype(str), rates,
                                 scheme=args.scheme, labels=results.band_labels)
    make = targets_xlsx if args.format == "xlsx" else targets_csv
    data = make(results, group=args.group, value=args.value, banding=banding)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data)
    tmp.replace(path)
    n = len(results.targets) if args.group is None else int(
        (results.targets[args.group].astype(str) == args.value).sum())
    print(f"Wrote {path} ({n:,} areas, {args.format.upper()})")
    return 0


def _cmd_app(args: argparse.Namespace, progress: _Progress) -> int:
    from firerisk.serve import plan_app, serve

    plan = plan_app(results=args.results, port=args.port, public=args.public,
                    cache_dir=args.cache_dir, address=args.address)
    return serve(plan, progress=progress)


def _cmd_sample(args: argparse.Namespace, progress: _Progress) -> int:
    import shutil

    from firerisk.errors import InputFileError, Problem
    from firerisk.paths import SAMPLE_FILES, sample_dir

    out = Path(args.out)
    clash = [name for name in SAMPLE_FILES if (out / name).exists()]
    if clash:
        raise InputFileError([Problem(str(out / clash[0]), "already exists; sample never "
                                      "overwrites a file.", "choose another --out folder.")])
    out.mkdir(parents=True, exist_ok=True)
    for name in SAMPLE_FILES:
        shutil.copyfile(sample_dir() / name, out / name)
    print(f"Wrote the London sample into {out}\nNext: firerisk build --config "
          f"{out / 'london.toml'} --out {out / 'london.gpkg'}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="firerisk",
        description="Community fire risk atlas: small-area priority lists for home fire safety visits.",
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    sub = parser.add_subparsers(dest="command", required=True)

    n = sub.add_parser("init", help="draft a dataset profile from your own files")
    n.add_argument("--areas", required=True, help="area boundaries (GeoJSON, GeoPackage, .zip)")
    n.add_argument("--incidents", required=True, help="incident file (CSV or points)")
    n.add_argument("--covariates", required=True, nargs="+",
                   help="one or more CSV tables with one row per area")
    n.add_argument("--out", required=True, help="profile to write (TOML)")
    n.add_argument("--name", default=None, help="title of the dataset")
    n.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    n.set_defaults(func=_cmd_init)

    c = sub.add_parser("check", help="check a dataset profile and its files without building")
    c.add_argument("--config", required=True, help="dataset profile (TOML)")
    c.add_argument("--json", action="store_true", help="print a JSON document")
    c.set_defaults(func=_cmd_check)

    b = sub.add_parser("build", help="build the results GeoPackage from a dataset profile")
    b.add_argument("--config", required=True, help="dataset profile (TOML)")
    b.add_argument("--out", required=True, help="results GeoPackage to write")
    b.add_argument("--no-evaluate", action="store_true", help="skip the rolling backtest")
    b.add_argument("--mode", choices=["internal", "public"], default=None,
                   help="output mode (default: the profile's [disclosure] mode)")
    b.set_defaults(func=_cmd_build)

    e = sub.add_parser("evaluate", help="rolling-origin backtest against simple rules")
    e.add_argument("--config", required=True, help="dataset profile (TOML)")
    e.add_argument("--json", action="store_true", help="print a JSON document")
    e.add_argument("--origins", default=None, help="origin years, e.g. 2015-2023")
    e.add_argument("--bootstrap", type=int, default=None, help="bootstrap resamples")
    e.set_defaults(func=_cmd_evaluate)

    for name, helptext, func in (("report", "a single map PDF with its target list", _cmd_report),
                                 ("atlas", "an atlas PDF with a page per group", _cmd_atlas)):
        r = sub.add_parser(name, help=helptext)
        r.add_argument("--results", required=True, help="results GeoPackage from firerisk build")
        r.add_argument("--out", required=True, help="PDF to write")
        if name == "report":
            r.add_argument("--group", default=None, help="group column, e.g. borough")
            r.add_argument("--value", default=None, help="group value, e.g. Camden")
        else:
            r.add_argument("--by", required=True, help="group column, e.g. borough or station")
        r.add_argument("--paper", choices=["A4", "A3"], default="A4")
        r.add_argument("--orientation", choices=["landscape", "portrait"], default="landscape")
        r.add_argument("--label-top", type=int, default=10, help="label the top N areas by rank")
        r.set_defaults(func=func)

    x = sub.add_parser("explainer", help="a one-page plain-language leaflet for one area")
    x.add_argument("--results", required=True)
    x.add_argument("--area", required=True, help="area code, e.g. E01000001")
    x.add_argument("--out", required=True)
    x.add_argument("--contact", default=None, help="who residents should contact")
    x.set_defaults(func=_cmd_explainer)

    xp = sub.add_parser("export", help="the priority list for Excel (XLSX) or as CSV, with "
                                       "its sources, licences and output mode")
    xp.add_argument("--results", required=True, help="results GeoPackage from firerisk build")
    xp.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    xp.add_argument("--out", required=True, help="file to write")
    xp.add_argument("--group", default=None, help="group column, e.g. borough")
    xp.add_argument("--value", default=None, help="group value, e.g. Camden")
    xp.add_argument("--scheme", default="as_published",
                    choices=["as_published", "quantiles", "natural_breaks", "equal_interval"],
                    help="band scheme (default: the published bands)")
    xp.set_defaults(func=_cmd_export)

    a = sub.add_parser("app", help="serve the dashboard (map, list, downloads) in a browser")
    a.add_argument("--results", default=None,
                   help="results GeoPackage to show (default: the London sample, built into "
                        "the cache folder on first start)")
    a.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    a.add_argument("--public", action="store_true",
                   help="a server for the public: listens on every network interface and "
                        "serves only results built with --mode public")
    a.add_argument("--address", default=None,
                   help="address to listen on (default 127.0.0.1, this machine only; "
                        "0.0.0.0 with --public)")
    a.add_argument("--cache-dir", default=None,
                   help="folder for the app's caches (default: $FIRERISK_CACHE_DIR, else "
                        "the per-user cache folder)")
    a.set_defaults(func=_cmd_app)

    s = sub.add_parser("sample", help="copy the London sample data and its profile into a "
                                      "folder")
    s.add_argument("--out", required=True, help="folder to copy the sample into")
    s.set_defaults(func=_cmd_sample)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = _parser().parse_args(argv)
    progress = _Progress(quiet=args.quiet)
    func: Callable[[argparse.Namespace, _Progress], int] = args.func
    try:
        return func(args, progress)
    except (ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"firerisk {args.command}: error: {exc}", file=sys.stderr)
        print("(run with --debug for a traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
