#!/usr/bin/env bash
# The CUDA code paths, by hand on a GPU machine (CI has none): train/eval/predict on the GPU in
# each precision, channels-last off and on, torch.compile, torchrun + DDP over NCCL, auxiliary
# heads, an image folder streamed through DataLoader workers. Prints one line per check.
#   bash benchmarks/cuda_smoke.sh [OUT_DIR]
set -uo pipefail
out=${1:-/tmp/cnnzoo-cuda-smoke}
rm -rf "$out"; mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONPATH=${PYTHONPATH:-src}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$py -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available())"
check() {  # name, command...
  local name=$1; shift
  local start=$(date +%s%N)
  if result=$("$@" 2>"$out/$name.err" | tail -1); then
    printf '%-28s ok   %6ds  %s\n' "$name" "$(( ($(date +%s%N) - start) / 1000000000 ))" "${result:0:160}"
  else
    printf '%-28s FAIL %s\n' "$name" "$(tail -3 "$out/$name.err" | tr '\n' ' ' | cut -c1-300)"
  fi
}
t="$py -m cnnzoo train --device cuda --output $out --quiet --json"
check default-fp32        $t --name fp32
check bf16                $t --name bf16 --precision bf16 --epochs 20
check fp16-nchw           $t --name fp16 --precision fp16 --no-channels-last --epochs 20
check compile             $t --name compiled --compile --epochs 10
check eval-tta            $py -m cnnzoo eval "$out/fp32" --device cuda --tta --json
$py - "$out/folder" <<'PY'
import sys, numpy as np
from pathlib import Path
from PIL import Image
rng = np.random.default_rng(0)
for c, colour in enumerate(("red", "green", "blue")):
    d = Path(sys.argv[1]) / colour; d.mkdir(parents=True)
    for i in range(40):
        a = rng.integers(0, 90, (48, 64, 3), dtype=np.uint8); a[..., c] += 150
        Image.fromarray(a).save(d / f"{i}.jpg")
PY
check predict             $py -m cnnzoo predict "$out/fp32" "$out/folder/red/0.jpg" --device cuda --json
check googlenet-aux       $t --name gnet --model googlenet --data "$out/folder" --img-size 64 --epochs 2 --batch-size 32
check inception-v3-bf16   $t --name iv3 --model inception_v3 --data "$out/folder" --img-size 96 --epochs 2 --batch-size 32 --precision bf16
check resnet50-stream     $py -c "
import sys, warnings; from cnnzoo.train.trainer import Trainer; from cnnzoo.train.config import TrainConfig
import cnnzoo.data as d; d.MEMORY_BUDGET = 1  # force streaming through DataLoader workers
r = Trainer(TrainConfig(model='resnet50_tv', data='$out/folder', img_size=64, epochs=2, batch_size=32, device='cuda', output='$out', name='r50', quiet=True, workers=4)).run(); print(r.test.top1)"
check ddp-nccl            $py -m torch.distributed.run --nproc-per-node 1 -m cnnzoo train --device cuda --output $out --name ddp --epochs 3 --quiet --json
