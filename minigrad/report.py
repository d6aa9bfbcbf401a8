"""The reproduction report: every lesson's claims, verdicts and figures on one static page.

Build the page from the lessons' existing outputs::

    python -m minigrad.report                  # reads outputs/NN_name/metrics.json (or $MINIGRAD_OUTPUTS)
                                               # writes outputs/report/index.html and index.md

Run the lessons first, then build it::

    python -m minigrad.report --run smoke               # every lesson, --smoke (minutes)
    python -m minigrad.report --run default --only 04,11 --jobs 2

The page has a summary (how many claims hold, partly hold, do not hold, were
not run; how many lessons ran, failed, were not run), then one section per
paper (``ledger.PAPERS``; lessons 01-03 teach the engine and have none), each
with a table of its claims (the paper's numbers, ours, the verdict in colour,
the conditions, including the run mode each number comes from) and the figures
of its lessons, copied into ``report/figures/`` so that the folder is
self-contained (static files, no server, no internet). ``index.md`` has the
same tables in Markdown.

With ``--run``, each lesson runs as its own process (``python lessons/NN_x.py
--smoke``), its output going to ``report/runs/NN_x.log``; a lesson that fails is
shown as failed with its last lines of output, and the others still run.
``--jobs N`` runs N lessons at a time, each with OpenBLAS/OpenMP/MKL limited to
one thread so that they do not fight over the cores. The display shows one line
per running lesson (elapsed time, a bar when an earlier run of the same mode
gives its expected length, and the lesson's latest output line) and an overall
bar.

Measured ``--jobs 2`` against ``--jobs 1`` on ``--run smoke`` of all 14 lessons,
on this 2-core machine while it was shared with other users (load average 4 to
11): 0.90x and 1.24x in two alternating pairs, 6% saved overall, i.e. no
speedup measurable on an overloaded machine (details in docs/report.md).
"""
import argparse
import ast
import datetime
import glob
import html
import json
import os
import shutil
import subprocess
import sys
import time

from . import ledger

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSONS_DIR = os.path.join(REPO, "lessons")
ENGINE = "engine"           # the section of lessons without a paper
LESSON_COUNTS = ("ran", "failed", "not run", "no claims recorded", "claims malformed")
TAIL_LINES = 20             # lines of output shown for a failed lesson

# Words in a lesson's docstring that name its paper; the earliest one found wins
# (a lesson whose claims name a paper is placed by its claims instead).
PAPER_WORDS = {
    "feedback-alignment-limits": ("Khandwala",),
    "dann-dales-principle": ("Cornford",),
    "cwa-hodgkin-huxley-networks": ("Hodgkin-Huxley", "conductance-weighted"),
    "negative-rectifiers-thesis": ("Maharaj",),
    "lateral-connections-cnn": ("LC-CNN", "lateral connection"),
}

VERDICT_COLOURS = {ledger.HOLDS: "#1a7f37", ledger.PARTLY: "#b06d00", ledger.FAILS: "#c62828",
                   ledger.NOT_RUN: "#6e7781"}


def outputs_root():
    """Where lessons write: ``$MINIGRAD_OUTPUTS`` or ``outputs`` (as ``experiment.output_dir``)."""
    return os.environ.get("MINIGRAD_OUTPUTS", "outputs")


def lesson_names(lessons_dir=LESSONS_DIR, outputs=None):
    """Every lesson: ``NN_name`` of lessons/NN_*.py, plus output folders with a metrics.json of lessons
    not in lessons/ and of tagged runs (``NN_name-TAG``, written by ``--tag TAG``, e.g. a ``--full`` run
    kept beside the default one); sorted, so a tagged run follows its lesson."""
    names = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(lessons_dir, "[0-9][0-9]_*.py"))}
    if outputs and os.path.isdir(outputs):
        names |= {d for d in os.listdir(outputs)
                  if d[:2].isdigit() and d[2:3] == "_" and os.path.isfile(os.path.join(outputs, d, "metrics.json"))}
    return sorted(names)


