"""Hostile input, one row per case: every user-caused failure is one line
`cnnzoo: error: ...` naming the thing and what was expected, exit status 2, no traceback.

Each row is (id, argv, expected exit status, a fragment the message must hold). `{tmp}` is a
folder of crafted files (`hostile` fixture) and `{run}` a tiny trained run folder.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnzoo.cli import main
from cnnzoo.train import checkpoint as ckpt

TABLE = "input: 1x32x32\nlayers:\n  - conv 5x5@6 relu\n  - gap\n  - fc 10\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def _craft(tmp: Path, run: Path) -> None:
    """The crafted files the table's rows name."""
    tables = {
        "repeat.yaml": "input: 1x32x32\nlayers:\n  - conv 3x3@4 x100000000\n  - gap\n  - fc 10\n",
        "bomb.yaml": BOMB + "input: 1x32x32\nlayers:\n  - conv 3x3@4\n  - gap\n  - fc 10\n",
        "hugefc.yaml": "input: 1x128x128\nlayers:\n  - fc 1000000\n  - fc 10\n",
        "digits.yaml": "input: 1x32x32\nlayers:\n  - conv 3x3@1234567890123456789012345\n  - gap\n  - fc 10\n",
        "nested.yaml": "input: 1x32x32\nlayers:\n  - " + "[" * 5000 + "]" * 5000 + "\n",
        "wide.yaml": "input: 3x100000x100000\nlayers:\n  - conv 3x3@4\n  - gap\n  - fc 10\n",
    }
    for name, text in tables.items():
        (tmp / name).write_text(text)
    (tmp / "utf8.yaml").write_bytes(b"input: 1x32x32\nlayers:\n  - conv 3x3@4 \xff\xfe\n  - fc 10\n")
    (tmp / "a_file").write_text("not a folder")
    (tmp / "nan.yaml").write_text("epochs: 1\nweight_decay: .nan\n")
    state, meta = ckpt.load_weights(run / "checkpoints" / "best.safetensors")
    bad_metas = {"notjson": "{not json", "list": "[1, 2]", "noclasses": {k: v for k, v in meta.items()
                                                                           if k != "classes"},
                 "bigsize": {**meta, "input_size": [1, 10 ** 9, 10 ** 9]}, "badclasses": {**meta, "classes": 5}}
    from safetensors.torch import save_file
    for name, m in bad_metas.items():
        text = m if isinstance(m, str) else json.dumps(m)
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / f"{name}.safetensors"),
                  metadata={"cnnzoo": text})
    junk = tmp / "junk"
    junk.mkdir()
    (junk / "a.png").write_bytes(b"\x89PNG not really")
    (junk / "b.png").write_bytes(b"")
    thin = tmp / "thin"
    for cls in ("a", "b"):
        (thin / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(thin / cls / f"{i}.png")
    Image.new("L", (200_000, 1)).save(thin / "a" / "sliver.png")
    loop = tmp / "loop"
    shutil.copytree(thin, loop, ignore=shutil.ignore_patterns("sliver.png"))
    os.symlink(loop / "a" / "l2.png", loop / "a" / "l1.png")
    os.symlink(loop / "a" / "l1.png", loop / "a" / "l2.png")


CASES = [
    # (id, argv, status, the message must contain)
    ("show-batch-0", "show lenet5 --batch 0", 2, "--batch"),
    ("show-depth-negative", "show lenet5 --depth -1", 2, "--depth"),
    ("show-input-zero", "show lenet5 --input 3x0x0", 2, "--input"),
    ("show-input-garbage", "show lenet5 --input big", 2, "--input"),
    ("show-input-huge", "show lenet5 --input 1x100000x100000", 2, "--input"),
    ("compare-repeats-0", "compare lenet5 --repeats 0", 2, "--repeats"),
    ("eval-batch-0", "eval {run} --batch-size 0", 2, "--batch-size"),
    ("predict-top-k-0", "predict {run} {tmp}/junk --top-k 0", 2, "--top-k"),
    ("train-batch-0", "train --batch-size 0 --epochs 1 --output {tmp}/out", 2, "batch_size"),
    ("train-lr-nan", "train --lr nan --epochs 1 --output {tmp}/out", 2, "lr"),
    ("train-lr-inf", "train --lr inf --epochs 1 --output {tmp}/out", 2, "lr"),
    ("train-momentum-nan", "train --momentum nan --epochs 1 --output {tmp}/out", 2, "momentum"),
    ("train-img-size-small", "train --img-size 4 --epochs 1 --output {tmp}/out", 2, "img_size"),
    ("train-img-size-huge", "train --img-size 100000 --epochs 1 --output {tmp}/out", 2, "img_size"),
    ("train-img-size-below-model", "train --model alexnet --img-size 16 --epochs 1", 2, "img-size"),
    ("train-output-is-file", "train --epochs 1 --output {tmp}/a_file", 2, "--output"),
    ("train-output-read-only", "train --epochs 1 --output {tmp}/ro/runs", 2, "--output"),
    ("table-repeat", "show {tmp}/repeat.yaml", 2, "repeat"),
    ("table-alias-bomb", "show {tmp}/bomb.yaml", 2, "alias"),
    ("table-huge-fc-show-counts", "show {tmp}/hugefc.yaml", 0, "16,395,000,010"),  # on the meta device
    ("table-huge-fc-train", "train --model {tmp}/hugefc.yaml --epochs 1", 2, "parameters"),
    ("table-25-digit-width", "show {tmp}/digits.yaml", 2, "channels"),
    ("table-deep-nesting", "show {tmp}/nested.yaml", 2, "nest"),
    ("table-invalid-utf8", "show {tmp}/utf8.yaml", 2, "UTF-8"),
    ("table-huge-input", "show {tmp}/wide.yaml", 2, "input"),
    ("ckpt-meta-not-json", "eval {tmp}/notjson.safetensors", 2, "metadata"),
    ("ckpt-meta-list", "predict {tmp}/list.safetensors {tmp}/junk", 2, "metadata"),
    ("ckpt-meta-no-classes", "eval {tmp}/noclasses.safetensors", 2, "classes"),
    ("ckpt-meta-bad-classes", "eval {tmp}/badclasses.safetensors", 2, "classes"),
    ("ckpt-meta-absurd-input", "eval {tmp}/bigsize.safetensors", 2, "input_size"),
    ("predict-nothing-usable", "predict {run} {tmp}/junk", 2, "none of the 2"),
    ("data-sliver-image", "train --data {tmp}/thin --epochs 1 --quiet --output {tmp}/out --strict", 2, "aspect"),
    ("data-symlink-loop", "train --data {tmp}/loop --epochs 1 --quiet --output {tmp}/out --strict", 2, "l1.png"),
    ("train-diverges", "train --lr 1e6 --epochs 3 --quiet --output {tmp}/out", 2, "diverged"),
    ("train-test-fraction-0", "train --test-fraction 0 --epochs 1 --quiet --output {tmp}/out", 2,
     "--test-fraction"),
    ("train-val-fraction-0", "train --val-fraction 0 --epochs 1 --output {tmp}/out", 0, "no validation split"),
    ("explain-steps-0", "explain classviz lenet5 --steps 0", 2, "--steps"),
    ("explain-lr-nan", "explain classviz lenet5 --lr nan", 2, "--lr"),
    ("config-file-nan", "train --config {tmp}/nan.yaml --output {tmp}/out", 2, "finite"),
    ("pretrained-cnnzoo-checkpoint", "train --epochs 1 --quiet --output {tmp}/out --pretrained "
                                     "{run}/checkpoints/best.safetensors", 0, ""),
    ("eval-read-only-confusion", "eval {tmp}/ro/run --confusion {tmp}/ro/run/c.png", 2, "confusion"),
    ("eval-read-only-run", "eval {tmp}/ro/run", 0, "cannot write the confusion matrix"),
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("hostile")
    assert main(["train", "--epochs", "1", "--quiet", "--output", str(tmp), "--name", "run"]) == 0
    run = tmp / "run"
    _craft(tmp, run)
    ro = tmp / "ro"
    ro.mkdir()
    shutil.copytree(run, ro / "run")
    for folder in (ro / "run", ro):
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    yield {"tmp": str(tmp), "run": str(run)}
    for folder in (ro, ro / "run"):
        folder.chmod(stat.S_IRWXU)


@pytest.mark.parametrize(("argv", "status", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_clear_line(argv: str, status: int, fragment: str, hostile: dict[str, str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    if "/ro/" in argv and (os.geteuid() == 0 or sys.platform == "win32"):
        pytest.skip("permissions do not bind root")
    try:
        code = main(argv.format(**hostile).split())
    except SystemExit as e:  # argparse's own checks
        code = e.code
    out, err = capsys.readouterr()
    assert code == status, err
    assert "Traceback" not in err
    if status == 2:
        assert any(ln.startswith("cnnzoo: error:") for ln in err.splitlines()), err
    assert fragment in out + err, err


def test_divergence_saves_no_weights_and_valid_json(hostile: dict[str, str]) -> None:
    """After `train-diverges` (a row above, same module fixture): no best weights of a diverged epoch."""
    runs = [p for p in (Path(hostile["tmp"]) / "out").glob("lenet5-digits-*") if (p / "config.yaml").is_file()]
    for run in runs:
        for f in run.rglob("*.json"):
            json.loads(f.read_text(), parse_constant=lambda c: pytest.fail(f"{f} holds {c}"))


def test_orphaned_temporaries_go_and_an_unfinished_first_epoch_restarts(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    ckpts = tmp_path / "early" / "checkpoints"  # what a kill in epoch 1 leaves
    ckpts.mkdir(parents=True)
    (tmp_path / "early" / "config.yaml").write_text("epochs: 1\n")
    dead = ckpts / ".last.state.pt.tmp-999999999"  # no such process
    dead.write_bytes(b"x" * 1000)
    assert main(["train", "--resume", str(tmp_path / "early")]) == 2
    assert "start it again with --name early" in capsys.readouterr().err
    assert main(["train", "--epochs", "1", "--quiet", "--output", str(tmp_path), "--name", "early"]) == 0
    assert not dead.exists() and (ckpts / "last.state.pt").is_file()


DISK_FULL = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))  # config and logs fit, weights do not
from cnnzoo.cli import main
sys.exit(main(["train", "--epochs", "1", "--quiet", "--output", sys.argv[1], "--name", "full"]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_is_one_line(tmp_path: Path) -> None:
    import subprocess
    done = subprocess.run([sys.executable, "-c", DISK_FULL, str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("cnnzoo: error: cannot write") and "Traceback" not in done.stderr
    assert not list((tmp_path / "full" / "checkpoints").glob(".*tmp*"))  # no half-written file left
