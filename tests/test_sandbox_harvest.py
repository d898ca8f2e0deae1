"""Harvest protocol end to end (real sandboxed kernels) and the trusted reader."""
import asyncio
import json
import textwrap

import nbformat
import numpy as np
import psutil
import pytest

from autograder.executor import (
    HarvestError, HarvestRequest, Limits, SandboxUnavailable, execute_notebook, read_results,
    sandbox_available,
)

OK, WHY = sandbox_available()
needs_bwrap = pytest.mark.skipif(not OK, reason=f"bubblewrap unavailable: {WHY}")
FAST = Limits(cell_timeout_s=30, notebook_timeout_s=120, harvest_timeout_s=60)


def nb(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(s)) for s in sources])


@needs_bwrap
def test_call_and_value_harvest(tmp_path):
    req = HarvestRequest()
    rng = np.random.default_rng(0)
    img, ker = rng.random((7, 6)), rng.random((3, 3))
    req.call("xc", "xcorr", img, ker, stride=2, padding=1)
    req.call("filters", "filters", img)
    req.call("strs", "as_strings")
    req.call("mixed", "strings_and_numbers")
    req.call("missing", "not_defined")
    req.call("raises", "boom", 3)
    req.call("exits", "leave")
    req.value("layer", "last_conv_layer_name")
    req.value("arr", "weights")
    req.value("nope", "undefined_var")
    r = execute_notebook(nb(
        """
        import numpy as np, sys
        def xcorr(image, kernel, stride=1, padding=0):
            image[:] = 0 if False else image  # mutating inputs must not matter
            x = np.pad(image, padding)
            kh, kw = kernel.shape
            oh, ow = (x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1
            return np.array([[(x[i*stride:i*stride+kh, j*stride:j*stride+kw] * kernel).sum()
                              for j in range(ow)] for i in range(oh)])
        def filters(g):
            return {"box_blur": g * 2, "edges": (g > 0.5)}
        def as_strings():
            return ["a", "b"]
        def strings_and_numbers():
            return ["a", 1]
        def boom(n):
            raise ValueError(f"bad {n}")
        def leave():
            sys.exit(1)
        last_conv_layer_name = "conv2d_1"
        weights = [[1, 2], [3, 4.5]]
        """,
        # The student forges results where the grader might look.
        """
        import os, json
        os.makedirs('results', exist_ok=True)
        for d in ['.', 'results']:
            json.dump({"calls": {"xc": {"ok": True, "file": "call-xc.npy"}}}, open(f'{d}/results.json', 'w'))
            np.save(f'{d}/call-xc.npy', np.zeros(3))
        """,
    ), tmp_path, FAST, req)
    assert r.status == "ok", r.cell_failures
    assert r.harvest_error is None and r.results_dir is not None
    assert not str(r.results_dir).startswith(str(tmp_path / "scratch"))
    h = r.harvest_results()
    x = np.pad(img, 1)
    want = np.array([[(x[i*2:i*2+3, j*2:j*2+3] * ker).sum() for j in range(3)] for i in range(4)])
    np.testing.assert_allclose(h.call("xc"), want)
    f = h.call("filters")
    np.testing.assert_allclose(f["box_blur"], img * 2)
    assert f["edges"].dtype == bool
    assert h.call("strs") == ["a", "b"]  # labels travel as text
    with pytest.raises(HarvestError, match="expected an array of numbers"):
        h.call("mixed")
    with pytest.raises(HarvestError, match="NameError"):
        h.call("missing")
    with pytest.raises(HarvestError, match="ValueError: bad 3"):
        h.call("raises")
    with pytest.raises(HarvestError, match="SystemExit"):
        h.call("exits")
    assert h.value("layer") == "conv2d_1"
    np.testing.assert_allclose(h.value("arr"), [[1, 2], [3, 4.5]])
    with pytest.raises(HarvestError):
        h.value("nope")
    # the request the checks see is what was sent
    args, kwargs = req.call_args("xc")
    np.testing.assert_array_equal(args[0], img) and kwargs == {"stride": 2, "padding": 1}


