"""A small CNN classifying the generated shape images, trained with PyTorch on the CPU.

The engine calls one method per step (synapse_runtime.Trainer): `prepare` once per dataset in
the Python process, `train_epoch` once per epoch (from the previous epoch's checkpoint),
`evaluate` at the end, `predict` for inference. `build_net`, `load_split` and `run_epoch` are
plain functions so bench/train-epoch-baseline.py can run the very same loop as a plain script.
"""

import base64
import binascii
import io
import time

import numpy as np
import torch
from PIL import Image
from torch import nn

from synapse_runtime import InvalidInput, NonRetriableError, Trainer

DEFAULTS = {"learning_rate": 0.003, "batch_size": 32, "width": 8, "checkpoint_every": 0, "step_delay_ms": 0, "seed": 1}
COLORS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 220), "yellow": (230, 200, 30)}


def hyper(h):
    out = {**DEFAULTS, **(h or {})}
    if not (isinstance(out["batch_size"], int) and out["batch_size"] >= 1):
        raise NonRetriableError("hyperparameters.batch_size must be a whole number >= 1")
    if not (isinstance(out["learning_rate"], (int, float)) and out["learning_rate"] > 0):
        raise NonRetriableError("hyperparameters.learning_rate must be a positive number")
    return out


def build_net(classes, width=8):
    """`width` channels in the first convolution, twice and four times that in the next two."""
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32x32
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16x16
        nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4),  # 4x4
        nn.Flatten(),
        nn.Linear(4 * width * 4 * 4, classes),
    )


def load_image(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def load_split(dataset, split):
    """(images N x 3 x 64 x 64 float in [0, 1], labels N) of the labelled items of a split."""
    items = [i for i in dataset.split(split) if i["label"] in dataset.classes]
    if not items:
        return torch.zeros((0, 3, 64, 64)), torch.zeros((0,), dtype=torch.long)
    x = np.stack([load_image(i["files"]["image"]) for i in items])
    images = torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255.0).contiguous()
    labels = torch.tensor([dataset.classes.index(i["label"]) for i in items], dtype=torch.long)
    return images, labels


