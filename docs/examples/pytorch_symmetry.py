# docs/pytorch.md's example: a PyTorch model with symmetry by construction, exported as .onnx, .npz and .safetensors.
# Run: python3 docs/examples/pytorch_symmetry.py OUTDIR   (needs torch and numpy; safetensors if installed)
import json
import struct
import sys

import numpy as np
import torch
from torch import nn

# The Titanic table (R's datasets::Titanic), in symcheck's embedded order of features:
# class_1st, class_2nd, class_3rd, class_crew, sex_male, age_adult; label survived.
CELLS = [  # (class, male, adult, died, survived)
    (0, 1, 0, 0, 5), (0, 1, 1, 118, 57), (0, 0, 0, 0, 1), (0, 0, 1, 4, 140),
    (1, 1, 0, 0, 11), (1, 1, 1, 154, 14), (1, 0, 0, 0, 13), (1, 0, 1, 13, 80),
    (2, 1, 0, 35, 13), (2, 1, 1, 387, 75), (2, 0, 0, 17, 14), (2, 0, 1, 89, 76),
    (3, 1, 0, 0, 0), (3, 1, 1, 670, 192), (3, 0, 0, 0, 0), (3, 0, 1, 3, 20),
]


def titanic():
    rows, labels = [], []
    for cls, male, adult, died, survived in CELLS:
        x = [1.0 if c == cls else 0.0 for c in range(4)] + [float(male), float(adult)]
        rows += [x] * (died + survived)
        labels += [0.0] * died + [1.0] * survived
    return torch.tensor(rows), torch.tensor(labels).unsqueeze(1)


def save_safetensors(state, path):
    try:
        from safetensors.torch import save_file
        save_file(state, path)
    except ImportError:  # the same bytes by hand: 8-byte header length, JSON header, raw little-endian data
        header, data, offset = {}, b"", 0
        for name, t in state.items():
            raw = t.contiguous().numpy().astype("<f4").tobytes()
            header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
            data += raw
            offset += len(raw)
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + data)


def main(out):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 1))
    for layer in (model[0], model[2]):  # the mistake: every weight the same
        nn.init.constant_(layer.weight, 0.5)
        nn.init.zeros_(layer.bias)
    X, y = titanic()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(50):
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
    print("loss after 50 steps:", float(loss))
    print("hidden weights (rows equal):\n", model[0].weight.detach().numpy())

    model.eval()
    torch.onnx.export(model, torch.zeros(1, 6), f"{out}/model.onnx", input_names=["x"], output_names=["logit"],
                      dynamic_axes={"x": {0: "batch"}, "logit": {0: "batch"}})
    np.savez(f"{out}/model.npz", **{k: v.numpy() for k, v in model.state_dict().items()})
    save_safetensors(model.state_dict(), f"{out}/model.safetensors")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
