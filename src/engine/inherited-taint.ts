import type { ExportedSymbol, ModuleRecord } from "../types/module-record.js";
import { hasKernel, kernelsOf, removeKernel } from "./kernel-set.js";
import { moduleIsGplCompatible } from "./license.js";
import { symversModuleName, type StaticProviderIndex } from "./provider-index.js";
import { ANY_CRC, type Requirements } from "./requirements.js";
import { crcAccepts } from "./rules.js";
import type { SymbolInterner } from "./symbol-interner.js";
import type { KernelTarget, ProprietaryTaintConflict } from "./verdict.js";

/**
 * The kernel's inherited proprietary taint (Linux 5.13+, commit 262e6ae7081d "modules: inherit
 * TAINT_PROPRIETARY_MODULE"; kernel/module/main.c of 6.1 and 6.12: inherit_taint, resolve_symbol,
 * simplify_symbols).
 *
 * - Before its symbols are resolved, a module is tainted TAINT_PROPRIETARY_MODULE when its licence
 *   is not GPL-compatible (module_license_taint_check, set_license before 6.4; see license.ts).
 * - simplify_symbols resolves the undefined symbols in symbol-table order, each with
 *   resolve_symbol: find_symbol with `gplok = !(mod->taints & TAINT_PROPRIETARY_MODULE)` (a
 *   tainted module does not see GPL-only exports); a GPL-only export found sets
 *   `mod->using_gplonly_symbols`; then inherit_taint(mod, owner): when the exporting module (owner,
 *   NULL for vmlinux) is tainted, a module already using GPL-only symbols gets NULL ("module using
 *   GPL-only symbols uses symbols %s from proprietary module %s"), any other is tainted from then
 *   on ("inheriting taint"); check_version and the namespace check come after.
 * - A NULL result is accepted for a weak (STB_WEAK) symbol and is "Unknown symbol" for a strong
 *   one; either way simplify_symbols goes on with the next symbol, so the state keeps evolving.
 *
 * So a module with a GPL-compatible licence that resolves a tainted module's export and a GPL-only
 * export fails to load with strong references whichever comes first (a GPL-only export of a
 * tainted module alone is enough); with weak ones the symbol-table order decides which reference
 * is dropped. A module that loads and used a tainted module's export is tainted itself, and passes
 * the taint on to the modules that use its exports.
 *
 * Providers, as the engine resolves them on each kernel:
 * - symvers entries (vmlinux and in-tree modules) count as untainted: Module.symvers carries no
 *   licence, and Debian's in-tree modules are all GPL-compatible;
 * - resident modules are tainted by their licence, or by using a tainted resident's export (they
 *   are taken as loaded, so no conflict is judged for them and a weak reference counts as used);
 * - a candidate serves a symbol where the engine lets it (no static provider, or it stands in for
 *   the in-tree module of its name) and only on kernels where it is still compatible; of several,
 *   the first (in module order) whose CRC matches, else the first. Its taint on a kernel is computed
 *   from those providers, to the least fixed point from the modules whose licence taints them.
 * Not modelled: the module_license_offenders names ("driverloader", "lve"), tainted whatever
 * their licence.
 */
export class InheritedTaint {
  /** Conflicts found by the last `narrow`, at m * kernelCount + k. */
  private readonly conflicts = new Map<number, ProprietaryTaintConflict[]>();

  private constructor(
    private readonly modules: readonly ModuleRecord[],
    private readonly kernelCount: number,
    private readonly candidate: readonly Uint32Array[],
    private readonly index: StaticProviderIndex,
    private readonly moduleNames: readonly string[],
    private readonly exportOf: (m: number, name: string) => ExportedSymbol,
    /** Per kernel: the resident modules that are tainted there → the module the taint comes from. */
    private readonly residentTaint: readonly Map<ModuleRecord, string>[],
    /** The modules with a GPL-compatible licence that may use a tainted module's export. */
    private readonly inheritors: readonly number[],
    /** Per inheritor: its undefined symbols, each once, in symbol-table order. */
    private readonly refs: readonly (Reference[] | undefined)[],
    /**
     * Per module that can be tainted (by its licence, or an inheritor): per kernel, the module its
     * taint comes from, or undefined where it is not tainted.
     */
    private readonly taintedBy: readonly ((string | undefined)[] | undefined)[],
  ) {}

