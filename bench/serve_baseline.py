"""The baseline of bench/serve.ts: the PyTorch classifier served by a plain Python HTTP server.

It imports the plugin's own class (plugins/train-image-classifier/plugin/train.py:
ShapeClassifier), loads the same registered model file with its `load(path, None)` and answers
`POST /predict` with its `predict_request(None, model, body)`, as a replica's Python process
does, behind http.server's ThreadingHTTPServer (HTTP/1.1 keep-alive). Predictions run one at a
time (a lock), like the replica's one Python process. No engine, no Temporal, no gateway.
Prints `listening <port>` on stdout once it serves.

  python3 bench/serve_baseline.py --model FILE [--port 0]
"""

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True  # no __pycache__ in the plugin's folder (the engine's runtime writes none either)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "runtimes", "python"))  # the plugin module imports synapse_runtime
sys.path.insert(0, os.path.join(ROOT, "plugins", "train-image-classifier"))

from synapse_runtime import InvalidInput  # noqa: E402
from plugin.train import ShapeClassifier  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    trainer = ShapeClassifier()
    model = trainer.load(args.model, None)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            if self.path != "/predict":
                return self.answer(404, {"detail": "no route"})
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError as err:
                return self.answer(400, {"detail": "not JSON: %s" % err})
            try:
                with lock:
                    value = trainer.predict_request(None, model, body)
            except InvalidInput as err:
                return self.answer(400, {"errors": [{"path": err.field, "message": err.message}]})
            return self.answer(200, value)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("listening %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
