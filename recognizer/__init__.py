"""The recognizer: what serving, training and evaluation share, in layers that import downwards only.

    mnist       constants: MNIST's 28x28 frame, the 20x20 box, the centre of mass, the classes, file names
    decode      bytes -> grey image (formats, EXIF, alpha, size limits before decoding)
    png         the PNG encoder (previews, tests, benchmarks)
    normalize   grey -> ink (polarity, lighting, lines and borders) -> strokes -> 28x28 MNIST-style digits
    segment     strokes -> units left to right -> candidate digits
    backends    LiteRT and Keras behind one protocol
    read        predict_image: decode -> segment -> normalise -> backend -> Reading

``app.py`` serves on top of it; ``model.py`` (training) and ``evaluation.py`` sit above it and are never
imported by serving.
"""