  /**
   * The rule for one evaluation, or null when no module can be refused by it: no candidate or
   * resident module has a licence that is not GPL-compatible, or none of them exports a symbol
   * that a GPL-compatible candidate (directly or through others) uses. Nearly every evaluation
   * stops at the first check, which reads `gplOk` and the residents' licences only.
   */
  static create(
    modules: readonly ModuleRecord[],
    kernels: readonly KernelTarget[],
    candidate: readonly Uint32Array[],
    /** 1 where the module's licence is GPL-compatible. */
    gplOk: Uint8Array,
    index: StaticProviderIndex,
    interner: SymbolInterner,
    /** Module names as normalizeModuleName gives them. */
    moduleNames: readonly string[],
    requirements: Requirements,
    /** Symbol id → candidate modules exporting it, for the symbols some module requires. */
    exporters: readonly (readonly number[] | undefined)[],
    exportOf: (m: number, name: string) => ExportedSymbol,
  ): InheritedTaint | null {
    let sources = gplOk.indexOf(0) >= 0;
    for (let k = 0; k < kernels.length && !sources; k++) sources = (kernels[k].resident ?? []).some((r) => !moduleIsGplCompatible(r.modinfo));
    if (!sources) return null;

    const residentTaint = kernels.map((_, k) => taintedResidents(kernels[k].resident ?? [], k, index, interner));
    // The modules that can be tainted: those whose licence taints them, then, round by round,
    // those using a symbol such a module (or a tainted resident) exports. By symbol id over the
    // requirements, plus the weak undefined symbols, which they may leave out.
    const taintedId = new Uint8Array(interner.size);
    const markExports = (r: ModuleRecord): void => {
      for (const x of r.exports) {
        const id = interner.lookup(x.name);
        if (id >= 0) taintedId[id] = 1;
      }
    };
    const canTaint = Uint8Array.from(gplOk, (ok) => 1 - ok);
    for (let m = 0; m < modules.length; m++) if (canTaint[m] === 1) markExports(modules[m]);
    for (const tainted of residentTaint) for (const r of tainted.keys()) markExports(r);
    const weakUsers = new Set<number>();
    for (let m = 0; m < modules.length; m++) if (modules[m].undefinedSymbols.some((u) => u.weak)) weakUsers.add(m);
    const uses = (m: number): boolean => {
      for (let i = requirements.start[m], end = requirements.start[m + 1]; i < end; i++) if (taintedId[requirements.sym[i]] === 1) return true;
      return weakUsers.has(m) && modules[m].undefinedSymbols.some((u) => u.weak && taintedId[interner.lookup(u.name)] === 1);
    };
    const inheritors: number[] = [];
    for (let grew = true; grew; ) {
      grew = false;
      for (let m = 0; m < modules.length; m++) {
        if (canTaint[m] === 1 || !uses(m)) continue;
        canTaint[m] = 1;
        inheritors.push(m);
        markExports(modules[m]);
        grew = true;
      }
    }
    if (inheritors.length === 0) return null;

    const refs = new Array<Reference[] | undefined>(modules.length);
    for (const m of inheritors) refs[m] = referencesOf(modules, m, interner, exporters);
    const taintedBy = new Array<(string | undefined)[] | undefined>(modules.length);
    for (let m = 0; m < modules.length; m++) {
      if (gplOk[m] === 0) taintedBy[m] = new Array<string | undefined>(kernels.length).fill(modules[m].name);
    }
    for (const m of inheritors) taintedBy[m] = new Array<string | undefined>(kernels.length);
    return new InheritedTaint(modules, kernels.length, candidate, index, moduleNames, exportOf, residentTaint, inheritors, refs, taintedBy);
  }

