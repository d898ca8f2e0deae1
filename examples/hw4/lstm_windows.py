"""Example submissions of lstm_windows: realistic answers and exactly what they earn (see autograder/examples.py).

Only the reference trains the LSTM for real (PyTorch, 2 epochs on every training window);
`keras_one_epoch` trains a Keras version for one epoch on every third window (the undertrained
model, a few seconds). Every other example replaces the training cell with no training at all, to
keep CI cheap: its untrained model loses the two forecast checks besides its own mistake.
"""
from autograder.examples import Example

NO_TRAINING = '''# (example: no training, to keep the CI cheap)'''
UNTRAINED = {"test_model_learned": 0, "test_heldout_forecast": 0}

# -- the windows ----------------------------------------------------------------------------------------
# A student's code seen in the wild: the target index does not move with the window.
SAME_TARGET = '''def make_windows(X, y, look_back):
    Xs, ys = [], []
    for i in range(len(X) - look_back):
        Xs.append(X[i:i + look_back])
        ys.append(y[look_back])
    return np.array(Xs), np.array(ys)'''

# The window slides one hour too far: it ends on the hour it is meant to forecast (a leak).
ENDS_ON_TARGET = '''def make_windows(X, y, look_back):
    X, y = np.asarray(X), np.asarray(y)
    windows = np.stack([X[i + 1:i + 1 + look_back] for i in range(len(X) - look_back)])
    return windows, y[look_back:]'''

# -- the scaling ------------------------------------------------------------------------------------------
# Statistics of all 17,520 hours: the validation period leaks into the training inputs.
WHOLE_SERIES = '''feature_mean = values.mean(axis=0)
feature_std = values.std(axis=0)


def scale(hours):
    return (np.asarray(hours, dtype=np.float32) - feature_mean) / feature_std'''

# -- the model and its count --------------------------------------------------------------------------------
# The reference's class with 64 units instead of 50.
UNITS_64 = '''class Forecaster(nn.Module):
    def __init__(self, features=FEATURES, units=64):
        super().__init__()
        self.lstm = nn.LSTM(input_size=features, hidden_size=units, batch_first=True)
        self.head = nn.Linear(units, 1)

    def forward(self, windows):
        outputs, _ = self.lstm(windows)
        return self.head(outputs[:, -1])


model = Forecaster()'''

# Each gate counted as a dense layer on x_t alone: the recurrent matrices U are forgotten.
NO_RECURRENT = '''def lstm_param_count(features, units):
    return 4 * (units * features + units)'''

# -- correct, written differently: Keras, pandas statistics, NumPy's sliding windows -----------------------------
# pandas' std divides by n - 1 (ddof=1), NumPy's by n: both are a standardisation.
PANDAS_STATISTICS = '''training_frame = series.iloc[:TRAIN_HOURS]
means, stds = training_frame.mean().to_numpy(), training_frame.std().to_numpy()


def scale(hours):
    return ((np.asarray(hours) - means) / stds).astype("float32")'''

SLIDING = '''def make_windows(X, y, look_back):
    # sliding_window_view puts the window axis last: (n - look_back, features, look_back) once the
    # last hour, which has no target, is left out.
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(X)[:-1], look_back, axis=0)
    return windows.transpose(0, 2, 1), np.asarray(y)[look_back:]'''

COUNT_FACTORED = '''def lstm_param_count(features, units):
    inputs_and_bias = features + units + 1      # x_t, h_(t-1) and a bias, for every unit of 4 gates
    return 4 * units * inputs_and_bias'''

KERAS_MODEL = '''import keras
from keras import layers

keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input(shape=(LOOK_BACK, FEATURES)),
    layers.LSTM(50),
    layers.Dense(1),
])
model.summary()'''

KERAS_ONE_EPOCH = '''model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="mse")
# One epoch on every third window only, to keep CI cheap: a real but undertrained model.
model.fit(x_train[::3], y_train[::3], epochs=1, batch_size=64, verbose=2)'''

EXAMPLES = [
    Example("same_target_every_window", "`ys.append(y[look_back])` inside the loop: every window gets the "
            "same target (the hour after the first window); no training",
            answers={"lw_windows_solution": SAME_TARGET, "lw_train_solution": NO_TRAINING},
            points={**UNTRAINED, "test_targets_follow_windows": 0}),
    Example("window_ends_on_target", "windows `X[i + 1 : i + 1 + look_back]`: each ends on the hour it "
            "forecasts (the target leaks into the input); no training",
            answers={"lw_windows_solution": ENDS_ON_TARGET, "lw_train_solution": NO_TRAINING},
            points={**UNTRAINED, "test_window_contents": 0}),
    Example("scaler_on_whole_series", "mean and standard deviation of all hours, validation included; "
            "no training", answers={"lw_scale_solution": WHOLE_SERIES, "lw_train_solution": NO_TRAINING},
            points={**UNTRAINED, "test_scaling_uses_training_hours": 0}),
    Example("lstm_64_units", "the LSTM has 64 units instead of 50; no training",
            answers={"lw_model_solution": UNITS_64, "lw_train_solution": NO_TRAINING},
            points={**UNTRAINED, "test_model_is_lstm_50": 0}),
    Example("no_recurrent_weights", "`lstm_param_count` forgets the recurrent matrices: "
            "4 * (units * features + units); no training",
            answers={"lw_count_solution": NO_RECURRENT, "lw_train_solution": NO_TRAINING},
            points={**UNTRAINED, "test_lstm_param_count": 0}),
    Example("keras_one_epoch", "correct, written differently: Keras' `layers.LSTM(50)`, statistics "
            "from pandas (std with ddof=1), `sliding_window_view` windows and a factored count; trained "
            "one epoch on every third window to keep CI cheap, so it loses the forecast-accuracy points only",
            answers={"lw_scale_solution": PANDAS_STATISTICS, "lw_windows_solution": SLIDING,
                     "lw_count_solution": COUNT_FACTORED, "lw_model_solution": KERAS_MODEL,
                     "lw_train_solution": KERAS_ONE_EPOCH},
            points={"test_heldout_forecast": 0}),
]
