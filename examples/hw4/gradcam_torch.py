"""Example submissions of hw4/gradcam_torch: realistic answers and exactly what they earn (see autograder/examples.py).

Only the reference trains its model (one epoch, a few seconds): no check measures accuracy, and a
Grad-CAM is as well defined on an untrained network, so every example replaces the training cell
with no training at all, to keep the CI cheap.
"""
from autograder.examples import Example

NO_TRAINING = '''# (example: no training, to keep the CI cheap)
model.eval()'''


def _heatmap(weights: str = "weights = kept[\"gradients\"][0].mean(dim=(1, 2))",
             combine: str = "heatmap = F.relu((weights[:, None, None] * feature_maps).sum(dim=0))",
             normalise: str = "heatmap = heatmap / (heatmap.max() + 1e-12)",
             choose: str = "if pred_index is None:\n            pred_index = int(scores[0].argmax())") -> str:
    """make_gradcam_heatmap with a forward and a full backward hook (as most students write it),
    one part changed."""
    return f'''def make_gradcam_heatmap(img_tensor, model, last_conv_layer_name, pred_index=None):
    layer = model.get_submodule(last_conv_layer_name)
    kept = {{}}
    forward_handle = layer.register_forward_hook(lambda m, inputs, output: kept.update(feature_maps=output))
    backward_handle = layer.register_full_backward_hook(
        lambda m, grad_input, grad_output: kept.update(gradients=grad_output[0]))
    try:
        model.eval()
        scores = model(img_tensor)
        {choose}
        model.zero_grad()
        scores[0, pred_index].backward()
    finally:
        forward_handle.remove()
        backward_handle.remove()
    feature_maps = kept["feature_maps"][0].detach()
    {weights}
    {combine}
    {normalise}
    return heatmap.numpy()'''


# No ReLU: the negative evidence (regions that speak against the class) stays in the map.
NO_RELU = _heatmap(combine="heatmap = (weights[:, None, None] * feature_maps).sum(dim=0)")

# The gradients multiply the feature maps position by position, instead of one weight per channel
# (the average over the u x v positions).
PIXELWISE_WEIGHTS = _heatmap(weights="gradients = kept[\"gradients\"][0]",
                             combine="heatmap = F.relu((gradients * feature_maps).sum(dim=0))")

# Always the predicted class: pred_index is overwritten.
IGNORES_CLASS = _heatmap(choose="pred_index = int(scores[0].argmax())  # the class the model sees")

# The hooks are registered at every call and never removed; the lists grow, and [-1] is the latest.
HOOKS_LEFT = '''feature_maps, gradients = [], []


def make_gradcam_heatmap(img_tensor, model, last_conv_layer_name, pred_index=None):
    layer = model.get_submodule(last_conv_layer_name)
    layer.register_forward_hook(lambda module, inputs, output: feature_maps.append(output))
    layer.register_full_backward_hook(lambda module, grad_input, grad_output: gradients.append(grad_output[0]))
    model.eval()
    scores = model(img_tensor)
    if pred_index is None:
        pred_index = scores.argmax(dim=1).item()
    model.zero_grad()
    scores[0, pred_index].backward()
    A = feature_maps[-1][0].detach()
    alpha = gradients[-1][0].mean(dim=(1, 2))
    cam = torch.relu(torch.einsum("k,kij->ij", alpha, A))
    return (cam / cam.max()).numpy()'''

# Correct, written differently: a torchvision-style model (features / classifier), and the older
# Grad-CAM repositories' idiom, a tensor hook registered from the forward hook and backward() with a
# one-hot gradient.
SEQUENTIAL_MODEL = '''class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(288, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


model = Net()
last_conv_layer_name = "features.6"'''

TENSOR_HOOK = '''def make_gradcam_heatmap(img_tensor, model, last_conv_layer_name, pred_index=None):
    activations, gradients = [], []

    def save_activation(module, inputs, output):
        activations.append(output.detach())
        output.register_hook(lambda grad: gradients.append(grad.detach()))

    handle = model.get_submodule(last_conv_layer_name).register_forward_hook(save_activation)
    try:
        model.eval()
        output = model(img_tensor)
        class_idx = output.argmax(dim=1).item() if pred_index is None else pred_index
        one_hot = torch.zeros_like(output)
        one_hot[0, class_idx] = 1.0
        model.zero_grad()
        output.backward(gradient=one_hot)
    finally:
        handle.remove()
    pooled = gradients[0].mean(dim=(2, 3), keepdim=True)
    cam = torch.clamp((pooled * activations[0]).sum(dim=1), min=0)[0]
    cam = cam / cam.max()
    return cam.numpy()'''

EXAMPLES = [
    Example("gradcam_tensor_hook", "nothing: an nn.Sequential model (features / classifier) and a tensor hook "
            "registered from the forward hook, backward() with a one-hot gradient",
            answers={"gct_model_solution": SEQUENTIAL_MODEL, "gct_train_solution": NO_TRAINING,
                     "gct_heatmap_solution": TENSOR_HOOK}),
    Example("gradcam_no_relu", "Grad-CAM without the ReLU",
            answers={"gct_train_solution": NO_TRAINING, "gct_heatmap_solution": NO_RELU},
            points={"test_heatmap_non_negative": 0, "test_matches_reference_gradcam": 0}),
    Example("gradcam_pixelwise", "the gradients multiply the feature maps position by position, not averaged "
            "over space into one weight per channel",
            answers={"gct_train_solution": NO_TRAINING, "gct_heatmap_solution": PIXELWISE_WEIGHTS},
            points={"test_matches_reference_gradcam": 0, "test_pred_index_respected": 0}),
    Example("gradcam_ignores_class", "pred_index ignored: always the predicted class",
            answers={"gct_train_solution": NO_TRAINING, "gct_heatmap_solution": IGNORES_CLASS},
            points={"test_pred_index_respected": 0}),
    Example("gradcam_first_conv", "the hooks on the first convolutional layer (last_conv_layer_name = 'conv1')",
            append={"gct_model_solution": 'last_conv_layer_name = "conv1"  # the layer the image goes through first'},
            answers={"gct_train_solution": NO_TRAINING},
            points={"test_last_conv_layer_name": 0, "test_heatmap_shape": 0, "test_matches_reference_gradcam": 0,
                    "test_pred_index_respected": 0}),
    Example("gradcam_hooks_left", "hooks registered at every call and never removed",
            answers={"gct_train_solution": NO_TRAINING, "gct_heatmap_solution": HOOKS_LEFT},
            points={"test_hooks_removed": 0}),
]
