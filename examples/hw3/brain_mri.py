"""Example submissions of hw3/brain_mri: realistic answers and exactly what they earn (see autograder/examples.py).

Training for real is costly, so only the reference, `keras_differently` and `pytorch` (both correct,
both cheap enough) train to the end. The wrong answers replace the training cell by a one-epoch fit
that keeps everything else of the reference (early stopping included), and declare the accuracy
points they lose because of it: one epoch leaves the model at always answering "yes" (CALIBRATION.md).
"""
from autograder.examples import Example


# One epoch with the reference's callback: early stopping correct, the model barely trained.
CHEAP_TRAINING = '''model_fn.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
history = model_fn.fit(train_ds, validation_data=val_ds, epochs=1, callbacks=[early_stopping], verbose=2)'''

# The pixels stay 0-255: the model is trained on them, then graded on images in [0, 1].
NO_RESCALING = '''train_ds, val_ds = keras.utils.image_dataset_from_directory(
    data_dir, label_mode="binary", image_size=IMAGE_SIZE, batch_size=BATCH_SIZE,
    validation_split=0.2, subset="both", seed=SPLIT_SEED)
class_names = train_ds.class_names
train_ds = train_ds.cache()
val_ds = val_ds.cache()'''

# A hand-made tf.data pipeline that globs "*.jpg": case-sensitive, so the .JPG, .jpeg and .png
# files are silently left out (64 of the 207).
LOWERCASE_GLOB = '''import tensorflow as tf

class_names = ["no", "yes"]
paths = [str(p) for name in class_names for p in sorted((data_dir / name).glob("*.jpg"))]
labels = [float(p.split("/")[-2] == "yes") for p in paths]


def load(path, label):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.image.resize(image, IMAGE_SIZE) / 255.0, label


files = tf.data.Dataset.from_tensor_slices((paths, labels)).shuffle(len(paths), seed=SPLIT_SEED,
                                                                   reshuffle_each_iteration=False)
n_val = int(0.2 * len(paths))
val_ds = files.take(n_val).map(load).batch(BATCH_SIZE).cache()
train_ds = files.skip(n_val).map(load).batch(BATCH_SIZE).cache()'''

# The Functional twin forgets the Dropout layer: same parameter count, not the same network.
FUNCTIONAL_WITHOUT_DROPOUT = '''model_seq = keras.Sequential([
    keras.Input(shape=(64, 64, 3)),
    layers.Conv2D(8, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Conv2D(16, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Conv2D(32, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Flatten(),
    layers.Dropout(0.5),
    layers.Dense(1, activation="sigmoid"),
])

inputs = keras.Input(shape=(64, 64, 3))
x = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
x = layers.MaxPooling2D(2)(x)
x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
x = layers.MaxPooling2D(2)(x)
x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
x = layers.MaxPooling2D(2)(x)
x = layers.Flatten()(x)
outputs = layers.Dense(1, activation="sigmoid")(x)
model_fn = keras.Model(inputs, outputs)'''

# Early stopping on the validation accuracy, and the weights of the last epoch kept.
MONITORS_ACCURACY = '''model_fn.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
early_stopping = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=5)
history = model_fn.fit(train_ds, validation_data=val_ds, epochs=1, callbacks=[early_stopping], verbose=2)'''

# "More data is better": the validation images are trained on too (and still used to stop).
VALIDATION_IN_TRAINING = '''model_fn.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
history = model_fn.fit(train_ds.concatenate(val_ds), validation_data=val_ds, epochs=1,
                       callbacks=[early_stopping], verbose=2)'''

# `fit` commented out, and a made-up accuracy printed.
UNTRAINED_TRAINING = '''model_fn.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
# Takes too long on my laptop; it reached 0.93 validation accuracy yesterday:
# history = model_fn.fit(train_ds, validation_data=val_ds, epochs=MAX_EPOCHS, callbacks=[early_stopping])
print("Validation accuracy: 0.9300")'''

