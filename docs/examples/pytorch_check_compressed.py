# docs/pytorch.md's check: PyTorch and onnx accept symcheck's compressed files, with the original's outputs.
# Run: python3 docs/examples/pytorch_check_compressed.py DIR   (after pytorch_symmetry.py and symcheck --compress)
import json
import struct
import sys

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from pytorch_symmetry import titanic  # noqa: E402


def load_sequential(state):
    hidden, inputs = state["0.weight"].shape
    model = nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, state["2.weight"].shape[0]))
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    return model


def main(d):
    X, _ = titanic()
    original, small = (load_sequential(dict(np.load(f"{d}/{f}"))) for f in ("model.npz", "small.npz"))
    with torch.no_grad():
        in_float32 = float((original(X) - small(X)).abs().max())
        in_float64 = float((original.double()(X.double()) - small.double()(X.double())).abs().max())
    print("small.npz: loads into nn.Sequential with", small[0].out_features, "hidden unit; largest |difference| of"
          " the logits on the Titanic data:", in_float64, "in float64,", in_float32, "in float32")
    m = onnx.load(f"{d}/small.onnx")
    onnx.checker.check_model(m)
    print("small.onnx: passes onnx.checker;", {i.name: list(i.dims) for i in m.graph.initializer})
    try:
        from safetensors.torch import load_file
        print("small.safetensors:", {k: tuple(v.shape) for k, v in load_file(f"{d}/small.safetensors").items()})
    except ImportError:  # the header by hand: 8-byte little-endian length, then JSON
        with open(f"{d}/small.safetensors", "rb") as f:
            header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        print("small.safetensors (header read by hand; safetensors not installed):",
              {k: (v["dtype"], v["shape"]) for k, v in header.items() if k != "__metadata__"})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
