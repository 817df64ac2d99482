"""The test suite of cnn: real data from data/, the real CLI."""
