"""Example submissions of hw4/keras_tuner: realistic answers and exactly what they earn (see autograder/examples.py).

Searching and training cost CI time, so only the reference searches and retrains for real, and
`hyperband_keras_io` (correct, written as in keras.io's KerasTuner guide) searches and retrains on
500 images, a few seconds: its network is undertrained and loses the accuracy points. Every
other example replaces the search by no search and the retraining by no training (NO_SEARCH,
NO_TRAINING): it loses the tuner check and the accuracy check for that, and shows its mistake in
`build_model`, which the grader builds itself at its own points whether or not a search ran.
"""
from autograder.examples import Example

NO_SEARCH = '''# (example: no search, to keep the CI cheap)
tuner = None'''

NO_TRAINING = '''# (example: no training, to keep the CI cheap)
best_model = build_model(keras_tuner.HyperParameters())'''

NOT_SEARCHED = {"test_tuner_search": 0, "test_heldout_accuracy": 0}
SPACE_POINTS = 3
SEVEN = 7


def space_points(wrong: int) -> float:
    """test_search_space's points with `wrong` of its seven hyperparameters wrong (partial credit)."""
    return round(SPACE_POINTS * (SEVEN - wrong) / SEVEN, 4)


def build_model_with(*, units="hp.Int(\"units\", min_value=128, max_value=256, step=64)",
                     filters="hp.Int(\"filters\", min_value=8, max_value=32, step=8)",
                     learning_rates="[1e-4, 5e-4, 1e-3]", conv_line=None, dense_block=None,
                     optimizer_line=None) -> str:
    """The reference's build_model with one part written the way a student got it wrong."""
    conv_line = conv_line or '''        model.add(layers.Conv2D(filters, 3, padding="same", activation="relu"))'''
    dense_block = dense_block or '''    for _ in range(dense_layers):
        model.add(layers.Dense(units, activation="relu"))
        if use_dropout:
            model.add(layers.Dropout(0.5))'''
    optimizer_line = optimizer_line or '''    optimizer_class = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}[optimizer_name]
    optimizer = optimizer_class(learning_rate=learning_rate)'''
    return f'''def build_model(hp):
    conv_layers = hp.Int("conv_layers", min_value=1, max_value=3)
    filters = {filters}
    dense_layers = hp.Int("dense_layers", min_value=1, max_value=4)
    units = {units}
    use_dropout = hp.Boolean("dropout")
    learning_rate = hp.Choice("learning_rate", {learning_rates})
    optimizer_name = hp.Choice("optimizer", ["adam", "sgd"])

    model = keras.Sequential([keras.Input(shape=(32, 32, 3))])
    for _ in range(conv_layers):
{conv_line}
        model.add(layers.MaxPooling2D(2))
    model.add(layers.Flatten())
{dense_block}
    model.add(layers.Dense(10, activation="softmax"))
{optimizer_line}
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model'''


# "128 to 256" read as two steps of 64 from 128 (128, 192), and the middle learning rate forgotten.
NARROW_SPACE = build_model_with(units='hp.Int("units", min_value=128, max_value=192, step=64)',
                                learning_rates="[1e-4, 1e-3]")

# Filters in steps of 4 (8, 12, ..., 32): a wider space than asked, seven values instead of four.
FILTERS_STEP_4 = build_model_with(filters='hp.Int("filters", min_value=8, max_value=32, step=4)')

# The dropout hyperparameter is registered, but the Dropout layer is added whatever its value.
DROPOUT_ALWAYS_ON = build_model_with(dense_block='''    for _ in range(dense_layers):
        model.add(layers.Dense(units, activation="relu"))
        model.add(layers.Dropout(0.5))''')

# The optimizer hyperparameter is registered, but the model is always compiled with Adam.
OPTIMIZER_IGNORED = build_model_with(
    optimizer_line='''    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)   # TODO: use optimizer_name''')

# Keras' default padding, "valid": every convolution trims a pixel on each side (32 -> 30 -> 15 ...),
# so the feature maps, the flattened size and the parameter counts differ from the table's.
VALID_PADDING = build_model_with(conv_line='''        model.add(layers.Conv2D(filters, 3, activation="relu"))''')

# The search was "run on my laptop"; here it is skipped, and the final network is built from values
# typed in but never trained, with an accuracy typed in too.
UNTRAINED_SEARCH = '''tuner = keras_tuner.RandomSearch(build_model, objective="val_accuracy", max_trials=MAX_TRIALS,
                                 seed=SEARCH_SEED, directory=SEARCH_DIR, project_name="cifar10", overwrite=True)
# The search takes too long here; I ran it on my laptop yesterday:
# tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=SEARCH_EPOCHS)'''

UNTRAINED_RETRAIN = '''best_hps = keras_tuner.HyperParameters()   # the best trial of my laptop's search
best_hps.values.update({"conv_layers": 2, "filters": 16, "dense_layers": 2, "units": 128,
                        "dropout": False, "learning_rate": 1e-3, "optimizer": "adam"})
best_model = build_model(best_hps)
# best_model.fit(x_train, y_train, epochs=FINAL_EPOCHS)   # too slow, see above
print("accuracy on x_test: 0.480")'''

