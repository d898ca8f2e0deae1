"""Example submissions of hw3/classifier_metrics: realistic answers and exactly what they earn (see autograder/examples.py).

Only the reference trains the network for real (3 epochs); `one_epoch` trains it for one epoch (the
undertrained model) and `keras_bincount` for one epoch on 2,000 digits (Keras, a few seconds). Every
other example replaces the training cell with no training at all, to keep CI cheap: its untrained
model loses the two accuracy checks, and its metrics are then judged on an untrained model's
predictions, which are nearly all one digit (so 0/0 scores do occur there).
"""
from autograder.examples import Example

NO_TRAINING = '''# (example: no training, to keep the CI cheap)'''
UNTRAINED = {"test_model_learned": 0, "test_heldout_accuracy": 0}
# test_metrics_of_model: a third of its points per function (confusion matrix, per-class, weighted).
TWO_OF_THREE = round(2 * 2 / 3, 4)
ONE_OF_THREE = round(2 * 1 / 3, 4)
ONE_THIRD = {"test_zero_division": round(1 / 3, 4), "test_weighted_scores": round(2 / 3, 4)}

# -- the network and its training -------------------------------------------------------------------
# One epoch instead of three: a real, undertrained model that clearly learned something.
ONE_EPOCH = '''images = torch.from_numpy(x_train)
labels = torch.from_numpy(y_train).long()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
model.train()
order = torch.randperm(len(images))
for start in range(0, len(images), 64):      # one epoch is enough, the loss is already low
    batch = order[start:start + 64]
    optimizer.zero_grad()
    loss = loss_fn(model(images[batch]), labels[batch])
    loss.backward()
    optimizer.step()
test_accuracy = np.mean(predict_classes(model, x_test) == y_test)
print(f"Test accuracy: {test_accuracy:.4f}")'''

# The loop commented out, and an accuracy typed in.
UNTRAINED_TRAINING = '''optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
# The training takes too long on my laptop; it reached 0.97 yesterday.
# for epoch in range(3):
#     for start in range(0, len(x_train), 64):
#         ...
print("Test accuracy: 0.9700")'''

# The same network in Keras (the question allows it), trained briefly to keep CI cheap.
KERAS_MODEL = '''import keras
from keras import layers

keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, padding="same", activation="relu"),
    layers.Conv2D(64, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dropout(0.5),
    layers.Dense(10),
])'''

KERAS_TRAINING = '''model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
# Keras wants channels last: (N, 1, 28, 28) -> (N, 28, 28, 1).
model.fit(x_train[:2000].transpose(0, 2, 3, 1), y_train[:2000], epochs=1, batch_size=64, verbose=2)
test_loss, test_accuracy = model.evaluate(x_test.transpose(0, 2, 3, 1), y_test, verbose=0)
print(f"Test accuracy: {test_accuracy:.4f}")'''

# -- the metrics ------------------------------------------------------------------------------------
# Correct, written differently: np.bincount for the counts, np.nan_to_num for 0/0, np.average.
BINCOUNT_METRICS = '''def confusion_matrix(y_true, y_pred, num_classes):
    y_true = np.asarray(y_true).astype(np.int64)
    y_pred = np.asarray(y_pred).astype(np.int64)
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def precision_recall_f1(y_true, y_pred, num_classes):
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / (tp + fp))
        recall = np.nan_to_num(tp / (tp + fn))
        f1 = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
    return {"precision": precision, "recall": recall, "f1": f1}


def weighted_scores(y_true, y_pred, num_classes):
    support = np.bincount(np.asarray(y_true).astype(np.int64), minlength=num_classes)
    scores = precision_recall_f1(y_true, y_pred, num_classes)
    return {name: np.average(values, weights=support) for name, values in scores.items()}'''


