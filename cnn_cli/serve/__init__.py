"""`cnn serve`: a trained run's model behind HTTP (FastAPI on uvicorn, the extra `serve`), for a colleague's
browser or program.

`sizes` reads `--max-upload`; `served` holds the run and its model, loaded once in float32 as every reader
loads it, and answers for images held in memory; `batcher` runs the model on one thread for the requests that
arrive together; `uploads` turns a request's body (multipart fields `file`, or JSON base64 images) into named
bytes, refusing what it cannot use in one line; `overlay` draws a Grad-CAM map over the model's input; `app` is
the FastAPI application (`/predict`, `/health`, `/info`, `/docs`, and the page `/`, `page.html`); `server`
binds the address and runs uvicorn. Importing this package imports neither FastAPI nor Keras: `app`, `server`
and `served` bring them.
"""
