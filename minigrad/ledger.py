"""The claims ledger: one small structure for "the paper says X; minigrad measured Y; so it holds".

Every lesson that reproduces a paper states its claims as ``Claim`` objects and
writes them into its ``metrics.json`` under ``"claims"``; ``python -m
minigrad.report`` collects them from every lesson into one page. A claim has

- ``id``: short and unique within the lesson, e.g. ``"11.fashion.dann-vs-mlp"``;
- ``paper``: a key of ``PAPERS`` (the paper's file name in ``shared/papers/``
  without ``.txt``) and ``where``: the place in it (``"Table 1"``, ``"Figure 2"``,
  ``"section 2.4"``);
- ``statement``: the claim in one sentence;
- ``unit``: what the numbers are (``"% test error"``);
- ``paper_values`` and ``ours``: named numbers (``{"MLP": 10.63, "DANN": 10.96}``).
  One of ours is a number (one seed) or a list with one number per seed (shown
  as mean +- std, n seeds), or None where it was not measured in this run;
- ``rule``: how the verdict is decided (below): the verdict is computed from the
  rule and the numbers, never typed;
- ``conditions``: under what budget the numbers were measured (``Conditions``).

Verdicts are ``holds``, ``partly``, ``does not hold`` and ``not run`` (a number
the rule needs was not measured). Rules are small declarative objects:

- ``within(points, name, of, partly=None)``: ``|ours[name] - ref| <= points``
  where ``ref`` is ``ours[of]`` or, with ``of="paper"``, ``paper_values[name]``;
  ``partly`` (a larger distance) gives ``partly`` between the two;
- ``at_least(value, name, partly=None)`` / ``at_most(value, name, partly=None)``:
  ``ours[name] >= value`` (``<=``); ``partly`` is a weaker bound;
- ``ordering(names, higher_first=True)``: ``ours`` in that order (strictly
  decreasing when ``higher_first``, else increasing); ``partly`` when only some
  neighbouring pairs are in order.

Rules compare means over seeds. Numbers are stored rounded to ``SIGNIFICANT``
significant digits (so ``metrics.json`` shows 46.2, not 46.200000000000003),
and the verdict is computed on the stored numbers, so anyone can recompute it
from the JSON (``check_claims`` does). Example::

    from minigrad import ledger
    claim = ledger.Claim(
        id="11.fashion.dann-vs-mlp", paper="dann-dales-principle", where="Table 1",
        statement="On Fashion-MNIST a DANN's test error is within 1.5 points of an MLP's.",
        unit="% test error",
        paper_values={"MLP": 10.63, "DANN": 10.96},
        ours={"MLP": [10.9, 11.1], "DANN": [11.4, 11.2]},
        rule=ledger.within(1.5, "DANN", of="MLP", partly=3.0),
        conditions=ledger.Conditions(data="Fashion-MNIST", n_train=51000, n_test=10000,
                                     epochs=50, differs=["batch 32 instead of 50"]))
    claim.verdict                     # 'holds'
    metrics["claims"] = ledger.to_json([claim], provenance=prov)

``to_json`` fills each claim's run-level conditions (mode, seeds, backend,
commit, wall time) from the lesson's provenance (``minigrad.provenance``).
``check_claims(metrics["claims"])`` raises ``ValueError`` listing every
malformed claim; a lesson's smoke test calls it.
"""
import math
import operator
from dataclasses import dataclass, field

HOLDS, PARTLY, FAILS, NOT_RUN = "holds", "partly", "does not hold", "not run"
VERDICTS = (HOLDS, PARTLY, FAILS, NOT_RUN)
SIGNIFICANT = 4

# The papers in shared/papers/ (README.md there): key (file name without .txt) -> short citation.
PAPERS = {
    "feedback-alignment-limits": "Khandwala & Bedi, Testing the Limits of Biologically-Plausible Backpropagation",
    "dann-dales-principle": "Cornford et al. 2021, Learning to live with Dale's principle (ICLR)",
    "cwa-hodgkin-huxley-networks": "Learning High-Dimensional Perceptual Tasks with Hodgkin-Huxley Networks "
                                   "(ICLR 2020 submission)",
    "negative-rectifiers-thesis": "Maharaj 2015, Practical applications of biological realism in ANNs (MSc thesis)",
    "lateral-connections-cnn": "Incorporating Visual Cortical Lateral Connection Properties into CNN",
}


