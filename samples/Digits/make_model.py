#!/usr/bin/env python3
"""Make the Digits sample's committed model and reference data.

Trains a small MLP on the UCI hand-written digits (scikit-learn's bundled
copy), exports it to ONNX by building the graph by hand with onnx.helper,
writes the held-out test split as CSV, and checks that the exported graph
predicts exactly what scikit-learn predicts.

Outputs (relative to this script's folder):
    Models/digits.onnx
    Data/digits-test.csv
    Data/README.md

Run with Debian's Python (needs numpy, scikit-learn, onnx):
    /usr/bin/python3 samples/Digits/make_model.py

The script is deterministic: running it twice gives byte-identical files.
Nothing in the build or the tests runs Python; the outputs are committed.
"""

import os

# Single-threaded BLAS so that training is reproducible bit for bit.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "Models", "digits.onnx")
CSV_PATH = os.path.join(HERE, "Data", "digits-test.csv")
README_PATH = os.path.join(HERE, "Data", "README.md")

SEED = 0
PIXEL_MAX = 16.0
N_PIXELS = 64
N_CLASSES = 10
OPSET = 17
IR_VERSION = 8


def load_split():
    digits = load_digits()
    x = digits.data.astype(np.int64)  # 1797 x 64, values 0..16
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=SEED)
    return x_train, x_test, y_train, y_test


def train(x_train, y_train):
    clf = MLPClassifier(
        hidden_layer_sizes=(256, 256),
        activation="relu",
        solver="adam",
        max_iter=1000,
        random_state=SEED,
    )
    clf.fit(x_train.astype(np.float64) / PIXEL_MAX, y_train)
    if clf.n_iter_ >= clf.max_iter:
        raise SystemExit("MLP did not converge within max_iter")
    if list(clf.classes_) != list(range(N_CLASSES)):
        raise SystemExit("unexpected classes: %r" % (clf.classes_,))
    return clf


def f32_initializer(name, array):
    array = np.ascontiguousarray(array, dtype=np.float32)
    return helper.make_tensor(
        name=name,
        data_type=TensorProto.FLOAT,
        dims=list(array.shape),
        vals=array.tobytes(),
        raw=True,
    )


def build_model(clf):
    weights = [np.asarray(w, dtype=np.float32) for w in clf.coefs_]        # [in, out]
    biases = [np.asarray(b, dtype=np.float32) for b in clf.intercepts_]  # [out]
    assert [w.shape for w in weights] == [(64, 256), (256, 256), (256, 10)]

    initializers = [f32_initializer("input.scale",
                                    np.array([1.0 / PIXEL_MAX], dtype=np.float32))]
    for i, (w, b) in enumerate(zip(weights, biases), start=1):
        initializers.append(f32_initializer("fc%d.weight" % i, w))
        initializers.append(f32_initializer("fc%d.bias" % i, b))

    nodes = [
        helper.make_node("Mul", ["pixels", "input.scale"], ["scaled"], name="scale"),
        helper.make_node("MatMul", ["scaled", "fc1.weight"], ["fc1.matmul"], name="fc1_matmul"),
        helper.make_node("Add", ["fc1.matmul", "fc1.bias"], ["fc1.out"], name="fc1_add"),
        helper.make_node("Relu", ["fc1.out"], ["relu1"], name="relu1"),
        helper.make_node("MatMul", ["relu1", "fc2.weight"], ["fc2.matmul"], name="fc2_matmul"),
        helper.make_node("Add", ["fc2.matmul", "fc2.bias"], ["fc2.out"], name="fc2_add"),
        helper.make_node("Relu", ["fc2.out"], ["relu2"], name="relu2"),
        helper.make_node("MatMul", ["relu2", "fc3.weight"], ["fc3.matmul"], name="fc3_matmul"),
        helper.make_node("Add", ["fc3.matmul", "fc3.bias"], ["logits"], name="fc3_add"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=-1),
    ]

    graph = helper.make_graph(
        nodes,
        name="digits_mlp",
        inputs=[helper.make_tensor_value_info(
            "pixels", TensorProto.FLOAT, ["batch", N_PIXELS],
            doc_string="8x8 grey-level image, row-major, raw pixel values 0..16")],
        outputs=[
            helper.make_tensor_value_info(
                "logits", TensorProto.FLOAT, ["batch", N_CLASSES],
                doc_string="unnormalised class scores for digits 0..9"),
            helper.make_tensor_value_info(
                "probabilities", TensorProto.FLOAT, ["batch", N_CLASSES],
                doc_string="softmax of logits"),
        ],
        initializer=initializers,
    )

    model = helper.make_model(
        graph,
        producer_name="Compression.Build samples",
        producer_version="1.0",
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=(
            "MLP (64-256-256-10, ReLU) classifying the UCI hand-written digits "
            "(8x8 images, pixel values 0..16). Input 'pixels' takes raw pixel "
            "values; the graph scales them by 1/16. Outputs 'logits' and "
            "'probabilities' (softmax). Made by samples/Digits/make_model.py."),
    )
    model.ir_version = IR_VERSION
    model.model_version = 1
    onnx.checker.check_model(model, full_check=True)
    return model


