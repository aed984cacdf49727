"""The ops pages, rendered per request: the status of every source (with its charts), a
source's own page, and the outbox with its dead letters.

Pure: records in, a string out; times are parameters. They are English, left to right, with
each right-to-left name marked so; every value is escaped. Their buttons are forms that POST to
the page itself with the API token in the body (never in a URL); :mod:`syndicator.web.routes`
checks the token and that the form came from this site. The page frame, the style and the
escaping are :mod:`syndicator.pages`', shared with the published pages.
This module does not read the store or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from syndicator.config import Config
from syndicator.direction import dir_attributes
from syndicator.health import HEALTH_STATES
from syndicator.model import Entry, as_utc, iso, stamp
from syndicator.pages import e, page, text_in, web_url

CHART_DAYS = 14
STATUS_REFRESH_SECONDS = 30
FETCH_COLUMNS = ("When (UTC)", "HTTP", "Outcome", "Bytes", "ms", "URL and error")
ARTICLE_COLUMNS = ("Article", "Updated (UTC)", "Regions", "Revisions")
TARGET_COLUMNS = ("Target", "Pending", "Delivered", "Dead", "Last error")
DEAD_COLUMNS = ("Event", "Target", "Occurred", "Attempts", "Last error", "")
NOTHING_DELIVERED = "Nothing delivered yet: no notification target, or no change so far."
HEALTH_COLOURS = {
    "ok": ("#1a7f37", "#dafbe1"),
    "degraded": ("#9a6700", "#fff8c5"),
    "stale": ("#7d4e00", "#fde7c4"),
    "failing": ("#cf222e", "#ffebe9"),
    "new": ("#57606a", "#eaeef2"),
    "paused": ("#6639ba", "#fbefff"),
}


def ago(when: datetime, now: datetime) -> str:
    """How long ago (or in how long) in words, for the ops pages (rendered per request)."""
    delta = when - now
    if delta.total_seconds() > 0:
        return f"in {duration(delta)}"
    return f"{duration(-delta)} ago"


def duration(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            rest = seconds % size
            small = {"d": ("h", 3600), "h": ("min", 60), "min": ("s", 1)}[unit]
            extra = f" {rest // small[1]} {small[0]}" if rest // small[1] else ""
            return f"{seconds // size} {unit}{extra}"
    return f"{seconds} s"


def badge(state: str, label: str | None = None) -> str:
    ink, paper = HEALTH_COLOURS.get(state, HEALTH_COLOURS["new"])
    return (
        f'<span class="badge h-{e(state)}" style="color:{ink};background:{paper}">'
        f"{e(label or state)}</span>"
    )


def _when(value: str | None, now: datetime, *, inline: bool = False) -> str:
    """A stored time as "3 min ago" with its UTC stamp below (``inline``: in its tooltip)."""
    if not value:
        return '<span class="sub">—</span>'
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return e(value)
    when = as_utc(when)
    if inline:
        return (
            f'<time datetime="{e(iso(when))}" title="{e(stamp(when))} UTC">'
            f"{e(ago(when, now))}</time>"
        )
    return (
        f'<time datetime="{e(iso(when))}">{e(ago(when, now))}</time>'
        f"<div class=stamp>{e(stamp(when))}</div>"
    )


def _shared_language(config: Config) -> str | None:
    languages = {r.language for r in config.regions}
    return languages.pop() if len(languages) == 1 else None


def _ops_header(config: Config, heading: str, now: datetime, extra: str = "") -> str:
    title = config.publish.title
    return (
        f'<header class="site"><h1>{text_in(_shared_language(config), title)} · '
        f'<span lang="en">{e(heading)}</span></h1>'
        f'<nav lang="en"><a href="/">Feeds</a><a href="/status">Status</a>'
        f'<a href="/status/outbox">Outbox</a><a href="/api/sources">Sources (JSON)</a>'
        f'<a href="/metrics">Metrics</a><a href="/healthz">Health</a>'
        f'<a href="/openapi.json">API</a></nav>'
        f'<p class="muted" lang="en" style="width:100%;margin:4px 0 0">{extra}rendered '
        f'<time datetime="{e(iso(now))}">{e(stamp(now))} UTC</time></p></header>'
    )


def status_page(
    config: Config,
    sources: Sequence[dict[str, Any]],
    activity: dict[str, list[int]],
    *,
    first_day: datetime,
    now: datetime,
    started: datetime,
    mode: str = "run",
    outbox: Sequence[dict[str, Any]] = (),
    problems: Sequence[str] = (),
) -> str:
    """The ops page: every configured source with its health (and whether it is paused), the
    outbox at a glance, and articles per region per publishing day; above them, what makes
    the service itself degraded (``problems``). Refreshes itself."""
    counts = dict.fromkeys(HEALTH_STATES, 0)
    paused = 0
    for row in sources:
        counts[row.get("health", "new")] = counts.get(row.get("health", "new"), 0) + 1
        paused += bool(row.get("paused"))
    summary = "".join(
        f"<li>{badge(state, f'{n} {state}')}</li>" for state, n in counts.items() if n
    )
    if paused:
        summary += f"<li>{badge('paused', f'{paused} paused')}</li>"
    dead = sum(int(t.get("dead", 0)) for t in outbox)
    pending = sum(int(t.get("pending", 0)) for t in outbox)
    if dead or pending:
        label = f"{dead} dead letters, {pending} pending"
        state = "failing" if dead else "new"
        summary += f'<li><a href="/status/outbox">{badge(state, label)}</a></li>'
    rows = "\n".join(_source_row(row, now) for row in sources)
    extra = (
        f"{len(sources)} sources, {len(config.regions)} regions · mode {e(mode)} · "
        f"up {e(duration(now - started))} · refreshes every {STATUS_REFRESH_SECONDS} s · "
    )
    degraded = "".join(
        f'<p class="problem">{badge("degraded")} degraded: {e(p)}</p>' for p in problems
    )
    body = f"""{_ops_header(config, "status", now, extra)}