def round_sig(x, digits=SIGNIFICANT):
    """``x`` rounded to ``digits`` significant digits (a plain float; None and non-finite kept)."""
    if x is None:
        return None
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def summarize(value):
    """One measured quantity -> ``{"mean", "std", "seeds", "values"}`` (rounded), or None.

    ``value``: a number (one seed), a list/tuple of numbers (one per seed), or None.
    ``std`` is the sample standard deviation (ddof 1), None for a single seed.
    """
    if value is None:
        return None
    if isinstance(value, dict):                 # already summarised (read back from JSON)
        return {k: value.get(k) for k in ("mean", "std", "seeds", "values")}
    values = [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)]
    if not values:
        return None
    mean = sum(values) / len(values)
    std = (math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
           if len(values) > 1 else None)
    return {"mean": round_sig(mean), "std": round_sig(std), "seeds": len(values),
            "values": [round_sig(v) for v in values]}


# ---------------------------------------------------------------------------------------------
# Rules. Each has ``verdict(paper_values, ours_means)`` and ``to_dict()``; ``rule_from_dict``
# reads one back. ``ours_means`` maps a name to the mean over seeds (or None: not measured).
# ---------------------------------------------------------------------------------------------

def _need(values, *names):
    """The numbers ``names`` from ``values``, or None if any is missing."""
    got = [values.get(n) for n in names]
    return None if any(v is None for v in got) else got


@dataclass(frozen=True)
class within:
    """``|ours[name] - reference| <= points`` (reference ``ours[of]``, or the paper's with ``of="paper"``)."""
    points: float
    name: str
    of: str = "paper"
    partly: float = None

    def verdict(self, paper, ours):
        a = _need(ours, self.name)
        b = _need(paper, self.name) if self.of == "paper" else _need(ours, self.of)
        if a is None or b is None:
            return NOT_RUN
        gap = abs(a[0] - b[0])
        if gap <= self.points + 1e-12:
            return HOLDS
        return PARTLY if self.partly is not None and gap <= self.partly + 1e-12 else FAILS

    def text(self):
        ref = f"the paper's {self.name}" if self.of == "paper" else f"our {self.of}"
        extra = f" (partly within {self.partly:g})" if self.partly is not None else ""
        return f"our {self.name} within {self.points:g} of {ref}{extra}"

    def to_dict(self):
        return {"kind": "within", "points": self.points, "name": self.name, "of": self.of,
                "partly": self.partly, "text": self.text()}


@dataclass(frozen=True)
class _bound:
    """``ours[name]`` on the good side of ``value``; ``partly``: a weaker bound that still counts as partly.

    ``at_least`` and ``at_most`` below differ only in the comparison (``compare``, ``symbol``).
    """
    value: float
    name: str
    partly: float = None
    kind = symbol = compare = None                # set by each subclass (class attributes, not fields)

    def verdict(self, paper, ours):
        a = _need(ours, self.name)
        if a is None:
            return NOT_RUN
        if self.compare(a[0], self.value):
            return HOLDS
        return PARTLY if self.partly is not None and self.compare(a[0], self.partly) else FAILS

    def text(self):
        extra = f" (partly at {self.partly:g})" if self.partly is not None else ""
        return f"our {self.name} {self.symbol} {self.value:g}{extra}"

    def to_dict(self):
        return {"kind": self.kind, "value": self.value, "name": self.name, "partly": self.partly,
                "text": self.text()}


class at_least(_bound):
    """``ours[name] >= value``; ``partly``: a lower bound that still counts as partly."""
    kind, symbol, compare = "at_least", ">=", staticmethod(operator.ge)


class at_most(_bound):
    """``ours[name] <= value``; ``partly``: an upper bound that still counts as partly."""
    kind, symbol, compare = "at_most", "<=", staticmethod(operator.le)


