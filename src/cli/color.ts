import { WriteStream } from "node:tty";

/**
 * Whether output to `stream` gets ANSI colours, decided as Node's own util.styleText does
 * (lib/internal/util/colors.js shouldColorize): FORCE_COLOR, when set, decides alone ("", "1",
 * "true", "2", "3": colours; anything else, "0" included: none); else only a terminal, and not
 * with NO_COLOR, NODE_DISABLE_COLORS or TERM=dumb (tty's getColorDepth, which reads those).
 * FORCE_COLOR is read here rather than by getColorDepth, which warns on stderr when NO_COLOR is
 * set too.
 */
export function streamTakesColors(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force === "" || force === "1" || force === "true" || force === "2" || force === "3";
  return stream.isTTY === true && WriteStream.prototype.getColorDepth(env) > 2;
}