# Correct, written differently: integer labels and a hand-written scaling function; layers from
# a list (Sequential) and chained in a loop (Functional), separate ReLU layers; the callback with
# its mode spelled out.
KERAS_PIPELINE = '''import tensorflow as tf

def to_unit_range(images, labels):
    return tf.cast(images, tf.float32) / 255.0, labels

train_ds = keras.utils.image_dataset_from_directory(
    data_dir, validation_split=0.2, subset="training", seed=SPLIT_SEED,
    image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, label_mode="int")
val_ds = keras.utils.image_dataset_from_directory(
    data_dir, validation_split=0.2, subset="validation", seed=SPLIT_SEED,
    image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, label_mode="int")
class_names = train_ds.class_names
print(class_names, sum(1 for p in data_dir.glob("*/*")), "files")
AUTOTUNE = tf.data.AUTOTUNE
train_ds = train_ds.map(to_unit_range).cache().prefetch(AUTOTUNE)
val_ds = val_ds.map(to_unit_range).cache().prefetch(AUTOTUNE)'''

KERAS_MODELS = '''def cnn_layers():
    stack = []
    for filters in (8, 16, 32):
        stack += [layers.Conv2D(filters, (3, 3), padding="same"), layers.ReLU(), layers.MaxPooling2D((2, 2))]
    return stack + [layers.Flatten(), layers.Dropout(0.5), layers.Dense(1), layers.Activation("sigmoid")]

model_seq = keras.Sequential([keras.Input(shape=IMAGE_SIZE + (3,))] + cnn_layers())

inputs = keras.Input(shape=IMAGE_SIZE + (3,))
x = inputs
for layer in cnn_layers():
    x = layer(x)
model_fn = keras.Model(inputs=inputs, outputs=x)
model_fn.summary()'''

KERAS_TRAINING = '''model_fn.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                 loss=keras.losses.BinaryCrossentropy(), metrics=["accuracy"])
early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=5,
                                               restore_best_weights=True, verbose=1)
history = model_fn.fit(train_ds, epochs=MAX_EPOCHS, validation_data=val_ds, callbacks=[early_stopping], verbose=0)
print(f"stopped after {len(history.history['loss'])} epochs")'''

KERAS_CURVES = '''h = history.history
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, metric in zip(axes, ["loss", "accuracy"]):
    ax.plot(h[metric], "o-", label="train")
    ax.plot(h["val_" + metric], "o-", label="val")
    ax.axvline(int(np.argmin(h["val_loss"])), color="k", linestyle=":")
    ax.set(xlabel="epoch (from 0)", ylabel=metric)
    ax.legend()
plt.show()'''

# The whole question in PyTorch, as the notebook's dropdown describes it.
PYTORCH_IMPORTS = '''# My imports, at the top as the PyTorch dropdown advises.
import copy
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split'''

PYTORCH_PIPELINE = '''from data import load_brain_mri

torch.manual_seed(0)
x, y, class_names = load_brain_mri(IMAGE_SIZE)          # every file of data_dir, decoded to RGB
print(len(x), "images,", dict(zip(class_names, np.bincount(y))))
images = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0   # (N, 3, 64, 64) in [0, 1]
dataset = TensorDataset(images, torch.from_numpy(y).float())
n_val = int(0.2 * len(dataset))
train_part, val_part = random_split(dataset, [len(dataset) - n_val, n_val],
                                    generator=torch.Generator().manual_seed(SPLIT_SEED))
train_ds = DataLoader(train_part, batch_size=BATCH_SIZE, shuffle=True)
val_ds = DataLoader(val_part, batch_size=BATCH_SIZE)'''

PYTORCH_MODELS = '''model_seq = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Dropout(0.5), nn.Linear(32 * 8 * 8, 1), nn.Sigmoid(),
)


class BrainCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(32 * 8 * 8, 1)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = self.pool(torch.relu(self.conv3(x)))
        x = self.dropout(torch.flatten(x, 1))
        return torch.sigmoid(self.fc(x))


model_fn = BrainCNN()'''

