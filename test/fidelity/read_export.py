"""Reads an export with the real tools and prints what they see, as JSON (export-fidelity tests).

usage: read_export.py datumaro <format> <dir>   items, boxes and labels as datumaro's importer reads them
       read_export.py coco <instances.json>     pycocotools: load, annToMask per box, COCOeval of the
                                                ground truth against itself (AP), file names, image sizes
       read_export.py ultralytics <data.yaml>   the dataset as Ultralytics' check_det_dataset and
                                                img2label_paths resolve it (run from another folder)
       read_export.py xml <file>...             each file through xml.etree (well-formed or the error)
"""
import contextlib
import io
import json
import os
import sys


def datumaro(fmt, path):
    import datumaro as dm

    ds = dm.Dataset.import_from(path, fmt)
    labels = [c.name for c in ds.categories()[dm.AnnotationType.label]]
    items = []
    for item in ds:
        boxes = sorted(
            [labels[a.label], round(a.x, 4), round(a.y, 4), round(a.w, 4), round(a.h, 4)]
            for a in item.annotations
            if a.type == dm.AnnotationType.bbox
        )
        items.append({"id": item.id, "subset": item.subset, "boxes": boxes})
    items.sort(key=lambda i: i["id"])
    return {"labels": labels, "items": items}


def coco(path):
    with contextlib.redirect_stdout(io.StringIO()):
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        gt = COCO(path)
        masks = 0
        for ann in gt.loadAnns(gt.getAnnIds()):
            m = gt.annToMask(ann)
            masks += int(m.sum() > 0)
        dets = [dict(a, score=1.0) for a in gt.loadAnns(gt.getAnnIds())]
        ap = None
        if dets:
            ev = COCOeval(gt, gt.loadRes(dets), "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            ap = float(ev.stats[0])
    images = gt.loadImgs(sorted(gt.getImgIds()))
    return {
        "images": [{"id": i["id"], "file_name": i["file_name"], "size": [i["width"], i["height"]], "boxes": sorted([gt.loadCats(a["category_id"])[0]["name"], *a["bbox"], a["area"]] for a in gt.loadAnns(gt.getAnnIds(imgIds=[i["id"]])))} for i in images],
        "masks": masks,
        "ap": ap,
    }


def ultralytics(yaml_file):
    # ultralytics.data.utils.check_det_dataset and img2label_paths, followed by hand.
    import yaml

    data = yaml.safe_load(open(yaml_file))
    path = data.get("path") or os.path.dirname(yaml_file)
    if not os.path.exists(path) and not os.path.isabs(path):
        path = os.path.join(os.path.expanduser("~/datasets"), path)
    out = {"names": data["names"], "nc": data["nc"], "splits": {}}
    for k in ("train", "val"):
        d = os.path.join(path, data[k])
        if not os.path.isdir(d):
            out["splits"][k] = {"missing": d}
            continue
        images = sorted(f for f in os.listdir(d) if f.lower().endswith((".png", ".jpg", ".jpeg")))
        rows = {}
        for f in images:
            img = os.path.join(d, f)
            sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
            label = sb.join(img.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"
            if not os.path.isfile(label):
                rows[f] = None
                continue
            rows[f] = [[int(p[0])] + [float(x) for x in p[1:]] for p in (line.split() for line in open(label)) if p]
        out["splits"][k] = rows
    return out


def xml(files):
    import xml.etree.ElementTree as ET

    out = {}
    for f in files:
        try:
            ET.parse(f)
            out[os.path.basename(f)] = "ok"
        except ET.ParseError as e:
            out[os.path.basename(f)] = str(e)
    return out


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "datumaro":
        result = datumaro(sys.argv[2], sys.argv[3])
    elif cmd == "coco":
        result = coco(sys.argv[2])
    elif cmd == "ultralytics":
        result = ultralytics(sys.argv[2])
    else:
        result = xml(sys.argv[2:])
    print(json.dumps(result))