@dataclass(frozen=True)
class ordering:
    """``ours`` in the order of ``names``: decreasing if ``higher_first`` else increasing.

    All neighbouring pairs in order: holds; some: partly; none: does not hold.
    """
    names: tuple
    higher_first: bool = True

    def __post_init__(self):
        object.__setattr__(self, "names", tuple(self.names))
        if len(self.names) < 2:
            raise ValueError(f"ordering needs at least two names, got {list(self.names)}")

    def verdict(self, paper, ours):
        vals = _need(ours, *self.names)
        if vals is None:
            return NOT_RUN
        ok = [(a > b) if self.higher_first else (a < b) for a, b in zip(vals, vals[1:])]
        return HOLDS if all(ok) else PARTLY if any(ok) else FAILS

    def text(self):
        return (" > " if self.higher_first else " < ").join(f"our {n}" for n in self.names)

    def to_dict(self):
        return {"kind": "ordering", "names": list(self.names), "higher_first": self.higher_first,
                "text": self.text()}


RULES = {"within": within, "at_least": at_least, "at_most": at_most, "ordering": ordering}


def rule_from_dict(d):
    """Rebuild a rule from its ``to_dict()`` form (``ValueError`` on an unknown kind or bad fields)."""
    if not isinstance(d, dict) or d.get("kind") not in RULES:
        raise ValueError(f"rule must be a dict with kind in {sorted(RULES)}, got {d!r}")
    args = {k: v for k, v in d.items() if k not in ("kind", "text")}
    try:
        return RULES[d["kind"]](**args)
    except TypeError as err:
        raise ValueError(f"rule {d!r}: {err}") from None


# ---------------------------------------------------------------------------------------------
# Conditions and claims
# ---------------------------------------------------------------------------------------------

@dataclass
class Conditions:
    """Under what budget a claim was measured.

    Set per claim: ``data`` (data set name, and ``"(fallback: ...)"`` where a
    stand-in was used), ``n_train``/``n_val``/``n_test`` examples, ``epochs``,
    ``differs`` (settings that differ from the paper's, one short phrase each).
    Filled from the lesson's provenance by ``to_json`` when left None: ``mode``
    (smoke/default/full), ``seeds``, ``wall_time_s``, ``backend``, ``commit``.
    """
    data: str = None
    n_train: int = None
    n_val: int = None
    n_test: int = None
    epochs: int = None
    differs: list = field(default_factory=list)
    mode: str = None
    seeds: list = None
    wall_time_s: float = None
    backend: str = None
    commit: str = None

    def to_dict(self):
        d = dict(self.__dict__)
        d["differs"] = list(self.differs or [])
        d["wall_time_s"] = None if self.wall_time_s is None else round(float(self.wall_time_s), 1)
        return d


@dataclass
class Claim:
    """One claim of a paper and what minigrad measured for it (see the module docstring)."""
    id: str
    paper: str
    where: str
    statement: str
    unit: str
    paper_values: dict
    ours: dict
    rule: object
    conditions: Conditions = field(default_factory=Conditions)
    note: str = ""

    def __post_init__(self):
        problems = _claim_problems(self.to_dict(_check=False), recompute=False)
        if problems:
            raise ValueError(f"claim {self.id!r}: " + "; ".join(problems))

    @property
    def verdict(self):
        """The rule applied to the paper's numbers and the (rounded) means of ours."""
        paper = {k: round_sig(v) for k, v in self.paper_values.items()}
        means = {k: (s or {}).get("mean") for k, s in ((k, summarize(v)) for k, v in self.ours.items())}
        return self.rule.verdict(paper, means)

    def to_dict(self, provenance=None, _check=True):
        """The JSON form written into metrics.json (run-level conditions filled from ``provenance``)."""
        cond = self.conditions.to_dict() if isinstance(self.conditions, Conditions) else dict(self.conditions)
        if provenance:
            filled = {"mode": provenance.get("mode"), "backend": provenance.get("device") or provenance.get("backend"),
                      "commit": provenance.get("git_commit"),
                      "seeds": provenance.get("seeds", [provenance.get("seed")] if "seed" in provenance else None),
                      "wall_time_s": (provenance.get("wall_time_s") or {}).get("total")}
            for k, v in filled.items():
                if cond.get(k) is None and v is not None:
                    cond[k] = round(float(v), 1) if k == "wall_time_s" else v
        rule = self.rule.to_dict() if hasattr(self.rule, "to_dict") else self.rule
        return {"id": self.id, "paper": self.paper, "where": self.where, "statement": self.statement,
                "unit": self.unit,
                "paper_values": {k: round_sig(v) for k, v in self.paper_values.items()},
                "ours": {k: summarize(v) for k, v in self.ours.items()},
                "rule": rule, "verdict": self.verdict if _check else None,
                "conditions": cond, "note": self.note}


