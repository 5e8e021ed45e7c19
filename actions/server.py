"""Run the rasa-sdk action server as one process: ``python -m actions.server --port 5055``.

rasa-sdk's own launcher (``python -m rasa_sdk``) hands the app to Sanic's worker manager, which
spawns a worker that imports the actions again: the knowledge index (and the embedding model) would
load twice, and a crash of the manager would leave an orphan worker holding the port. Here the
index loads first, in this process, and only then does the server start listening on loopback, so
"reachable" means "can answer".
"""

from __future__ import annotations

import argparse
import logging

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor

from actions import knowledge_base


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")

    knowledge_base.retriever(timeout=600)  # load now; raises (and exits non-zero) if it cannot
    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_app(executor, cors_origins=None)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
