#!/usr/bin/env python3
"""Torch's one-shot pruning of the benchmark's two digits models: the baseline `--sparsity` compares against.

Loads the trained weights of samples/Digits/Models/digits.onnx (MLP 64-256-256-10) and bench/models/digits_cnn.onnx
(3 Conv, 2 Gemm) into equivalent torch modules, checks that torch predicts exactly what the ONNX graph predicts on the
360 test images (the graph is evaluated node by node with NumPy, independently of torch), then prunes with
torch.nn.utils.prune, one-shot, no fine-tuning, and measures the accuracy on the digits test split
(samples/Digits/Data/digits-test.csv):

- l1_unstructured per layer at 50/75/90% of every Linear and Conv weight (biases untouched);
- global_unstructured (L1) at 50/75/90% over all those weights together, for reference;
- ln_structured (n=2, dim=0) on the hidden layers: 50% of the neurons of the MLP's two hidden layers, 30% of the
  filters of the CNN's three convolutions and of the neurons of its hidden dense layer (torch zeroes the weight rows
  and keeps the biases, as its prune module does).

It also writes the calibration samples the C# benchmark gives the compressor: the first 512 images of the digits
TRAINING split (scikit-learn's load_digits, train_test_split(test_size=0.2, stratify, random_state=0), as
samples/Digits/make_model.py and bench/models/make_digits_cnn.py split it, so that no test image is among them), raw
pixel values 0..16 as float32, in bench/sparsity/calibration/pixels.npy ([512, 64]: both models take `pixels`).

Outputs: bench/sparsity/torch_baseline.json, bench/sparsity/calibration/pixels.npy, and a Markdown table on stdout.
Run from anywhere with Debian's Python (python3-torch, python3-onnx, python3-sklearn):

    /usr/bin/python3 bench/sparsity/torch_baseline.py

Single-threaded and deterministic: a second run rewrites both files byte for byte.
"""

import json
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn.utils.prune as prune  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MLP_PATH = os.path.join(ROOT, "samples", "Digits", "Models", "digits.onnx")
CNN_PATH = os.path.join(ROOT, "bench", "models", "digits_cnn.onnx")
TEST_CSV = os.path.join(ROOT, "samples", "Digits", "Data", "digits-test.csv")
OUT_JSON = os.path.join(HERE, "torch_baseline.json")
CALIBRATION = os.path.join(HERE, "calibration")
CALIBRATION_SAMPLES = 512
SEED = 0
AMOUNTS = (0.5, 0.75, 0.9)


def load_test_split():
    """The CSV as DigitsTestSet.cs reads it: a header, then label and 64 pixel values per line."""
    with open(TEST_CSV, encoding="ascii") as f:
        lines = [line for line in f.read().split("\n")[1:] if line]
    rows = np.array([[float(v) for v in line.split(",")] for line in lines], dtype=np.float32)
    return rows[:, 1:], rows[:, 0].astype(np.int64)


def write_calibration(x_test):
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_split_test, _, _ = train_test_split(x, y, test_size=0.2, stratify=y, random_state=SEED)
    if not np.array_equal(x_split_test, x_test):
        raise SystemExit("the split's test images are not digits-test.csv's: the calibration split would be wrong")
    samples = np.ascontiguousarray(x_train[:CALIBRATION_SAMPLES], dtype=np.float32)
    os.makedirs(CALIBRATION, exist_ok=True)
    np.save(os.path.join(CALIBRATION, "pixels.npy"), samples)
    return {"folder": "bench/sparsity/calibration", "file": "pixels.npy", "samples": int(samples.shape[0]),
            "split": "first 512 images of the training split (load_digits, train_test_split test_size=0.2, stratify, random_state=0)"}


# --- the ONNX graph evaluated with NumPy, independently of torch -------------------------------------------------


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _conv(x, w, b, pads, strides):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (x.shape[2] - kh) // strides[0] + 1
    ow = (x.shape[3] - kw) // strides[1] + 1
    out = np.zeros((n, f, oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + oh * strides[0]:strides[0], j:j + ow * strides[1]:strides[1]].astype(np.float64)
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, i, j].astype(np.float64))
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out.astype(np.float32)


