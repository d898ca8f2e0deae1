"""Example submissions of hw4/transfer_learning: realistic answers and exactly what they earn (see autograder/examples.py).

Training for real is costly, so only the reference trains as the notebook asks; `pytorch` (correct,
the other framework) trains each model for one epoch on few images: the undertrained example. The
others train nothing, except where the mistake is a layer that trains when it should not: there the
transferred model takes two optimiser steps (64 images), enough to move every weight that is not
frozen, and cheap. A model that did not train loses the two accuracy checks
(`UNTRAINED`); the checks of the structure, the frozen weights and the labels do not depend on it.
"""
from autograder.examples import Example

UNTRAINED = {"test_base_model_accuracy": 0, "test_transfer_accuracy": 0}

COMPILE = '''compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])'''

# -- the reference's cells without their training (no fit: the CI stays cheap) ----------------------
BASE_UNTRAINED = f'''base_model = make_cnn()
base_model.{COMPILE}
# (example: no training, to keep the CI cheap)'''

TRANSFER_UNTRAINED = f'''feature_layers = base_model.layers[:5]
for layer in feature_layers:
    layer.trainable = False
transfer_model = keras.Sequential([keras.Input(shape=(32, 32, 3)), *feature_layers, layers.Flatten(),
                                   layers.Dense(128, activation="relu"), layers.Dense(5)])
transfer_model.{COMPILE}
transfer_seconds = 0.0   # (example: no training, to keep the CI cheap)'''

SCRATCH_UNTRAINED = f'''scratch_model = make_cnn()
scratch_model.{COMPILE}
scratch_seconds = 0.0   # (example: no training, to keep the CI cheap)'''

NOTHING_TRAINS = {"tl_base_solution": BASE_UNTRAINED, "tl_transfer_solution": TRANSFER_UNTRAINED,
                  "tl_scratch_solution": SCRATCH_UNTRAINED}

# Two optimiser steps of the transferred model: enough to move any weight that is not frozen.
TWO_STEPS = '''start = time.perf_counter()
transfer_model.fit(x_target[:64], y_target[:64], epochs=1, batch_size=BATCH_SIZE, verbose=0)   # (example: 2 steps only)
transfer_seconds = time.perf_counter() - start'''

# -- correct, in PyTorch (the question allows it), trained one epoch on few images: undertrained ----
TORCH_CNN = '''import torch
from torch import nn

torch.manual_seed(0)


def make_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(),
        nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 5),
    )


def train(model, images, labels, epochs):
    """Adam and cross-entropy on the images turned channels first; only what requires gradients trains."""
    x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
    y = torch.from_numpy(np.asarray(labels)).long()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            optimizer.zero_grad()
            loss_fn(model(x[batch]), y[batch]).backward()
            optimizer.step()
    model.eval()'''

TORCH_BASE = '''base_model = make_cnn()
train(base_model, x_source[:1000], y_source[:1000], epochs=1)   # (example: undertrained, to keep the CI cheap)
print(f"base model: test accuracy {accuracy(base_model, x_source_test, y_source_test):.3f}")'''

TORCH_TRANSFER = '''transfer_model = nn.Sequential(*base_model[:8],          # layers 1-5: conv, relu, pool, conv, relu, pool, conv, relu
                               nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 5))
transfer_model[:8].requires_grad_(False)
start = time.perf_counter()
train(transfer_model, x_target, y_target, epochs=1)   # (example: undertrained)
transfer_seconds = time.perf_counter() - start'''

TORCH_SCRATCH = '''scratch_model = make_cnn()
start = time.perf_counter()
train(scratch_model, x_target, y_target, epochs=1)   # (example: undertrained)
scratch_seconds = time.perf_counter() - start'''

# -- the same network with Keras' Functional API ------------------------------------------------------
FUNCTIONAL_CNN = '''def make_cnn():
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(5, activation="softmax")(x)
    return keras.Model(inputs, outputs)'''

FUNCTIONAL_BASE = '''base_model = make_cnn()
base_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
# (example: no training, to keep the CI cheap)'''

# Correct, the keras.io transfer-learning guide's idiom: a frozen feature extractor called with
# training=False inside a new Functional model.
KERAS_IO_TRANSFER = '''# The extractor ends at layer 5, the third convolution (layers[0] of a Functional model is its input).
feature_extractor = keras.Model(base_model.inputs, base_model.layers[5].output)
feature_extractor.trainable = False

inputs = keras.Input(shape=(32, 32, 3))
x = feature_extractor(inputs, training=False)
x = layers.Flatten()(x)
x = layers.Dense(128, activation="relu")(x)
outputs = layers.Dense(5, activation="softmax")(x)
transfer_model = keras.Model(inputs, outputs)
transfer_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
''' + TWO_STEPS

FUNCTIONAL_SCRATCH = '''scratch_model = make_cnn()
scratch_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
scratch_seconds = 0.0   # (example: no training, to keep the CI cheap)'''

# Wrong: the same extractor, but "the first five layers" frozen by slicing the Functional model's
# list, which starts with its InputLayer: the third convolution keeps training.
INPUT_LAYER_COUNTED = '''feature_extractor = keras.Model(base_model.inputs, base_model.layers[5].output)
for layer in base_model.layers[:5]:
    layer.trainable = False

transfer_model = keras.Sequential([feature_extractor, layers.Flatten(),
                                   layers.Dense(128, activation="relu"), layers.Dense(5, activation="softmax")])
transfer_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
''' + TWO_STEPS

