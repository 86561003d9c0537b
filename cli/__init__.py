"""The command-line faces of bit-tfx: each module parses its subcommands' flags, calls the
pipeline layer, prints the result and picks the exit code. No pipeline logic lives here.

    main      the `bit-tfx` entry point: parser, logging, result printing, exit codes
    common    Output, exit codes, the data/train flags shared by run, demo, compile, schedule
    run       hyperrule, run, demo
    predict   predict
    report    report
    deploy    compile, schedule (Vertex AI Pipelines / Kubeflow Pipelines v2)
"""