def _maxpool(x, kernel, strides):
    n, c, h, w = x.shape
    oh = (h - kernel[0]) // strides[0] + 1
    ow = (w - kernel[1]) // strides[1] + 1
    out = np.full((n, c, oh, ow), -np.inf, dtype=np.float32)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            out = np.maximum(out, x[:, :, i:i + oh * strides[0]:strides[0], j:j + ow * strides[1]:strides[1]])
    return out


def run_onnx_numpy(model, pixels):
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = pixels
    for node in model.graph.node:
        a = [env[name] if name else None for name in node.input]
        op = node.op_type
        if op == "Constant":
            out = numpy_helper.to_array(_attr(node, "value", None))
        elif op == "Div":
            out = a[0] / a[1]
        elif op == "Mul":
            out = a[0] * a[1]
        elif op == "Add":
            out = a[0] + a[1]
        elif op == "Reshape":
            out = a[0].reshape([int(d) for d in a[1]])
        elif op == "Relu":
            out = np.maximum(a[0], np.float32(0))
        elif op == "Conv":
            if _attr(node, "group", 1) != 1 or list(_attr(node, "dilations", [1, 1])) != [1, 1]:
                raise NotImplementedError("Conv with groups or dilations")
            out = _conv(a[0], a[1], a[2] if len(a) > 2 else None, _attr(node, "pads", [0, 0, 0, 0]), _attr(node, "strides", [1, 1]))
        elif op == "MaxPool":
            out = _maxpool(a[0], _attr(node, "kernel_shape", None), _attr(node, "strides", [1, 1]))
        elif op == "Flatten":
            out = a[0].reshape(a[0].shape[0], -1)
        elif op == "Gemm":
            w = a[1].T if _attr(node, "transB", 0) else a[1]
            out = a[0] @ w + (a[2] if len(a) > 2 else 0)
        elif op == "MatMul":
            out = a[0] @ a[1]
        elif op == "Softmax":
            z = np.exp(a[0] - a[0].max(axis=-1, keepdims=True))
            out = z / z.sum(axis=-1, keepdims=True)
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = np.asarray(out, dtype=np.float32)
    return env["logits"]


# --- the torch modules ----------------------------------------------------------------------------------------------


class DigitsMlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(64, 256)
        self.fc2 = torch.nn.Linear(256, 256)
        self.fc3 = torch.nn.Linear(256, 10)

    def forward(self, pixels):
        x = pixels * (1.0 / 16.0)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)

    def hidden_layers(self):
        return [self.fc1, self.fc2]


class DigitsCnn(torch.nn.Module):
    """bench/models/make_digits_cnn.py's module."""

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

    def hidden_layers(self):
        return [self.conv1, self.conv2, self.conv3, self.fc1]


def load_mlp(model):
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    module = DigitsMlp()
    with torch.no_grad():
        for i in (1, 2, 3):
            layer = getattr(module, "fc%d" % i)
            layer.weight.copy_(torch.from_numpy(weights["fc%d.weight" % i].T.copy()))  # MatMul [in, out] -> Linear [out, in]
            layer.bias.copy_(torch.from_numpy(weights["fc%d.bias" % i].copy()))
    if float(weights["input.scale"].reshape(-1)[0]) != np.float32(1.0 / 16.0):
        raise SystemExit("the MLP's input scale is not 1/16")
    return module.eval()


def load_cnn(model):
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    module = DigitsCnn()
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            parameter.copy_(torch.from_numpy(weights[name].copy()))  # the export kept torch's names and layouts
    return module.eval()


def prunable(module):
    return [(m, "weight") for m in module.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]


def evaluate(module, x_test, y_test):
    with torch.no_grad():
        predicted = module(torch.from_numpy(x_test)).argmax(1).numpy()
    correct = int((predicted == y_test).sum())
    return correct, predicted


