"""Example submissions of hw3/cifar_augment: realistic answers and exactly what they earn (see autograder/examples.py).

Only the reference trains the two networks for real (EPOCHS epochs on TRAIN_IMAGES images); the
`tutorial_style` example trains them for one epoch on 4,000 images (the undertrained networks, a few
seconds). Every other example replaces both training cells with no training at all, to keep CI
cheap: its untrained networks lose the three accuracy checks (4 points) besides its own mistake.
The mistakes in `batches`, `train` and `predict_classes` are caught without any training: the
grader calls those functions on inputs of its own.
"""
from autograder.examples import Example

NO_TRAINING = '''# (example: no training, to keep the CI cheap)'''
UNTRAINED = {"test_models_learned": 0, "test_heldout_accuracy": 0, "test_dropout_heldout_accuracy": 0}
NOT_TRAINED = {"ca_train_solution": NO_TRAINING, "ca_train_dropout_solution": NO_TRAINING}

# -- correct, written the tutorial's way --------------------------------------------------------------
# The previous question's crop and flip image by image, the tutorial's `class Net` with
# torch.nn.functional, a subclass for the dropout variant, the tutorial's loop with its running loss.
TUTORIAL_AUGMENT = '''def random_crop(image, size, padding=4, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    h, w = (size, size) if np.isscalar(size) else size
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)), mode="constant")
    top, left = rng.integers(0, padded.shape[0] - h + 1), rng.integers(0, padded.shape[1] - w + 1)
    return padded[top:top + h, left:left + w]


def random_flip(image, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return np.fliplr(image) if rng.random() < 0.5 else image


def augment(images, labels, rng=None):
    # The previous question's functions, image by image.
    rng = np.random.default_rng() if rng is None else rng
    return np.stack([random_flip(random_crop(image, image.shape[:2], rng=rng), rng=rng) for image in images]), labels'''

TUTORIAL_BATCHES = '''def batches(images, labels, batch_size, train, rng=None):
    if rng is None:
        rng = np.random.default_rng()
    n = len(images)
    indices = rng.permutation(n) if train else np.arange(n)
    for i in range(0, n, batch_size):
        idx = indices[i:i + batch_size]
        x, y = images[idx], np.asarray(labels)[idx]
        if train:
            x, y = augment(x, y, rng)
        yield torch.tensor(x, dtype=torch.float32).permute(0, 3, 1, 2), torch.tensor(y, dtype=torch.long)'''

TUTORIAL_NET = '''import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


model = Net()'''

TUTORIAL_DROPOUT_NET = '''class NetWithDropout(Net):
    def __init__(self, p=0.25):
        super().__init__()
        self.dropout = nn.Dropout(p)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


model_dropout = NetWithDropout()'''

TUTORIAL_LOOP = '''def train(model, images, labels, epochs, seed=0):
    rng = np.random.default_rng(seed)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.9)
    for epoch in range(epochs):  # loop over the dataset multiple times
        model.train()
        running_loss = 0.0
        for i, (inputs, targets) in enumerate(batches(images, labels, BATCH_SIZE, train=True, rng=rng)):
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % 200 == 199:  # print every 200 mini-batches
                print(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 200:.3f}")
                running_loss = 0.0


def predict_classes(model, images, batch_size=500):
    model.eval()
    predicted = []
    with torch.no_grad():
        for inputs, _ in batches(images, np.zeros(len(images), dtype=np.int64), batch_size, train=False):
            _, classes = torch.max(model(inputs), 1)
            predicted.append(classes)
    return torch.cat(predicted).numpy()'''

# One epoch on 4,000 images instead of EPOCHS epochs on all of x_train: a real but short training.
SHORT_TRAINING = '''train(model, x_train[:4000], y_train[:4000], 1)   # (example: a short training, to keep the CI cheap)
correct = (predict_classes(model, x_test) == y_test).sum()
print(f"Accuracy of the network on the {len(y_test)} test images: {100 * correct / len(y_test):.1f} %")'''
SHORT_DROPOUT_TRAINING = SHORT_TRAINING.replace("(model", "(model_dropout").replace("network", "network with dropout")