  /**
   * Computes the taint of every module on the kernels where it is still compatible (`compat`),
   * then removes from `compat` kernels where an inheritor fails to load for it. Returns whether it
   * removed any (the caller then re-runs its fixed point, and this, until nothing changes).
   *
   * A refusal that involves a candidate itself refused on that kernel waits for the next round: once
   * that candidate is gone, the reference may resolve to nothing, which a weak one tolerates. When
   * every refusal involves another (a cycle), all go at once.
   */
  narrow(compat: Uint32Array[]): boolean {
    for (const m of this.inheritors) this.taintedBy[m]!.fill(undefined);
    for (let grew = true; grew; ) {
      grew = false;
      for (const m of this.inheritors) {
        const by = this.taintedBy[m]!;
        for (const k of kernelsOf(compat[m])) {
          if (by[k] !== undefined) continue;
          const from = this.resolve(m, k, compat).taintedBy;
          if (from === null) continue;
          by[k] = from;
          grew = true;
        }
      }
    }
    this.conflicts.clear();
    const refused: { m: number; k: number; involved: number[] }[] = [];
    for (const m of this.inheritors) {
      for (const k of kernelsOf(this.candidate[m])) {
        const { conflicts, involved } = this.resolve(m, k, compat);
        if (conflicts.length === 0) continue;
        this.conflicts.set(m * this.kernelCount + k, conflicts);
        if (hasKernel(compat[m], k)) refused.push({ m, k, involved });
      }
    }
    const refusedAt = new Set(refused.map(({ m, k }) => m * this.kernelCount + k));
    const independent = refused.filter(({ k, involved }) => !involved.some((p) => refusedAt.has(p * this.kernelCount + k)));
    for (const { m, k } of independent.length > 0 ? independent : refused) removeKernel(compat[m], k);
    return refused.length > 0;
  }

  /** The conflicts of module m on kernel k (a new array). */
  conflictsOf(m: number, k: number): ProprietaryTaintConflict[] {
    const found = this.conflicts.get(m * this.kernelCount + k);
    return found === undefined ? [] : [...found];
  }

  /**
   * simplify_symbols of inheritor m on kernel k, for the taint and GPL-only rules only: the module
   * its taint comes from (null: it ends untainted), the references refused, and the candidate
   * modules those refusals involve.
   */
  private resolve(m: number, k: number, compat: readonly Uint32Array[]): { taintedBy: string | null; conflicts: ProprietaryTaintConflict[]; involved: number[] } {
    let taint: Use<TaintedExport> | null = null;
    let gplOnly: Use<ResolvedExport> | null = null;
    const conflicts: ProprietaryTaintConflict[] = [];
    const involved: number[] = [];
    const refuse = (tainted: Use<TaintedExport>, gpl: Use<ResolvedExport>): void => {
      conflicts.push({ symbol: tainted.ref.name, provider: tainted.by.name, taintedBy: tainted.by.taintedBy, gplOnlySymbol: gpl.ref.name, gplOnlyProvider: gpl.by.name });
      for (const p of [tainted.by.module, gpl.by.module]) if (p >= 0) involved.push(p);
    };
    for (const ref of this.refs[m]!) {
      const by = this.providerOf(m, k, ref, compat);
      if (by === null) continue;
      if (by.gplOnly && taint !== null) {
        // Tainted by now: find_symbol does not see a GPL-only export.
        if (!ref.weak) refuse(taint, { ref, by });
        continue;
      }
      if (by.gplOnly) gplOnly ??= { ref, by };
      if (!isTainted(by)) continue;
      if (gplOnly !== null) {
        // inherit_taint: a module using GPL-only symbols gets nothing from a tainted owner.
        if (!ref.weak) refuse({ ref, by }, gplOnly);
      } else taint ??= { ref, by };
    }
    return { taintedBy: taint === null ? null : taint.by.taintedBy, conflicts, involved };
  }

  /** The export reference `ref` of module m resolves to on kernel k, or null when none. */
  private providerOf(m: number, k: number, ref: Reference, compat: readonly Uint32Array[]): ResolvedExport | null {
    const s = this.index.provider(k, ref.id);
    if (s === null) {
      const p = this.compatibleExporter(m, k, ref, compat, null);
      return p < 0 ? null : this.candidateExport(p, k, ref.name);
    }
    if (s.resident !== null) return { name: s.name, module: -1, gplOnly: s.gplOnly, taintedBy: this.residentTaint[k].get(s.resident) ?? null };
    if (s.name !== "vmlinux") {
      // A compatible candidate of the in-tree module's name is loaded in its place.
      const standIn = this.compatibleExporter(m, k, ref, compat, symversModuleName(s.name));
      if (standIn >= 0) return this.candidateExport(standIn, k, ref.name);
    }
    return { name: s.name, module: -1, gplOnly: s.gplOnly, taintedBy: null };
  }

  private candidateExport(p: number, k: number, name: string): ResolvedExport {
    return { name: this.modules[p].name, module: p, gplOnly: this.exportOf(p, name).gplOnly, taintedBy: this.taintedBy[p]?.[k] ?? null };
  }

