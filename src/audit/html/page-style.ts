/**
 * The HTML report's stylesheet, inlined in the page (the report opens from a file with no network,
 * so nothing may be fetched). The verdict colours are custom properties: the legend, the cells and
 * the totals all take them from here.
 */
export const PAGE_STYLE = `
:root {
  --ok: #1f9d55; --ok-text: #fff;
  --names: #f2b01e; --names-text: #3b2a00;
  --no: #d64545; --no-text: #fff;
  --none: #d5d9e0; --none-text: #5b6472;
  --error: #7c3aed; --error-bg: #f3edff;
  --ink: #1d2330; --muted: #677083; --line: #e3e6ec; --paper: #fff; --shade: #f6f7f9;
  --accent: #2f5fd0; --row: 26px;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: var(--shade);
}
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { display: flex; flex-direction: column; min-height: 0; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
header.top { background: #1d2330; color: #fff; padding: 10px 18px; display: flex; align-items: baseline; gap: 18px; flex-wrap: wrap; }
header.top h1 { font-size: 17px; margin: 0; font-weight: 650; letter-spacing: .2px; }
header.top .sub { color: #b9c1d0; }
header.top .sub b { color: #fff; font-weight: 600; }
.bar { display: flex; align-items: center; gap: 14px; flex-wrap: wrap; padding: 8px 18px; background: var(--paper); border-bottom: 1px solid var(--line); }
.bar input[type=search] { width: 260px; padding: 5px 9px; border: 1px solid #c7ccd6; border-radius: 6px; font: inherit; }
.bar input[type=search]:focus { outline: 2px solid var(--accent); outline-offset: -1px; border-color: transparent; }
.bar label { display: inline-flex; align-items: center; gap: 4px; cursor: pointer; white-space: nowrap; }
.bar .group { display: flex; gap: 10px; flex-wrap: wrap; align-items: center; }
.bar .group .title { color: var(--muted); }
.legend { margin-left: auto; display: flex; gap: 10px; color: var(--muted); flex-wrap: wrap; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; }
.errors { margin: 10px 18px 0; border: 1px solid var(--error); background: var(--error-bg); border-radius: 8px; padding: 6px 12px; color: #3d1a80; }
.errors summary { cursor: pointer; font-weight: 600; color: var(--error); }
.errors ul { margin: 6px 0 4px; padding-left: 18px; max-height: 160px; overflow: auto; }
.errors li { margin: 2px 0; }
main { flex: 1; display: flex; min-height: 0; gap: 12px; padding: 10px 18px 14px; }
.matrix { flex: 1; min-width: 0; align-self: flex-start; max-height: 100%; overflow: auto; background: var(--paper); border: 1px solid var(--line); border-radius: 8px; position: relative; }
.grid { display: grid; grid-template-columns: var(--cols); align-items: stretch; }
.head { position: sticky; top: 0; z-index: 2; background: var(--paper); border-bottom: 1px solid #cfd4dd; }
.head > div { padding: 6px 6px; font-weight: 600; }
.head .kernel { text-align: center; border-left: 1px solid var(--line); }
.head .kernel .rel { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-size: 12px; }
.head .kernel .idx { color: var(--muted); font-weight: 500; font-size: 11px; }
.totals { display: flex; gap: 3px; justify-content: center; margin-top: 4px; flex-wrap: wrap; }
.pill { border-radius: 9px; padding: 0 6px; font-size: 11px; font-weight: 600; line-height: 17px; min-width: 20px; text-align: center; }
.pill.ok { background: var(--ok); color: var(--ok-text); }
.pill.names { background: var(--names); color: var(--names-text); }
.pill.no { background: var(--no); color: var(--no-text); }
.pill.none { background: var(--none); color: var(--none-text); }
.pill.zero { opacity: .35; }
.compact .head .kernel .rel { white-space: normal; word-break: break-all; font-size: 11px; line-height: 1.25; }
.compact .head .kernel .totals { display: grid; grid-template-columns: auto auto; justify-content: center; }
.compact .cell { margin: 3px 3px; }
.compact .head .pill { padding: 0 3px; font-size: 10px; min-width: 0; }
.body { position: relative; }
.row { position: absolute; left: 0; right: 0; height: var(--row); border-bottom: 1px solid #f0f1f4; }
.row:hover { background: #f4f7ff; }
.row > div { padding: 0 6px; line-height: calc(var(--row) - 1px); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.row .name { font-weight: 500; }
/* The module column stays in view when a dozen kernels scroll the matrix sideways. */
.name { position: sticky; left: 0; z-index: 1; background: var(--paper); border-right: 1px solid var(--line); }
.row:hover .name { background: #f4f7ff; }
.row .built { color: var(--muted); }
.cell { text-align: center; cursor: pointer; margin: 3px 4px; border-radius: 5px; line-height: calc(var(--row) - 7px) !important; font-weight: 650; font-size: 12px; }
.cell.ok { background: var(--ok); color: var(--ok-text); }
.cell.names { background: var(--names); color: var(--names-text); }
.cell.no { background: var(--no); color: var(--no-text); }
.cell.none { background: var(--none); color: var(--none-text); font-weight: 400; }
.cell:hover { filter: brightness(1.08); box-shadow: 0 0 0 2px rgba(29,35,48,.25); }
.cell.selected { box-shadow: 0 0 0 2px var(--ink); }
.cell:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.rowtotals { display: flex; gap: 3px; align-items: center; justify-content: flex-start; }
.empty { padding: 30px; text-align: center; color: var(--muted); }
aside.pane { width: 380px; flex: none; align-self: flex-start; max-height: 100%; background: var(--paper); border: 1px solid var(--line); border-radius: 8px; overflow: auto; padding: 14px 16px; }
aside.pane h2 { font-size: 15px; margin: 0 0 2px; word-break: break-all; }
aside.pane .path { color: var(--muted); word-break: break-all; margin-bottom: 10px; }
aside.pane dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 10px; margin: 0 0 12px; }
aside.pane dt { color: var(--muted); }
aside.pane dd { margin: 0; word-break: break-all; }
aside.pane .verdict { display: inline-block; border-radius: 5px; padding: 0 8px; font-size: 12px; }
aside.pane .headline { background: #fff4e5; border-left: 3px solid var(--no); padding: 6px 9px; margin: 0 0 10px; border-radius: 0 5px 5px 0; }
aside.pane h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); margin: 14px 0 6px; }
aside.pane ol.reasons { margin: 0; padding: 0; list-style: none; }
aside.pane ol.reasons li { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; padding: 3px 6px; border-bottom: 1px solid #f0f1f4; word-break: break-word; }
aside.pane ol.reasons li:nth-child(odd) { background: var(--shade); }
aside.pane .hint { color: var(--muted); }
aside.pane ul.providers { margin: 0; padding-left: 18px; }
`;