<ul class="summary" lang="en">{summary}</ul>
{degraded}
<main lang="en">
<h3>Sources</h3>
<table>
<thead><tr><th>Source</th><th>Health</th><th>Last fetch (UTC)</th><th>HTTP</th>\
<th>Next run (UTC)</th>\
<th>Created</th><th>Updated</th><th>Duplicates</th><th>Last error</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h3>Articles per region per day <span class="sub">(by the day each was published; last \
{CHART_DAYS} days, UTC; the bar on the right is today)</span></h3>
<div class="charts">
{_charts(config, activity, first_day)}
</div>
</main>"""
    return page(
        f"Status · {config.publish.title}",
        body,
        refresh=STATUS_REFRESH_SECONDS,
    )


def source_url(source_id: str) -> str:
    return f"/status/sources/{quote(source_id, safe='')}"


def _source_row(row: dict[str, Any], now: datetime) -> str:
    health = str(row.get("health") or "new")
    reason = row.get("health_reason")
    error = row.get("last_error") or ""
    shown = error if len(error) <= 240 else error[:239] + "…"
    status = row.get("last_status")
    enabled = "" if row.get("enabled", True) else " · disabled"
    paused = f" {badge('paused')}" if row.get("paused") else ""
    return (
        f'<tr id="source-{e(row["id"])}" class="{e(health)}">'
        f'<td><a href="{e(source_url(row["id"]))}"><code>{e(row["id"])}</code></a>'
        f"<div class=sub>{e(row.get('kind'))} · {e(row.get('schedule'))}{enabled}</div>"
        f'<div class=url dir="ltr">{e(row.get("url"))}</div></td>'
        f"<td>{badge(health)}{paused}"
        + (f'<div class=sub dir="auto">{e(reason)}</div>' if reason else "")
        + f"</td><td>{_when(row.get('last_fetch_at'), now)}</td>"
        f'<td class="n">{e(status) if status is not None else "—"}</td>'
        f"<td>{_when(row.get('next_run'), now)}</td>"
        f'<td class="n">{e(row.get("created", 0))}</td>'
        f'<td class="n">{e(row.get("updated", 0))}</td>'
        f'<td class="n">{e(row.get("duplicates", 0))}</td>'
        f'<td><div class=error dir="auto" title="{e(error)}">{e(shown)}</div></td></tr>'
    )


def _actions(buttons: str, *, token_configured: bool, token_env: str) -> str:
    """A form of action buttons: the API token typed into it is sent in the POST body."""
    if not token_configured:
        return (
            f'<p class="notice">Actions need the API token: set ${e(token_env)} for the service '
            "(and restart it) to fetch, pause and retry from these pages.</p>"
        )
    return (
        '<form class="actions" method="post">'
        '<label>API token <input type="password" name="token" autocomplete="current-password" '
        f"required></label>{buttons}</form>"
    )


def source_page(
    config: Config,
    row: dict[str, Any],
    *,
    now: datetime,
    fetches: Sequence[dict[str, Any]],
    events: Sequence[dict[str, Any]],
    articles: Sequence[Entry],
    revisions: Mapping[str, Sequence[dict[str, Any]]],
    token_configured: bool,
    message: str | None = None,
) -> str:
    """One source: its health and history, its last fetches, the articles it brought and
    their revisions with diffs; with the API token, fetch now and pause or resume."""
    sid = str(row["id"])
    health = str(row.get("health") or "new")
    paused = bool(row.get("paused"))
    toggle = (
        '<button name="action" value="resume">Resume</button>'
        if paused
        else '<button name="action" value="pause" class="quiet">Pause</button>'
    )
    actions = _actions(
        f'<button name="action" value="fetch">Fetch now</button>{toggle}',
        token_configured=token_configured,
        token_env=config.service.api_token_env,
    )
    notice = f'<p class="notice" role="status">{e(message)}</p>' if message else ""
    strip = "".join(
        f'<span title="{e(f["at"])}: {e(f["outcome"])} {e(f["status"] or "")}" '
        f'style="background:{_fetch_colour(f)}"></span>'
        for f in reversed(fetches)
    )
    history = "".join(
        f"<li>{badge(str((ev.get('source') or {}).get('health') or 'new'))} "
        f"{e(ev.get('type'))} · {_when(ev.get('occurred_at'), now, inline=True)}"
        f'<div class=sub dir="auto">{e((ev.get("source") or {}).get("reason"))}</div></li>'
        for ev in events
    )
    fetch_rows = "".join(
        f"<tr><td>{_when(f['at'], now)}</td><td class=n>{e(f['status'] or '—')}</td>"
        f"<td>{e(f['outcome'])}</td><td class=n>{e(_size(f['bytes']))}</td>"
        f"<td class=n>{e(f['duration_ms'] if f['duration_ms'] is not None else '—')}</td>"
        f'<td><div class=url dir="ltr">{e(f["url"])}</div>'
        f'<div class=error dir="auto">{e(f["reason"] or "")}</div></td></tr>'
        for f in fetches
    )
    article_rows = "".join(_article_row(x, revisions.get(x.id, ()), now) for x in articles)
    paused_note = (
        f" {badge('paused')} <span class=sub>since {_when(row.get('paused_at'), now, inline=True)}"
        "</span>"
        if paused
        else ""
    )
    reason = row.get("health_reason")
    body = f"""{_ops_header(config, f"source {sid}", now)}
