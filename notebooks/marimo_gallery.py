# sorakit in marimo: ask for a video with sorakit's form, watch it, browse a gallery. Runs on the
# built-in emulator (no key, no spend). `marimo edit notebooks/marimo_gallery.py` to open it, or
# `marimo run notebooks/marimo_gallery.py` to serve it as an app.
#
# marimo renders anywidgets (through `mo.ui.anywidget`), not ipywidgets; sorakit's widgets are all
# anywidgets, the same as in Jupyter: `sorakit.display.form(studio)` is the form (prompt, model and
# provider, the sizes, durations, seed, audio... that offer allows, the live estimate and budget,
# Submit), and the jobs it starts are listed under it as job cards with their progress, Cancel and,
# once done, the video. A Job as a cell's last line shows its card (`job_card(job)` is the widget);
# the player and gallery are anywidgets too; videos stream from the Python process on play.
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import os
    import tempfile

    import marimo as mo

    os.environ.setdefault("SORAKIT_QUIET", "1")
    from sorakit.display import form, gallery
    from sorakit.engine import Studio

    folder = os.environ.get("SORAKIT_MARIMO_DIR") or tempfile.mkdtemp(prefix="sorakit-marimo-")
    studio = Studio(emulate=True, ledger=os.path.join(folder, "ledger.db"), time_scale=0.02)
    return form, gallery, mo, studio


@app.cell
def _(form, mo, studio):
    mo.vstack([
        mo.md("Write a prompt, pick a model and press **Generate**: the emulator renders a real MP4 in a "
              "few seconds; the job appears under the form and plays there when done."),
        mo.ui.anywidget(form(studio, model="seedance-1-pro-fast@runware")),
    ])
    return


@app.cell
def _(gallery, mo, studio):
    if not studio.ledger.rows(status="completed"):
        studio.batch(["A heron lifting off a misty lake", "A paper lantern drifting at night"],
                     models=["seedance-1-pro-fast"], providers=["runware"], size="864x480", seconds=5,
                     progress=False)
    done = studio.ledger.rows(status="completed")
    mo.ui.anywidget(gallery(studio, columns=2, title="marimo gallery"))
    return (done,)


@app.cell
def _(done, studio):
    studio.job(done[0]["job_id"])  # a Job as a cell's last line: its live card, as in Jupyter
    return


if __name__ == "__main__":
    app.run()
