"""What a trained model is written as: the SavedModel, its TF Serving warm-up requests, TFLite."""
