"""The HTML of the reports: escaping, inline images, tables, sections and the page around them.

A page is one file that needs nothing else: images are `data:` URIs, the style and the one small script
(sorting a table by a click on its header) are inline, and a Content-Security-Policy forbids every fetch,
so it opens the same from a USB stick with no network. Every string that comes from the user (class
names, folder names, the config, the command line) goes through `esc`."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f6f7f9;margin:0}
main{max-width:1100px;margin:0 auto;padding:12px 16px 48px}
h1{font-size:1.5em;margin:.4em 0 .1em}h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid #d5d9e0}
h3{font-size:1em;margin:1em 0 .4em}
main>div{overflow-wrap:anywhere}
nav{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:.9em;margin:.5em 0}
nav a{color:#2456b3;text-decoration:none}
.banner{background:#fff3cd;border:1px solid #e0c36a;padding:8px 12px;border-radius:6px;margin:8px 0}
.cards{display:flex;flex-wrap:wrap;gap:8px}
.card{background:#fff;border:1px solid #d5d9e0;border-radius:6px;padding:6px 12px;min-width:120px}
.card b{display:block;font-size:1.25em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;background:#fff;font-size:.88em}
th,td{border:1px solid #d5d9e0;padding:3px 7px;text-align:left;white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th.sort{cursor:pointer;user-select:none}th.sort:after{content:" \\2195";color:#8a93a3}
tr.child td:first-child{padding-left:22px;color:#4a5262}
table.cm td{text-align:center;min-width:2.2em}
img{max-width:100%;height:auto}
img.px{image-rendering:pixelated}
.gallery{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;background:#fff;border:1px solid #d5d9e0;border-radius:6px;padding:4px;font-size:.78em;max-width:100%}
figure img{display:block}figcaption{max-width:150px;overflow-wrap:anywhere}
pre{background:#fff;border:1px solid #d5d9e0;padding:8px;overflow-x:auto;font-size:.85em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{color:#4a5262}dd{margin:0;overflow-wrap:anywhere}
@media (max-width:600px){body{font-size:14px}main{padding:8px}}
"""

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.classList.add("sort");
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var down = th.dataset.dir !== "down"; th.dataset.dir = down ? "down" : "up";
      var key = function (row) { var c = row.cells[column]; var v = c.dataset.v;
        return v !== undefined ? parseFloat(v) : c.textContent.toLowerCase(); };
      rows.sort(function (a, b) { var x = key(a), y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (down ? -1 : 1); });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


class Raw(str):
    """HTML that is already safe (built here), inserted as it is."""


def esc(value) -> str:
    return value if isinstance(value, Raw) else html.escape(str(value), quote=True)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def img(png: bytes, alt: str, width: int | None = None, pixelated: bool = False) -> Raw:
    size = f' width="{int(width)}"' if width else ""
    cls = ' class="px"' if pixelated else ""
    return Raw(f'<img src="{data_uri(png)}" alt="{esc(alt)}"{size}{cls}>')


def figure(picture: str, caption: str | Raw) -> Raw:
    return Raw(f"<figure>{picture}<figcaption>{esc(caption)}</figcaption></figure>")


def gallery(items: Iterable[str]) -> Raw:
    return Raw('<div class="gallery">' + "".join(items) + "</div>")


def cell(value, numeric: bool = False, sort_value: float | None = None, style: str = "") -> Raw:
    """One <td>: escaped text, right-aligned when numeric, with a number to sort by."""
    attrs = (' class="n"' if numeric else "") + (f' data-v="{sort_value}"' if sort_value is not None else "")
    attrs += f' style="{style}"' if style else ""
    return Raw(f"<td{attrs}>{esc(value)}</td>")


def number(value: float | int | None, digits: int = 4) -> Raw:
    """A numeric cell: integers with thousands separators, floats with `digits` decimals, '-' for None."""
    if value is None:
        return cell("-", numeric=True, sort_value=-1)
    text = f"{value:,}" if isinstance(value, int) else f"{value:.{digits}f}"
    return cell(text, numeric=True, sort_value=float(value))


def table(headers: Sequence[str], rows: Iterable[Sequence], *, sortable: bool = True, numeric: Sequence[bool] = (),
          row_classes: Sequence[str] = (), cls: str = "") -> Raw:
    """A table in a horizontally scrolling box; cells are text (escaped) or `cell(...)`/`number(...)`."""
    numeric = list(numeric) or [False] * len(headers)
    head = "".join(f'<th{" class=n" if n else ""}>{esc(h)}</th>' for h, n in zip(headers, numeric))
    body = []
    for i, row in enumerate(rows):
        klass = f' class="{row_classes[i]}"' if i < len(row_classes) and row_classes[i] else ""
        cells = "".join(c if isinstance(c, Raw) and c.startswith("<td") else f"<td>{esc(c)}</td>" for c in row)
        body.append(f"<tr{klass}>{cells}</tr>")
    classes = " ".join(c for c in ("sortable" if sortable else "", cls) if c)
    return Raw(f'<div class="scroll"><table class="{classes}"><thead><tr>{head}</tr></thead>'
               f'<tbody>{"".join(body)}</tbody></table></div>')


def cards(items: Iterable[tuple[str, str]]) -> Raw:
    return Raw('<div class="cards">' + "".join(f'<div class="card">{esc(k)}<b>{esc(v)}</b></div>' for k, v in items)
               + "</div>")


def definitions(items: Iterable[tuple[str, str]]) -> Raw:
    return Raw("<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>")


def pre(text: str) -> Raw:
    return Raw(f"<pre>{esc(text)}</pre>")


def paragraph(text: str | Raw) -> Raw:
    return Raw(f"<p>{esc(text)}</p>")


def page(title: str, subtitle: str, banners: Sequence[str], sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document: `sections` are (id, heading, body HTML); banners are warnings shown at the top."""
    nav = "".join(f'<a href="#{esc(sid)}">{esc(heading)}</a>' for sid, heading, _ in sections)
    notes = "".join(f'<div class="banner" role="alert">{esc(b)}</div>' for b in banners)
    body = "".join(f'<section id="{esc(sid)}"><h2>{esc(heading)}</h2>{content}</section>'
                   for sid, heading, content in sections)
    sortable = "<script>" + SCRIPT + "</script>" if "sortable" in body else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body><main>"
            f"<h1>{esc(title)}</h1><div>{esc(subtitle)}</div>{notes}<nav>{nav}</nav>{body}</main>{sortable}"
            "</body></html>\n")