# -- wrong answers in the data pipeline ----------------------------------------------------------------
# The same transform for the training and the evaluation batches (as when one torchvision
# `transform` with RandomCrop is given to both datasets): the test images are cropped and flipped.
AUGMENT_AT_EVALUATION = '''def batches(images, labels, batch_size, train, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    order = rng.permutation(len(images)) if train else np.arange(len(images))
    for start in range(0, len(images), batch_size):
        chosen = order[start:start + batch_size]
        x, y = augment(images[chosen], np.asarray(labels)[chosen], rng=rng)
        yield (torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))),
               torch.from_numpy(np.asarray(y, dtype=np.int64)))'''

# Images and labels shuffled with two different permutations: every image gets a random label.
LABELS_SHUFFLED_APART = '''def batches(images, labels, batch_size, train, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    images, labels = np.asarray(images), np.asarray(labels)
    if train:
        images = images[rng.permutation(len(images))]
        labels = labels[rng.permutation(len(labels))]
    for start in range(0, len(images), batch_size):
        x, y = images[start:start + batch_size], labels[start:start + batch_size]
        if train:
            x, y = augment(x, y, rng=rng)
        yield (torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))),
               torch.from_numpy(y.astype(np.int64)))'''


def _augment_with(crop: str, flip: str) -> str:
    return f'''def random_crop(image, size, padding=4, rng=None):
    rng = np.random.default_rng() if rng is None else rng
{crop}


def random_flip(image, rng=None):
    rng = np.random.default_rng() if rng is None else rng
{flip}


def augment(images, labels, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = random_flip(random_crop(image, image.shape[:2], padding=4, rng=rng), rng=rng)
    return out, labels'''


RIGHT_CROP = '''    h, w = (size, size) if np.ndim(size) == 0 else size
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    top = rng.integers(0, padded.shape[0] - h + 1)
    left = rng.integers(0, padded.shape[1] - w + 1)
    return padded[top:top + h, left:left + w]'''
RIGHT_FLIP = '''    return image[:, ::-1] if rng.random() < 0.5 else image'''
# np.flip without an axis... then axis=0, thinking of "the first image axis": the images turn upside down.
VERTICAL_FLIP = _augment_with(RIGHT_CROP, '''    return np.flip(image, axis=0) if rng.random() < 0.5 else image''')
# A random window of the image itself, no padding: with the crop as large as the image, it never moves.
CROP_WITHOUT_PADDING = _augment_with('''    h, w = (size, size) if np.ndim(size) == 0 else size
    top = rng.integers(0, image.shape[0] - h + 1)
    left = rng.integers(0, image.shape[1] - w + 1)
    return image[top:top + h, left:left + w]''', RIGHT_FLIP)

# -- wrong answers in training and evaluation ----------------------------------------------------------
TRAIN_AND_PREDICT = '''def train(model, images, labels, epochs, seed=0):
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        for inputs, targets in batches({data}, BATCH_SIZE, train=True, rng=rng):
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
        print(f"epoch {{epoch + 1}}: last loss {{loss.item():.3f}}")


def predict_classes(model, images, batch_size=500):
{eval_line}    with torch.no_grad():
        outputs = [model(x) for x, _ in batches(images, np.zeros(len(images)), batch_size, train=False)]
    return torch.cat(outputs).argmax(dim=1).numpy()'''
# The loop copied from the evaluation cell: it trains on the notebook's test images, not on its arguments.
TRAINS_ON_TEST = TRAIN_AND_PREDICT.format(data="x_test, y_test", eval_line="    model.eval()\n")
# model.eval() forgotten: dropout stays on when predicting (the network was left in training mode).
NO_EVAL_MODE = TRAIN_AND_PREDICT.format(data="images, labels", eval_line="")

