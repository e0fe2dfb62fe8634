"""citeqa's reader: a cross-encoder that reads a question together with one candidate sentence (and the
sentence's context: the headline and the sentence before it) and says how likely the sentence answers it, and
where in it the answer is.

`data` builds the training pairs from ../shared/train, `train` fits and exports the model (torch, only when
training), `model` runs the exported ONNX file at question time (onnxruntime and tokenizers, no torch).
"""