def guess_paper(lesson_path):
    """The paper a lesson reproduces, from the names in its docstring (``ENGINE`` if none)."""
    try:
        with open(lesson_path) as f:
            doc = ast.get_docstring(ast.parse(f.read())) or ""
    except (OSError, SyntaxError):
        return ENGINE
    found = [(doc.find(w), key) for key, words in PAPER_WORDS.items() for w in words if w in doc]
    return min(found)[1] if found else ENGINE


# ---------------------------------------------------------------------------------------------
# Reading one lesson's outputs
# ---------------------------------------------------------------------------------------------

def tail(path, n=TAIL_LINES):
    """The last ``n`` lines of a text file (progress-bar redraws dropped), or ''."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()[-20000:]
    except OSError:
        return ""
    lines = [ln.split("\r")[-1] for ln in text.split("\n")]
    return "\n".join([ln for ln in lines if ln.strip()][-n:])


def read_lesson(name, outputs, report_dir, lessons_dir=LESSONS_DIR):
    """Everything the report shows about one lesson, as a dict.

    status: ``ran`` (metrics.json newer than any failed run), ``failed`` (its last
    ``--run`` exited non-zero) or ``not run``. claims: the checked claims ([] when
    the lesson records none); claim_error: why they could not be used.
    """
    out = os.path.join(outputs, name)
    metrics_path = os.path.join(out, "metrics.json")
    run_path = os.path.join(report_dir, "runs", name + ".json")
    run = _read_json(run_path) or {}
    base, _, tag = name.partition("-")          # NN_name-TAG: a run made with --tag TAG (e.g. a --full run)
    lesson = {"name": name, "number": name[:2], "path": os.path.join(lessons_dir, base + ".py"), "tag": tag or None,
              "anchor": f"lesson-{name[:2]}" + (f"-{tag}" if tag else ""),
              "status": "not run", "claims": [], "claim_error": None, "figures": [], "run": run,
              "mode": run.get("mode"), "date": None, "tail": "", "provenance": None}
    metrics = _read_json(metrics_path) if os.path.isfile(metrics_path) else None
    metrics_time = os.path.getmtime(metrics_path) if metrics is not None else None
    failed_later = run.get("returncode") not in (None, 0) and \
        (metrics_time is None or run.get("finished", 0) >= metrics_time)
    if failed_later:
        lesson["status"] = "failed"
        lesson["tail"] = run.get("tail") or tail(os.path.join(report_dir, "runs", name + ".log"))
    elif metrics is not None:
        lesson["status"] = "ran"
        prov = metrics.get("provenance") if isinstance(metrics.get("provenance"), dict) else None
        lesson["provenance"] = prov
        if prov and prov.get("mode"):
            lesson["mode"] = prov["mode"]
        elif not (run.get("returncode") == 0 and run.get("finished", 0) >= metrics_time):
            lesson["mode"] = None               # the run record is older than these metrics
        lesson["date"] = (prov or {}).get("date") or datetime.datetime.fromtimestamp(
            metrics_time, datetime.timezone.utc).isoformat(timespec="seconds")
        claims = metrics.get("claims")
        if claims is not None:
            try:
                lesson["claims"] = ledger.check_claims(claims)
            except ValueError as err:
                lesson["claim_error"] = str(err)
    elif os.path.isfile(metrics_path):
        lesson["status"] = "failed"
        lesson["tail"] = f"{metrics_path} is not readable JSON"
    if lesson["status"] != "not run" or os.path.isdir(out):
        lesson["figures"] = sorted(os.path.basename(p) for p in glob.glob(os.path.join(out, "*.png")))
    claimed = [c["paper"] for c in lesson["claims"]]
    lesson["paper"] = max(set(claimed), key=claimed.count) if claimed else guess_paper(lesson["path"])
    return lesson


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------

def fmt_number(v):
    """A stored number for display: up to 4 significant digits, no float noise."""
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def fmt_ours(s):
    """``{"mean", "std", "seeds"}`` -> ``11.3 ± 0.14 (2 seeds)`` or ``11.3`` or ``not measured``."""
    if s is None:
        return "not measured"
    text = fmt_number(s["mean"])
    if s.get("seeds", 1) > 1:
        text += f" ± {s['std']:.2g} ({s['seeds']} seeds)" if s.get("std") is not None else f" ({s['seeds']} seeds)"
    return text


def fmt_conditions(c):
    """The conditions of a claim as short phrases (data, sizes, epochs, mode, seeds, time, code)."""
    parts = []
    if c.get("data"):
        sizes = "/".join(f"{c[k]:,}" for k in ("n_train", "n_val", "n_test") if c.get(k) is not None)
        labels = "/".join(k[2:] for k in ("n_train", "n_val", "n_test") if c.get(k) is not None)
        parts.append(c["data"] + (f" ({labels} {sizes})" if sizes else ""))
    if c.get("epochs") is not None:
        parts.append(f"{c['epochs']} epochs")
    parts.append(f"mode {c.get('mode') or 'not recorded'}")
    if c.get("seeds"):
        parts.append("seed " + ", ".join(str(s) for s in c["seeds"]) if len(c["seeds"]) < 4
                     else f"{len(c['seeds'])} seeds")
    if c.get("wall_time_s") is not None:
        parts.append(fmt_seconds(c["wall_time_s"]))
    parts += [f"differs: {d}" for d in c.get("differs") or []]
    if c.get("backend"):
        parts.append(c["backend"])
    if c.get("commit"):
        parts.append(f"commit {c['commit'][:9]}")
    return parts


def fmt_seconds(s):
    s = float(s)
    return f"{s:.1f} s" if s < 60 else f"{int(s // 60)} min {int(s % 60):02d} s" if s < 3600 \
        else f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def summary(lessons):
    """Counts of claims by verdict (all, and per run mode) and of lessons (and tagged runs) by status.

    A claim measured in two runs of a lesson (its default run and a ``--tag full`` one) counts
    once per run; ``by_mode`` separates them."""
    verdicts = {v: 0 for v in ledger.VERDICTS}
    by_mode = {}
    for lesson in lessons:
        for c in lesson["claims"]:
            verdicts[c["verdict"]] += 1
            mode = c["conditions"].get("mode") or "mode not recorded"
            by_mode.setdefault(mode, {v: 0 for v in ledger.VERDICTS})[c["verdict"]] += 1
    statuses = {s: sum(1 for x in lessons if x["status"] == s) for s in ("ran", "failed", "not run")}
    statuses["no claims recorded"] = sum(1 for x in lessons if x["status"] == "ran" and not x["claims"]
                                         and not x["claim_error"])
    statuses["claims malformed"] = sum(1 for x in lessons if x["claim_error"])
    return {"claims": verdicts, "lessons": statuses, "n_claims": sum(verdicts.values()), "by_mode": by_mode,
            "n_lessons": len({x["number"] for x in lessons}), "n_tagged": sum(1 for x in lessons if x["tag"])}


def _by_mode_text(s):
    """'default: 46 holds, 18 partly, ...; full: ...' (modes in the order smoke, default, full)."""
    order = {"smoke": 0, "default": 1, "full": 2}
    return "; ".join(f"{mode}: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
                     for mode, counts in sorted(s["by_mode"].items(), key=lambda kv: order.get(kv[0], 3)))


def _runs_text(s):
    """'95 claims from 24 lessons' (+ ', including 2 tagged runs such as --full ones')."""
    tagged = f" and {s['n_tagged']} tagged run{'s' * (s['n_tagged'] != 1)} (e.g. --full)" if s["n_tagged"] else ""
    return f"{s['n_claims']} claims from {s['n_lessons']} lessons{tagged}"


def _title(lesson):
    """``NN_name``, or ``NN_name, run tagged 'full'`` for a tagged run."""
    return lesson["name"] if not lesson["tag"] else f"{lesson['name'].partition('-')[0]}, run tagged '{lesson['tag']}'"


def _row_id(lesson, claim):
    """A claim row's HTML id: the claim id, with ``--TAG`` for a tagged run (ids stay unique)."""
    return claim["id"] + (f"--{lesson['tag']}" if lesson["tag"] else "")


