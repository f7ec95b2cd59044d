"""The HTML building blocks of the reports: a page with inline CSS, tables, inline images."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1b1f24;
       background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 28px 60px; background: #fff; }
h1 { font-size: 1.6em; margin: 0.2em 0 0.1em; } h2 { font-size: 1.25em; margin-top: 1.6em;
     border-bottom: 1px solid #d8dde3; padding-bottom: 4px; }
.sub { color: #57606a; margin-bottom: 1em; }
.figs { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.figs figure { margin: 0; } img.fig { max-width: 100%; border: 1px solid #e1e4e8; }
table { border-collapse: collapse; font-size: 0.88em; margin: 8px 0; }
th, td { border: 1px solid #d8dde3; padding: 3px 8px; text-align: right; }
th { background: #eef1f4; } td:first-child, th:first-child { text-align: left; }
pre { background: #f3f4f6; padding: 10px; overflow-x: auto; font-size: 0.82em; max-height: 420px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #d8dde3; border-radius: 6px; padding: 8px; width: 210px; font-size: 0.85em; }
.card img { image-rendering: pixelated; width: 96px; height: 96px; border: 1px solid #ccc; }
.bad { color: #b42318; } .ok { color: #1a7f37; }
details summary { cursor: pointer; color: #0969da; }
.metric { display: inline-block; margin-right: 22px; font-size: 1.05em; } .metric b { font-size: 1.25em; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def data_uri(png: bytes | Path) -> str:
    raw = png.read_bytes() if isinstance(png, Path) else png
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def image(png: bytes | Path, alt: str, *, cls: str = "fig", width: int | None = None) -> str:
    size = f' width="{width}"' if width else ""
    return f'<img class="{cls}" alt="{esc(alt)}" src="{data_uri(png)}"{size}>'


def figure(png: bytes | Path, caption: str, *, width: int | None = None) -> str:
    return f"<figure>{image(png, caption, width=width)}<figcaption>{esc(caption)}</figcaption></figure>"


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "<p>(none)</p>"
    cols = list(columns or rows[0].keys())
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{esc(fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(title: str, body: str, *, anchor: str | None = None) -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{body}</section>"


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title>"
            f"<link rel=\"icon\" href=\"data:,\"><style>{CSS}</style></head><body><main>"
            f"<h1>{esc(title)}</h1><div class=\"sub\">{esc(subtitle)}</div>{''.join(sections)}"
            "</main></body></html>\n")


def figure_bytes(fig: Any) -> bytes:
    """PNG bytes of a matplotlib Figure."""
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