def run_graph_numpy(model, x):
    """Evaluate the exported graph node by node with numpy (float32)."""
    env = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    env["pixels"] = np.asarray(x, dtype=np.float32)
    for node in model.graph.node:
        a = [env[name] for name in node.input]
        if node.op_type == "Mul":
            out = a[0] * a[1]
        elif node.op_type == "MatMul":
            out = a[0] @ a[1]
        elif node.op_type == "Add":
            out = a[0] + a[1]
        elif node.op_type == "Relu":
            out = np.maximum(a[0], np.float32(0))
        elif node.op_type == "Softmax":
            z = a[0] - a[0].max(axis=-1, keepdims=True)
            e = np.exp(z)
            out = e / e.sum(axis=-1, keepdims=True)
        else:
            raise NotImplementedError(node.op_type)
        env[node.output[0]] = out.astype(np.float32)
    return env["logits"], env["probabilities"]


def write_csv(x_test, y_test):
    header = ",".join(["label"] + ["p%d" % i for i in range(N_PIXELS)])
    lines = [header]
    for label, pixels in zip(y_test, x_test):
        lines.append(",".join([str(int(label))] + [str(int(p)) for p in pixels]))
    with open(CSV_PATH, "w", newline="\n", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")


def write_readme(n_train, n_test, accuracy, n_correct):
    text = """# Digits sample data

`digits-test.csv` is the test split of the UCI ML hand-written digits data
set (Optical Recognition of Handwritten Digits), taken from the copy bundled
with scikit-learn (`sklearn.datasets.load_digits`): 1797 images of 8x8
pixels, each pixel an integer 0..16.

The data set is from the UCI Machine Learning Repository
(https://archive.ics.uci.edu/dataset/80), by E. Alpaydin and C. Kaynak,
licensed under CC BY 4.0.

## Format

A header line `label,p0,...,p63`, then one line per image: the digit (0..9)
and the 64 pixel values, row by row.

## How it was made

The 1797 images were split 80/20 with
`train_test_split(test_size=0.2, stratify=target, random_state=0)`:
{n_train} training images, {n_test} test images (this file). An MLP
(64-256-256-10, ReLU, `MLPClassifier(random_state=0)`, input scaled by 1/16)
was trained on the training split and exported by hand to
`../Models/digits.onnx` (opset 17; input `pixels` [batch, 64] takes raw
pixel values 0..16; outputs `logits` and `probabilities` [batch, 10]).

Test accuracy of the exported model: {accuracy:.4f} ({n_correct}/{n_test}).

## Regenerate

From the repository root, with Debian's Python (numpy, scikit-learn, onnx):

    /usr/bin/python3 samples/Digits/make_model.py

The script is deterministic; it rewrites `Models/digits.onnx`,
`Data/digits-test.csv` and this README byte for byte.
""".format(n_train=n_train, n_test=n_test, accuracy=accuracy, n_correct=n_correct)
    with open(README_PATH, "w", newline="\n", encoding="utf-8") as f:
        f.write(text)


def main():
    np.random.seed(SEED)
    os.makedirs(os.path.dirname(MODEL_PATH), exist_ok=True)
    os.makedirs(os.path.dirname(CSV_PATH), exist_ok=True)

    x_train, x_test, y_train, y_test = load_split()
    clf = train(x_train, y_train)
    sk_pred = clf.predict(x_test.astype(np.float64) / PIXEL_MAX)
    sk_acc = float(np.mean(sk_pred == y_test))

    model = build_model(clf)
    logits, probs = run_graph_numpy(model, x_test)
    onnx_pred = logits.argmax(axis=1)
    if not np.array_equal(onnx_pred, sk_pred):
        n = int(np.sum(onnx_pred != sk_pred))
        raise SystemExit("ONNX graph disagrees with scikit-learn on %d test images" % n)
    if not np.array_equal(probs.argmax(axis=1), onnx_pred):
        raise SystemExit("argmax(probabilities) != argmax(logits)")
    sk_probs = clf.predict_proba(x_test.astype(np.float64) / PIXEL_MAX)
    max_prob_diff = float(np.max(np.abs(sk_probs - probs)))
    if max_prob_diff > 1e-4:
        raise SystemExit("probabilities differ from scikit-learn by %g" % max_prob_diff)

    n_correct = int(np.sum(onnx_pred == y_test))
    accuracy = n_correct / len(y_test)
    assert accuracy == sk_acc

    onnx.save_model(model, MODEL_PATH)
    onnx.checker.check_model(MODEL_PATH, full_check=True)
    write_csv(x_test, y_test)
    write_readme(len(y_train), len(y_test), accuracy, n_correct)

    print("train: %d images, test: %d images, MLP iterations: %d"
          % (len(y_train), len(y_test), clf.n_iter_))
    print("ONNX graph matches scikit-learn predictions (max |dp| = %.2g)" % max_prob_diff)
    print("test accuracy: %.4f (%d/%d)" % (accuracy, n_correct, len(y_test)))
    print("wrote %s, %s, %s" % (os.path.relpath(MODEL_PATH), os.path.relpath(CSV_PATH),
                                os.path.relpath(README_PATH)))


if __name__ == "__main__":
    main()
