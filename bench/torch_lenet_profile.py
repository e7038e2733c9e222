"""Per-op CPU profile of the PyTorch peer's LeNet-5 training step (batch 64, Adam), to compare
with `vkwb bench train --model lenet5 --profile`.

usage: /usr/bin/python3 bench/torch_lenet_profile.py [PEER_DIR] [--blas-threads 1]
PEER_DIR defaults to ../shared/peers/torch (its lenet.py defines the model; common.py reads
--threads / --blas-threads and sets the thread counts before torch is imported). Needs Debian's
python3-torch. Prints the step rate over 200 timed steps and torch.profiler's table over 100.
"""
import os
import sys
import time

args = sys.argv[1:]
peer = args.pop(0) if args and not args[0].startswith("--") else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "peers", "torch")
sys.path.insert(0, peer)
sys.argv = [sys.argv[0], "--threads", "2"] + args
import lenet  # noqa: E402  (sets the threads, imports torch)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

model = lenet.LeNet5()
opt = torch.optim.Adam(model.parameters(), 1e-3)
x = torch.randn(64, 1, 28, 28)
y = torch.randint(0, 10, (64,))


def step():
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


for _ in range(50):
    step()
t = time.time()
for _ in range(200):
    step()
print("training: %.0f img/s (random batches of 64), %d threads" % (200 * 64 / (time.time() - t), torch.get_num_threads()))
with profile(activities=[ProfilerActivity.CPU]) as p:
    for _ in range(100):
        step()
print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=16))
