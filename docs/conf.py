"""Sphinx settings of the documentation site: Markdown pages (MyST) in the furo theme, built by `make docs`
(strict in CI: a broken link, a page outside the table of contents or any other warning fails the build).
The theme's fonts, styles and scripts come from the installed package: the site needs no network."""

project = "cnn"
author = "the cnn authors"
copyright = "the cnn authors"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]
myst_heading_anchors = 3  # `page.md#a-heading` links, as GitHub makes them
myst_enable_extensions = ["colon_fence", "deflist"]
suppress_warnings = []

html_theme = "furo"
html_title = "cnn"
html_static_path = []
html_copy_source = False
html_show_sourcelink = False
