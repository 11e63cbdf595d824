#!/usr/bin/env python3
"""Cross-check uasense's SigMF with the reference Python implementation (`pip install sigmf`).

  sigmf_interop.py read PATH OUT.cf32   - open PATH (pair or .sigmf archive) with sigmf-python,
                                          print its metadata as JSON, write its samples (as
                                          sigmf-python scales them) to OUT.cf32
  sigmf_interop.py write PATH DATATYPE  - write a deterministic recording with sigmf-python
                                          (pair if PATH ends in .sigmf-meta, archive if .sigmf)
                                          and its raw integer/float components to PATH.components
"""
import json
import sys

import numpy as np
from sigmf import SigMFFile, sigmffile

RATE_HZ = 2_400_000
FREQ_HZ = 915_000_000
DATETIME = "2026-11-29T14:16:44.250000Z"


def read(path, out):
    handle = sigmffile.fromfile(path)
    samples = handle.read_samples()
    samples.astype(np.complex64).tofile(out)
    capture = handle.get_captures()[0]
    print(json.dumps({
        "datatype": handle.get_global_field("core:datatype"),
        "sample_rate": handle.get_global_field("core:sample_rate"),
        "frequency": capture.get("core:frequency"),
        "datetime": capture.get("core:datetime"),
        "hw": handle.get_global_field("core:hw"),
        "count": int(len(samples)),
        "labels": [a.get("core:label") for a in handle.get_annotations()],
    }))


def write(path, datatype):
    n = 5000
    rng = np.random.default_rng(1234)
    kinds = {"cf32_le": np.float32, "ci16_le": np.int16, "ci8": np.int8, "cu8": np.uint8}
    kind = kinds[datatype]
    if kind == np.float32:
        comps = rng.uniform(-1, 1, 2 * n).astype(np.float32)
    else:
        info = np.iinfo(kind)
        comps = rng.integers(info.min, info.max, 2 * n, endpoint=True).astype(kind)
    comps.tofile(path + ".components")
    stem = path[: -len(".sigmf-meta")] if path.endswith(".sigmf-meta") else path[: -len(".sigmf")]
    data_path = stem + ".sigmf-data"
    comps.tofile(data_path)
    meta = SigMFFile(
        data_file=data_path,
        global_info={
            "core:datatype": datatype,
            "core:sample_rate": RATE_HZ,
            "core:version": "1.2.0",
            "core:hw": "python-sigmf",
        },
    )
    meta.add_capture(0, metadata={"core:frequency": FREQ_HZ, "core:datetime": DATETIME})
    meta.add_annotation(1000, 200, metadata={"core:label": "py-burst",
                                             "core:freq_lower_edge": FREQ_HZ - 1e5, "core:freq_upper_edge": FREQ_HZ + 1e5})
    meta.tofile(path, toarchive=path.endswith(".sigmf"))


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3])
    else:
        write(sys.argv[2], sys.argv[3])
