"""Example submissions of hw1/mnist_cnn: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

# The third convolution and its pooling are missing (438,154 parameters).
MISSING_LAYER_MODEL = '''model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Conv2D(64, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(128, activation="relu"),
    layers.Dense(10),
])'''

# `fit` commented out, and a made-up accuracy printed.
UNTRAINED_TRAINING = '''model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
# Training takes too long on my laptop, it reached 0.99 yesterday:
# model.fit(x_train, y_train, epochs=5, batch_size=64)
print("Test accuracy: 0.9900")'''

# The same network in PyTorch, as the question allows: the grader exports it with torch.export.
PYTORCH_MODEL = '''import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(576, 128), nn.ReLU(),
    nn.Linear(128, 128), nn.ReLU(),
    nn.Linear(128, 10),
)'''

PYTORCH_TRAINING = '''images = torch.from_numpy(x_train).permute(0, 3, 1, 2)  # NHWC -> NCHW
labels = torch.from_numpy(y_train).long()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(8):
    model.train()
    order = torch.randperm(len(images))
    for start in range(0, len(images), 64):
        batch = order[start:start + 64]
        optimizer.zero_grad()
        loss = loss_fn(model(images[batch]), labels[batch])
        loss.backward()
        optimizer.step()
model.eval()
with torch.no_grad():
    predicted = model(torch.from_numpy(x_test).permute(0, 3, 1, 2)).argmax(dim=1).numpy()
test_accuracy = float((predicted == y_test).mean())
print(f"Test accuracy: {test_accuracy:.4f}")'''

EXAMPLES = [
    Example("pytorch", "nothing: the CNN built and trained in PyTorch (the question allows either framework)",
            answers={"cnn_build_solution": PYTORCH_MODEL, "cnn_train_solution": PYTORCH_TRAINING}),
    Example("missing_layer", "third conv + pooling missing (438,154 parameters); trained",
            answers={"cnn_build_solution": MISSING_LAYER_MODEL},
            points={"test_parameter_count": 0, "test_convolutional_layers": 0}),
    Example("untrained_model", "correct model, `fit` commented out, prints a fake \"Test accuracy: 0.9900\"",
            answers={"cnn_train_solution": UNTRAINED_TRAINING},
            points={"test_model_learned": 0, "test_heldout_accuracy": 0}),
]
