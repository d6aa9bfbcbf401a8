"""Worked example of the claims ledger on lessons 04 and 11, before the lessons record claims themselves.

The lessons do not yet call ``minigrad.ledger`` (a later change moves claim
definitions like these into each lesson, next to its ``save_metrics``). This
script shows what that looks like: it reads the numbers lessons 04 and 11 wrote
in a run (any mode), states two claims of each paper about them, and adds
``"claims"`` and ``"provenance"`` to their metrics.json, so that ``python -m
minigrad.report`` has claims to show. It was used to make
``docs/report-screenshot.png`` from a ``--smoke`` run (synthetic data: the
verdicts there say nothing about the papers).

    python -m minigrad.report --run smoke --only 04,11 --outputs /tmp/out
    python docs/report_example.py /tmp/out
    python -m minigrad.report --outputs /tmp/out
"""
import argparse
import json
import os
import sys

from minigrad import ledger, provenance


def data_note(log):
    """Which data a lesson used, from what it announced in its run log."""
    try:
        with open(log) as f:
            return [ln.strip() for ln in f if "not installed" in ln]
    except OSError:
        return []


def lesson_04(m, mode, notes):
    r, paper, cfg = m["results"], m["paper"], m["settings"]
    data = "synthetic images (CIFAR-10 not installed)" if notes else "CIFAR-10"
    cond = ledger.Conditions(data=data, n_train=cfg["n_train"], n_val=cfg["n_val"], epochs=cfg["epochs"],
                             differs=[f"hidden {cfg['hidden']} instead of 512"] if cfg["hidden"] != 512 else [])
    return [
        ledger.Claim(id="04.fa-generalises", paper="feedback-alignment-limits", where="section 2.2, Table 1",
                     statement="FA's best validation accuracy is within 2 points of backprop's (47.8 vs 46.2).",
                     unit="% best validation accuracy",
                     paper_values={"BP": 100 * paper["bp"]["best_val_acc"], "FA": 100 * paper["fa"]["best_val_acc"]},
                     ours={"BP": 100 * r["bp"]["best_val_acc"], "FA": 100 * r["fa"]["best_val_acc"]},
                     rule=ledger.within(2, "FA", of="BP", partly=5), conditions=cond),
        ledger.Claim(id="04.bp-fits-faster", paper="feedback-alignment-limits", where="section 2.2, Table 1",
                     statement="Backprop fits the training set better than FA (100% vs 75%).",
                     unit="% training accuracy",
                     paper_values={"BP": 100 * paper["bp"]["train_acc"], "FA": 100 * paper["fa"]["train_acc"]},
                     ours={"BP": 100 * r["bp"]["max_train_acc"], "FA": 100 * r["fa"]["max_train_acc"]},
                     rule=ledger.ordering(["BP", "FA"]), conditions=cond),
    ]


def lesson_11(m, mode, notes):
    r, paper, cfg = m["results"]["fashion_mnist"], m["paper"]["fashion_mnist"], m["settings"]
    fallback = any("fashion" in n.lower() for n in notes)
    cond = ledger.Conditions(data="synthetic images (Fashion-MNIST not installed)" if fallback else "Fashion-MNIST",
                             n_train=cfg["n_train"]["fashion_mnist"], n_test=cfg["n_test"],
                             epochs=cfg["epochs"]["fashion_mnist"],
                             differs=[f"hidden {cfg['hidden']} instead of 500"] if cfg["hidden"] != 500 else [])
    return [
        ledger.Claim(id="11.fashion.dann-vs-mlp", paper="dann-dales-principle", where="Table 1",
                     statement="A DANN's test error is within 1.5 points of an MLP's on Fashion-MNIST.",
                     unit="% test error", paper_values={"MLP": paper["MLP"][1], "DANN": paper["DANN"][1]},
                     ours={"MLP": r["MLP"]["test_error"], "DANN": r["DANN"]["test_error"]},
                     rule=ledger.within(1.5, "DANN", of="MLP", partly=3), conditions=cond),
        ledger.Claim(id="11.fashion.columnei-worse", paper="dann-dales-principle", where="Table 1",
                     statement="ColumnEi (sign-constrained columns) has a higher test error than DANN.",
                     unit="% test error",
                     paper_values={"ColumnEi": paper["ColumnEi"][1], "DANN": paper["DANN"][1],
                                   "MLP": paper["MLP"][1]},
                     ours={k: r[k]["test_error"] for k in ("ColumnEi", "DANN", "MLP")},
                     rule=ledger.ordering(["ColumnEi", "DANN"]), conditions=cond),
    ]


def main(outputs):
    for name, make in (("04_fa_vs_bp_mlp", lesson_04), ("11_dann_mlp", lesson_11)):
        path = os.path.join(outputs, name, "metrics.json")
        with open(path) as f:
            m = json.load(f)
        run = json.load(open(os.path.join(outputs, "report", "runs", name + ".json")))
        notes = data_note(os.path.join(outputs, "report", "runs", name + ".log"))
        prov = provenance.collect(argparse.Namespace(seed=0, mode=run["mode"]), train_s=run["seconds"])
        m["claims"] = ledger.to_json(make(m, run["mode"], notes), prov)
        m["provenance"] = prov
        with open(path, "w") as f:
            json.dump(m, f, indent=2)
        print(f"{name}: " + ", ".join(f"{c['id']} {c['verdict']}" for c in m["claims"]))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "outputs")