<main lang="en">
<section class="box">
<h2><code>{e(sid)}</code> {badge(health)}{paused_note}</h2>
<p class=sub>{e(row.get("kind"))} · {e(row.get("schedule"))} · next run \
{_when(row.get("next_run"), now, inline=True)}</p>
<p class=url dir="ltr">{e(row.get("url"))}</p>
{f'<p class=sub dir="auto">{e(reason)}</p>' if reason else ""}
<p class=sub>{e(row.get("created", 0))} created · {e(row.get("updated", 0))} updated · \
{e(row.get("duplicates", 0))} duplicates · last success \
{_when(row.get("last_success_at"), now, inline=True)}</p>
{notice}{actions}
</section>
<h3>Health history</h3>
<div class="strip" aria-label="the last fetches, oldest first">{strip}</div>
{f"<ul>{history}</ul>" if history else '<p class="empty">No change of health yet.</p>'}
<h3>Last fetches</h3>
{_table(FETCH_COLUMNS, fetch_rows, "Not fetched yet.")}
<h3>Articles it brought</h3>
{_table(ARTICLE_COLUMNS, article_rows, "No article yet.")}
</main>"""
    return page(f"{sid} · {config.publish.title}", body)


def _table(columns: Sequence[str], rows: str, empty: str) -> str:
    """A table of ``rows`` under ``columns``, or ``empty`` (a sentence) when there is none."""
    if not rows:
        return f'<p class="empty">{e(empty)}</p>'
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _fetch_colour(fetch: Mapping[str, Any]) -> str:
    outcome = str(fetch.get("outcome") or "")
    if outcome in ("ok", "not-modified", "unchanged"):
        return HEALTH_COLOURS["ok"][0]
    if outcome in ("error", "failed"):
        return HEALTH_COLOURS["failing"][0]
    return HEALTH_COLOURS["degraded"][0]


def _size(value: int | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1024:.1f} KiB" if value >= 1024 else f"{value} B"


def _article_row(entry: Entry, revisions: Sequence[Mapping[str, Any]], now: datetime) -> str:
    article = entry.article
    link = web_url(article.url)
    title = text_in(article.language, article.title or entry.id)
    shown = f'<a href="{e(link)}">{title}</a>' if link else title
    diffs = "".join(
        f"<details><summary>revision {e(r['revision'])} · {e(r['at'])}</summary>"
        f'<pre class="diff" dir="auto">{_diff_lines(str(r["diff"]))}</pre></details>'
        for r in revisions
    )
    return (
        f'<tr><td>{shown}<div class="sub"><code>{e(entry.id)}</code></div>{diffs}</td>'
        f"<td>{_when(iso(entry.updated), now)}</td>"
        f"<td>{e(', '.join(article.region_ids))}</td>"
        f"<td class=n>{len(revisions)}</td></tr>"
    )


def _diff_lines(diff: str) -> str:
    out = []
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            out.append(f'<span class="add">{e(line)}</span>')
        elif line.startswith("-") and not line.startswith("---"):
            out.append(f'<span class="del">{e(line)}</span>')
        else:
            out.append(e(line))
    return "\n".join(out)


def outbox_page(
    config: Config,
    targets: Sequence[dict[str, Any]],
    dead: Sequence[dict[str, Any]],
    *,
    now: datetime,
    token_configured: bool,
    message: str | None = None,
) -> str:
    """The outbox: deliveries per target (pending, delivered, dead) and the dead letters, each
    with a retry button (with the API token), and one to retry them all."""
    target_rows = "".join(
        f'<tr><td><code dir="ltr">{e(t["target"])}</code></td><td class=n>{e(t["pending"])}</td>'
        f"<td class=n>{e(t['delivered'])}</td><td class=n>{e(t['dead'])}</td>"
        f'<td><div class=error dir="auto">{e(t.get("last_error") or "")}</div></td></tr>'
        for t in targets
    )
    dead_rows = "".join(
        f'<tr id="dead-{e(d["id"])}"><td><code>{e(d["type"])}</code>'
        f"<div class=sub><code>{e(d['event_id'])}</code></div></td>"
        f'<td><code dir="ltr">{e(d["target"])}</code></td>'
        f"<td>{_when(d['occurred_at'], now)}</td><td class=n>{e(d['attempts'])}</td>"
        f'<td><div class=error dir="auto">{e(d["last_error"] or "")}</div></td>'
        + (
            f'<td><button name="retry" value="{e(d["id"])}" form="retry-form">Retry</button></td>'
            if token_configured
            else "<td></td>"
        )
        + "</tr>"
        for d in dead
    )
    actions = (
        _actions(
            '<button name="retry" value="all" class="quiet">Retry every dead letter</button>',
            token_configured=token_configured,
            token_env=config.service.api_token_env,
        ).replace('<form class="actions"', '<form class="actions" id="retry-form"', 1)
        if dead or not token_configured
        else ""
    )
    notice = f'<p class="notice" role="status">{e(message)}</p>' if message else ""
    body = f"""{_ops_header(config, "outbox", now)}
