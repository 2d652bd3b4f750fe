"""The baseline of bench/train-epoch.ts: the PyTorch plugin's training loop as a plain script.

It imports the plugin's own network, data loading and epoch loop (plugins/train-image-classifier/
plugin/train.py: build_net, load_split, run_epoch, accuracy) and runs them on the same images
(the dataset cache the workflow run filled, read through its index.json), with the same seed,
batch size and learning rate, saving the model with torch.save after every epoch as a plain
training script does. No engine, no runtime, no Temporal. Prints one JSON line.

  python3 bench/train-epoch-baseline.py --index DIR/index.json --epochs 5 --seed 1 --batch-size 32 --lr 0.003
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "runtimes", "python"))  # the plugin module imports synapse_runtime
sys.path.insert(0, os.path.join(ROOT, "plugins", "train-image-classifier"))

import torch  # noqa: E402

from plugin.train import accuracy, build_net, load_split, run_epoch  # noqa: E402


class Dataset:
    def __init__(self, index_path):
        with open(index_path, encoding="utf-8") as f:
            index = json.load(f)
        base = os.path.dirname(index_path)
        self.classes = index["classes"]
        self.items = [{**i, "files": {k: os.path.join(base, v) for k, v in i["files"].items()}} for i in index["items"]]

    def split(self, name):
        return list(self.items) if name == "all" else [i for i in self.items if i["split"] == name]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.003)
    a = ap.parse_args()

    started = time.perf_counter()
    dataset = Dataset(a.index)
    train = load_split(dataset, "train")
    val = load_split(dataset, "val")
    load_seconds = time.perf_counter() - started
    torch.manual_seed(a.seed)
    net = build_net(len(dataset.classes))
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    out = tempfile.mkdtemp(prefix="synapse-baseline-")
    epochs = []
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        # The engine's per-epoch seed (activities/train.ts epochSeed).
        loss, acc = run_epoch(net, opt, *train, (a.seed * 100003 + epoch) % 2**32, a.batch_size)
        val_acc = accuracy(net, *val)["accuracy"]
        torch.save({"net": net.state_dict(), "opt": opt.state_dict()}, os.path.join(out, "epoch-%d.ckpt" % epoch))
        epochs.append({"epoch": epoch, "seconds": time.perf_counter() - t0, "loss": loss, "accuracy": acc, "val_accuracy": val_acc})
    print(json.dumps({"epochs": epochs, "load_seconds": load_seconds, "threads": torch.get_num_threads(), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
