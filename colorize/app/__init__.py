"""colorize-app: a local web page to colorize a photo, correct it with
scribbles, compare it with the original and download it.

Why a small page of our own on Flask rather than Gradio: the page needs a
drawing canvas whose strokes map to exact photo pixels (so that the
downloaded marks reproduce the result with eval.py --marks), must work with
nothing fetched from outside, and must be testable by real mouse events in
a browser. Flask (already pulled in by the test extra's moto server) serves
three static files of our own and a small JSON API; its MAX_CONTENT_LENGTH
bounds uploads; its threaded server answers every request in its own
thread, so one user's job never holds up another's page. Gradio would add
about a hundred packages (FastAPI, pandas, its own front end), phone home
unless told not to, and its ImageEditor returns layers at the display size,
not strokes in photo coordinates.

Layout: config (the flags), methods (the colorizing functions the page
calls), store (users' photos and jobs, in memory), server (the routes),
static/ (the page), __main__ (the entry point).
"""
