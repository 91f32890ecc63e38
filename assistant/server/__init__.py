"""The HTTP server: the JSON API (FastAPI) with the Gradio chat page mounted beside it, one process, one port.

    schema.py      the API's own JSON (article, health, errors) and its documented error responses
    errors.py      every error as {"detail": "..."}, never a 500
    middleware.py  request body limits, and an answer for any exception
    engine.py      one question at a time, with a bounded queue
    mount.py       the chat page at /, mounted once Gradio has loaded
    app.py         create_app: the routes
    serve.py       the socket and uvicorn

Importing this package costs nothing; `server.app` imports FastAPI and `server.mount` Gradio, when they are needed.
"""

HOST = "127.0.0.1"
"""This machine only, unless the user says otherwise."""
PORT = 7860
