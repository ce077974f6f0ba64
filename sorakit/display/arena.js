// The blind arena (kind "arena": Arena): the tile grid of player.js showing two clips of one prompt,
// labels hidden, plus four vote buttons and their keys: ← left, → right, ↓ tie, b both bad. A vote
// goes to the kernel as {type: "vote", outcome, pair}; the kernel records it and sends the next pair
// (new `tiles`/`cells`), so this view keeps no state of its own besides the buttons.
const ARENA_CHOICES = [
  ["left", "← left is better", "ArrowLeft"],
  ["tie", "↓ tie", "ArrowDown"],
  ["right", "right is better →", "ArrowRight"],
  ["both_bad", "both bad (b)", "b"],
];

function renderArena(model, el) {
  const stop = renderGrid(model, el);
  const bar = el_("div", "sk-arena-bar");
  const status = el_("div", "sk-arena-status");
  const buttons = ARENA_CHOICES.map(([outcome, text]) => {
    const b = el_("button", "sk-arena-btn", text);
    b.type = "button";
    b.dataset.outcome = outcome;
    b.addEventListener("click", () => vote(outcome));
    return b;
  });
  bar.append(...buttons);
  el.append(bar, status);
  el.tabIndex = 0;
  el.classList.add("sk-arena-view");
  function vote(outcome) {
    if (model.get("done")) return;
    buttons.forEach((b) => (b.disabled = true));
    model.send({ type: "vote", outcome, pair: model.get("pair") });
  }
  function onKey(e) {
    if (e.target && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
    const hit = ARENA_CHOICES.find((c) => c[2] === e.key);
    if (!hit) return;
    e.preventDefault();
    e.stopPropagation();
    vote(hit[0]);
  }
  function refresh() {
    status.textContent = model.get("status") || "";
    buttons.forEach((b) => (b.disabled = !!model.get("done")));
  }
  el.addEventListener("keydown", onKey);
  model.on("change:status", refresh);
  model.on("change:pair", refresh);
  model.on("change:done", refresh);
  refresh();
  return () => {
    el.removeEventListener("keydown", onKey);
    model.off("change:status", refresh);
    model.off("change:pair", refresh);
    model.off("change:done", refresh);
    stop();
  };
}

VIEWS.arena = renderArena;
