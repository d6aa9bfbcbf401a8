"""The claims ledger (verdict rules, rounding, validation), provenance, and the report built from
lesson outputs: every claim row and every referenced image present, summary counts right,
failed and not-run lessons shown as such, and a real ``--run smoke`` of two fast lessons."""
import argparse
import json
import os
import re
import struct
import zlib

import pytest

from minigrad import ledger, provenance, report


# ---------------------------------------------------------------------------------------------
# Rules and verdicts
# ---------------------------------------------------------------------------------------------

def test_within_compares_with_our_reference_or_the_paper():
    rule = ledger.within(1.5, "DANN", of="MLP", partly=3.0)
    assert rule.verdict({}, {"DANN": 11.0, "MLP": 10.0}) == ledger.HOLDS
    assert rule.verdict({}, {"DANN": 11.5, "MLP": 10.0}) == ledger.HOLDS        # the bound itself holds
    assert rule.verdict({}, {"DANN": 12.0, "MLP": 10.0}) == ledger.PARTLY
    assert rule.verdict({}, {"DANN": 13.5, "MLP": 10.0}) == ledger.FAILS
    assert rule.verdict({}, {"DANN": 8.0, "MLP": 10.0}) == ledger.PARTLY         # distance, either side
    assert ledger.within(1.5, "DANN", of="MLP").verdict({}, {"DANN": 12.0, "MLP": 10.0}) == ledger.FAILS
    assert rule.verdict({}, {"DANN": 11.0, "MLP": None}) == ledger.NOT_RUN
    vs_paper = ledger.within(2, "FA")
    assert vs_paper.verdict({"FA": 46.2}, {"FA": 44.5}) == ledger.HOLDS
    assert vs_paper.verdict({"FA": 46.2}, {"FA": 43.0}) == ledger.FAILS


def test_bounds_and_ordering():
    assert ledger.at_least(0.9, "acc", partly=0.8).verdict({}, {"acc": 0.95}) == ledger.HOLDS
    assert ledger.at_least(0.9, "acc", partly=0.8).verdict({}, {"acc": 0.85}) == ledger.PARTLY
    assert ledger.at_least(0.9, "acc", partly=0.8).verdict({}, {"acc": 0.5}) == ledger.FAILS
    assert ledger.at_most(1e-7, "err").verdict({}, {"err": 3e-9}) == ledger.HOLDS
    assert ledger.at_most(1e-7, "err").verdict({}, {"err": 3e-6}) == ledger.FAILS
    assert ledger.at_most(1e-7, "err").verdict({}, {}) == ledger.NOT_RUN
    order = ledger.ordering(["BP", "FA", "FA deep"])
    assert order.verdict({}, {"BP": 50, "FA": 45, "FA deep": 20}) == ledger.HOLDS
    assert order.verdict({}, {"BP": 40, "FA": 45, "FA deep": 20}) == ledger.PARTLY
    assert order.verdict({}, {"BP": 10, "FA": 45, "FA deep": 50}) == ledger.FAILS
    assert order.verdict({}, {"BP": 50, "FA": 50, "FA deep": 20}) == ledger.PARTLY   # a tie is not in order
    assert ledger.ordering(["a", "b"], higher_first=False).verdict({}, {"a": 1, "b": 2}) == ledger.HOLDS
    with pytest.raises(ValueError, match="at least two"):
        ledger.ordering(["a"])


@pytest.mark.parametrize("rule", [ledger.within(1.5, "a", of="b", partly=2), ledger.within(2, "a"),
                                  ledger.at_least(3, "a", partly=2), ledger.at_most(3, "a"),
                                  ledger.ordering(["a", "b"], higher_first=False)])
def test_rules_read_back_from_json(rule):
    d = json.loads(json.dumps(rule.to_dict()))
    assert ledger.rule_from_dict(d) == rule
    assert d["text"]


def _claim(**kw):
    args = dict(id="11.fashion", paper="dann-dales-principle", where="Table 1",
                statement="DANN's test error is within 1.5 points of the MLP's.", unit="% test error",
                paper_values={"MLP": 10.63, "DANN": 10.96}, ours={"MLP": [10.9, 11.1], "DANN": [11.4, 11.2]},
                rule=ledger.within(1.5, "DANN", of="MLP", partly=3.0),
                conditions=ledger.Conditions(data="Fashion-MNIST", n_train=51000, n_val=9000, n_test=10000,
                                             epochs=50, differs=["one seed"]))
    args.update(kw)
    return ledger.Claim(**args)


