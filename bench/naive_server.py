"""The reference every figure is compared with: the usual student server, which calls Keras'
``model.predict`` per request in a process holding TensorFlow. Same preprocessing as ours.

    gunicorn -w 2 "bench.naive_server:create_app()"
"""

from flask import Flask, jsonify, request

from recognizer import decode, mnist, normalize


def create_app():
    import keras

    app = Flask(__name__)
    net = keras.models.load_model(mnist.KERAS_MODEL_PATH, compile=False)

    @app.post("/predict")
    def predict():
        image = normalize.normalize_digit(decode.decode_image(request.get_data()))
        probabilities = net.predict(image[None, :, :, None], verbose=0)[0]
        return jsonify(
            digit=int(probabilities.argmax()),
            confidence=float(probabilities.max()),
            probabilities=probabilities.tolist(),
        )

    return app
