"""Example submissions of hw1/gradcam: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

NO_RELU_GRADCAM = '''def make_gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=None):
    grad_model = keras.Model(
        model.inputs, [model.get_layer(last_conv_layer_name).output, model.layers[-1].output]
    )
    with tf.GradientTape() as tape:
        conv_output, preds = grad_model(tf.convert_to_tensor(img_array))
        if pred_index is None:
            pred_index = int(tf.argmax(preds[0]))
        class_score = preds[:, pred_index]
    grads = tape.gradient(class_score, conv_output)
    weights = tf.reduce_mean(grads, axis=(0, 1, 2))
    heatmap = tf.reduce_sum(conv_output[0] * weights, axis=-1)
    return (heatmap / tf.reduce_max(heatmap)).numpy()'''

# The keras.io Grad-CAM example, as students adapt it to a Sequential model (whose `model.output`
# Keras 3 does not define): the model's last activation is removed, and the heatmap is computed with
# a matrix product and normalised with tf.maximum.
KERAS_IO_GRADCAM = '''def make_gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=None):
    grad_model = keras.models.Model(
        model.inputs, [model.get_layer(last_conv_layer_name).output, model.layers[-1].output]
    )
    with tf.GradientTape() as tape:
        last_conv_layer_output, preds = grad_model(img_array)
        if pred_index is None:
            pred_index = tf.argmax(preds[0])
        class_channel = preds[:, pred_index]
    grads = tape.gradient(class_channel, last_conv_layer_output)
    pooled_grads = tf.reduce_mean(grads, axis=(0, 1, 2))
    last_conv_layer_output = last_conv_layer_output[0]
    heatmap = last_conv_layer_output @ pooled_grads[..., tf.newaxis]
    heatmap = tf.squeeze(heatmap)
    heatmap = tf.maximum(heatmap, 0) / tf.math.reduce_max(heatmap)
    return heatmap.numpy()'''

# The same task in PyTorch (the question accepts either framework): the network of the previous
# exercise as an nn.Sequential, one short epoch, and Grad-CAM with a forward and a full backward hook
# on the last nn.Conv2d, removed afterwards.
PYTORCH_MODEL = '''import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(64 * 3 * 3, 128), nn.ReLU(),
    nn.Linear(128, 128), nn.ReLU(),
    nn.Linear(128, 10),
)
# Channels first for PyTorch; one pass over 1,000 digits is enough to look at heatmaps.
images = torch.from_numpy(x_train[:1000].transpose(0, 3, 1, 2).copy())
labels = torch.from_numpy(y_train[:1000]).long()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
model.train()
for start in range(0, len(images), 64):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(images[start:start + 64]), labels[start:start + 64])
    loss.backward()
    optimizer.step()
model.eval()
last_conv_layer_name = "6"   # the third nn.Conv2d of the Sequential'''

PYTORCH_GRADCAM = '''def make_gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=None):
    layer = model.get_submodule(last_conv_layer_name)
    saved = {}
    handles = [
        layer.register_forward_hook(lambda module, inputs, output: saved.update(activations=output)),
        layer.register_full_backward_hook(lambda module, grad_in, grad_out: saved.update(gradients=grad_out[0])),
    ]
    try:
        logits = model(torch.from_numpy(img_array).permute(0, 3, 1, 2))   # NHWC -> NCHW
        if pred_index is None:
            pred_index = logits[0].argmax().item()
        model.zero_grad()
        logits[0, pred_index].backward()
    finally:
        for handle in handles:
            handle.remove()
    weights = saved["gradients"].mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * saved["activations"]).sum(dim=1))[0].detach()
    return (cam / (cam.max() + 1e-10)).numpy()'''

EXAMPLES = [
    Example("gradcam_keras_io", "nothing: the keras.io Grad-CAM recipe, with the last layer's activation "
            "set to None as that example does",
            append={"gc_model_solution": "model.layers[-1].activation = None  # as in the keras.io example"},
            answers={"gc_heatmap_solution": KERAS_IO_GRADCAM}),
    Example("gradcam_no_relu", "Grad-CAM without the ReLU", answers={"gc_heatmap_solution": NO_RELU_GRADCAM},
            points={"test_heatmap_non_negative": 0, "test_matches_reference_gradcam": 0}),
    Example("gradcam_pytorch", "nothing: the same task in PyTorch, with hooks on the last nn.Conv2d",
            answers={"gc_model_solution": PYTORCH_MODEL, "gc_heatmap_solution": PYTORCH_GRADCAM}),
]