PYTORCH_TRAINING = '''PATIENCE = 5
optimizer = torch.optim.Adam(model_fn.parameters(), lr=1e-3)
loss_fn = nn.BCELoss()


def run_epoch(loader, train):
    model_fn.train(train)
    total_loss, correct, seen = 0.0, 0, 0
    with torch.set_grad_enabled(train):
        for xb, yb in loader:
            p = model_fn(xb).squeeze(1)
            loss = loss_fn(p, yb)
            if train:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * len(yb)
            correct += ((p > 0.5) == (yb == 1)).sum().item()
            seen += len(yb)
    return total_loss / seen, correct / seen


history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "steps": len(train_ds)}
best_loss, best_state, wait = float("inf"), None, 0
for epoch in range(MAX_EPOCHS):
    loss, acc = run_epoch(train_ds, train=True)
    val_loss, val_acc = run_epoch(val_ds, train=False)
    for key, value in zip(["loss", "accuracy", "val_loss", "val_accuracy"], [loss, acc, val_loss, val_acc]):
        history[key].append(value)
    if val_loss < best_loss:
        best_loss, best_state, wait = val_loss, copy.deepcopy(model_fn.state_dict()), 0
    else:
        wait += 1
        if wait >= PATIENCE:
            break
model_fn.load_state_dict(best_state)
model_fn.eval()
early_stopping = {"monitor": "val_loss", "patience": PATIENCE, "restore_best_weights": True, "best": best_loss}
print(f"{len(history['loss'])} epochs, best validation loss {best_loss:.4f}")'''

PYTORCH_CURVES = '''fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, metric in zip(axes, ["loss", "accuracy"]):
    ax.plot(history[metric], label="training")
    ax.plot(history["val_" + metric], label="validation")
    ax.axvline(int(np.argmin(history["val_loss"])), color="grey", linestyle="--", label="restored")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.legend()
plt.show()'''

ACCURACY_LOST = {"test_heldout_accuracy": 0}

EXAMPLES = [
    Example("keras_differently", "nothing: a correct Keras answer written differently (two split calls with one "
            "seed, integer labels, separate ReLU/sigmoid layers, layers chained in a loop)",
            answers={"mri_pipeline_solution": KERAS_PIPELINE, "mri_models_solution": KERAS_MODELS,
                     "mri_train_solution": KERAS_TRAINING, "mri_curves_solution": KERAS_CURVES}),
    Example("pytorch", "nothing: the whole question in PyTorch (TensorDataset + random_split, nn.Sequential and a "
            "subclassed nn.Module, a hand-written early-stopping loop), as the dropdown describes",
            first_cell=PYTORCH_IMPORTS,
            answers={"mri_pipeline_solution": PYTORCH_PIPELINE, "mri_models_solution": PYTORCH_MODELS,
                     "mri_train_solution": PYTORCH_TRAINING, "mri_curves_solution": PYTORCH_CURVES}),
    Example("functional_without_dropout", "the Functional model misses the Dropout layer (same parameter count); "
            "one-epoch fit",
            answers={"mri_models_solution": FUNCTIONAL_WITHOUT_DROPOUT, "mri_train_solution": CHEAP_TRAINING},
            points={"test_same_network": 0, **ACCURACY_LOST}),
    Example("lowercase_glob", "a tf.data pipeline over data_dir.glob('*.jpg'): the .JPG/.jpeg/.png files are "
            "silently dropped; one-epoch fit",
            answers={"mri_pipeline_solution": LOWERCASE_GLOB, "mri_train_solution": CHEAP_TRAINING},
            points={"test_every_file_once": 0, **ACCURACY_LOST}),
    Example("no_rescaling", "pixels left in 0-255 (no division by 255); one-epoch fit",
            answers={"mri_pipeline_solution": NO_RESCALING, "mri_train_solution": CHEAP_TRAINING},
            points={"test_images_scaled": 0, **ACCURACY_LOST}),
    Example("monitors_accuracy", "early stopping on val_accuracy, best weights not restored; one-epoch fit",
            answers={"mri_train_solution": MONITORS_ACCURACY},
            points={"test_early_stopping_on_val_loss": 0, "test_best_weights_restored": 0, **ACCURACY_LOST}),
    Example("validation_in_training", "fit on train_ds.concatenate(val_ds): the validation images are trained on; "
            "one-epoch fit",
            answers={"mri_train_solution": VALIDATION_IN_TRAINING},
            points={"test_trained_on_training_split": 0, **ACCURACY_LOST}),
    Example("untrained_model", "`fit` commented out, prints a fake \"Validation accuracy: 0.9300\"",
            answers={"mri_train_solution": UNTRAINED_TRAINING},
            points={"test_early_stopping_on_val_loss": 0, "test_best_weights_restored": 0,
                    "test_trained_on_training_split": 0, **ACCURACY_LOST}),
]
