"""The HTML report of an experiment folder: its summary (tables, figures inline), settings and sub-runs."""

from __future__ import annotations

import re
from pathlib import Path

from . import html as h

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]+\.png)\)")


def experiment_report_html(folder: Path) -> str:
    import markdown
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    title, _, body = summary.partition("\n")
    # figures referenced by the summary go inline, so that the page stands alone
    body = _IMAGE.sub(lambda m: h.image(folder / m.group(2), m.group(1)) if (folder / m.group(2)).is_file()
                      else m.group(0), body)
    sections = [markdown.markdown(body, extensions=["tables"])]
    runs = _sub_runs(folder)
    if runs:
        sections.append(h.section("Sub-runs", h.table(runs)))
    files = sorted(p.name for p in folder.iterdir() if p.suffix in (".csv", ".png", ".md", ".yaml"))
    sections.append(h.section("Settings", f"<pre>{h.esc((folder / 'experiment.yaml').read_text(encoding='utf-8'))}"
                                          f"</pre><p>Files in {h.esc(folder)}: {h.esc(', '.join(files))}</p>"))
    return h.page(title.lstrip("# ").strip(), str(folder), sections)


def _sub_runs(folder: Path) -> list[dict[str, object]]:
    import json
    rows: list[dict[str, object]] = []
    for summary in sorted((folder / "runs").glob("*/summary.json")):
        data = json.loads(summary.read_text(encoding="utf-8"))
        test = data.get("test", {})
        rows.append({"run": summary.parent.name, "test top-1": test.get("top1", ""),
                     "best epoch": data.get("best_epoch", ""), "epochs": data.get("epochs_run", ""),
                     "wall s": f"{float(data.get('wall_s', 0)):.1f}", "folder": str(summary.parent)})
    return rows


def write_experiment_report(folder: str | Path) -> Path:
    """Write `folder/report.html` (from its summary.md, figures and sub-runs) and return its path."""
    from ..train.checkpoint import atomic_write
    folder = Path(folder)
    if not (folder / "summary.md").is_file():  # stopped before its last step wrote it
        from ..experiments.common import ExperimentError
        raise ExperimentError(f"{folder} is an unfinished experiment (no summary.md); run the same `cnnzoo "
                              "experiment` with this --out again to finish it")
    text = experiment_report_html(folder)
    target = folder / "report.html"
    atomic_write(target, lambda f: f.write(text.encode("utf-8")))
    return target