def test_claim_values_are_rounded_and_summarised():
    d = _claim(ours={"MLP": 0.1 + 0.2, "DANN": [11.400000000000002, 11.2]}).to_dict()
    assert d["ours"]["MLP"] == {"mean": 0.3, "std": None, "seeds": 1, "values": [0.3]}
    assert d["ours"]["DANN"]["mean"] == 11.3 and d["ours"]["DANN"]["seeds"] == 2
    assert d["ours"]["DANN"]["std"] == pytest.approx(0.1414) and d["ours"]["DANN"]["values"] == [11.4, 11.2]
    assert "000000" not in json.dumps(d)
    assert ledger.round_sig(46.20000000000001) == 46.2 and ledger.round_sig(0.000123456) == 0.0001235


def test_to_json_fills_run_conditions_from_provenance():
    args = argparse.Namespace(seed=3, mode="smoke", out=None)
    prov = provenance.collect(args, train_s=12.34, eval_s=1.0)
    (d,) = ledger.to_json([_claim(ours={"MLP": 11.0, "DANN": None})], prov)
    assert d["verdict"] == ledger.NOT_RUN
    c = d["conditions"]
    assert c["mode"] == "smoke" and c["seeds"] == [3] and c["wall_time_s"] == 13.3
    assert c["backend"] == prov["device"] and c["commit"] == prov["git_commit"]
    assert c["epochs"] == 50 and c["differs"] == ["one seed"]


def test_check_claims_accepts_good_and_rejects_malformed():
    good = ledger.to_json([_claim(), _claim(id="11.mnist", ours={"MLP": 2.0, "DANN": 9.0})])
    assert [c["verdict"] for c in good] == [ledger.HOLDS, ledger.FAILS]
    assert ledger.check_claims(json.loads(json.dumps(good))) == good

    def broken(change):
        bad = json.loads(json.dumps(good))
        change(bad[0])
        return bad
    cases = {
        "missing 'statement'": lambda c: c.pop("statement"),
        "not one of": lambda c: c.update(paper="some-other-paper"),
        "but the rule gives": lambda c: c.update(verdict=ledger.FAILS),          # a typed verdict
        "which is not among ours": lambda c: c["ours"].pop("MLP"),
        "'unit' is empty": lambda c: c.update(unit=" "),
        "mode must be": lambda c: c["conditions"].update(mode="quick"),
        "rule must be a dict": lambda c: c["rule"].update(kind="roughly"),
        "must be {mean": lambda c: c["ours"].update(MLP=11.0),
        "paper value": lambda c: c["paper_values"].update(MLP="10.6%"),
        "duplicate id": lambda c: c.update(id="11.mnist"),
    }
    for message, change in cases.items():
        with pytest.raises(ValueError, match=re.escape(message)):
            ledger.check_claims(broken(change))
    with pytest.raises(ValueError, match="non-empty list"):
        ledger.check_claims([])
    with pytest.raises(ValueError, match="a claim must be a dict"):
        ledger.check_claims(["holds"])


def test_claim_refuses_bad_construction():
    with pytest.raises(ValueError, match="not one of"):
        _claim(paper="cornford")
    with pytest.raises(ValueError, match="not among ours"):
        _claim(rule=ledger.at_least(90, "ColumnEi"))
    with pytest.raises(ValueError, match="paper, which gives no such value"):
        _claim(rule=ledger.within(1, "DANN", of="paper"), paper_values={"MLP": 10.63})


# ---------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------

def test_provenance_records_how_numbers_were_made(tmp_path):
    args = argparse.Namespace(seed=1, mode="default", out=tmp_path, resume=False, only=("04", 11))
    clock = provenance.Clock()
    with clock("train"):
        pass
    with clock("eval"):
        pass
    data = provenance.data_used("MNIST", "embedded sample", n_train=4500, n_val=500, n_test=500,
                                fallback=True, note="full MNIST not installed")
    p = provenance.collect(args, data=[data], clock=clock)
    for key in ("seed", "mode", "settings", "minigrad_version", "git_commit", "numpy_version", "backend",
                "device", "date", "wall_time_s", "data"):
        assert key in p, key
    assert p["seed"] == 1 and p["mode"] == "default" and p["settings"]["resume"] is False
    assert p["settings"]["out"] == str(tmp_path) and p["settings"]["only"] == ["04", 11]
    assert set(p["wall_time_s"]) == {"train", "eval", "total"}
    assert p["data"][0]["fallback"] is True and p["data"][0]["n_test"] == 500
    json.dumps(p)                                    # JSON-ready as it is
    assert provenance.git_commit(str(tmp_path)) is None        # not a checkout: None, no error


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

