"""The report's page as a jinja2 template string: one file, inline CSS, no script, no external asset."""

from __future__ import annotations

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto; max-width: 1250px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.8em; } h3 { margin-bottom: 0.3em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; vertical-align: top; }
th { background: #f1f3f6; } td.l, th.l { text-align: left; }
td.src { color: #777; font-size: 0.8em; }
.agrees { background: #e3f4e1; } .disagrees { background: #fbe3e1; } .not-tested { background: #f1f1f1; color: #666; }
.grids { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: 0.8em; color: #555; text-align: center; }
img.grid { width: 170px; image-rendering: pixelated; border: 1px solid #ddd; }
img.strip { max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
img.plot { max-width: 100%; }
code { background: #f4f4f4; padding: 0 3px; } .note { color: #555; font-size: 0.9em; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="note">Made by <code>{{ command }}</code> on {{ made }}. {{ machine }}</p>
<p class="note">{{ settings }}</p>

<h2>Five axes</h2>
<p class="note">Each cell is the mean over a group's seeds (± sample std with several seeds); every number comes from the runs' eval JSON, named in the grey column.
n/a: not measured for that family (never an invented number).</p>
<table>
<tr><th class="l">axis</th><th class="l">measurement</th><th class="l">source (eval JSON)</th>{% for label in labels %}<th>{{ label }}</th>{% endfor %}</tr>
{% for axis, name, source, cells in rows %}<tr><td class="l">{{ axis }}</td><td class="l">{{ name }}</td><td class="l src">{{ source }}</td>{% for c in cells %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>
<p class="note">{{ legend }}</p>

<h2>Textbook claims</h2>
{% if verdicts %}<table>
<tr><th class="l">claim</th><th class="l">rule</th><th class="l">measured (per family kind)</th><th>verdict</th></tr>
{% for v in verdicts %}<tr class="{{ v.verdict | replace(' ', '-') }}"><td class="l">{{ v.claim }}</td><td class="l">{{ v.rule }}</td><td class="l">{{ v.measured }}</td><td>{{ v.verdict }}{% if v.why %} ({{ v.why }}){% endif %}</td></tr>
{% endfor %}</table>{% else %}<p class="note">{{ no_claims }}</p>{% endif %}

{% if metrics_png %}<h2>Metrics</h2>
<img class="plot" src="{{ metrics_png }}" alt="FID per seed, precision vs recall, sampling speed">{% endif %}

<h2>Runs</h2>
{% for g in groups %}<h3>{{ g.label }} ({{ g.kind }})</h3>
{% if g.loss_png %}<img class="plot" src="{{ g.loss_png }}" alt="loss curves of {{ g.label }}">{% endif %}
{% if g.metric_png %}<img class="plot" src="{{ g.metric_png }}" alt="held-out metrics of {{ g.label }}">{% endif %}
<p class="note">Latent probe: {{ g.probe_what }}. Latent: {{ g.latent_what }}.</p>
{% for r in g.runs %}<h4>{{ r.name }} (seed {{ r.seed }}, step {{ r.step }}): <a href="{{ r.dir }}/card.md">model card</a> · <a href="{{ r.dir }}/eval.json">eval JSON</a> · <a href="{{ r.dir }}/metrics.jsonl">metrics.jsonl</a> · <a href="{{ r.dir }}/config.yaml">config.yaml</a></h4>
<p class="note">Class histogram of its {{ r.n }} samples by the evaluation classifier: {{ r.histogram }}.</p>
<div class="grids">{% for src, caption in r.grids %}<figure><img class="grid" src="{{ src }}" alt="{{ caption }}"><figcaption>{{ caption }}</figcaption></figure>{% endfor %}</div>
{% if r.strip %}<figure><img class="strip" src="{{ r.strip }}" alt="interpolation of {{ r.name }}"><figcaption>spherical interpolations between prior latents, one path per row (interpolation step {{ r.step_text }})</figcaption></figure>{% endif %}
{% endfor %}{% endfor %}

</body>
</html>
"""
