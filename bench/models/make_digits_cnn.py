#!/usr/bin/env python3
"""Train and export the benchmark's digits CNN.

A small CNN on the UCI hand-written digits (scikit-learn's bundled copy), trained with torch on the same
80/20 split as the Digits sample's MLP (samples/Digits/make_model.py: stratified, random_state=0), so that
samples/Digits/Data/digits-test.csv is its held-out test split too. Same interface as the MLP: input
"pixels" [batch, 64] with raw values 0..16 (scaled and reshaped to [batch, 1, 8, 8] in the graph), outputs
"logits" [batch, 10].

    Conv 3x3 1->32, ReLU, Conv 3x3 32->64, ReLU, MaxPool 2, Conv 3x3 64->128, ReLU, MaxPool 2,
    Flatten, Gemm 512->128, ReLU, Gemm 128->10

Output: bench/models/digits_cnn.onnx (opset 17). Run with Debian's Python (python3-torch, python3-sklearn,
python3-onnx):

    /usr/bin/python3 bench/models/make_digits_cnn.py

Training is seeded and single-threaded; the script prints the test accuracy. Nothing in the build or the
tests runs Python; the output is committed.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "digits_cnn.onnx")
SEED = 0


class DigitsCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(64, 128, 3, padding=1)
        self.fc1 = torch.nn.Linear(128 * 2 * 2, 128)
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, pixels):
        x = (pixels / 16.0).reshape(-1, 1, 8, 8)
        x = torch.relu(self.conv1(x))
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv3(x)), 2)
        x = torch.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    np.random.seed(SEED)
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=SEED)
    model = DigitsCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(40):
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, len(xt), 64):
            batch = order[start:start + 64]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[batch]), yt[batch])
            loss.backward()
            optimizer.step()

    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(x_test)).argmax(1).numpy()
    accuracy = float((predicted == y_test).mean())
    torch.onnx.export(model, torch.zeros(1, 64), OUT, input_names=["pixels"], output_names=["logits"],
                      dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17)
    onnx_model = onnx.load(OUT)
    onnx_model.doc_string = ("CNN (3 conv, 2 dense) classifying 8x8 UCI hand-written digits; input raw pixels 0..16. "
                             f"Test accuracy {accuracy:.4f} on the 360-image split. Made by bench/models/make_digits_cnn.py.")
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, OUT)
    print(f"{OUT}: test accuracy {accuracy:.4f} ({int((predicted == y_test).sum())}/{len(y_test)})")


if __name__ == "__main__":
    main()
