# The blind arena in marimo (tests/browser/test_marimo.py serves it): two models' clips of one
# prompt, the arena as the cell's widget; votes go to the ledger in $SORAKIT_MARIMO_DIR.
import marimo

app = marimo.App()


@app.cell
def _():
    import os

    import marimo as mo

    os.environ.setdefault("SORAKIT_QUIET", "1")
    from sorakit.engine import Studio

    studio = Studio(emulate=True, ledger=os.path.join(os.environ["SORAKIT_MARIMO_DIR"], "arena.db"),
                    time_scale=0.02)
    studio.batch(["a corgi surfing"], models=["seedance-1-pro-fast", "seedance-1-pro"], providers=["runware"],
                 seeds=[7, 8], size="864x480", seconds=5, progress=False)
    mo.ui.anywidget(studio.arena(seed=1))
    return


if __name__ == "__main__":
    app.run()
