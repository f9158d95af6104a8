/**
 * The HTML report's script, inlined in the page. It reads the report data (the JSON in
 * `<script type="application/json" id="kabi-data">`, see html-report.ts for its shape) and draws
 * the matrix with virtualised rows: only the rows in view (and a few around them) exist in the
 * DOM, so a whole tree (4,000+ modules) against a dozen kernels scrolls and filters as a small
 * audit does. Plain ES2017, no template literals (the source is itself a template literal), no
 * network, no storage.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("kabi-data").textContent);
  var K = D.kernels.length, M = D.names.length;
  var ROW = 26, OVERSCAN = 10, TOOLTIP_LINES = 12;
  var CLASS = { "-": "none", o: "ok", "?": "names", x: "no" };
  var LABEL = { "-": "\u2013", o: "ok", "?": "ok?", x: "NO" };
  var WORD = {
    "-": "not judged (not a candidate on this kernel)",
    o: "compatible",
    "?": "compatible by symbol names only (no modversions)",
    x: "incompatible"
  };
  var KINDS = ["o", "?", "x", "-"];
  var KIND_NAME = { o: "compatible", "?": "names only", x: "incompatible", "-": "not judged" };

  function byId(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function mark(m, k) { return D.marks.charAt(m * K + k); }

  // Reason lines, headlines and provider names are kept once in D.strings; D.lists holds the
  // (deduplicated) lists of string ids; D.cells the cells that have any of them, 4 numbers each.
  var infoAt = new Map();
  for (var i = 0; i < D.cells.length; i += 4) infoAt.set(D.cells[i], i);
  function strings(listId) {
    if (listId < 0) return [];
    var ids = D.lists[listId], out = new Array(ids.length);
    for (var j = 0; j < ids.length; j++) out[j] = D.strings[ids[j]];
    return out;
  }
  function cellInfo(m, k) {
    var at = infoAt.get(m * K + k);
    if (at === undefined) return { headline: null, reasons: [], providers: [] };
    var h = D.cells[at + 1];
    return { headline: h < 0 ? null : D.strings[h], reasons: strings(D.cells[at + 2]), providers: strings(D.cells[at + 3]) };
  }
  function tooltip(m, k) {
    var c = mark(m, k), text = D.names[m] + " on " + D.kernels[k].release + ": " + WORD[c];
    if (c !== "x") return text;
    var info = cellInfo(m, k), lines = info.reasons;
    if (info.headline !== null) text += "\n" + info.headline;
    for (var j = 0; j < lines.length && j < TOOLTIP_LINES; j++) text += "\n  " + lines[j];
    if (lines.length > TOOLTIP_LINES) text += "\n  \u2026 " + (lines.length - TOOLTIP_LINES) + " more (click the cell)";
    return text;
  }

  var lowerNames = D.names.map(function (n) { return n.toLowerCase(); });
  var shown = D.kernels.map(function () { return true; });
  var query = "", problemsOnly = false, rows = [], cols = [], selected = null;
  var matrix = byId("matrix"), head = byId("head"), body = byId("body"), pane = byId("pane");
  // Column widths from the longest text each holds (a monospace-ish estimate), within bounds.
  function widthOf(texts, perChar, min, max) {
    var longest = 0;
    for (var t = 0; t < texts.length; t++) if (texts[t].length > longest) longest = texts[t].length;
    return Math.max(min, Math.min(max, Math.round(longest * perChar) + 18));
  }
  var nameWidth = widthOf(D.names, 7.2, 200, 380);
  var builtWidth = widthOf(D.builtTable, 7.3, 90, 180);
  // Past a handful of kernels the columns go narrow (the release wraps in the header), so that a
  // dozen kernels fit beside the module names on a laptop screen.
  var compact = K > 5;
  if (compact) document.body.classList.add("compact");
  var kernelWidths = D.kernels.map(function (k) { return compact ? 74 : widthOf([k.release], 8, 118, 200); });
  var TOTALS_WIDTH = 104;

  function pills(counts, withZero) {
    var box = el("div", "totals");
    KINDS.forEach(function (c) {
      if (!withZero && counts[c] === 0) return;
      var p = el("span", "pill " + CLASS[c] + (counts[c] === 0 ? " zero" : ""), String(counts[c]));
      p.title = counts[c] + " " + KIND_NAME[c];
      p.dataset.kind = CLASS[c];
      box.appendChild(p);
    });
    return box;
  }

  function layout() {
    cols = [];
    for (var k = 0; k < K; k++) if (shown[k]) cols.push(k);
    // The module column gives way first (names end in an ellipsis, the full path is their title).
    var nameMin = Math.min(nameWidth, 300);
    var template = "minmax(" + nameMin + "px, " + nameWidth + "px) " + builtWidth + "px", width = nameMin + builtWidth + TOTALS_WIDTH;
    cols.forEach(function (k) { template += " " + kernelWidths[k] + "px"; width += kernelWidths[k]; });
    template += " " + TOTALS_WIDTH + "px";
    matrix.style.setProperty("--cols", template);
    head.style.width = body.style.width = "max(100%, " + width + "px)";
    head.replaceChildren();
    var mh = el("div", "name modhead");
    mh.appendChild(el("div", null, "module"));
    var count = el("div", "count");
    count.id = "shown-count";
    count.style.fontWeight = "400";
    count.style.color = "var(--muted)";
    mh.appendChild(count);
    head.appendChild(mh);
    head.appendChild(el("div", null, "built for"));
    cols.forEach(function (k) {
      var t = D.totals.kernels[k], h = el("div", "kernel");
      h.dataset.k = String(k);
      h.title = D.kernels[k].release + "\n" + D.kernels[k].symvers + (D.kernels[k].strict ? "\nstrict modversions" : "");
      h.appendChild(el("span", "idx", "[" + (k + 1) + "]" + (D.kernels[k].strict ? " strict" : "")));
      h.appendChild(el("span", "rel", D.kernels[k].release));
      var p = pills({ o: t.compatible, "?": t.namesOnly, x: t.incompatible, "-": t.notJudged }, true);
      p.dataset.totalsKernel = String(k);
      h.appendChild(p);
      head.appendChild(h);
    });
    head.appendChild(el("div", null, "per module"));
  }

  function filter() {
    rows = [];
    for (var m = 0; m < M; m++) {
      if (query !== "" && lowerNames[m].indexOf(query) < 0) continue;
      if (problemsOnly) {
        var bad = false;
        for (var c = 0; c < cols.length && !bad; c++) bad = mark(m, cols[c]) === "x";
        if (!bad) continue;
      }
      rows.push(m);
    }
    body.style.height = Math.max(rows.length * ROW, 60) + "px";
    byId("shown-count").textContent = rows.length === M ? M + " modules" : rows.length + " of " + M + " modules";
    drawn = "";
    draw();
  }

  var drawn = "";
  function draw() {
    var top = Math.max(0, matrix.scrollTop - head.offsetHeight);
    var first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    var last = Math.min(rows.length, Math.ceil((top + matrix.clientHeight) / ROW) + OVERSCAN);
    var key = first + ":" + last + ":" + rows.length;
    if (key === drawn) return;
    drawn = key;
    var frag = document.createDocumentFragment();
    if (rows.length === 0) frag.appendChild(el("div", "empty", M === 0 ? "No module was audited." : "No module matches the filter."));
    for (var r = first; r < last; r++) frag.appendChild(row(rows[r], r));
    body.replaceChildren(frag);
  }

  function row(m, r) {
    var e = el("div", "row grid");
    e.style.top = r * ROW + "px";
    e.dataset.m = String(m);
    var name = el("div", "name", D.names[m]);
    name.title = D.paths[m];
    e.appendChild(name);
    var built = D.builtTable[D.built[m]];
    e.appendChild(el("div", "built mono", built === "" ? "(none)" : built));
    var counts = { o: 0, "?": 0, x: 0, "-": 0 };
    for (var c = 0; c < cols.length; c++) {
      var k = cols[c], mk = mark(m, k);
      counts[mk]++;
      var cell = el("div", "cell " + CLASS[mk], LABEL[mk]);
      cell.dataset.m = String(m);
      cell.dataset.k = String(k);
      cell.dataset.mark = LABEL[mk];
      cell.title = tooltip(m, k);
      cell.tabIndex = 0;
      cell.setAttribute("role", "button");
      if (selected !== null && selected.m === m && selected.k === k) cell.classList.add("selected");
      e.appendChild(cell);
    }
    var totals = pills(counts, false);
    totals.className = "rowtotals";
    totals.dataset.totalsModule = String(m);
    e.appendChild(totals);
    return e;
  }

  function showPane(m, k) {
    selected = { m: m, k: k };
    var c = mark(m, k), info = cellInfo(m, k), kernel = D.kernels[k];
    pane.replaceChildren();
    pane.dataset.m = String(m);
    pane.dataset.k = String(k);
    pane.appendChild(el("h2", null, D.names[m]));
    pane.appendChild(el("div", "path mono", D.paths[m]));
    var dl = el("dl");
    function item(term, value) { dl.appendChild(el("dt", null, term)); var d = el("dd", null); if (typeof value === "string") d.textContent = value; else d.appendChild(value); dl.appendChild(d); }
    var verdict = el("span", "verdict pill " + CLASS[c], LABEL[c] + " \u00b7 " + WORD[c]);
    verdict.id = "pane-verdict";
    item("verdict", verdict);
    item("kernel", kernel.release + (kernel.strict ? " (strict modversions)" : ""));
    item("symvers", kernel.symvers);
    var built = D.builtTable[D.built[m]];
    item("built for", built === "" ? "(no vermagic)" : built);
    item("modversions", D.modversions.charAt(m) === "1" ? "yes" : "no (judged by symbol names only)");
    pane.appendChild(dl);
    if (info.headline !== null) {
      var h = el("div", "headline", info.headline);
      h.id = "pane-headline";
      pane.appendChild(h);
    }
    if (c === "x") {
      pane.appendChild(el("h3", null, "blocking reasons (" + info.reasons.length + ")"));
      var ol = el("ol", "reasons");
      ol.id = "pane-reasons";
      info.reasons.forEach(function (line) { ol.appendChild(el("li", null, line)); });
      pane.appendChild(ol);
    } else {
      pane.appendChild(el("p", "hint", c === "-" ? "This module is not judged on this kernel (it is one of the kernel's own modules, or not a candidate there)." : "Nothing blocks this module on this kernel."));
    }
    if (info.providers.length > 0) {
      pane.appendChild(el("h3", null, "modules it needs here (providers)"));
      var ul = el("ul", "providers mono");
      ul.id = "pane-providers";
      info.providers.forEach(function (p) { ul.appendChild(el("li", null, p)); });
      pane.appendChild(ul);
    }
    // Only the mark moves: redrawing the rows would take the focus from a cell chosen by keyboard.
    var before = body.querySelector(".cell.selected");
    if (before) before.classList.remove("selected");
    var now = body.querySelector('.cell[data-m="' + m + '"][data-k="' + k + '"]');
    if (now) now.classList.add("selected");
  }

  function kernelBoxes() {
    var box = byId("kernels");
    D.kernels.forEach(function (kernel, k) {
      var label = el("label");
      var input = el("input");
      input.type = "checkbox";
      input.checked = true;
      input.dataset.kernel = String(k);
      input.addEventListener("change", function () { shown[k] = input.checked; layout(); filter(); });
      label.appendChild(input);
      label.appendChild(document.createTextNode("[" + (k + 1) + "] " + kernel.release));
      box.appendChild(label);
    });
  }

  function errors() {
    if (D.errors.length === 0) return;
    var box = byId("errors");
    box.hidden = false;
    var d = el("details");
    d.open = D.errors.length <= 8;
    d.appendChild(el("summary", null, D.errors.length + " input error" + (D.errors.length === 1 ? "" : "s") + " (not audited)"));
    var ul = el("ul", "mono");
    D.errors.forEach(function (e) { ul.appendChild(el("li", null, e)); });
    d.appendChild(ul);
    box.appendChild(d);
  }

  var incompatible = 0;
  D.totals.kernels.forEach(function (t) { incompatible += t.incompatible; });
  byId("summary").textContent = M + " module" + (M === 1 ? "" : "s") + " \u00d7 " + K + " kernel" + (K === 1 ? "" : "s") + " \u00b7 " + incompatible + " incompatible pair" + (incompatible === 1 ? "" : "s") + (D.errors.length > 0 ? " \u00b7 " + D.errors.length + " input error" + (D.errors.length === 1 ? "" : "s") : "");
  kernelBoxes();
  errors();
  layout();
  filter();
  var pending = false;
  matrix.addEventListener("scroll", function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  });
  window.addEventListener("resize", function () { drawn = ""; draw(); });
  body.addEventListener("click", function (ev) {
    var cell = ev.target instanceof Element ? ev.target.closest(".cell") : null;
    if (cell) showPane(Number(cell.dataset.m), Number(cell.dataset.k));
  });
  // A cell focused with Tab opens its pane with Enter or Space, as a click does.
  body.addEventListener("keydown", function (ev) {
    var cell = ev.target instanceof Element ? ev.target.closest(".cell") : null;
    if (!cell || (ev.key !== "Enter" && ev.key !== " ")) return;
    ev.preventDefault();
    showPane(Number(cell.dataset.m), Number(cell.dataset.k));
  });
  var typing = 0;
  byId("filter").addEventListener("input", function (ev) {
    clearTimeout(typing);
    var value = ev.target.value;
    typing = setTimeout(function () { query = value.trim().toLowerCase(); matrix.scrollTop = 0; filter(); }, 60);
  });
  byId("problems").addEventListener("change", function (ev) { problemsOnly = ev.target.checked; matrix.scrollTop = 0; filter(); });
  window.kabiReport = { firstRender: performance.now(), rows: function () { return rows.slice(); } };
  document.documentElement.dataset.ready = "1";
})();
`;
