"""What users do with a trained model; each task is a plain function over a fitted estimator."""
