// The blind arena (kind "arena": Arena): the tile grid of player.js showing two clips of one prompt,
// labels hidden, plus four vote buttons and their keys: ← left, → right, ↓ tie, b both bad, and an
// undo button (key u). A vote goes to the kernel as {type: "vote", outcome, pair}, an undo as
// {type: "undo", pair}; the kernel records or deletes the vote and sends the pair to show (new
// `tiles`/`cells`), so this view keeps no state of its own besides the buttons.
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
  const undo = el_("button", "sk-arena-btn sk-arena-undo", "↶ undo (u)");
  undo.type = "button";
  undo.title = "take back the last vote and show its pair again";
  undo.addEventListener("click", takeBack);
  bar.append(...buttons, undo);
  el.append(bar, status);
  el.tabIndex = 0;
  el.classList.add("sk-arena-view");
  // greyed until the kernel answers (a new pair, or a status saying why not); a second message for
  // the same pair is ignored by the kernel, so a double click is one vote, or one undo
  function busy() {
    buttons.forEach((b) => (b.disabled = true));
    undo.disabled = true;
  }
  function vote(outcome) {
    if (model.get("done")) return;
    busy();
    model.send({ type: "vote", outcome, pair: model.get("pair") });
  }
  function takeBack() {
    if (!model.get("can_undo")) return;
    busy();
    model.send({ type: "undo", pair: model.get("pair") });
  }
  function onKey(e) {
    if (e.target && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const hit = ARENA_CHOICES.find((c) => c[2] === e.key);
    if (!hit && e.key !== "u") return;
    e.preventDefault();
    e.stopPropagation();
    if (hit) vote(hit[0]);
    else takeBack();
  }
  function refresh() {
    status.textContent = model.get("status") || "";
    buttons.forEach((b) => (b.disabled = !!model.get("done")));
    undo.disabled = !model.get("can_undo");
  }
  const traits = ["status", "pair", "done", "can_undo"];
  el.addEventListener("keydown", onKey);
  traits.forEach((t) => model.on(`change:${t}`, refresh));
  refresh();
  return () => {
    el.removeEventListener("keydown", onKey);
    traits.forEach((t) => model.off(`change:${t}`, refresh));
    stop();
  };
}

VIEWS.arena = renderArena;
