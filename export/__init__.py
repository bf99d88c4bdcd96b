"""Per-target exporters (ExecuTorch, Core ML, ONNX/QNN), installed as `sf_mobile.export`.

Each target gets one module here with the same small interface, behind a registry; they build
on `sf_mobile.exportable`. None is implemented yet: see the project's issues 3, 4 and 5.
"""
