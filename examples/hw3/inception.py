"""Example submissions of hw3/inception: realistic answers and exactly what they earn (see autograder/examples.py).

Only the reference trains for real (4 epochs on 10,000 images); `one_short_epoch` trains one epoch
on 2,000 images (the undertrained model, about a second of training). Every other example replaces
the training cell with no training at all (`NO_TRAINING`), to keep CI cheap: its untrained `model`
loses the two accuracy checks (`UNTRAINED`) besides its own mistake.

The module cases of the hidden checks are 3 with reduce=True and 2 with reduce=False
(BLOCK_CASES in the check file); the network cases are the four variants.
"""
from autograder.examples import Example

UNTRAINED = {"test_model_learned": 0, "test_heldout_accuracy": 0}

NO_TRAINING = '''# (example: no training, to keep the CI cheap)
torch.manual_seed(0)
model = build_network(STEM_FILTERS, BLOCKS, reduce=True, stem_stride=2)'''


def _module(cat="torch.cat(branches, dim=1)", branches="[self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]",
            reduce="reduce", pool="nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *conv(in_channels, pool_proj, 1))",
            out_channels="f1 + f3 + f5 + pool_proj") -> str:
    """The reference's module (an nn.Sequential per branch), with one part changed."""
    return f'''class InceptionBlock(nn.Module):
    def __init__(self, in_channels, f1, f3_reduce, f3, f5_reduce, f5, pool_proj, reduce=True):
        super().__init__()

        def conv(c_in, c_out, k):
            return [nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU()]

        self.branch1 = nn.Sequential(*conv(in_channels, f1, 1))
        if {reduce}:
            self.branch3 = nn.Sequential(*conv(in_channels, f3_reduce, 1), *conv(f3_reduce, f3, 3))
            self.branch5 = nn.Sequential(*conv(in_channels, f5_reduce, 1), *conv(f5_reduce, f5, 5))
        else:
            self.branch3 = nn.Sequential(*conv(in_channels, f3, 3))
            self.branch5 = nn.Sequential(*conv(in_channels, f5, 5))
        self.branch_pool = {pool}
        self.out_channels = {out_channels}

    def forward(self, x):
        branches = {branches}
        return {cat}'''


# -- wrong answers ---------------------------------------------------------------------------------
# Keras' habit carried over: axis -1 is the channel axis of (N, H, W, C), but the width of PyTorch's
# (N, C, H, W). With branches of different widths the concatenation fails, so nothing downstream runs.
WRONG_AXIS = _module(cat="torch.cat(branches, dim=-1)   # the channel axis, as in Keras")
# The "naive" module whatever `reduce` says: the 3x3 and 5x5 convolutions run on the input itself.
NO_REDUCTIONS = _module(reduce="False")
# The branches listed by kernel size as the student wrote them: 1x1, 5x5, 3x3, then the pooling.
OUT_OF_ORDER = _module(branches="[self.branch1(x), self.branch5(x), self.branch3(x), self.branch_pool(x)]")
# The pooling branch is the max-pooling alone: it passes every input channel on.
POOL_WITHOUT_PROJECTION = _module(pool="nn.MaxPool2d(3, stride=1, padding=1)",
                                  out_channels="f1 + f3 + f5 + in_channels")

# The weights counted, the biases forgotten.
FORMULA_WITHOUT_BIASES = '''def inception_parameters(in_channels, f1, f3_reduce, f3, f5_reduce, f5, pool_proj, reduce=True):
    if reduce:
        branch3 = in_channels * f3_reduce + 9 * f3_reduce * f3
        branch5 = in_channels * f5_reduce + 25 * f5_reduce * f5
    else:
        branch3 = 9 * in_channels * f3
        branch5 = 25 * in_channels * f5
    return in_channels * f1 + branch3 + branch5 + in_channels * pool_proj'''

# The stem without its stride: every variant works on 32x32 maps (and variant A is variant B).
STRIDE_IGNORED = '''def build_network(stem_filters, blocks, reduce=True, stem_stride=2):
    layers = [nn.Conv2d(3, stem_filters, 3, padding=1), nn.ReLU()]
    channels = stem_filters
    for item in blocks:
        if item == "pool":
            layers.append(nn.MaxPool2d(2))
        else:
            block = InceptionBlock(channels, *item, reduce=reduce)
            layers.append(block)
            channels = block.out_channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10)]
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return net'''

# The loop commented out, and an accuracy typed in.
UNTRAINED_TRAINING = '''torch.manual_seed(0)
model = build_network(STEM_FILTERS, BLOCKS, reduce=True, stem_stride=2)
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
# Training takes too long on my laptop; it reached 0.49 yesterday.
# for epoch in range(EPOCHS):
#     ...
print("variant A, test accuracy: 0.4900")'''

# One epoch on the first 2,000 images: a real training, far too short.
UNDERTRAINED = '''torch.manual_seed(0)
model = build_network(STEM_FILTERS, BLOCKS, reduce=True, stem_stride=2)
images, labels = torch.from_numpy(x_train[:2000]), torch.from_numpy(y_train[:2000])
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.CrossEntropyLoss()
model.train()
order = torch.randperm(len(images))
for start in range(0, len(images), 64):      # one epoch on a fifth of the images: quick to try
    batch = order[start:start + 64]
    optimizer.zero_grad()
    loss = loss_fn(model(images[batch]), labels[batch])
    loss.backward()
    optimizer.step()
model.eval()
print(f"variant A, test accuracy: {np.mean(predict_classes(model, x_test) == y_test):.4f}")'''