def run_epoch(net, opt, images, labels, seed, batch_size, start_step=0, on_step=None, totals=None):
    """One epoch over (images, labels) in a seeded order; returns (mean loss, accuracy) over the epoch.

    `totals` ({loss_sum, correct, seen} of the steps before `start_step`, from a mid-epoch
    checkpoint) makes a resumed epoch's figures cover all its steps; `on_step(done, steps, totals)`.
    """
    net.train()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    steps = (len(labels) + batch_size - 1) // batch_size
    loss_fn = nn.CrossEntropyLoss()
    totals = totals or {}
    total_loss, correct, seen = float(totals.get("loss_sum", 0.0)), int(totals.get("correct", 0)), int(totals.get("seen", 0))
    for step in range(start_step, steps):
        idx = order[step * batch_size:(step + 1) * batch_size]
        x, y = images[idx], labels[idx]
        opt.zero_grad()
        out = net(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        total_loss += loss.item() * len(y)
        correct += (out.argmax(1) == y).sum().item()
        seen += len(y)
        if on_step is not None:
            on_step(step + 1, steps, {"loss_sum": total_loss, "correct": correct, "seen": seen})
    return (total_loss / seen if seen else 0.0), (correct / seen if seen else 0.0)


def accuracy(net, images, labels):
    if len(labels) == 0:
        return {"accuracy": 0.0, "loss": 0.0, "items": 0}
    net.eval()
    with torch.no_grad():
        out = net(images)
        loss = nn.functional.cross_entropy(out, labels).item()
        acc = (out.argmax(1) == labels).float().mean().item()
    return {"accuracy": acc, "loss": loss, "items": int(len(labels))}


class ShapeClassifier(Trainer):
    def __init__(self):
        self.data = {}

    def prepare(self, ctx, dataset):
        started = time.perf_counter()
        # What every epoch needs; `test` and `all` are decoded when evaluate or test asks for them.
        self.data[dataset.dir] = {split: load_split(dataset, split) for split in ("train", "val")}
        ctx.log_message("decoded %d images in %.2f s (torch %s, %d threads)" % (len(dataset.items), time.perf_counter() - started, torch.__version__, torch.get_num_threads()))

    def _split(self, dataset, split):
        if dataset.dir not in self.data:
            self.data[dataset.dir] = {}
        if split not in self.data[dataset.dir]:
            self.data[dataset.dir][split] = load_split(dataset, split)
        return self.data[dataset.dir][split]

    def _model(self, classes, h):
        # Checkpoints saved before `width` existed have none: they are the default width.
        net = build_net(len(classes), h.get("width", DEFAULTS["width"]))
        opt = torch.optim.Adam(net.parameters(), lr=h["learning_rate"])
        return {"net": net, "opt": opt, "classes": list(classes), "hyper": h}

    def create_model(self, ctx, dataset):
        h = hyper(ctx.params.get("hyperparameters"))
        torch.manual_seed(h["seed"])
        return self._model(dataset.classes, h)

    def train_epoch(self, ctx, state):
        h = hyper(state.hyperparameters)
        model = state.model
        images, labels = self._split(state.dataset, "train")
        if len(labels) == 0:
            raise NonRetriableError("the dataset has no labelled items in split 'train'")

        def on_step(done, steps, totals):
            ctx.set_progress(done, steps, "epoch")
            if h["step_delay_ms"]:
                time.sleep(h["step_delay_ms"] / 1000.0)
            ctx.check_cancelled()
            if h["checkpoint_every"] and done % h["checkpoint_every"] == 0 and done < steps:
                ctx.checkpoint_step(done, totals)

        loss, acc = run_epoch(model["net"], model["opt"], images, labels, state.seed, h["batch_size"], state.start_step, on_step, state.totals)
        val = accuracy(model["net"], *self._split(state.dataset, "val"))
        return {"loss": loss, "accuracy": acc, "val_accuracy": val["accuracy"]}

    def evaluate(self, ctx, model, dataset, split):
        return accuracy(model["net"], *self._split(dataset, split))

    def save(self, model, path):
        torch.save({"net": model["net"].state_dict(), "opt": model["opt"].state_dict(), "classes": model["classes"], "hyper": model["hyper"]}, path)

    def load(self, path, dataset):
        saved = torch.load(path)
        model = self._model(saved["classes"], saved["hyper"])
        model["net"].load_state_dict(saved["net"])
        model["opt"].load_state_dict(saved["opt"])
        return model

    def predict_request(self, ctx, model, body):
        """A deployment's request (the `deployment` action, restapi): {"image": "<base64 PNG>"} ->
        {"label": class, "scores": {class: probability}}. An image of another size is resized to
        the 64x64 the network takes."""
        if not isinstance(body, dict):
            raise InvalidInput("body", "must be a JSON object {\"image\": \"<base64 PNG>\"}")
        unknown = sorted(set(body) - {"image"})
        if unknown:
            raise InvalidInput(unknown[0], "is not a field of this input (it takes: image)")
        image = body.get("image")
        if not isinstance(image, str) or not image:
            raise InvalidInput("image", "required: a base64 PNG string")
        try:
            raw = base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("image", "is not valid base64")
        try:
            with Image.open(io.BytesIO(raw)) as im:
                rgb = im.convert("RGB")
                size = rgb.size
                if rgb.size != (64, 64):
                    rgb = rgb.resize((64, 64))
                x = np.asarray(rgb, dtype=np.uint8)
        except (OSError, ValueError):
            raise InvalidInput("image", "is not an image (PNG, JPEG, ...) that PIL can read")
        net = model["net"]
        net.eval()
        with torch.no_grad():
            probs = torch.softmax(net(torch.from_numpy(x.copy()).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)), 1)[0]
        classes = model["classes"]
        best = int(probs.argmax())
        # The shape's box as the batch `predict` finds it (pixels unlike the top-left one), in the sent image's pixels.
        boxes = []
        ys, xs = np.nonzero(np.abs(x.astype(int) - x[0, 0].astype(int)).sum(2) > 30)
        if len(xs):
            sx, sy = size[0] / 64.0, size[1] / 64.0
            x0, y0 = int(xs.min() * sx), int(ys.min() * sy)
            boxes.append({"label": classes[best], "score": round(float(probs[best]), 6), "x": x0, "y": y0,
                          "width": max(1, int(round((xs.max() + 1) * sx)) - x0), "height": max(1, int(round((ys.max() + 1) * sy)) - y0)})
        return {"label": classes[best], "scores": {c: round(float(probs[i]), 6) for i, c in enumerate(classes)}, "boxes": boxes}

    def predict(self, ctx, model, items, classes):
        """A box of the predicted class around the shape (pixels unlike the background), with its colour."""
        if not items:
            return []
        x = np.stack([load_image(i["files"]["image"]) for i in items])
        net = model["net"]
        net.eval()
        with torch.no_grad():
            probs = torch.softmax(net(torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255.0)), 1)
        out = []
        for item, image, p in zip(items, x, probs):
            best = int(p.argmax())
            mask = np.abs(image.astype(int) - image[0, 0].astype(int)).sum(2) > 30
            ys, xs = np.nonzero(mask)
            if len(xs):
                box = {"x": int(xs.min()), "y": int(ys.min()), "width": int(xs.max() - xs.min() + 1), "height": int(ys.max() - ys.min() + 1)}
                mean = image[mask].mean(0)
            else:
                box, mean = {"x": 0, "y": 0, "width": 1, "height": 1}, np.zeros(3)
            color = min(COLORS, key=lambda c: sum((COLORS[c][k] - mean[k]) ** 2 for k in range(3)))
            doc = {"version": 1, "data_type": "image", "annotations": [{"id": "pred-%d" % item["id"], "type": "bbox", "class_name": model["classes"][best], **box, "attributes": {"color": color}, "confidence": round(float(p[best]), 6)}]}
            if item["annotations"].get("size"):
                doc["size"] = item["annotations"]["size"]
            out.append({"itemId": item["id"], "annotations": doc})
        return out