def _png(path):
    """A valid 1x1 PNG (no plotting library needed)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")
    path.write_bytes(raw)


def _lesson_file(lessons, name, doc):
    (lessons / f"{name}.py").write_text(f'"""{doc}"""\nimport sys\nprint("hello from {name}")\n')


@pytest.fixture
def outputs(tmp_path):
    """Synthetic lesson folders: two with claims, one without, one with malformed claims,
    one whose last run failed, one never run."""
    lessons, out = tmp_path / "lessons", tmp_path / "outputs"
    lessons.mkdir(), out.mkdir()
    _lesson_file(lessons, "01_first_network", "Lesson 01: a network.")
    _lesson_file(lessons, "04_fa_vs_bp_mlp", "Lesson 04: Khandwala & Bedi feedback alignment.")
    _lesson_file(lessons, "07_fa_convnet", "Lesson 07: Khandwala & Bedi, conv.")
    _lesson_file(lessons, "11_dann_mlp", "Lesson 11: Cornford et al. 2021.")
    _lesson_file(lessons, "12_dann_fisher", "Lesson 12: Cornford et al. 2021, Fisher.")
    _lesson_file(lessons, "13_dann_conv_rnn", "Lesson 13: Cornford et al. 2021, conv.")
    prov = provenance.collect(argparse.Namespace(seed=0, mode="smoke"), train_s=2.0)
    fa = [ledger.Claim(id="04.fa-test", paper="feedback-alignment-limits", where="Table 1",
                       statement="FA reaches a test accuracy close to BP's.", unit="% test accuracy",
                       paper_values={"BP": 47.8, "FA": 46.2}, ours={"BP": 46.0, "FA": 43.0},
                       rule=ledger.within(2, "FA", of="BP", partly=4)),
          ledger.Claim(id="04.fa-train", paper="feedback-alignment-limits", where="Table 1",
                       statement="BP fits the training set better than FA.", unit="% train accuracy",
                       paper_values={"BP": 100, "FA": 75}, ours={"BP": 100.0, "FA": 84.9},
                       rule=ledger.ordering(["BP", "FA"]))]
    dann = [ledger.Claim(id="11.fashion", paper="dann-dales-principle", where="Table 1",
                         statement="DANN within 1.5 points of the MLP <b>.", unit="% test error",
                         paper_values={"MLP": 10.63, "DANN": 10.96}, ours={"MLP": [10.9, 11.1], "DANN": [14.0]},
                         rule=ledger.within(1.5, "DANN", of="MLP")),
            ledger.Claim(id="11.columnei", paper="dann-dales-principle", where="Table 1",
                         statement="ColumnEi is worse than DANN.", unit="% test error",
                         paper_values={"ColumnEi": 14.99}, ours={"ColumnEi": None, "DANN": [14.0]},
                         rule=ledger.ordering(["ColumnEi", "DANN"]))]
    folders = {"04_fa_vs_bp_mlp": ({"claims": ledger.to_json(fa, prov), "provenance": prov}, ["accuracy.png",
                                                                                             "alignment.png"]),
               "11_dann_mlp": ({"claims": ledger.to_json(dann, prov), "provenance": prov}, ["errors.png"]),
               "01_first_network": ({"results": {"acc": 0.9}}, ["loss.png"]),
               "12_dann_fisher": ({"claims": [{"id": "x"}]}, ["fisher.png"])}
    for name, (metrics, pngs) in folders.items():
        (out / name).mkdir()
        (out / name / "metrics.json").write_text(json.dumps(metrics))
        for f in pngs:
            _png(out / name / f)
    runs = out / "report" / "runs"
    runs.mkdir(parents=True)
    (runs / "07_fa_convnet.json").write_text(json.dumps(
        {"lesson": "07_fa_convnet", "mode": "smoke", "returncode": 1, "finished": 1e10,
         "tail": "Traceback (most recent call last):\nValueError: Conv2d expected (N, C, H, W)"}))
    return {"lessons": lessons, "outputs": out, "n_claims": 4}


def test_report_has_every_claim_image_and_count(outputs):
    out = outputs["outputs"]
    lessons = report.build(str(out), lessons_dir=str(outputs["lessons"]))
    status = {x["name"]: x["status"] for x in lessons}
    assert status == {"01_first_network": "ran", "04_fa_vs_bp_mlp": "ran", "07_fa_convnet": "failed",
                      "11_dann_mlp": "ran", "12_dann_fisher": "ran", "13_dann_conv_rnn": "not run"}
    page = (out / "report" / "index.html").read_text()
    md = (out / "report" / "index.md").read_text()
    for cid in ("04.fa-test", "04.fa-train", "11.fashion", "11.columnei"):
        assert f'<tr id="{cid}">' in page and f"({cid}, lesson" in md
    assert "DANN within 1.5 points of the MLP &lt;b&gt;." in page          # text is escaped
    # every referenced image exists inside the report folder, and every lesson figure is referenced
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert len(srcs) == 5 and all((out / "report" / s).is_file() for s in srcs)
    assert sorted(re.findall(r"\]\((figures/[^)]+)\)", md)) == sorted(srcs)
    # verdicts: 04.fa-test 3 points apart (partly), 04.fa-train ordered (holds),
    # 11.fashion 3 points (does not hold), 11.columnei not measured (not run)
    s = report.summary(lessons)
    assert s["claims"] == {"holds": 1, "partly": 1, "does not hold": 1, "not run": 1}
    assert s["lessons"] == {"ran": 4, "failed": 1, "not run": 1, "no claims recorded": 1, "claims malformed": 1}
    row = re.search(r'<table class="summary">.*?</tr><tr>.*?</tr><tr>(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>(\d+)</td>", row) == ["1", "1", "1", "1", "4", "1", "1", "1", "1"]
    # failed lesson shows its last lines; the malformed claims are reported, not fatal
    assert "ValueError: Conv2d expected (N, C, H, W)" in page and "failed (--smoke run)" in page
    assert "12_dann_fisher" in page and "malformed claims" in page
    assert "no claims recorded" in page and "13_dann_conv_rnn" in page
    # sections by paper: FA lessons under Khandwala & Bedi, DANN under Cornford, 01 under engine
    fa_at, dann_at, engine_at = (page.index(f'id="{k}"') for k in
                                 ("feedback-alignment-limits", "dann-dales-principle", "engine"))
    assert fa_at < page.index("04.fa-test") < page.index("lesson-07") < dann_at < page.index("lesson-13") \
        < engine_at < page.index("lesson-01")


def test_a_tagged_full_run_is_shown_beside_the_default_one(outputs):
    """A --full run kept as NN_name-full/ appears after its lesson, its claims named by run and counted
    under their own mode; it is not a new lesson."""
    out = outputs["outputs"]
    prov = provenance.collect(argparse.Namespace(seed=0, mode="full", tag="full"), train_s=600.0)
    claim = ledger.Claim(id="11.fashion", paper="dann-dales-principle", where="Table 3",
                         statement="DANN within 1.5 points of the MLP.", unit="% test error",
                         paper_values={"MLP": 10.63, "DANN": 10.96}, ours={"MLP": [10.5, 10.7], "DANN": [10.9, 11.3]},
                         rule=ledger.within(1.5, "DANN", of="MLP"))
    (out / "11_dann_mlp-full").mkdir()
    (out / "11_dann_mlp-full" / "metrics.json").write_text(json.dumps(
        {"claims": ledger.to_json([claim], prov), "provenance": prov}))
    _png(out / "11_dann_mlp-full" / "errors.png")
    lessons = report.build(str(out), lessons_dir=str(outputs["lessons"]))
    full = {x["name"]: x for x in lessons}["11_dann_mlp-full"]
    assert full["tag"] == "full" and full["mode"] == "full" and full["paper"] == "dann-dales-principle"
    s = report.summary(lessons)
    assert s["n_lessons"] == 6 and s["n_tagged"] == 1 and s["n_claims"] == 5
    assert s["by_mode"]["full"]["holds"] == 1 and sum(s["by_mode"]["smoke"].values()) == 4
    page = (out / "report" / "index.html").read_text()
    md = (out / "report" / "index.md").read_text()
    assert "(11.fashion, lesson 11, run full)" in page and "(11.fashion, lesson 11, run full)" in md
    assert page.count('<tr id="11.fashion">') == 1 and page.count('<tr id="11.fashion--full">') == 1
    assert '<h3 id="lesson-11-full">11_dann_mlp, run tagged &#x27;full&#x27;' in page
    assert page.index('id="lesson-11"') < page.index('id="lesson-11-full"') < page.index('id="lesson-12"')
    assert "By run mode: smoke: 1 holds, 1 partly, 1 does not hold, 1 not run; full: 1 holds." in page
    assert "figures/11_dann_mlp-full/errors.png" in page
    assert (out / "report" / "figures" / "11_dann_mlp-full" / "errors.png").is_file()


def test_a_newer_successful_run_replaces_a_failure(outputs):
    out = outputs["outputs"]
    (out / "07_fa_convnet").mkdir()
    (out / "07_fa_convnet" / "metrics.json").write_text("{}")
    record = out / "report" / "runs" / "07_fa_convnet.json"
    record.write_text(record.read_text().replace("1e10", "1.0").replace("10000000000.0", "1.0"))
    lessons = report.build(str(out), lessons_dir=str(outputs["lessons"]))
    assert {x["name"]: x["status"] for x in lessons}["07_fa_convnet"] == "ran"


def test_run_logs_failures_and_goes_on(tmp_path):
    lessons, out = tmp_path / "lessons", tmp_path / "outputs"
    lessons.mkdir()
    (lessons / "90_ok.py").write_text(
        "import os, json, sys\nd = os.path.join(os.environ['MINIGRAD_OUTPUTS'], '90_ok')\n"
        "os.makedirs(d, exist_ok=True)\nassert sys.argv[1:] == ['--smoke'], sys.argv\n"
        "assert os.environ['OPENBLAS_NUM_THREADS'] == '1'\n"
        "json.dump({'ok': 1}, open(os.path.join(d, 'metrics.json'), 'w'))\n")
    (lessons / "91_broken.py").write_text("print('working...')\nraise RuntimeError('the data set is missing')\n")
    results = report.run_lessons(["91_broken", "90_ok"], "smoke", jobs=2, outputs=str(out), lessons_dir=str(lessons),
                                 stream=open(os.devnull, "w"), poll=0.05)
    assert results["91_broken"]["returncode"] != 0 and results["90_ok"]["returncode"] == 0
    assert "RuntimeError: the data set is missing" in (out / "report" / "runs" / "91_broken.log").read_text()
    built = {x["name"]: x for x in report.build(str(out), lessons_dir=str(lessons))}
    assert built["90_ok"]["status"] == "ran" and built["90_ok"]["mode"] == "smoke"
    assert built["91_broken"]["status"] == "failed"
    assert "RuntimeError: the data set is missing" in built["91_broken"]["tail"]
    page = (out / "report" / "index.html").read_text()
    assert "RuntimeError: the data set is missing" in page and 'href="runs/91_broken.log"' in page


def test_cli_refuses_bad_options(capsys):
    with pytest.raises(SystemExit):
        report.main(["--only", "01"])
    with pytest.raises(SystemExit):
        report.main(["--run", "smoke", "--only", "99"])
    with pytest.raises(SystemExit):
        report.main(["--run", "smoke", "--jobs", "0"])
    assert "no lesson 99" in capsys.readouterr().err


def test_smoke_run_of_real_lessons_without_claims(tmp_path, monkeypatch):
    """``--run smoke --only 01,02``: both run; lacking claims they show as 'no claims recorded'."""
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "no-data"))
    out = tmp_path / "outputs"
    code = report.main(["--run", "smoke", "--only", "01,02", "--jobs", "2", "--outputs", str(out)])
    assert code == 0
    page = (out / "report" / "index.html").read_text()
    for name in ("01_first_network", "02_gradient_check"):
        assert f"{name} <span class=\"status-ran\">· ran (smoke mode" in page
        assert (out / "report" / "runs" / f"{name}.log").is_file()
    assert page.count("no claims recorded") >= 2
    assert "04_fa_vs_bp_mlp <span class=\"status-not-run\">· not run" in page
    assert re.findall(r'<img src="(figures/01_first_network/[^"]+)"', page)
