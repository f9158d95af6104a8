import { clearLine, cursorTo } from "node:readline";
import type { AuditProgress } from "../api/audit.js";

/** A run that ends before this shows no progress at all (a flash of a line is noise). */
const SHOW_AFTER_MS = 1000;
/** Redraws at most this often: a terminal fed a line per module read is itself the slow part. */
const REDRAW_MS = 100;

/**
 * "reading modules 1234/4230, kernels 2/3 parsed"; with packages, "reading packages 1/2 (1234
 * modules), modules ..." (a package's module count is known only once it has been read).
 */
export function progressText(p: AuditProgress): string {
  const reading: string[] = [];
  if (p.packagesTotal > 0) reading.push(`packages ${p.packagesRead}/${p.packagesTotal} (${p.packageModules} modules)`);
  if (p.modulesTotal > 0 || p.packagesTotal === 0) reading.push(`modules ${p.modulesRead}/${p.modulesTotal}`);
  return `reading ${reading.join(", ")}, kernels ${p.kernelsParsed}/${p.kernelsTotal} parsed`;
}

/**
 * One line on a terminal's stderr, redrawn in place (Node's readline cursor functions: no
 * dependency does less), shown only once the audit has run for about a second, and erased by
 * `stop` before anything else is written there or to stdout. The caller decides whether there is
 * a terminal at all (CliIO.progressStream) and whether --quiet was given.
 */
export class ProgressLine {
  private last: AuditProgress | null = null;
  /** The run has lasted SHOW_AFTER_MS: counts are drawn from now on. */
  private due = false;
  private shown = false;
  private stopped = false;
  private drawnAt = 0;
  /** Which load stages (modules, kernels, packages) were complete at the last update: bits 0, 1, 2. */
  private stagesDone = 0;
  private timer: NodeJS.Timeout | null;

  constructor(private readonly stream: NodeJS.WriteStream) {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.due = true;
      this.draw();
    }, SHOW_AFTER_MS);
    // Waiting to show progress must never keep a finished audit's process alive.
    this.timer.unref();
  }

  /** The latest counts (an AuditRequest's onProgress). */
  readonly update = (p: AuditProgress): void => {
    if (this.stopped) return;
    this.last = p;
    // A stage that completes is drawn whatever the throttle says: the line then stays as it is while
    // the verdicts are computed (the event loop is busy), and must show the load done.
    const stagesDone = (p.modulesRead === p.modulesTotal ? 1 : 0) | (p.kernelsParsed === p.kernelsTotal ? 2 : 0) | (p.packagesRead === p.packagesTotal ? 4 : 0);
    const stageChanged = stagesDone !== this.stagesDone;
    this.stagesDone = stagesDone;
    if (this.due && (stageChanged || Date.now() - this.drawnAt >= REDRAW_MS)) this.draw();
  };

  private draw(): void {
    if (this.last === null || this.stopped) return;
    // Cut to the terminal's width: a wrapped line could not be erased by clearing one line.
    const width = this.stream.columns > 1 ? this.stream.columns - 1 : 79;
    cursorTo(this.stream, 0);
    this.stream.write(progressText(this.last).slice(0, width));
    clearLine(this.stream, 1);
    this.shown = true;
    this.drawnAt = Date.now();
  }

  /** Erases the line (if it was ever shown); later updates are ignored. */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.stopped = true;
    if (!this.shown) return;
    this.shown = false;
    cursorTo(this.stream, 0);
    clearLine(this.stream, 0);
  }
}