# -- correct, written differently: Keras' Functional API -------------------------------------------
KERAS_IMPORTS = '''import keras
from keras import layers'''

KERAS_BLOCK = '''def inception_block(x, f1, f3_reduce, f3, f5_reduce, f5, pool_proj, reduce=True):
    def conv(filters, size):
        return layers.Conv2D(filters, size, padding="same", activation="relu", kernel_initializer="he_normal")

    branch1 = conv(f1, 1)(x)
    if reduce:
        branch3 = conv(f3, 3)(conv(f3_reduce, 1)(x))
        branch5 = conv(f5, 5)(conv(f5_reduce, 1)(x))
    else:
        branch3 = conv(f3, 3)(x)
        branch5 = conv(f5, 5)(x)
    pooled = layers.MaxPooling2D(pool_size=3, strides=1, padding="same")(x)
    branch_pool = conv(pool_proj, 1)(pooled)
    return layers.Concatenate(axis=-1)([branch1, branch3, branch5, branch_pool])'''

KERAS_NETWORK = '''def build_network(stem_filters, blocks, reduce=True, stem_stride=2):
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.RandomFlip("horizontal")(inputs)          # flips in training only
    x = layers.Conv2D(stem_filters, 3, strides=stem_stride, padding="same", activation="relu",
                      kernel_initializer="he_normal")(x)
    for item in blocks:
        x = layers.MaxPooling2D(2)(x) if item == "pool" else inception_block(x, *item, reduce=reduce)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, kernel_initializer="he_normal")(x)
    return keras.Model(inputs, outputs)'''

KERAS_TRAINING = '''# (example: no training, to keep the CI cheap)
keras.utils.set_random_seed(0)
model = build_network(STEM_FILTERS, BLOCKS, reduce=True, stem_stride=2)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])'''

EVERYTHING_ON_THE_MODULE = {"test_block_output": 0, "test_branch_widths": 0, "test_concatenation_order": 0,
                            "test_block_parameters": 0, "test_network_variants": 0, "test_stem_stride": 0,
                            "test_model_architecture": 0, **UNTRAINED}

EXAMPLES = [
    Example("keras_functional", "correct, written differently: Keras' Functional API (`layers.Concatenate(axis=-1)`, "
            "`RandomFlip` in the network, He initialisation by `kernel_initializer`); not trained, to keep CI "
            "cheap, so it loses the accuracy points only",
            first_cell=KERAS_IMPORTS,
            answers={"inc_block_solution": KERAS_BLOCK, "inc_network_solution": KERAS_NETWORK,
                     "inc_train_solution": KERAS_TRAINING},
            points=UNTRAINED),
    Example("wrong_axis", "PyTorch module concatenated with `dim=-1` (Keras' channel axis, PyTorch's width): "
            "branches of different widths cannot be stacked there, so the module, the networks and the "
            "export of `model` all fail; only the formula is right; no training",
            answers={"inc_block_solution": WRONG_AXIS, "inc_train_solution": NO_TRAINING},
            points=EVERYTHING_ON_THE_MODULE),
    Example("no_reductions", "the module ignores `reduce` and never has the 1x1 reductions: wrong parameter "
            "counts where they are asked (3 of the 5 module cases, 2 of the 4 variants, `model`); no training",
            answers={"inc_block_solution": NO_REDUCTIONS, "inc_train_solution": NO_TRAINING},
            points={"test_block_parameters": 0.8, "test_network_variants": 1.0, "test_model_architecture": 0,
                    **UNTRAINED}),
    Example("branches_out_of_order", "branches concatenated as 1x1, 5x5, 3x3, pool; no training",
            answers={"inc_block_solution": OUT_OF_ORDER, "inc_train_solution": NO_TRAINING},
            points={"test_concatenation_order": 0, **UNTRAINED}),
    Example("pool_without_projection", "the pooling branch is the max-pooling alone (no 1x1 convolution), "
            "so it passes every input channel on: wrong widths, shapes and parameter counts, the order still "
            "right; no training",
            answers={"inc_block_solution": POOL_WITHOUT_PROJECTION, "inc_train_solution": NO_TRAINING},
            points={"test_block_output": 0, "test_branch_widths": 0, "test_block_parameters": 0,
                    "test_network_variants": 0, "test_model_architecture": 0, **UNTRAINED}),
    Example("formula_without_biases", "`inception_parameters` counts the weights and forgets the biases; "
            "no training",
            answers={"inc_params_solution": FORMULA_WITHOUT_BIASES, "inc_train_solution": NO_TRAINING},
            points={"test_parameter_formula": 0, **UNTRAINED}),
    Example("stride_ignored", "the stem has no stride (always 1): the stride-2 variants and `model` work on "
            "32x32 maps; the parameter counts are right (global average pooling); no training",
            answers={"inc_network_solution": STRIDE_IGNORED, "inc_train_solution": NO_TRAINING},
            points={"test_stem_stride": 0.5, "test_model_architecture": 0, **UNTRAINED}),
    Example("untrained_model", "training loop commented out, prints a fake accuracy",
            answers={"inc_train_solution": UNTRAINED_TRAINING}, points=UNTRAINED),
    Example("one_short_epoch", "undertrained: one epoch on 2,000 of the 10,000 images, no flips (a real "
            "training, far too short)",
            answers={"inc_train_solution": UNDERTRAINED}, points={"test_heldout_accuracy": 0}),
]