# Correct, written as keras.io's "Getting started with KerasTuner" does: the Functional API, each
# hyperparameter registered where it is used (inside the loops), units as an explicit Choice, the
# optimizer from keras.optimizers.get, logits with from_logits=True, a Hyperband tuner with
# validation_split, and the best values rebuilt with tuner.hypermodel.build. On 500 images and
# 2 epochs, to stay cheap: the network is correct but undertrained.
KERAS_IO_BUILD = '''def build_model(hp):
    inputs = keras.Input(shape=(32, 32, 3))
    x = inputs
    for i in range(hp.Int("conv_layers", 1, 3)):
        x = layers.Conv2D(filters=hp.Int("filters", min_value=8, max_value=32, step=8), kernel_size=(3, 3),
                          padding="same", activation="relu")(x)
        x = layers.MaxPool2D(pool_size=(2, 2))(x)
    x = layers.Flatten()(x)
    for i in range(hp.Int("dense_layers", 1, 4)):
        x = layers.Dense(units=hp.Choice("units", [128, 192, 256]), activation="relu")(x)
        if hp.Boolean("dropout"):
            x = layers.Dropout(rate=0.5)(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    hp_learning_rate = hp.Choice("learning_rate", values=[1e-4, 5e-4, 1e-3])
    optimizer = keras.optimizers.get({"class_name": hp.Choice("optimizer", values=["adam", "sgd"]),
                                      "config": {"learning_rate": hp_learning_rate}})
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model'''

KERAS_IO_SEARCH = '''tuner = keras_tuner.Hyperband(build_model, objective="val_accuracy", max_epochs=2, factor=3,
                             seed=SEARCH_SEED, directory=SEARCH_DIR, project_name="intro_to_kt", overwrite=True)
stop_early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5)
img_train, label_train = x_train[:500], y_train[:500]
tuner.search(img_train, label_train, epochs=2, validation_split=0.2, callbacks=[stop_early], verbose=0)'''

KERAS_IO_RETRAIN = '''best_hps = tuner.get_best_hyperparameters(num_trials=1)[0]
print(f"""The hyperparameter search is complete. The best number of units is {best_hps.get('units')}
and the best learning rate for the optimizer is {best_hps.get('learning_rate')}.""")
best_model = tuner.hypermodel.build(best_hps)
history = best_model.fit(img_train, label_train, epochs=2, validation_split=0.2, verbose=0)
eval_result = best_model.evaluate(x_test, y_test, verbose=0)
print("[test loss, test accuracy]:", eval_result)'''

EXAMPLES = [
    Example("hyperband_keras_io", "nothing wrong: keras.io's KerasTuner idiom (Functional API, hyperparameters "
            "registered inside the loops, Choice for units, keras.optimizers.get, logits, Hyperband with "
            "validation_split, tuner.hypermodel.build); searched and retrained on 500 images only, so its "
            "network is undertrained",
            answers={"kt_build_model_solution": KERAS_IO_BUILD, "kt_search_solution": KERAS_IO_SEARCH,
                     "kt_retrain_solution": KERAS_IO_RETRAIN},
            points={"test_heldout_accuracy": 0}),
    Example("narrow_space", "units searched over 128-192 only, and the learning rate 5e-4 left out; no search",
            answers={"kt_build_model_solution": NARROW_SPACE, "kt_search_solution": NO_SEARCH,
                     "kt_retrain_solution": NO_TRAINING},
            points={"test_search_space": space_points(2), **NOT_SEARCHED}),
    Example("filters_step_4", "filters in steps of 4 (seven values) instead of 8; no search",
            answers={"kt_build_model_solution": FILTERS_STEP_4, "kt_search_solution": NO_SEARCH,
                     "kt_retrain_solution": NO_TRAINING},
            points={"test_search_space": space_points(1), **NOT_SEARCHED}),
    Example("dropout_always_on", "the dropout hyperparameter is registered but Dropout is always added; no search",
            answers={"kt_build_model_solution": DROPOUT_ALWAYS_ON, "kt_search_solution": NO_SEARCH,
                     "kt_retrain_solution": NO_TRAINING},
            points={"test_dropout_switch": 0, **NOT_SEARCHED}),
    Example("optimizer_ignored", "the optimizer hyperparameter is registered but the model is always compiled "
            "with Adam; no search",
            answers={"kt_build_model_solution": OPTIMIZER_IGNORED, "kt_search_solution": NO_SEARCH,
                     "kt_retrain_solution": NO_TRAINING},
            points={"test_optimizer_and_learning_rate": 0, **NOT_SEARCHED}),
    Example("valid_padding", "convolutions without padding=\"same\" (Keras' default 'valid'): other feature-map "
            "sizes and parameter counts than the table's; no search",
            answers={"kt_build_model_solution": VALID_PADDING, "kt_search_solution": NO_SEARCH,
                     "kt_retrain_solution": NO_TRAINING},
            points={"test_architecture": 0, **NOT_SEARCHED}),
    Example("untrained_final_model", "tuner.search commented out, the final network built from typed-in values "
            "and never trained, a typed-in test accuracy printed",
            answers={"kt_search_solution": UNTRAINED_SEARCH, "kt_retrain_solution": UNTRAINED_RETRAIN},
            points=NOT_SEARCHED),
]
