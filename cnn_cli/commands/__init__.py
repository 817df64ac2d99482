"""One module per `cnn` command; each defines `command`, a click command, and imports heavy things lazily."""
