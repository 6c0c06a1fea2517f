"""LightningModules: training, validation and test steps, metrics and TensorBoard pictures."""