def weight_sparsity(module):
    zeros = total = 0
    for m, _ in prunable(module):
        w = m.weight.detach()
        zeros += int((w == 0).sum())
        total += w.numel()
    return zeros / total


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    x_test, y_test = load_test_split()
    calibration = write_calibration(x_test)
    result = {
        "torch": torch.__version__.split("+")[0],
        "test_images": int(len(y_test)),
        "calibration": calibration,
        "models": {},
    }
    table = []
    for name, path, loader, structured in (("digits-mlp", MLP_PATH, load_mlp, 0.5), ("digits-cnn", CNN_PATH, load_cnn, 0.3)):
        model = onnx.load(path)
        onnx_logits = run_onnx_numpy(model, x_test)
        onnx_correct = int((onnx_logits.argmax(1) == y_test).sum())
        module = loader(model)
        correct, predicted = evaluate(module, x_test, y_test)
        if not np.array_equal(predicted, onnx_logits.argmax(1)) or correct != onnx_correct:
            raise SystemExit("%s: torch predicts %d images differently from the ONNX graph" % (name, int((predicted != onnx_logits.argmax(1)).sum())))
        with torch.no_grad():
            largest = float(np.abs(module(torch.from_numpy(x_test)).numpy() - onnx_logits).max())
        original = correct / len(y_test)
        rows = []
        table.append((name, {"method": "original (torch = the ONNX graph on all %d images)" % len(y_test), "amount": 0.0,
                             "accuracy": original, "correct": correct, "loss_points": 0.0, "weight_sparsity": weight_sparsity(module)}))

        def measure(method, amount, apply):
            pruned = loader(model)
            apply(pruned)
            for m, p in prunable(pruned):
                if prune.is_pruned(m):
                    prune.remove(m, p)
            c, _ = evaluate(pruned, x_test, y_test)
            row = {
                "method": method,
                "amount": amount,
                "accuracy": c / len(y_test),
                "correct": c,
                "loss_points": round(100.0 * (original - c / len(y_test)), 4),
                "weight_sparsity": round(weight_sparsity(pruned), 6),
            }
            rows.append(row)
            table.append((name, row))

        for amount in AMOUNTS:
            measure("l1_unstructured", amount,
                    lambda m, a=amount: [prune.l1_unstructured(layer, "weight", amount=a) for layer, _ in prunable(m)])
        for amount in AMOUNTS:
            measure("global_unstructured", amount,
                    lambda m, a=amount: prune.global_unstructured(prunable(m), pruning_method=prune.L1Unstructured, amount=a))
        measure("ln_structured", structured,
                lambda m: [prune.ln_structured(layer, "weight", amount=structured, n=2, dim=0) for layer in m.hidden_layers()])

        result["models"][name] = {
            "file": os.path.relpath(path, ROOT).replace(os.sep, "/"),
            "layers": [n for n, p in module.named_parameters() if n.endswith("weight")],
            "structured_layers": [n for n, m in module.named_modules() if m in module.hidden_layers()],
            "original": {"accuracy": original, "correct": correct, "largest_logit_difference_vs_onnx": float("%.3g" % largest)},
            "rows": rows,
        }

    with open(OUT_JSON, "w", encoding="utf-8", newline="\n") as f:
        json.dump(result, f, indent=2, sort_keys=False)
        f.write("\n")

    print("torch %s, one-shot torch.nn.utils.prune, no fine-tuning; digits test split (%d images)" % (result["torch"], len(y_test)))
    print()
    print("| model | method | amount | accuracy | loss (points) | zeros in Linear/Conv weights |")
    print("|---|---|---:|---:|---:|---:|")
    for name, row in table:
        print("| %s | %s | %s | %.2f%% | %.2f | %.1f%% |" % (
            name, row["method"], ("%g" % row["amount"]) if row["amount"] else "-", 100 * row["accuracy"], row["loss_points"],
            100 * row["weight_sparsity"]))
    print()
    print("wrote %s and %s" % (os.path.relpath(OUT_JSON, ROOT), os.path.relpath(os.path.join(CALIBRATION, "pixels.npy"), ROOT)))


if __name__ == "__main__":
    main()
