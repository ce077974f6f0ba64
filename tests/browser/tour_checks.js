// What a person sees, checked in the page (tests/browser/test_tour.py). One function, evaluated by
// Playwright in JupyterLab and in marimo: it walks every sorakit widget (through shadow roots, where
// marimo renders anywidgets) and returns a list of problems (empty = all good) and the figures read.
(exclude) => {
  const problems = [], figures = {};
  const ROOTS = ".sk-root, .sk-gallery-grid, .sk-grid-view, .sk-player-view, .skf";
  // elements meant to scroll or clip (their overflow is the design, not a defect)
  const MEANT = ["select", "textarea", "video", "img", "option", ".sk-clamp", ".sk-stage",
                 ".sk-card.sk-compact", ...exclude];
  function all(root, sel) {  // querySelectorAll through open shadow roots
    const out = [...root.querySelectorAll(sel)];
    for (const e of root.querySelectorAll("*")) if (e.shadowRoot) out.push(...all(e.shadowRoot, sel));
    return out;
  }
  const roots = all(document, ROOTS).filter(r => r.getClientRects().length);
  const visible = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const name = e => e.tagName.toLowerCase() + (e.className && typeof e.className === "string"
    ? "." + e.className.trim().split(/\s+/).slice(0, 6).join(".") : "");
  const text = e => (e.innerText || e.textContent || "").trim();
  figures.roots = roots.length;
  const seen = new Set();
  for (const root of roots) {
    // 1. no error box or traceback text
    const t = text(root);
    for (const bad of ["Traceback", "RecursionError", "Exception:", "Error: ", "STILL RUNNING"]) {
      if (t.includes(bad)) problems.push(`${name(root)} shows "${bad}": ${t.slice(Math.max(0, t.indexOf(bad) - 80), t.indexOf(bad) + 120)}`);
    }
    for (const box of all(root, ".sk-error-box, .sk-msg-error, .skf-msg.skf-error"))
      if (visible(box) && text(box)) problems.push(`error box: ${text(box).slice(0, 200)}`);
    // 2. no content overflowing its box; 3. no text clipped by an ellipsis where the value is short
    for (const e of [root, ...all(root, "*")]) {
      if (seen.has(e) || !visible(e)) continue;
      seen.add(e);
      if (MEANT.some(m => e.matches(m) || (m !== "select" && e.closest(m) && e.closest(m) !== e && m.startsWith(".sk-clamp")))) continue;
      const cs = getComputedStyle(e);
      if (cs.display === "inline" || cs.display === "contents") continue;
      const dx = e.scrollWidth - e.clientWidth, dy = e.scrollHeight - e.clientHeight;
      if (e.clientWidth > 0 && dx > 1) {
        if (cs.textOverflow === "ellipsis") {
          if (text(e).length <= 40) problems.push(`ellipsis clips a short value in ${name(e)}: "${text(e)}" (${dx}px)`);
        } else {
          problems.push(`${name(e)} overflows its width by ${dx}px: "${text(e).slice(0, 60)}"`);
        }
      }
      if (e.clientHeight > 0 && dy > 1 && cs.webkitLineClamp === "none")
        problems.push(`${name(e)} overflows its height by ${dy}px: "${text(e).slice(0, 60)}"`);
    }
    // a select (dropdown) that cuts its chosen option; an input that cuts its placeholder
    const ctx = document.createElement("canvas").getContext("2d");
    for (const s of all(root, "select")) {
      if (!visible(s) || s.multiple || s.size > 1) continue;
      const opt = s.options[s.selectedIndex];
      if (!opt) continue;
      const cs = getComputedStyle(s);
      ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      const need = ctx.measureText(opt.text).width + parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight) + 18;
      if (need > s.clientWidth + 1) problems.push(`dropdown ${name(s)} cuts "${opt.text}" (${Math.round(need)} > ${s.clientWidth}px)`);
    }
    for (const i of all(root, "input[placeholder], textarea[placeholder]")) {
      if (!visible(i) || i.value || i.tagName === "TEXTAREA") continue;
      const cs = getComputedStyle(i);
      ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      const need = ctx.measureText(i.placeholder).width + parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight);
      if (need > i.clientWidth + 1) problems.push(`placeholder "${i.placeholder}" clipped in ${name(i)} (${Math.round(need)} > ${i.clientWidth}px)`);
    }
  }
  // captions keep "seed" with its number (a no-break space): "seed" never ends a line alone
  for (const c of all(document, ".sk-cap, .sk-tile-facts, .sk-meta"))
    if (/seed [0-9]/.test(c.textContent)) problems.push(`"seed" may break from its number in ${name(c)}: "${text(c).slice(0, 80)}"`);
  // 4. totals equal the sum of what they total, as displayed
  const amounts = s => [...s.matchAll(/-?\$([\d,]+\.\d+)/g)].map(m => parseFloat(m[1].replace(/,/g, "")));
  const same = (a, b) => Math.abs(a - b) < 0.00005;
  for (const g of all(document, ".sk-grid-view")) {
    const h = g.querySelector(".sk-ghead");
    if (!h) continue;
    const header = (h.firstChild && h.firstChild.nodeType === 3 ? h.firstChild.textContent : text(h)).trim();
    const caps = all(g, ".sk-tile .sk-cap").map(c => amounts(text(c))[0]).filter(x => x !== undefined);
    const m = /tiles total \$([\d,.]+)/.exec(header) || /billed \$([\d,.]+)/.exec(header) || /estimated \$([\d,.]+)/.exec(header);
    if (m && caps.length) {
      const total = parseFloat(m[1].replace(/,/g, "")), sum = caps.reduce((a, b) => a + b, 0);
      (figures.grids = figures.grids || []).push({ header: header.slice(0, 120), total, sum, tiles: caps.length });
      if (!same(total, sum)) problems.push(`grid total ${total} != sum of its ${caps.length} tiles ${sum.toFixed(4)} ("${header.slice(0, 120)}")`);
    }
  }
  for (const b of all(document, ".sk-browser")) {
    const m = /cost \$([\d,.]+)/.exec(text(b.querySelector(".sk-btotals") || b));
    const rows = [...b.querySelectorAll(".sk-btable td.sk-c-cost")].map(o => amounts(o.textContent)[0]).filter(x => x !== undefined);
    // the grid shows one page of the filtered rows: their sum is the total only when all are on it
    const info = /Showing 1 to ([\d,]+) of ([\d,]+) entr/.exec(text(b.querySelector(".dt-info") || b));
    if (info && info[1] !== info[2]) continue;
    if (m) {
      const total = parseFloat(m[1].replace(/,/g, "")), sum = rows.reduce((a, c) => a + c, 0);
      figures.browser = { total, sum, rows: rows.length };
      if (!same(total, sum)) problems.push(`browser total ${total} != sum of its ${rows.length} rows ${sum.toFixed(4)}`);
    } else problems.push("the browser shows no cost total");
  }
  // 5. prices shown with enough digits to recompute the estimate
  for (const c of all(document, ".sk-cost, .skf-cost")) {
    const m = /Estimated\s+\$([\d,.]+)\s+([\d.]+) s × \$([\d.]+)\/s(?: × (\d+))?/.exec(text(c).replace(/\s+/g, " "));
    if (!m) continue;
    const est = parseFloat(m[1]), secs = parseFloat(m[2]), rate = parseFloat(m[3]), n = m[4] ? parseInt(m[4]) : 1;
    (figures.estimates = figures.estimates || []).push(m[0]);
    if (!same(Math.round(secs * rate * n * 10000) / 10000, est)) problems.push(`estimate ${est} != ${secs} s × ${rate}/s × ${n}`);
  }
  return { problems, figures };
}
