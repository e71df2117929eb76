"""The yardstick of ``scripts/bench --load``: a bare Flask app whose one route renders a 20-line template.

Served by gunicorn with the same settings as PeerLoop, in the same run, so each path's throughput
can be given as a share of what Flask itself manages on this machine: ``gunicorn bare_app:app``.
"""

from flask import Flask, render_template
from jinja2 import DictLoader

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }}</title>
</head>
<body>
  <header><h1>{{ title }}</h1></header>
  <main>
    <p>{{ intro }}</p>
    <ul>
      {% for item in items %}
      <li>{{ loop.index }}. {{ item }}</li>
      {% endfor %}
    </ul>
  </main>
  <footer>
    <p>{{ footer }}</p>
  </footer>
</body>
</html>
"""

app = Flask(__name__)
app.jinja_loader = DictLoader({"bare.html": TEMPLATE})  # compiled once and cached, like a file template


@app.get("/")
def bare():
    return render_template(
        "bare.html",
        title="Bare Flask",
        intro="One route, one template, no database.",
        items=["Catalog", "Courses", "Teachers", "Sessions", "Ratings"],
        footer="The yardstick of the load benchmark.",
    )