@needs_bwrap
def test_harvest_after_kernel_death(tmp_path):
    req = HarvestRequest().value("v", "v")
    r = execute_notebook(nb("v = 1", "import os; os._exit(0)"), tmp_path, FAST, req)
    assert r.status == "crashed" and r.results_dir is None
    with pytest.raises(HarvestError, match="kernel"):
        r.harvest_results().value("v")


@needs_bwrap
def test_a_kernel_that_dies_after_its_last_cell_crashed(tmp_path, monkeypatch):
    # As when processes the notebook forked cross the memory limit after the cell returned: the
    # kernel is gone by the harvest. Its answers cannot be collected, so the notebook crashed.
    from autograder.executor import execute

    real_harvest = execute.run_harvest

    async def after_a_death(request, session, *args):
        for process in session.km.process_tree():
            try:
                process.kill()
            except psutil.NoSuchProcess:   # gone with the one killed before it
                pass
        while session.alive():
            await asyncio.sleep(0.05)
        return await real_harvest(request, session, *args)

    monkeypatch.setattr(execute, "run_harvest", after_a_death)
    r = execute_notebook(nb("v = 1"), tmp_path, FAST, HarvestRequest().value("v", "v"))
    assert r.status == "crashed" and r.results_dir is None


@needs_bwrap
def test_torch_model_roundtrip(tmp_path):
    torch = pytest.importorskip("torch")
    req = HarvestRequest().model("cnn", variable="model", torch_example_shape=(1, 1, 8, 8))
    req.model("not_a_model", variable="x")
    r = execute_notebook(nb("""
        import torch
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                    torch.nn.Linear(72, 3))
        x = 5
        """), tmp_path, FAST, req)
    h = r.harvest_results()
    mf = h.model("cnn")
    assert mf.framework == "torch" and mf.path.suffix == ".pt2"
    ep = torch.export.load(str(mf.path))
    m = ep.module()
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(72, 3))
    inp = torch.rand(1, 1, 8, 8)
    torch.testing.assert_close(m(inp), ref(inp))
    with pytest.raises(HarvestError, match="expected a keras.Model or torch.nn.Module"):
        h.model("not_a_model")


@needs_bwrap
def test_keras_model_roundtrip(tmp_path):
    keras = pytest.importorskip("keras")
    req = HarvestRequest().model("cnn", variable="model")
    r = execute_notebook(nb("""
        import keras, numpy as np
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, activation="relu"),
                                  keras.layers.Flatten(), keras.layers.Dense(3)])
        x = np.linspace(0, 1, 64, dtype="float32").reshape(1, 8, 8, 1)
        pred = model.predict(x, verbose=0)
        """), tmp_path, FAST, req.value("pred", "pred"))
    assert r.status == "ok", r.cell_failures
    h = r.harvest_results()
    mf = h.model("cnn")
    assert mf.framework == "keras" and mf.path.suffix == ".keras"
    m = keras.saving.load_model(mf.path, safe_mode=True)
    x = np.linspace(0, 1, 64, dtype="float32").reshape(1, 8, 8, 1)
    np.testing.assert_allclose(m.predict(x, verbose=0), h.value("pred"), rtol=1e-5, atol=1e-6)


def _doc(d, doc):
    (d / "results.json").write_text(json.dumps(doc))