def _lesson_ref(lesson):
    """How a claim row names its lesson: 'lesson 11' or 'lesson 11, run full'."""
    return f"lesson {lesson['number']}" + (f", run {lesson['tag']}" if lesson["tag"] else "")


def sections(lessons):
    """[(paper key, title, [claims as (lesson, claim)], [lessons])] in ``ledger.PAPERS`` order, engine last."""
    keys = list(ledger.PAPERS) + [ENGINE]
    out = []
    for key in keys:
        members = [x for x in lessons if x["paper"] == key]
        claims = [(x, c) for x in lessons for c in x["claims"] if c["paper"] == key]
        if key == ENGINE and not members:
            continue
        title = ledger.PAPERS.get(key, "Engine lessons (no paper)")
        out.append((key, title, claims, members))
    return out


# ---------------------------------------------------------------------------------------------
# Writing the page
# ---------------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 2em auto;
       max-width: 1150px; padding: 0 1em; color: #1f2328; line-height: 1.45; }
h1 { margin-bottom: .2em; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
h3 { margin: 1.4em 0 .4em; }
.meta { color: #57606a; font-size: .9em; }
table { border-collapse: collapse; width: 100%; margin: .6em 0 1em; font-size: .92em; }
th, td { border: 1px solid #d0d7de; padding: .35em .55em; vertical-align: top; text-align: left; }
th { background: #f6f8fa; }
td.num { min-width: 8em; max-width: 15em; overflow-wrap: anywhere; }
tr > td:first-child { min-width: 16em; }
.badge { display: inline-block; padding: .1em .55em; border-radius: 1em; color: white; font-weight: 600;
         font-size: .85em; white-space: nowrap; }
.rule { color: #57606a; font-size: .85em; display: block; margin-top: .3em; }
td.cond { color: #57606a; font-size: .85em; max-width: 22em; }
.summary td { text-align: center; font-size: 1.05em; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; max-width: 100%; } figure img { max-width: 100%; max-height: 300px; border: 1px solid #d0d7de; }
figcaption { color: #57606a; font-size: .85em; }
pre { background: #fff5f5; border: 1px solid #f1aeb5; padding: .6em; overflow-x: auto; font-size: .8em; }
.status-ran { color: #1a7f37; } .status-failed { color: #c62828; font-weight: 600; } .status-not-run { color: #6e7781; }
.status-malformed { color: #b06d00; }
"""


def _badge(text, colour):
    return f'<span class="badge" style="background:{colour}">{html.escape(text)}</span>'


def _lesson_status(lesson):
    """One line: ran (mode, date), failed, or not run; and whether it records claims."""
    if lesson["status"] == "ran":
        mode = f"{lesson['mode']} mode" if lesson["mode"] else "mode not recorded"
        text = f"ran ({mode}, {lesson['date'][:16].replace('T', ' ')} UTC)"
        if lesson["claim_error"]:
            text += "; its claims are malformed (below)"
        elif not lesson["claims"]:
            text += "; no claims recorded"
        return text
    if lesson["status"] == "failed":
        mode = lesson["run"].get("mode")
        word = "interrupted" if lesson["run"].get("interrupted") else "failed"
        return f"{word} (--{mode} run)" if mode else word
    return "not run"


def write_html(path, lessons, generated):
    s = summary(lessons)
    report_dir = os.path.dirname(path)
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>minigrad reproduction report</title>", f"<style>{CSS}</style></head><body>",
           "<h1>minigrad reproduction report</h1>",
           f'<p class="meta">Built {e(generated)} from each lesson\'s metrics.json. A verdict is computed '
           "from the rule stated with the claim; each row says under which run mode (smoke: a seconds-long "
           "check, default: minutes, full: the paper's setting) its number was measured.</p>",
           '<table class="summary"><tr><th colspan="4">claims</th>'
           '<th colspan="5">runs of lessons (a lesson and each of its tagged runs count once)</th></tr><tr>'
           + "".join(f"<th>{_badge(v, VERDICT_COLOURS[v])}</th>" for v in ledger.VERDICTS)
           + "<th>ran</th><th>failed</th><th>not run</th><th>ran, no claims recorded</th><th>claims malformed</th>"
           + "</tr><tr>"
           + "".join(f"<td>{s['claims'][v]}</td>" for v in ledger.VERDICTS)
           + "".join(f"<td>{s['lessons'][k]}</td>" for k in LESSON_COUNTS)
           + "</tr></table>",
           f'<p class="meta">{e(_runs_text(s))}. By run mode: {e(_by_mode_text(s))}.</p>']
    out.append("<ul>" + "".join(f'<li><a href="#{key}">{e(title)}</a></li>'
                                for key, title, _, _ in sections(lessons)) + "</ul>")
    for key, title, claims, members in sections(lessons):
        out.append(f'<h2 id="{key}">{e(title)}</h2>')
        if key != ENGINE:
            out.append(f'<p class="meta">Paper: shared/papers/{key}.txt</p>')
        if claims:
            out.append("<table><tr><th>claim</th><th>paper</th><th>ours</th><th>verdict</th>"
                       "<th>conditions</th></tr>")
            for lesson, c in claims:
                paper = "<br>".join(f"{e(k)}: {fmt_number(v)}" for k, v in c["paper_values"].items())
                ours = "<br>".join(f"{e(k)}: {e(fmt_ours(v))}" for k, v in c["ours"].items())
                cond = " · ".join(f"<b>{e(p)}</b>" if p.startswith("mode ") else e(p)
                                  for p in fmt_conditions(c["conditions"]))
                note = f"<br><i>{e(c['note'])}</i>" if c.get("note") else ""
                smoke = ('<span class="rule"><i>smoke run: checks that the code runs, not evidence</i></span>'
                         if c["conditions"].get("mode") == "smoke" else "")
                out.append(
                    f'<tr id="{e(_row_id(lesson, c))}"><td><b>{e(c["where"])}</b> '
                    f'<span class="meta">({e(c["id"])}, {e(_lesson_ref(lesson))})</span><br>'
                    f'{e(c["statement"])}{note}</td>'
                    f'<td class="num">{paper}<br><span class="meta">{e(c["unit"])}</span></td>'
                    f'<td class="num">{ours}</td>'
                    f'<td>{_badge(c["verdict"], VERDICT_COLOURS[c["verdict"]])}'
                    f'<span class="rule">{e(c["rule"]["text"])}</span>{smoke}</td>'
                    f'<td class="cond">{cond}</td></tr>')
            out.append("</table>")
        elif key != ENGINE:
            out.append("<p><i>" + ("No claims recorded for this paper yet." if members
                                   else "No lesson reproduces this paper yet.") + "</i></p>")
        for lesson in members:
            status_class = "status-malformed" if lesson["claim_error"] else \
                "status-" + lesson["status"].replace(" ", "-")
            log = lesson["run"].get("log")
            link = (f' <a class="meta" href="{e(log)}">output log</a>'
                    if log and os.path.isfile(os.path.join(report_dir, log)) else "")
            out.append(f'<h3 id="{e(lesson["anchor"])}">{e(_title(lesson))} '
                       f'<span class="{status_class}">· {e(_lesson_status(lesson))}</span>{link}</h3>')
            if lesson["status"] == "failed":
                out.append(f'<pre>{e(lesson["tail"] or "(no output)")}</pre>')
            if lesson["claim_error"]:
                out.append(f'<pre>{e(lesson["claim_error"])}</pre>')
            if lesson["figures"]:
                out.append('<div class="figs">' + "".join(
                    f'<figure><a href="figures/{e(lesson["name"])}/{e(f)}">'
                    f'<img src="figures/{e(lesson["name"])}/{e(f)}" alt="{e(lesson["name"])}: {e(f)}"></a>'
                    f"<figcaption>{e(f)}</figcaption></figure>" for f in lesson["figures"]) + "</div>")
    out.append("</body></html>")
    _write_text(path, "\n".join(out))


def write_markdown(path, lessons, generated):
    s = summary(lessons)

    def cell(text):
        return str(text).replace("|", "\\|").replace("\n", " ")
    out = ["# minigrad reproduction report", "", f"Built {generated} from each lesson's metrics.json.", "",
           "| " + " | ".join(f"claims {v}" for v in ledger.VERDICTS)
           + " | lessons ran | lessons failed | lessons not run | ran, no claims recorded | claims malformed |",
           "|" + " --- |" * (len(ledger.VERDICTS) + len(LESSON_COUNTS)),
           "| " + " | ".join(str(s["claims"][v]) for v in ledger.VERDICTS) + " | "
           + " | ".join(str(s["lessons"][k]) for k in LESSON_COUNTS) + " |",
           "", f"{_runs_text(s)}. By run mode: {_by_mode_text(s)}."]
    for key, title, claims, members in sections(lessons):
        out += ["", f"## {title}", ""]
        if claims:
            out += ["| claim | paper | ours | verdict | conditions |", "| --- | --- | --- | --- | --- |"]
            for lesson, c in claims:
                paper = "; ".join(f"{k}: {fmt_number(v)}" for k, v in c["paper_values"].items())
                ours = "; ".join(f"{k}: {fmt_ours(v)}" for k, v in c["ours"].items())
                out.append("| " + " | ".join(cell(x) for x in (
                    f"**{c['where']}** ({c['id']}, {_lesson_ref(lesson)}): {c['statement']}",
                    f"{paper} ({c['unit']})", ours, f"**{c['verdict']}** ({c['rule']['text']})",
                    "; ".join(fmt_conditions(c["conditions"])))) + " |")
        elif key != ENGINE:
            out.append("*No claims recorded for this paper yet.*" if members
                       else "*No lesson reproduces this paper yet.*")
        for lesson in members:
            out += ["", f"### {_title(lesson)}: {_lesson_status(lesson)}"]
            if lesson["status"] == "failed":
                out += ["```", lesson["tail"] or "(no output)", "```"]
            if lesson["claim_error"]:
                out += ["```", lesson["claim_error"], "```"]
            if lesson["figures"]:
                out += [""] + [f"![{lesson['name']}: {f}](figures/{lesson['name']}/{f})" for f in lesson["figures"]]
    _write_text(path, "\n".join(out) + "\n")


def _write_text(path, text):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def build(outputs=None, report_dir=None, lessons_dir=LESSONS_DIR):
    """Read every lesson's outputs and write ``index.html``, ``index.md`` and ``figures/``.

    Returns the list of lesson dicts (``read_lesson``) the page was built from.
    """
    outputs = outputs or outputs_root()
    report_dir = report_dir or os.path.join(outputs, "report")
    os.makedirs(report_dir, exist_ok=True)
    lessons = [read_lesson(n, outputs, report_dir, lessons_dir) for n in lesson_names(lessons_dir, outputs)]
    figures = os.path.join(report_dir, "figures")
    shutil.rmtree(figures, ignore_errors=True)       # only figures of the lessons shown now
    for lesson in lessons:
        for f in lesson["figures"]:
            os.makedirs(os.path.join(figures, lesson["name"]), exist_ok=True)
            shutil.copy2(os.path.join(outputs, lesson["name"], f), os.path.join(figures, lesson["name"], f))
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    write_html(os.path.join(report_dir, "index.html"), lessons, generated)
    write_markdown(os.path.join(report_dir, "index.md"), lessons, generated)
    return lessons


# ---------------------------------------------------------------------------------------------
# Running the lessons
# ---------------------------------------------------------------------------------------------

ONE_THREAD = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}


class _Display:
    """Progress of a batch of lessons: redrawn in place on a terminal, one line per event otherwise."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.stream, self.start = total, stream, time.time()
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.drawn = 0

    def event(self, text):
        """A lasting line (a lesson started or ended), printed above the live lines on a terminal."""
        if self.tty and self.drawn:
            self.stream.write(f"\x1b[{self.drawn}A\x1b[J")
            self.drawn = 0
        print(text, file=self.stream, flush=True)

    def draw(self, running, done, failed):
        if not self.tty:
            return
        width = 24
        lines = []
        for name, job in running.items():
            elapsed = time.time() - job["start"]
            expected = job.get("expected")
            if expected:
                frac = min(elapsed / expected, 0.99)
                bar = "#" * int(frac * width) + "." * (width - int(frac * width))
                bar = f"[{bar}] ~{frac:4.0%}"
            else:
                bar = "[" + " " * width + "]     "
            last = _last_line(job["log"])[:46]
            lines.append(f"  {name[:28]:28s} {bar} {fmt_seconds(elapsed):>12s}  {last}")
        k = int(done / max(self.total, 1) * width)
        lines.append(f"overall [{'#' * k}{'.' * (width - k)}] {done}/{self.total} done"
                     f"{f', {failed} failed' if failed else ''}, {fmt_seconds(time.time() - self.start)}")
        text = ""
        if self.drawn:
            text += f"\x1b[{self.drawn}A"
        text += "".join(f"\x1b[2K{ln}\n" for ln in lines)
        text += "\x1b[J"
        self.stream.write(text)
        self.stream.flush()
        self.drawn = len(lines)

    def clear(self):
        self.drawn = 0


def _last_line(log):
    """The last non-empty line (or progress-bar redraw) of a log file, for the display."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, os.path.getsize(log) - 2000))
            chunk = f.read().decode(errors="replace")
    except OSError:
        return ""
    parts = [p.strip() for p in chunk.replace("\r", "\n").split("\n") if p.strip()]
    return parts[-1] if parts else ""


def run_lessons(names, mode, jobs=1, outputs=None, report_dir=None, lessons_dir=LESSONS_DIR,
                stream=sys.stderr, poll=0.5):
    """Run lessons ``names`` in ``mode`` (smoke/default/full), ``jobs`` at a time.

    Each runs as ``python lessons/NAME.py [--smoke|--full]`` with BLAS limited to
    one thread, MINIGRAD_OUTPUTS set to ``outputs`` and its output logged to
    ``report_dir/runs/NAME.log``; ``report_dir/runs/NAME.json`` records mode,
    exit code, start, end, seconds and the last lines of output. Returns
    {name: that record}.
    """
    outputs = os.path.abspath(outputs or outputs_root())
    runs_dir = os.path.join(report_dir or os.path.join(outputs, "report"), "runs")
    os.makedirs(runs_dir, exist_ok=True)
    env = dict(os.environ, MINIGRAD_OUTPUTS=outputs, MPLBACKEND="Agg", PYTHONUNBUFFERED="1", **ONE_THREAD)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    flag = {"smoke": ["--smoke"], "default": [], "full": ["--full"]}[mode]
    waiting, running, results = list(names), {}, {}
    display = _Display(len(names), stream)

    def finish(name, code, interrupted=False):
        job, end = running.pop(name), time.time()
        record = {"lesson": name, "mode": mode, "returncode": code, "command": " ".join(job["cmd"][1:]),
                  "started": job["start"], "finished": end, "seconds": round(end - job["start"], 1),
                  "log": os.path.relpath(job["log"], os.path.dirname(runs_dir)),
                  "tail": tail(job["log"]) + ("\n(interrupted: stopped by Ctrl-C)" if interrupted else "")
                  if code else "", "interrupted": interrupted}
        _write_text(os.path.join(runs_dir, name + ".json"), json.dumps(record, indent=2))
        results[name] = record
        failed = sum(1 for r in results.values() if r["returncode"])
        word = "done  " if code == 0 else "STOPPED" if interrupted else "FAILED"
        display.event(f"{word} {name} in {fmt_seconds(record['seconds'])}"
                      f" [{len(results)}/{len(names)}{f', {failed} failed' if failed else ''}]")

    try:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                name = waiting.pop(0)
                log = os.path.join(runs_dir, name + ".log")
                previous = _read_json(os.path.join(runs_dir, name + ".json")) or {}
                expected = previous.get("seconds") \
                    if previous.get("mode") == mode and previous.get("returncode") == 0 else None
                cmd = [sys.executable, os.path.join(lessons_dir, name + ".py")] + flag
                with open(log, "w") as f:
                    proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO)
                running[name] = {"proc": proc, "start": time.time(), "log": log, "expected": expected, "cmd": cmd}
                display.event(f"start  {name} ({mode})")
            for name, job in list(running.items()):
                code = job["proc"].poll()
                if code is not None:
                    finish(name, code)
            display.draw(running, len(results), sum(1 for r in results.values() if r["returncode"]))
            if running:
                time.sleep(poll)
    except KeyboardInterrupt:                  # stop the running lessons, keep what finished, report
        for name, job in list(running.items()):
            job["proc"].terminate()
            try:
                code = job["proc"].wait(timeout=10)
            except subprocess.TimeoutExpired:
                job["proc"].kill()
                code = job["proc"].wait()
            finish(name, code if code else -2, interrupted=True)
        raise
    display.clear()
    return results


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m minigrad.report", description=__doc__.split("\n")[0])
    p.add_argument("--run", choices=("smoke", "default", "full"),
                   help="run the lessons in this mode first, then build the report")
    p.add_argument("--only", default=None,
                   help="comma-separated lesson numbers or names to run (e.g. 04,11); default: all")
    p.add_argument("--jobs", type=int, default=1, help="lessons run at the same time (default 1)")
    p.add_argument("--outputs", default=None, help="lesson outputs folder (default $MINIGRAD_OUTPUTS or outputs)")
    p.add_argument("--report-dir", default=None, help="where to write the report (default <outputs>/report)")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.only and not args.run:
        p.error("--only chooses lessons to run; give --run MODE with it")
    outputs = args.outputs or outputs_root()
    report_dir = args.report_dir or os.path.join(outputs, "report")
    failed = []
    if args.run:
        every = lesson_names(LESSONS_DIR)
        chosen = every
        if args.only:
            wanted = [w.strip() for w in args.only.split(",") if w.strip()]
            chosen = [n for n in every if any(n == w or n[:2] == w.zfill(2) for w in wanted)]
            unknown = [w for w in wanted if not any(n == w or n[:2] == w.zfill(2) for n in every)]
            if unknown:
                p.error(f"--only: no lesson {', '.join(unknown)}; lessons are {', '.join(n[:2] for n in every)}")
        print(f"running {len(chosen)} lesson(s) in {args.run} mode, {args.jobs} at a time; "
              f"logs in {os.path.join(report_dir, 'runs')}/", file=sys.stderr)
        try:
            results = run_lessons(chosen, args.run, args.jobs, outputs, report_dir)
        except KeyboardInterrupt:
            build(outputs, report_dir)
            print(f"interrupted; the report shows what finished: {os.path.join(report_dir, 'index.html')}",
                  file=sys.stderr)
            return 130
        failed = [n for n, r in results.items() if r["returncode"]]
    lessons = build(outputs, report_dir)
    s = summary(lessons)
    print(f"report: {os.path.join(report_dir, 'index.html')} (and index.md): {s['n_claims']} claims "
          + ", ".join(f"{n} {v}" for v, n in s["claims"].items())
          + "; lessons: " + ", ".join(f"{n} {k}" for k, n in s["lessons"].items()))
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