# Dropout on the flattened feature maps, before the first dense layer (not after it).
DROPOUT_BEFORE_DENSE = '''model_dropout = nn.Sequential(
    nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Dropout(0.25),
    nn.Linear(400, 120), nn.ReLU(),
    nn.Linear(120, 84), nn.ReLU(),
    nn.Linear(84, 10),
)'''

# The training commented out, and an accuracy typed in.
FAKE_ACCURACY = '''# Training takes too long on my laptop; it reached 61 % yesterday.
# train(model, x_train, y_train, EPOCHS)
print("test accuracy: 0.6120")'''
FAKE_DROPOUT_ACCURACY = '''# train(model_dropout, x_train, y_train, EPOCHS)
print("test accuracy with dropout: 0.5870")'''

EXAMPLES = [
    Example("tutorial_style", "correct, written the tutorial's way (`class Net` with `torch.nn.functional`, a "
            "subclass with `nn.Dropout`, the tutorial's loop and `torch.max`, the previous question's crop and "
            "flip image by image); trained for one epoch on 4,000 images to keep CI cheap, so it loses the two "
            "accuracy thresholds only",
            answers={"ca_augment_solution": TUTORIAL_AUGMENT, "ca_batches_solution": TUTORIAL_BATCHES,
                     "ca_model_solution": TUTORIAL_NET, "ca_dropout_model_solution": TUTORIAL_DROPOUT_NET,
                     "ca_train_functions_solution": TUTORIAL_LOOP, "ca_train_solution": SHORT_TRAINING,
                     "ca_train_dropout_solution": SHORT_DROPOUT_TRAINING},
            points={"test_heldout_accuracy": 0, "test_dropout_heldout_accuracy": 0}),
    Example("augment_at_evaluation", "`batches` augments every batch, training or not (one transform for both "
            "sets): the evaluation images are cropped and flipped, and predictions change from call to call; "
            "no training", answers={"ca_batches_solution": AUGMENT_AT_EVALUATION, **NOT_TRAINED},
            points={**UNTRAINED, "test_evaluation_batches": 0, "test_evaluation_mode": 0}),
    Example("trains_on_test_images", "`train` loops over `batches(x_test, y_test, ...)`, the evaluation images, "
            "instead of its arguments; no training", answers={"ca_train_functions_solution": TRAINS_ON_TEST,
                                                              **NOT_TRAINED},
            points={**UNTRAINED, "test_train_loop": 0}),
    Example("no_eval_mode", "`predict_classes` never calls `model.eval()`: dropout stays on when predicting; "
            "no training", answers={"ca_train_functions_solution": NO_EVAL_MODE, **NOT_TRAINED},
            points={**UNTRAINED, "test_evaluation_mode": 0}),
    Example("vertical_flip", "`random_flip` flips along axis 0, the height: upside-down images; no training",
            answers={"ca_augment_solution": VERTICAL_FLIP, **NOT_TRAINED},
            points={**UNTRAINED, "test_training_batches": 0}),
    Example("crop_without_padding", "`random_crop` cuts a window of the unpadded image: a 32x32 crop of a 32x32 "
            "image never moves; no training", answers={"ca_augment_solution": CROP_WITHOUT_PADDING, **NOT_TRAINED},
            points={**UNTRAINED, "test_training_randomness": 0}),
    Example("labels_shuffled_apart", "`batches` shuffles the images and the labels with two different "
            "permutations; no training", answers={"ca_batches_solution": LABELS_SHUFFLED_APART, **NOT_TRAINED},
            points={**UNTRAINED, "test_training_batches": 0}),
    Example("dropout_before_dense", "the dropout of `model_dropout` on the flattened maps, before the first "
            "dense layer; no training", answers={"ca_dropout_model_solution": DROPOUT_BEFORE_DENSE, **NOT_TRAINED},
            points={**UNTRAINED, "test_dropout_architecture": 0}),
    Example("fake_accuracy", "the training calls commented out, and accuracies typed in",
            answers={"ca_train_solution": FAKE_ACCURACY, "ca_train_dropout_solution": FAKE_DROPOUT_ACCURACY},
            points=UNTRAINED),
]