<main lang="en">
<h3>Deliveries per target</h3>
{_table(TARGET_COLUMNS, target_rows, NOTHING_DELIVERED)}
<h3>Dead letters <span class="sub">(given up after every retry; a retry starts their \
attempts again)</span></h3>
{notice}{actions}
{_table(DEAD_COLUMNS, dead_rows, "No dead letter.")}
</main>"""
    return page(f"Outbox · {config.publish.title}", body)


# --------------------------------------------------------------------------------------------
# The status page's charts


def _charts(config: Config, activity: dict[str, list[int]], first_day: datetime) -> str:
    if not config.regions:
        return '<p class="empty">No regions are configured.</p>'
    days = [first_day + timedelta(days=n) for n in range(CHART_DAYS)]
    top = max((max(c) for c in activity.values() if c), default=0)
    figures = []
    for region in config.regions:
        counts = activity.get(region.id, [0] * CHART_DAYS)
        attrs = dir_attributes(region.language)
        figures.append(
            f'<figure class="chart" id="chart-{e(region.id)}"><figcaption>'
            f"<span class=title{attrs}>{e(region.title)}</span>"
            f"<span class=sub><code>{e(region.id)}</code> · {sum(counts)} in "
            f"{CHART_DAYS} days</span></figcaption>"
            f"{bar_chart(counts, days, top, label=region.id)}</figure>"
        )
    return "\n".join(figures)


def bar_chart(counts: Sequence[int], days: Sequence[datetime], top: int, *, label: str) -> str:
    """An inline SVG bar chart of daily counts, on a scale shared by the page (``top``)."""
    width, height, left, bottom, gap = 300, 112, 22, 16, 3
    plot_h = height - bottom - 8
    step = (width - left) / max(len(counts), 1)
    scale = top if top > 0 else 1
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" direction="ltr" '
        f'aria-label="{e(label)}: articles per day, {sum(counts)} in {len(counts)} days">',
        f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width}" '
        f'y2="{height - bottom}"/>',
        f'<text x="{left - 4}" y="{8 + 4}" text-anchor="end">{top}</text>',
        f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end">0</text>',
    ]
    for n, (count, day) in enumerate(zip(counts, days, strict=True)):
        bar_h = round(plot_h * count / scale, 1)
        x = round(left + n * step + gap / 2, 1)
        y = round(height - bottom - bar_h, 1)
        css = "today" if n == len(counts) - 1 else "bar"
        parts.append(
            f'<rect class="{css}" x="{x}" y="{y}" width="{round(step - gap, 1)}" '
            f'height="{bar_h}"><title>{day:%Y-%m-%d}: {count} '
            f"article{'s' if count != 1 else ''}</title></rect>"
        )
        if n % 2 == (len(counts) - 1) % 2:
            parts.append(
                f'<text x="{round(x + (step - gap) / 2, 1)}" y="{height - 4}" '
                f'text-anchor="middle">{day:%d}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
