print("vigil-bench: not yet implemented")