def _mask_metrics(count: str = "cm[t, p] += 1", average: str = "np.sum(scores[name] * support) / support.sum()",
                  precision: str = "tp / (tp + fp)", recall: str = "tp / (tp + fn)", guard: bool = True) -> str:
    """Per-class scores from boolean masks (as many students write them), with one part changed."""
    p = f"{precision} if tp + fp > 0 else 0.0" if guard else precision
    r = f"{recall} if tp + fn > 0 else 0.0" if guard else recall
    f = ("2 * precision[k] * recall[k] / (precision[k] + recall[k]) if precision[k] + recall[k] > 0 else 0.0"
         if guard else "2 * precision[k] * recall[k] / (precision[k] + recall[k])")
    return f'''def confusion_matrix(y_true, y_pred, num_classes):
    cm = np.zeros((num_classes, num_classes), dtype=int)
    for t, p in zip(y_true, y_pred):
        {count}
    return cm


def precision_recall_f1(y_true, y_pred, num_classes):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    precision, recall, f1 = np.zeros(num_classes), np.zeros(num_classes), np.zeros(num_classes)
    for k in range(num_classes):
        tp = np.sum((y_pred == k) & (y_true == k))
        fp = np.sum((y_pred == k) & (y_true != k))
        fn = np.sum((y_pred != k) & (y_true == k))
        precision[k] = {p}
        recall[k] = {r}
        f1[k] = {f}
    return {{"precision": precision, "recall": recall, "f1": f1}}


def weighted_scores(y_true, y_pred, num_classes):
    scores = precision_recall_f1(y_true, y_pred, num_classes)
    support = np.array([np.sum(np.asarray(y_true) == k) for k in range(num_classes)])
    return {{name: float({average}) for name in scores}}'''


# Rows = predicted, columns = true (the transpose; some textbooks draw it that way).
TRANSPOSED = _mask_metrics(count="cm[p, t] += 1")
# The plain mean over the classes (average="macro") instead of weighting by the support.
MACRO = _mask_metrics(average="np.mean(scores[name])")
# Precision divided by the examples of the class, recall by its predictions.
SWAPPED = _mask_metrics(precision="tp / (tp + fn)", recall="tp / (tp + fp)")
# No guard: 0/0 gives NaN (NumPy warns, the student silences the warning).
NAN_FOR_ZERO = "np.seterr(divide='ignore', invalid='ignore')\n\n" + _mask_metrics(
    precision="np.float64(tp) / (tp + fp)", recall="np.float64(tp) / (tp + fn)", guard=False)

EXAMPLES = [
    Example("keras_bincount", "correct, written differently: the network in Keras (the question allows "
            "either framework) and the metrics with `np.bincount`, `np.nan_to_num` and `np.average`; trained "
            "one epoch on 2,000 digits to keep CI cheap, so it loses the accuracy points only",
            answers={"clf_model_solution": KERAS_MODEL, "clf_train_solution": KERAS_TRAINING,
                     "clf_metrics_solution": BINCOUNT_METRICS},
            points={"test_heldout_accuracy": 0}),
    Example("one_epoch", "undertrained: one epoch of SGD instead of three (a real training; the model "
            "learned, but not enough)", answers={"clf_train_solution": ONE_EPOCH},
            points={"test_heldout_accuracy": 0}),
    Example("untrained_model", "training loop commented out, prints a fake \"Test accuracy: 0.9700\"",
            answers={"clf_train_solution": UNTRAINED_TRAINING}, points=UNTRAINED),
    Example("transposed_confusion", "confusion matrix with rows = predicted, columns = true (scores from "
            "masks, right); no training", answers={"clf_train_solution": NO_TRAINING, "clf_metrics_solution": TRANSPOSED},
            points={**UNTRAINED, "test_confusion_orientation": 0, "test_metrics_of_model": TWO_OF_THREE}),
    Example("macro_average", "`weighted_scores` returns the plain (macro) means; no training",
            answers={"clf_train_solution": NO_TRAINING, "clf_metrics_solution": MACRO},
            points={**UNTRAINED, "test_weighted_scores": 0, "test_metrics_of_model": TWO_OF_THREE}),
    Example("precision_recall_swapped", "precision divided by the class's examples and recall by its "
            "predictions; no training", answers={"clf_train_solution": NO_TRAINING, "clf_metrics_solution": SWAPPED},
            points={**UNTRAINED, **ONE_THIRD, "test_precision_recall": 0, "test_metrics_of_model": ONE_OF_THREE}),
    Example("nan_for_zero_division", "0/0 gives NaN (warnings silenced) instead of 0; no training",
            answers={"clf_train_solution": NO_TRAINING, "clf_metrics_solution": NAN_FOR_ZERO},
            points={**UNTRAINED, "test_zero_division": 0, "test_metrics_of_model": ONE_OF_THREE}),
]
