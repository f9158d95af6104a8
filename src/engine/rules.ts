/**
 * The kernel's rules for one requirement (a symbol a module needs, with the CRC its modversions
 * give it or by name only), written once for both users: the bitset pass (engine.ts: all kernels
 * at once, 32 per word) and the explanation of one pair (explain.ts).
 *
 * Each rule is a function on words of kernel bits (bit k: kernel k). The scalar form the
 * explanation uses is the same function applied to one bit (1: the fact holds on that kernel, 0:
 * not), so the two cannot drift apart. The word functions are a few bit operations each, small
 * enough for V8 to inline into the loops over words.
 *
 * The rules (kernel/module/main.c resolve_symbol, kernel/module/version.c check_version):
 * - CRC: an export with the required CRC, or one without CRC, satisfies a requirement; a name-only
 *   requirement takes any CRC (crcAcceptedWord, crcAccepts);
 * - strict (Debian's "module: Disable matching missing version CRC"): on a strict kernel, a module
 *   with modversions whose name-only requirement resolves to an export with a CRC is refused
 *   (strictKernels, the `strict` argument of crcAcceptedWord); a strict-only requirement (name-only
 *   and weak, see requirements.ts) concerns strict kernels only (isStrictOnly, strictOnlyHoldsWord);
 * - GPL-only visibility: a module whose licence is not GPL-compatible does not see GPL-only exports
 *   (gplHidden; the `hidden` argument of the word rules, see license.ts);
 * - namespaces: the module must import the export's namespace (namespaceAllowed; the `refusedNs`
 *   argument of staticSatisfiesWord);
 * - weak references may stay unresolved: where nothing provides the symbol, or nothing the module
 *   can see (unresolvedOkWord, mayStayUnresolved);
 * - candidate modules provide where there is no static provider, or where the static provider is
 *   the symvers entry of the in-tree module of the candidate's name, which the candidate stands in
 *   for (candidateMayProvideWord, candidateMayProvide); only while they are themselves compatible
 *   there, and a weak reference that resolves to a candidate's wrong export fails
 *   (candidateSatisfiesWord, in the fixed point).
 */
import { ANY_CRC } from "./requirements.js";
import { normalizeModuleName } from "../root/module-file.js";

/**
 * CRC rule, on a word of kernels: where the provider's CRC satisfies the requirement. `match`: the
 * kernels whose provider has the required CRC (for a name-only requirement: any provider); `wild`:
 * those whose provider has no CRC (accepted for any requirement); `strict`: the kernels where the
 * requirement is name-only and strict, on which only a provider without CRC satisfies it.
 */
export function crcAcceptedWord(match: number, wild: number, strict: number): number {
  return (match & ~strict) | wild;
}

/**
 * crcAcceptedWord for one export: whether CRC `provided` (unsigned; null: exported without CRCs)
 * satisfies a requirement of CRC `required` (ANY_CRC: by name only). `strict`: the kernel is
 * strict for the module (it only matters for a name-only requirement).
 */
export function crcAccepts(required: number, strict: boolean, provided: number | null): boolean {
  const match = provided !== null && (required === ANY_CRC || provided === required) ? 1 : 0;
  return crcAcceptedWord(match, provided === null ? 1 : 0, strict && required === ANY_CRC ? 1 : 0) !== 0;
}

/**
 * The kernels on which a module's name-only requirements are strict: the strict kernels, for a
 * module with modversions (one without is judged by name on every kernel), else null.
 */
export function strictKernels(strict: Uint32Array | null, hasModversions: boolean): Uint32Array | null {
  return strict !== null && hasModversions ? strict : null;
}

/** Whether a requirement is strict-only: name-only and weak (see requirements.ts). */
export function isStrictOnly(crc: number, weak: boolean): boolean {
  return crc === ANY_CRC && weak;
}

/** Where a strict-only requirement holds whatever provides it: off the strict kernels `strict`. */
export function strictOnlyHoldsWord(strict: number): number {
  return ~strict;
}

/** GPL-only rule: whether a module (`gplOk`: its licence is GPL-compatible) cannot see an export. */
export function gplHidden(gplOk: boolean, gplOnly: boolean): boolean {
  return !gplOk && gplOnly;
}

/**
 * Weak rule, on a word of kernels: where a weak reference may stay unresolved. `provided`: the
 * kernels with a provider; `hidden`: those whose provider the module cannot see (GPL-only).
 */
export function unresolvedOkWord(provided: number, hidden: number): number {
  return ~provided | hidden;
}

