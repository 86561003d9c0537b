"""The core every layer shares, in plain Python (no TFX; TensorFlow only inside the few functions
that decode an image or list a folder): the vocabulary and the BiT rules.

    keys         feature keys, split names, artifact file names, defaults, node ids
    errors       ConfigError, the one error type for invalid input or configuration
    rule         the BiT-HyperRule as pure functions (downstream fine-tuning)
    upstream     the BiT upstream (pre-training) recipe, read the same way
    decision     the typed, frozen Decision both rules return (the HyperParameters artifact),
                 read and written by read_decision / write_decision
    settings     how a user-facing setting is declared once (a field with its help and flag)
    options      HyperRuleOptions: the HyperRule's settings, declared that way
    dataset_facts  DatasetFacts: what one split's statistics say (the HyperRule's input)
    image_check  what counts as an image the pipeline can train and serve on
    versions     the versions under a serving folder, as TF Serving sees them
    version      the running bit-tfx's version (the installed distribution's)

It is the bottom layer: the TFX components (bit_tfx.components) and the model code
(bit_tfx.models) both read it, and it imports nothing of theirs.

Importing this package sets the environment TensorFlow reads when it is first imported, once,
here: TFX, TFMA and hub.KerasLayer need Keras 2 (tf_keras), which TensorFlow 2.16 uses only
with TF_USE_LEGACY_KERAS=1; and TF_ENABLE_ONEDNN_OPTS=1 (oneDNN CPU kernels on every CPU). Every
entry point (the CLI, the runner files, the executors that Kubeflow/Vertex containers load by
import path, the model code TFX loads by import path) imports a module of ours, and so this
package, before TensorFlow. The container image sets the same variables (Dockerfile): TFX's
container entrypoints import TensorFlow before they load our executors. So does TFX's own CLI:
`tfx pipeline create` has imported TensorFlow (tf.keras already routed to Keras 3) before it
executes a runner file. That process only builds and compiles the DAG (no Keras model), and `tfx
run create --engine=local` runs local_runner.py in a fresh Python, where this package comes first.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# oneDNN's CPU kernels (convolutions and their gradients, fused batch norm): TensorFlow turns them
# on by itself only on CPUs with AVX-512 VNNI/BF16/AMX; on the AVX2 machines this project meets
# they make a BiT training step 1.5x faster (docs/benchmarks.md, "Where a Trainer step's time
# goes"). A user's own TF_ENABLE_ONEDNN_OPTS=0 wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