  /**
   * The first module (other than m) compatible on k that exports `ref` with a CRC it accepts, else
   * the first compatible one exporting it, or -1; with `name`, only a module of that name.
   */
  private compatibleExporter(m: number, k: number, ref: Reference, compat: readonly Uint32Array[], name: string | null): number {
    if (ref.exporters === undefined) return -1;
    let first = -1;
    for (const p of ref.exporters) {
      if (p === m || !hasKernel(compat[p], k) || (name !== null && this.moduleNames[p] !== name)) continue;
      const crc = this.exportOf(p, ref.name).crc;
      if (crcAccepts(ref.crc ?? ANY_CRC, false, crc === null ? null : crc >>> 0)) return p;
      if (first < 0) first = p;
    }
    return first;
  }
}

/** One undefined symbol of a module. */
interface Reference {
  name: string;
  id: number;
  /** Every listing of the name in the symbol table is weak. */
  weak: boolean;
  /** The CRC its modversions give it (unsigned), or null. */
  crc: number | null;
  /** The candidate modules exporting it. */
  exporters: readonly number[] | undefined;
}

/** What a reference resolves to, as far as the taint rule cares. */
interface ResolvedExport {
  /** The provider's name ("vmlinux", a symvers module column, a module name). */
  name: string;
  /** The candidate module index, or -1 for a static provider. */
  module: number;
  gplOnly: boolean;
  /** The module the provider's taint comes from, or null when it is not tainted. */
  taintedBy: string | null;
}

type TaintedExport = ResolvedExport & { taintedBy: string };

function isTainted(x: ResolvedExport): x is TaintedExport {
  return x.taintedBy !== null;
}

/** A reference and what it resolved to. */
interface Use<T extends ResolvedExport> {
  ref: Reference;
  by: T;
}

/**
 * The undefined symbols of module m, each once in symbol-table order (the order simplify_symbols
 * resolves them in), with their exporters among the candidate modules: from `exporters` for the
 * symbols some module requires, else (a weak symbol without modversion entry) by a scan of the
 * modules' exports.
 */
function referencesOf(modules: readonly ModuleRecord[], m: number, interner: SymbolInterner, exporters: readonly (readonly number[] | undefined)[]): Reference[] {
  const record = modules[m];
  const crcs = new Map<string, number>();
  for (const v of record.hasModversions ? record.modversions : []) if (!crcs.has(v.symbol)) crcs.set(v.symbol, v.crc >>> 0);
  const byName = new Map<string, Reference>();
  for (const u of record.undefinedSymbols) {
    if (u.name === "") continue;
    const seen = byName.get(u.name);
    if (seen !== undefined) {
      seen.weak &&= u.weak;
      continue;
    }
    // RequirementBuilder interned every undefined symbol; `exporters` covers the required ones.
    const id = interner.intern(u.name);
    const listed = id < exporters.length ? exporters[id] : undefined;
    byName.set(u.name, { name: u.name, id, weak: u.weak, crc: crcs.get(u.name) ?? null, exporters: listed });
  }
  const refs = [...byName.values()];
  for (const ref of refs) {
    if (ref.exporters !== undefined || !ref.weak) continue;
    const found: number[] = [];
    for (let p = 0; p < modules.length; p++) if (modules[p].exports.some((x) => x.name === ref.name)) found.push(p);
    if (found.length > 0) ref.exporters = found;
  }
  return refs;
}

/**
 * The resident modules of kernel k that are tainted: those whose licence is not GPL-compatible,
 * then those using an export (as the kernel's static provider) of a tainted one, to a fixed point.
 */
function taintedResidents(residents: readonly ModuleRecord[], k: number, index: StaticProviderIndex, interner: SymbolInterner): Map<ModuleRecord, string> {
  const tainted = new Map<ModuleRecord, string>();
  for (const r of residents) if (!moduleIsGplCompatible(r.modinfo)) tainted.set(r, r.name);
  for (let grew = tainted.size > 0; grew; ) {
    grew = false;
    for (const r of residents) {
      if (tainted.has(r)) continue;
      for (const u of r.undefinedSymbols) {
        if (u.name === "") continue;
        const owner = index.provider(k, interner.intern(u.name))?.resident;
        const from = owner === undefined || owner === null ? undefined : tainted.get(owner);
        if (from === undefined) continue;
        tainted.set(r, from);
        grew = true;
        break;
      }
    }
  }
  return tainted;
}
