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

EXAMPLES = [
    Example("gradcam_keras_io", "nothing: the keras.io Grad-CAM recipe, with the last layer's activation "
            "set to None as that example does",
            append={"gc_model_solution": "model.layers[-1].activation = None  # as in the keras.io example"},
            answers={"gc_heatmap_solution": KERAS_IO_GRADCAM}),
    Example("gradcam_no_relu", "Grad-CAM without the ReLU", answers={"gc_heatmap_solution": NO_RELU_GRADCAM},
            points={"test_heatmap_non_negative": 0, "test_matches_reference_gradcam": 0}),
]
