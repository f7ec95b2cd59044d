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
    _craft_folders(tmp, run)


def _craft_folders(tmp: Path, run: Path) -> None:
    """Damaged copies of the run, an empty folder, a data set of empty class folders."""
    for name in ("corrupt", "nometrics"):
        shutil.copytree(run, tmp / name, ignore=shutil.ignore_patterns("tensorboard"))
    (tmp / "corrupt" / "config.yaml").write_text("{{{: [")  # not YAML
    (tmp / "nometrics" / "metrics.csv").write_text("epoch,train_loss\n")  # a header, no epochs
    (tmp / "empty").mkdir()
    (tmp / "exp_unfinished").mkdir()
    (tmp / "exp_unfinished" / "experiment.yaml").write_text("experiment: degradation\n")  # killed mid-way
    for cls in ("a", "b"):
        (tmp / "emptydata" / cls).mkdir(parents=True)


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
    # the commands that came later (issue 12's last sweep)
    ("train-finetune-unknown", "train --finetune foo --epochs 1", 2, "--finetune"),
    ("train-finetune-more-stages", "train --finetune last:99 --epochs 1 --quiet --output {tmp}/out", 2, "last:99"),
    ("train-head-epochs-all", "train --head-epochs 1 --epochs 1 --quiet --output {tmp}/out", 0,
     "only the classifier trains"),
    ("train-lr-decay-0", "train --lr-decay-per-stage 0 --epochs 1 --output {tmp}/out", 2, "lr_decay_per_stage"),
    ("train-se-0", "train --se 0 --epochs 1 --output {tmp}/out", 2, "se must be >= 1"),
    ("train-balance-unknown", "train --balance foo --epochs 1", 2, "--balance"),
    ("train-recipe-unknown", "train --recipe foo --epochs 1 --output {tmp}/out", 2, "--recipe"),
    ("train-init-from-not-a-checkpoint", "train --init-from {tmp}/a_file --epochs 1 --quiet --output {tmp}/out", 2,
     "--init-from"),
    ("train-init-from-and-pretrained", "train --init-from {run} --pretrained {run}/checkpoints/best.safetensors "
                                       "--epochs 1 --output {tmp}/out", 2, "init_from"),
    ("train-resume-with-init-from", "train --resume {run} --init-from {run}", 2, "--init-from"),
    ("predict-csv-is-folder", "predict {run} {tmp}/junk --csv {tmp}/empty", 2, "--csv"),
    ("predict-csv-under-file", "predict {run} {tmp}/junk --csv {tmp}/a_file/s.csv", 2, "is a file"),
    ("predict-backend-unknown", "predict {run} {tmp}/junk --backend tensorrt", 2, "--backend"),
    ("predict-batch-0", "predict {run} {tmp}/junk --batch-size 0", 2, "--batch-size"),
    ("predict-workers-negative", "predict {run} {tmp}/junk --workers -1", 2, "--workers"),
    ("predict-not-a-checkpoint", "predict {tmp}/a_file {tmp}/junk", 2, "not a checkpoint"),
    ("compare-runs-not-a-run", "compare --runs {tmp}/empty", 2, "not a finished run folder"),
    ("compare-runs-corrupt-config", "compare --runs {tmp}/corrupt --plot {tmp}/c.png", 2, "not a readable run"),
    ("compare-runs-empty-metrics", "compare --runs {tmp}/nometrics --plot {tmp}/c.png", 2, "holds no epochs"),
    ("compare-runs-plot-is-folder", "compare --runs {run} --plot {tmp}/empty", 2, "--plot"),
    ("compare-runs-plot-under-file", "compare --runs {run} --plot {tmp}/a_file/c.png", 2, "is a file"),
    ("compare-runs-plot-format", "compare --runs {run} --plot {tmp}/c.xyz", 2, ".png"),
    ("report-not-a-folder", "report {tmp}/a_file", 2, "not a run folder"),
    ("report-corrupt-config", "report {tmp}/corrupt", 2, "not a readable run"),
    ("report-empty-metrics", "report {tmp}/nometrics", 2, "holds no epochs"),
    ("report-unfinished-experiment", "report {tmp}/exp_unfinished", 2, "unfinished experiment"),
    ("report-worst-negative", "report {run} --worst -1", 2, "--worst"),
    ("experiment-unknown", "experiment foo", 2, "EXPERIMENT"),
    ("experiment-epochs-0", "experiment degradation --epochs 0 --out {tmp}/exp", 2, "epochs"),
    ("experiment-lr-negative", "experiment kernels --lr -1 --out {tmp}/exp", 2, "lr"),
    ("experiment-limit-0", "experiment degradation --limit-train 0 --out {tmp}/exp", 2, "limit_train"),
    ("experiment-device-unknown", "experiment degradation --device tpu --out {tmp}/exp", 2, "--device"),
    ("experiment-depths-unknown", "experiment degradation --depths 7,9 --out {tmp}/exp", 2, "--depths"),
    ("experiment-out-is-file", "experiment degradation --data {tmp}/emptydata --out {tmp}/a_file", 2, "--out"),
    ("experiment-out-is-run", "experiment degradation --data {tmp}/emptydata --out {run}", 2, "run folder"),
    ("lesion-plain-net", "experiment lesion {run} --out {tmp}/exp", 2, "no residual blocks"),
    ("lesion-not-a-run", "experiment lesion {tmp}/empty --out {tmp}/exp", 2, "not a finished run folder"),
    ("lesion-corrupt-run", "experiment lesion {tmp}/corrupt --out {tmp}/exp", 2, "not a readable run"),
    ("lesion-empty-metrics", "experiment lesion {tmp}/nometrics --out {tmp}/exp", 2, "holds no epochs"),
    ("lesion-samples-0", "experiment lesion {run} --samples 0 --out {tmp}/exp", 2, "--samples"),
    ("gradflow-depth-0", "experiment gradflow --depth 0 --out {tmp}/exp", 2, "--depth"),
    ("gradflow-activation-unknown", "experiment gradflow --activations swish --out {tmp}/exp", 2, "--activations"),
    ("kernels-block-unknown", "experiment kernels --blocks 9x9 --out {tmp}/exp", 2, "--blocks"),
    ("kernels-width-0", "experiment kernels --width 0 --out {tmp}/exp", 2, "--width"),
    ("explain-out-is-file", "explain filters {run} --out {tmp}/a_file", 2, "--out"),
    ("explain-out-under-file", "explain filters {run} --out {tmp}/a_file/x", 2, "is a file"),
    ("explain-layer-unknown", "explain filters {run} --layer nosuch --out {tmp}/ex", 2, "unknown layer"),
    ("explain-class-unknown", "explain classviz {run} --class nosuch --steps 1 --out {tmp}/ex", 2, "unknown class"),
    ("explain-steps-huge", "explain classviz {run} --class 1 --steps 100000000000 --out {tmp}/ex", 2, "--steps"),
    ("explain-blur-sigma-negative", "explain classviz {run} --class 1 --blur-sigma -1 --out {tmp}/ex", 2,
     "--blur-sigma"),
    ("explain-box-empty", "explain gradcam {run} {tmp}/junk --box 0.5,0.5,0.2,0.2 --out {tmp}/ex", 2, "--box"),
    ("explain-top-huge", "explain patches {run} --data digits --top 100000 --out {tmp}/ex", 2, "--top"),
    ("explain-pretrained-with-run", "explain filters {run} --pretrained x --out {tmp}/ex", 2, "--pretrained"),
    ("explain-with-unknown-model", "explain stats {run} --data digits --with lenetx --out {tmp}/ex", 2,
     "unknown model"),
    ("bench-batch-0", "bench lenet5 --batch 0", 2, "--batch"),
    ("bench-repeats-0", "bench lenet5 --repeats 0", 2, "--repeats"),
    ("bench-warmup-negative", "bench lenet5 --warmup -1", 2, "--warmup"),
    ("bench-threads-0", "bench lenet5 --threads 0", 2, "--threads"),
    ("bench-input-huge", "bench lenet5 --input 1x100000x100000", 2, "--input"),
    ("bench-input-channels", "bench lenet5 --input 3x32x32 --device cpu", 2, "channels"),
    ("bench-input-too-small", "bench lenet5 --input 1x2x2 --device cpu", 2, "too small"),
    ("bench-batch-memory", "bench lenet5 --batch 65536 --input 1x4096x4096 --device cpu", 2, "GiB"),
    ("bench-not-a-checkpoint", "bench {tmp}/a_file --device cpu", 2, "not a checkpoint"),
    ("bench-backend-unknown", "bench lenet5 --backend tensorrt", 2, "--backend"),
    ("export-output-is-folder", "export onnx {run} -o {tmp}/empty", 2, "--output"),
    ("export-output-under-file", "export onnx {run} -o {tmp}/a_file/m.onnx", 2, "is a file"),
    ("export-output-suffix", "export onnx {run} -o {tmp}/m.txt", 2, ".onnx"),
    ("export-parity-2", "export onnx {run} -o {tmp}/m.onnx --parity-batch 2", 2, "--parity-batch"),
    ("export-format-unknown", "export tflite {run} -o {tmp}/m.onnx", 2, "FORMAT"),
    ("features-output-is-folder", "features {run} digits -o {tmp}/empty", 2, "--output"),
    ("features-output-suffix", "features {run} digits -o {tmp}/f.txt", 2, ".npz"),
    ("features-batch-0", "features {run} digits -o {tmp}/f.npz --batch-size 0", 2, "--batch-size"),
    ("features-data-empty", "features {run} {tmp}/emptydata -o {tmp}/f.npz", 2, "empty"),
    ("features-data-unknown", "features {run} mnistx -o {tmp}/f.npz", 2, "unknown data set"),
    ("compress-prune-1", "compress {run} --prune 1", 2, "--prune"),
    ("compress-prune-nan", "compress {run} --prune nan", 2, "--prune"),
    ("compress-bits-17", "compress {run} --bits 17", 2, "--bits"),
    ("compress-retrain-negative", "compress {run} --retrain -1", 2, "--retrain"),
    ("compress-retrain-lr-nan", "compress {run} --retrain 1 --retrain-lr nan", 2, "--retrain-lr"),
    ("compress-output-is-folder", "compress {run} --output {tmp}/empty", 2, "--output"),
    ("compress-pretrained-with-run", "compress {run} --pretrained x", 2, "--pretrained"),
    ("compress-model-without-data", "compress lenet5", 2, "--data"),
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
