"""TensorBoard over training jobs' event files, the visualization jobs' runtime (the recipe's
image and environment have TensorBoard)."""