def test_reader_rejects_tampering(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    np.save(d / "call-good.npy", np.arange(3))
    np.save(d / "call-pick.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (d / "call-link.npy").symlink_to("/etc/passwd")
    np.save(tmp_path / "outside.npy", np.arange(2))
    _doc(d, {"calls": {
        "good": {"ok": True, "file": "call-good.npy"},
        "pick": {"ok": True, "file": "call-pick.npy"},
        "link": {"ok": True, "file": "call-link.npy"},
        "trav": {"ok": True, "file": "../outside.npy"},
        "other": {"ok": True, "file": "call-good.npy"},
        "err": {"ok": False, "error": "x" * 100000},
    }, "models": {"m": {"ok": True, "framework": "pickle", "file": "model-m.pkl"}}, "values": {}})
    h = read_results(d)
    np.testing.assert_array_equal(h.call("good"), np.arange(3))
    for name in ("pick", "link", "trav", "other"):
        with pytest.raises(HarvestError):
            h.call(name)
    with pytest.raises(HarvestError) as e:
        h.call("err")
    assert len(str(e.value)) <= 2000
    with pytest.raises(HarvestError):
        h.model("m")
    with pytest.raises(ValueError):
        h.call("../x")
    # oversized / malformed / symlinked results.json
    (d / "results.json").write_text("[" * 10)
    assert read_results(d).error
    (d / "results.json").unlink()
    (d / "results.json").symlink_to(tmp_path / "x.json")
    _doc(tmp_path, {"calls": {}})
    (tmp_path / "results.json").rename(tmp_path / "x.json")
    assert read_results(d).error


def test_collect_results_copies_only_protocol_files(tmp_path):
    from autograder.protocol.harvest_results import collect_results
    src = tmp_path / "s"
    src.mkdir()
    (src / "results.json").write_text("{}")
    np.save(src / "call-a.npy", np.arange(2))
    (src / "call-b.npy").symlink_to("/etc/hostname")
    (src / "evil.sh").write_text("x")
    (src / "call-c.npy").mkdir()
    dest = collect_results(src, tmp_path / "d")
    assert sorted(p.name for p in dest.iterdir()) == ["call-a.npy", "results.json"]
    assert not any(p.is_symlink() for p in dest.iterdir())


def test_request_validation():
    req = HarvestRequest()
    with pytest.raises(ValueError):
        req.call("../x", "f")
    with pytest.raises(ValueError):
        req.call("ok", "os.system")
    with pytest.raises(TypeError):
        req.call("obj", "f", np.array([object()]))
    with pytest.raises(TypeError):
        req.call("obj2", "f", {1, 2})
    req.call("a", "f", 1, name="x")   # 'name' is a legal keyword argument of the student's function
    assert req.call_args("a") == ((1,), {"name": "x"})
    with pytest.raises(ValueError):
        req.value("a", "v")           # duplicate name


def test_missing_bwrap(monkeypatch, tmp_path):
    import autograder.executor.bwrap as bw
    real_which = bw.shutil.which
    monkeypatch.setattr(bw.shutil, "which", lambda n: None if n == "bwrap" else real_which(n))
    ok, msg = sandbox_available()
    assert not ok and "apt-get install bubblewrap" in msg and "dnf install bubblewrap" in msg
    with pytest.raises(SandboxUnavailable):
        execute_notebook(nb("1"), tmp_path, FAST, None)
    r = execute_notebook(nb("import os\nprint(os.getcwd())"), tmp_path, FAST,
                         HarvestRequest().value("v", "os"), unsandboxed_ok=True)
    assert r.status == "ok" and not r.sandboxed
    with pytest.raises(HarvestError):
        r.harvest_results().value("v")


def test_refuses_grader_binds(tmp_path):
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    for bad in (repo, repo / "autograder", repo / "solutions" / "hw1", repo.parent):
        with pytest.raises(ValueError):
            execute_notebook(nb("1"), tmp_path, FAST, None, ro_binds=[bad])


@needs_bwrap
def test_python_packages_and_env(tmp_path):
    pkg = tmp_path / "pkgs" / "mydata"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("VALUE = 42\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "f.txt").write_text("cached")
    r = execute_notebook(nb("""
        import os, mydata
        print(mydata.VALUE, open(os.path.join(os.environ['COURSE_DATA_CACHE'], 'f.txt')).read())
        try:
            open(os.path.join(os.environ['COURSE_DATA_CACHE'], 'g.txt'), 'w')
        except OSError:
            print('read-only')
        """), tmp_path / "w", FAST, None, ro_binds=[cache], python_packages=[pkg],
        env={"COURSE_DATA_CACHE": str(cache), "COURSE_DATA_OFFLINE": "1"})
    assert r.status == "ok", r.cell_failures
    out = "".join(o.get("text", "") for o in r.notebook.cells[0].outputs)
    assert out == "42 cached\nread-only\n"
