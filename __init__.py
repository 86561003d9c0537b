"""The checkout's root is the `bit_tfx` package: setup.py installs each top-level folder as
`bit_tfx.<folder>` (cli, kubeflow, pipeline, models, datasets, components). This file is not
installed (the installed `bit_tfx` is a namespace package); it tells editors, type checkers and
import-graph tools reading a plain checkout that the folders are one package's subpackages, so
that the relative imports between them (`from ..core import keys`) resolve on disk."""
