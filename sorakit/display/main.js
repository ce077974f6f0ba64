// The entry point of sorakit's ES module: the last part (see stage.js for how the module is
// assembled). anywidget calls `render` for every view of a model; the model's `_kind` trait
// ("player", "grid", "form") names the view file's render function in VIEWS.
function render({ model, el }) {
  const kind = model.get("_kind");
  const view = VIEWS[kind];
  if (!view) {
    el.textContent = `sorakit: this module has no view of kind ${JSON.stringify(kind)}`;
    return;
  }
  return view(model, el);
}

export default { render };
