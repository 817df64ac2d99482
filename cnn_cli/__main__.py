"""Lets `python -m cnn_cli` run the command-line interface."""

from cnn_cli.cli import main

if __name__ == "__main__":
    main()