def to_json(claims, provenance=None):
    """A list of ``Claim`` -> the list of dicts to store as ``metrics["claims"]`` (checked)."""
    out = [c.to_dict(provenance) for c in claims]
    check_claims(out)
    return out


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

_REQUIRED = {"id": str, "paper": str, "where": str, "statement": str, "unit": str,
             "paper_values": dict, "ours": dict, "rule": dict, "verdict": str, "conditions": dict}


def _claim_problems(c, recompute=True):
    """Everything wrong with one claim dict (an empty list when it is well formed)."""
    if not isinstance(c, dict):
        return [f"a claim must be a dict, got {type(c).__name__}"]
    problems = []
    for key, typ in _REQUIRED.items():
        if key == "verdict" and not recompute:
            continue
        if key not in c:
            problems.append(f"missing {key!r}")
        elif not isinstance(c[key], typ):
            problems.append(f"{key!r} must be {typ.__name__}, got {type(c[key]).__name__}")
    if problems:
        return problems
    for key in ("id", "where", "statement", "unit"):
        if not c[key].strip():
            problems.append(f"{key!r} is empty")
    if c["paper"] not in PAPERS:
        problems.append(f"paper {c['paper']!r} is not one of {sorted(PAPERS)}")
    for k, v in c["paper_values"].items():
        if v is not None and not _is_number(v):
            problems.append(f"paper value {k!r} must be a number or None, got {v!r}")
    for k, s in c["ours"].items():
        if s is None:
            continue
        if not isinstance(s, dict) or not _is_number(s.get("mean")) or not isinstance(s.get("seeds"), int):
            problems.append(f"our value {k!r} must be {{mean, std, seeds, values}}, got {s!r}")
    try:
        rule = rule_from_dict(c["rule"])
    except ValueError as err:
        return problems + [str(err)]
    names = ([rule.name] + ([rule.of] if isinstance(rule, within) and rule.of != "paper" else [])
             if not isinstance(rule, ordering) else list(rule.names))
    for n in names:
        if n not in c["ours"]:
            problems.append(f"the rule names {n!r}, which is not among ours {sorted(c['ours'])}")
    if isinstance(rule, within) and rule.of == "paper" and rule.name not in c["paper_values"]:
        problems.append(f"the rule compares {rule.name!r} with the paper, which gives no such value")
    mode = c["conditions"].get("mode")
    if mode is not None and mode not in ("smoke", "default", "full"):
        problems.append(f"conditions mode must be smoke/default/full, got {mode!r}")
    if recompute and not problems:
        means = {k: (s or {}).get("mean") for k, s in c["ours"].items()}
        expected = rule.verdict(c["paper_values"], means)
        if c["verdict"] not in VERDICTS:
            problems.append(f"verdict {c['verdict']!r} is not one of {VERDICTS}")
        elif c["verdict"] != expected:
            problems.append(f"verdict {c['verdict']!r} but the rule gives {expected!r}")
    return problems


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_claims(claims):
    """Check a lesson's ``metrics["claims"]``; returns it, or raises ``ValueError`` listing every problem.

    Each claim must have every field of the JSON form with the right type, a known
    paper, a rule that reads back and names only measured quantities, unique ids,
    and the verdict that the rule gives on the stored numbers.
    """
    if not isinstance(claims, list) or not claims:
        raise ValueError(f"claims must be a non-empty list, got {claims!r:.80}")
    problems, seen = [], set()
    for i, c in enumerate(claims):
        label = c.get("id", f"#{i}") if isinstance(c, dict) else f"#{i}"
        problems += [f"claim {label}: {p}" for p in _claim_problems(c)]
        if isinstance(c, dict) and c.get("id") in seen:
            problems.append(f"claim {label}: duplicate id")
        seen.add(c.get("id") if isinstance(c, dict) else None)
    if problems:
        raise ValueError("malformed claims:\n  " + "\n  ".join(problems))
    return claims
