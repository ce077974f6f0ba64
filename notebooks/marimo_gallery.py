# sorakit in marimo: ask for a video, watch it, browse a gallery. Runs on the built-in emulator
# (no key, no spend). `marimo edit notebooks/marimo_gallery.py` to open it, or
# `marimo run notebooks/marimo_gallery.py` to serve it as an app.
#
# The player and gallery are anywidgets, which marimo shows through `mo.ui.anywidget`; videos
# stream from the Python process on play. sorakit's request form is ipywidgets, which marimo does
# not render, so this notebook asks with marimo's own inputs and `studio.generate`.
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import os
    import tempfile

    import marimo as mo

    os.environ.setdefault("SORAKIT_QUIET", "1")
    from sorakit.display import gallery, player
    from sorakit.engine import Studio

    folder = os.environ.get("SORAKIT_MARIMO_DIR") or tempfile.mkdtemp(prefix="sorakit-marimo-")
    studio = Studio(emulate=True, ledger=os.path.join(folder, "ledger.db"), time_scale=0.02)
    return gallery, mo, player, studio


@app.cell
def _(mo):
    prompt = mo.ui.text_area(value="A red fox trotting through fresh snow, telephoto", label="Prompt", full_width=True)
    model = mo.ui.dropdown(["seedance-1-pro-fast", "seedance-1-pro", "veo-3-fast"], value="seedance-1-pro-fast",
                           label="Model")
    go = mo.ui.run_button(label="Generate")
    mo.vstack([prompt, mo.hstack([model, go], justify="start")])
    return go, model, prompt


@app.cell
def _(go, mo, model, player, prompt, studio):
    mo.stop(not go.value, mo.md("Press **Generate**: the emulator renders a real MP4 in a few seconds."))
    job = studio.generate(prompt.value, model=model.value, provider="runware", size="864x480", seconds=5,
                          progress=False)
    mo.ui.anywidget(player(job))
    return


@app.cell
def _(gallery, mo, studio):
    if not studio.ledger.rows(status="completed"):
        studio.batch(["A heron lifting off a misty lake", "A paper lantern drifting at night"],
                     models=["seedance-1-pro-fast"], providers=["runware"], size="864x480", seconds=5,
                     progress=False)
    mo.ui.anywidget(gallery(studio, columns=2, title="marimo gallery"))
    return


if __name__ == "__main__":
    app.run()