# Wrong: the clone recipe that keeps base_model intact, but the loop freezes the original's layers,
# not those of the copy the transferred model is built from.
FROZE_THE_ORIGINAL = f'''base_copy = keras.models.clone_model(base_model)   # so that training does not change base_model
base_copy.set_weights(base_model.get_weights())
transfer_model = keras.Sequential(base_copy.layers[:5] + [layers.Flatten(), layers.Dense(128, activation="relu"),
                                                          layers.Dense(5)])
for layer in base_model.layers[:5]:
    layer.trainable = False
transfer_model.{COMPILE}
''' + TWO_STEPS

# Wrong: no remapping; an output layer of 10 units takes the labels 5-9 as they are.
IDENTITY_REMAP = '''def remap_labels(labels):
    return np.asarray(labels).astype(np.int64)   # the output layer has 10 units, so 5-9 fit as they are'''

TEN_OUTPUTS = f'''for layer in base_model.layers[:5]:
    layer.trainable = False
transfer_model = keras.Sequential([keras.Input(shape=(32, 32, 3)), *base_model.layers[:5], layers.Flatten(),
                                   layers.Dense(128, activation="relu"), layers.Dense(10)])
transfer_model.{COMPILE}
transfer_seconds = 0.0   # (example: no training, to keep the CI cheap)'''

# Wrong: only the output layer is replaced (model_A.layers[:-1] + a new output): the base model's
# Dense 128, trained on classes 0-4, stays in the head. The parameter counts are the right ones.
KEPT_OLD_DENSE = f'''transfer_model = keras.Sequential([keras.Input(shape=(32, 32, 3))] + base_model.layers[:-1] + [layers.Dense(5)])
for layer in transfer_model.layers[:5]:
    layer.trainable = False
transfer_model.{COMPILE}
transfer_seconds = 0.0   # (example: no training, to keep the CI cheap)'''

# Wrong: "the same network" cloned from the transferred model: clone_model keeps the layers'
# trainable flags, so the new random convolutions are frozen.
SCRATCH_CLONED = f'''scratch_model = keras.models.clone_model(transfer_model)   # the same architecture, new random weights
scratch_model.{COMPILE}
scratch_seconds = 0.0   # (example: no training, to keep the CI cheap)'''

EXAMPLES = [
    Example("pytorch", "correct, in PyTorch (`requires_grad_(False)` on the first eight modules, shared with "
            "base_model; Adam on the parameters that require gradients), but each model trains one epoch on a few "
            "hundred images to keep CI cheap: undertrained, so it loses the accuracy points only",
            answers={"tl_cnn_solution": TORCH_CNN, "tl_base_solution": TORCH_BASE,
                     "tl_transfer_solution": TORCH_TRANSFER, "tl_scratch_solution": TORCH_SCRATCH},
            points=UNTRAINED),
    Example("keras_io_functional", "correct, written differently: the network with the Functional API and softmax "
            "outputs, the transferred model as in the keras.io transfer-learning guide (a frozen extractor model "
            "called with training=False); nothing trains but two steps of the transferred model",
            answers={"tl_cnn_solution": FUNCTIONAL_CNN, "tl_base_solution": FUNCTIONAL_BASE,
                     "tl_transfer_solution": KERAS_IO_TRANSFER, "tl_scratch_solution": FUNCTIONAL_SCRATCH},
            points=UNTRAINED),
    Example("input_layer_counted", "Functional base model frozen with `base_model.layers[:5]`, which starts with the "
            "InputLayer: the third convolution still trains (two steps)",
            answers={"tl_cnn_solution": FUNCTIONAL_CNN, "tl_base_solution": FUNCTIONAL_BASE,
                     "tl_transfer_solution": INPUT_LAYER_COUNTED, "tl_scratch_solution": FUNCTIONAL_SCRATCH},
            points={**UNTRAINED, "test_frozen_parameters": 0, "test_trainable_parameters": 0,
                    "test_frozen_weights_unchanged": 0}),
    Example("froze_the_original", "the transferred model is built from a clone of base_model (clone_model + "
            "set_weights) but the loop freezes base_model's layers: every layer trains (two steps)",
            answers={**NOTHING_TRAINS, "tl_transfer_solution": FROZE_THE_ORIGINAL},
            points={**UNTRAINED, "test_frozen_parameters": 0, "test_trainable_parameters": 0,
                    "test_frozen_weights_unchanged": 0}),
    Example("raw_labels_ten_outputs", "labels 5-9 not remapped; an output layer of 10 units instead; no training",
            answers={**NOTHING_TRAINS, "tl_remap_solution": IDENTITY_REMAP, "tl_transfer_solution": TEN_OUTPUTS},
            points={**UNTRAINED, "test_remap_labels": 0, "test_trainable_parameters": 0}),
    Example("kept_old_dense", "head not replaced: `base_model.layers[:-1]` plus a new output layer keeps the base "
            "model's Dense 128; no training", answers={**NOTHING_TRAINS, "tl_transfer_solution": KEPT_OLD_DENSE},
            points={**UNTRAINED, "test_head_replaced": 0}),
    Example("scratch_cloned_from_transfer", "scratch_model is `clone_model(transfer_model)`, whose convolutions stay "
            "frozen (random ones); no training",
            answers={**NOTHING_TRAINS, "tl_scratch_solution": SCRATCH_CLONED},
            points={**UNTRAINED, "test_scratch_model": 0}),
]