/**
 * unresolvedOkWord for one kernel: whether a reference (`weak`) may be left unresolved there, with
 * or without a provider (`provided`) that the module sees or not (`hidden`).
 */
export function mayStayUnresolved(weak: boolean, provided: boolean, hidden: boolean): boolean {
  return weak && (unresolvedOkWord(provided ? 1 : 0, hidden ? 1 : 0) & 1) !== 0;
}

/**
 * The static provider rule, on a word of kernels: where the kernel's own provider (symvers entry,
 * else a resident module) satisfies the requirement: its CRC is accepted (crcAcceptedWord of
 * `match`, `wild`, `strict`), the module may use its namespace (`refusedNs`: the kernels whose
 * provider's namespace it may not use) and sees it (`hidden`: GPL-only for a module that may not
 * use those). A weak reference also holds where it may stay unresolved (unresolvedOkWord over
 * `provided`), and a strict-only one (`strictOnly`) off the strict kernels.
 */
export function staticSatisfiesWord(
  match: number,
  wild: number,
  strict: number,
  refusedNs: number,
  hidden: number,
  provided: number,
  weak: boolean,
  strictOnly: boolean,
): number {
  let s = crcAcceptedWord(match, wild, strict) & ~refusedNs & ~hidden;
  if (weak) s |= unresolvedOkWord(provided, hidden) | (strictOnly ? strictOnlyHoldsWord(strict) : 0);
  return s;
}

/**
 * Candidate rule, on a word of kernels: where a candidate module's export may provide a symbol.
 * `provided`: the kernels with a static provider; `standsIn`: those whose static provider is the
 * symvers entry of the in-tree module of the candidate's name (the candidate, installed in
 * updates/ or weak-updates/, shadows it); `candidateOn`: the kernels the candidate is one on.
 */
export function candidateMayProvideWord(provided: number, standsIn: number, candidateOn: number): number {
  return (~provided | standsIn) & candidateOn;
}

/**
 * Candidate resolution rule, on a word of kernels: where a requirement some candidate module may
 * serve holds, given which candidates are compatible. `staticSat`: where the static provider
 * satisfies it (staticSatisfiesWord); `good`: where a compatible candidate's export satisfies it;
 * for a weak one, `resolved`: the kernels without a static provider (`noStatic`) where it resolves
 * to some compatible candidate's export, which then has to satisfy it (a wrong one refuses the load).
 */
export function candidateSatisfiesWord(staticSat: number, good: number, resolved: number, noStatic: number, weak: boolean): number {
  let s = staticSat | good;
  if (weak) s &= ~resolved | good | (staticSat & ~noStatic);
  return s;
}

/** candidateMayProvideWord on one kernel. */
export function candidateMayProvide(provided: boolean, standsIn: boolean, candidateOn: boolean): boolean {
  return (candidateMayProvideWord(provided ? 1 : 0, standsIn ? 1 : 0, candidateOn ? 1 : 0) & 1) !== 0;
}

/**
 * Namespace rule (kernel/module/main.c verify_namespace_is_imported): whether a module may use a
 * symbol exported in `namespace`: no namespace, a namespace the module lists in `import_ns=`, or a
 * `module:<name>[,<name>...]` namespace naming this module.
 */
export function namespaceAllowed(namespace: string, imports: ReadonlySet<string>, moduleName: string): boolean {
  if (namespace === "") return true;
  if (imports.has(namespace)) return true;
  if (namespace.startsWith("module:")) {
    const self = normalizeModuleName(moduleName);
    for (const target of namespace.slice("module:".length).split(",")) {
      if (normalizeModuleName(target) === self) return true;
    }
  }
  return false;
}

/**
 * Whether an export satisfies a requirement, all rules together: its CRC (`provided`) is
 * accepted, its namespace allowed, and the module sees it (not GPL-only, unless `gplOk`).
 */
export function exportSatisfies(
  required: number,
  strict: boolean,
  provided: number | null,
  namespace: string,
  gplOnly: boolean,
  imports: ReadonlySet<string>,
  moduleName: string,
  gplOk: boolean,
): boolean {
  return crcAccepts(required, strict, provided) && namespaceAllowed(namespace, imports, moduleName) && !gplHidden(gplOk, gplOnly);
}

/** A module's import_ns set, made on first use. */
export class Imports {
  private set: ReadonlySet<string> | undefined;
  constructor(private readonly list: readonly string[]) {}
  get(): ReadonlySet<string> {
    return (this.set ??= new Set(this.list));
  }
}
